"""A check-in: the coach coming back to a person later. One type from the moment it is planned
(`ScheduleCheckin`), through its row in storage, to the moment it falls due (`CheckinDue`).

The flow file's `schedule:` (`flows.model.Schedule`) is the *spec* ("come back after a week, at
this step"); a `Checkin` is one such return made concrete for one person: an id, a moment in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

KINDS = ("reminder", "evaluation", "repeat", "daily")


@dataclass(frozen=True, kw_only=True)
class Checkin:
    """At `due_at` (UTC) enter `flow` at `step`, in run `run` (None: a new run); `every` ("1d",
    "14d", as the flow file wrote it) makes it come back again after that."""

    id: str  # unique per person
    kind: str
    flow: str
    step: str
    run: str | None
    due_at: datetime
    every: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown check-in kind {self.kind!r}")
        if self.due_at.utcoffset() is None:
            raise ValueError("due_at must carry its time zone")

    def again(self, *, id: str, due_at: datetime) -> Checkin:
        """The next return of a repeating check-in: the same in all but its id and moment."""
        return replace(self, id=id, due_at=due_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "flow": self.flow,
            "step": self.step,
            "run": self.run,
            "due_at": self.due_at.isoformat(),
            "every": self.every,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkin:
        return cls(
            id=data["id"],
            kind=data["kind"],
            flow=data["flow"],
            step=data["step"],
            run=data.get("run"),
            due_at=datetime.fromisoformat(data["due_at"]),
            every=data.get("every"),
        )
