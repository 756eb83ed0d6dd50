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
    "14d", as the flow file wrote it) makes it come back again after that.

    `planned_at` is the moment the coach meant (None: `due_at`); `due_at` moves when delivery
    has to wait (quiet hours), `planned_at` never does, so the wording can fit the day it was
    meant for. `chosen`: the person named this moment themselves (the daily time, the moment
    of a plan), so quiet hours do not hold it back."""

    id: str  # unique per person
    kind: str
    flow: str
    step: str
    run: str | None
    due_at: datetime
    every: str | None = None
    planned_at: datetime | None = None
    chosen: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown check-in kind {self.kind!r}")
        if self.due_at.utcoffset() is None:
            raise ValueError("due_at must carry its time zone")
        if self.planned_at is not None and self.planned_at.utcoffset() is None:
            raise ValueError("planned_at must carry its time zone")

    @property
    def meant_for(self) -> datetime:
        """The moment the coach meant, however long delivery waited."""
        return self.planned_at or self.due_at

    def again(self, *, id: str, due_at: datetime) -> Checkin:
        """The next return of a repeating check-in: the same in all but its id and moment."""
        return replace(self, id=id, due_at=due_at, planned_at=None)

    def waits(self, due_at: datetime) -> Checkin:
        """The same check-in delivered later, still meant for its own moment."""
        return replace(self, due_at=due_at, planned_at=self.meant_for)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "flow": self.flow,
            "step": self.step,
            "run": self.run,
            "due_at": self.due_at.isoformat(),
            "every": self.every,
            "planned_at": self.planned_at.isoformat() if self.planned_at else None,
            "chosen": self.chosen,
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
            planned_at=_when(data.get("planned_at")),
            chosen=data.get("chosen", False),
        )


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
