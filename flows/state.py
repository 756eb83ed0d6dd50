"""A person's conversation state: plain data that round-trips through JSON.

It holds where the person is, where they were before a check-in or the menu interrupted, their
profile, and the recent runs with their answers (so a check-in a month later can quote them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CONSENT = ("unknown", "given", "declined")
KEEP_RUNS = 12  # per flow; older runs stay in storage (/mijn, /export) but leave the state


@dataclass(frozen=True, kw_only=True)
class Position:
    """The step a person is on, in which run of which flow."""

    flow: str
    step: str
    run: str
    entries: int = 0  # how many entries of an `entries` step they have written so far


@dataclass(frozen=True, kw_only=True)
class Answer:
    value: Any
    at: datetime
    kind: str


@dataclass(frozen=True, kw_only=True)
class Run:
    id: str
    flow: str
    version: int
    started_at: datetime
    answers: dict[str, Answer] = field(default_factory=dict)
    history: tuple[str, ...] = ()  # the waiting steps passed, for /terug
    recorded: bool = False  # whether storage knows this run (it does once something is saved)
    scheduled: dict[str, tuple[str, ...]] = field(default_factory=dict)  # step -> check-in ids


@dataclass(frozen=True, kw_only=True)
class Prompt:
    """A question of the engine's own, outside any flow: confirm /vergeet, pick a language, …"""

    kind: str  # forget | language | time | crisis | consent
    flow: str | None = None  # consent: the flow to enter once the person agrees
    answered: bool = False  # crisis: whether the message was kept as the answer of the step


@dataclass(frozen=True, kw_only=True)
class AnswerRef:
    """Which stored answer a platform message became, so editing that message can update it."""

    ref: str
    run: str
    flow: str
    step: str
    item: int


@dataclass(frozen=True, kw_only=True)
class State:
    lang: str = "nl"
    timezone: str = "Europe/Amsterdam"
    consent: str = "unknown"
    paused: bool = False
    checkin_time: str | None = None  # "20:00", local to `timezone`
    held_until: datetime | None = None
    at: Position | None = None
    suspended: tuple[Position, ...] = ()
    prompt: Prompt | None = None
    runs: tuple[Run, ...] = ()
    counter: int = 0
    last_event_at: datetime | None = None
    last_answer: AnswerRef | None = None  # the latest written answer, the only one edits change

    def run(self, run_id: str) -> Run | None:
        for run in self.runs:  # a plain loop: asked several times per event
            if run.id == run_id:
                return run
        return None

    def with_run(self, run: Run) -> State:
        """The state with `run` added or replaced; old runs of the same flow drop out."""
        runs = [r for r in self.runs if r.id != run.id]
        runs.append(run)
        if sum(r.flow == run.flow for r in runs) > KEEP_RUNS:
            needed = {p.run for p in (self.at, *self.suspended) if p is not None} | {run.id}
            same_flow = [r for r in runs if r.flow == run.flow and r.id not in needed]
            dropped = {r.id for r in same_flow[: max(len(same_flow) - KEEP_RUNS, 0)]}
            runs = [r for r in runs if r.id not in dropped]
        return evolve(self, runs=tuple(runs))

    def to_json(self) -> dict[str, Any]:
        # Written out field by field: this runs on every message, and stays readable in storage.
        return {
            "lang": self.lang,
            "timezone": self.timezone,
            "consent": self.consent,
            "paused": self.paused,
            "checkin_time": self.checkin_time,
            "held_until": _iso(self.held_until),
            "at": dataclasses.asdict(self.at) if self.at else None,
            "suspended": [dataclasses.asdict(p) for p in self.suspended],
            "prompt": dataclasses.asdict(self.prompt) if self.prompt else None,
            "runs": [_dump_run(r) for r in self.runs],
            "counter": self.counter,
            "last_event_at": _iso(self.last_event_at),
            "last_answer": dataclasses.asdict(self.last_answer) if self.last_answer else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        return State(
            lang=data.get("lang", "nl"),
            timezone=data.get("timezone", "Europe/Amsterdam"),
            consent=data.get("consent", "unknown"),
            paused=data.get("paused", False),
            checkin_time=data.get("checkin_time"),
            held_until=_when(data.get("held_until")),
            at=Position(**data["at"]) if data.get("at") else None,
            suspended=tuple(Position(**p) for p in data.get("suspended", ())),
            prompt=Prompt(**data["prompt"]) if data.get("prompt") else None,
            runs=tuple(_load_run(r) for r in data.get("runs", ())),
            counter=data.get("counter", 0),
            last_event_at=_when(data.get("last_event_at")),
            last_answer=AnswerRef(**data["last_answer"]) if data.get("last_answer") else None,
        )


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _load_run(data: dict[str, Any]) -> Run:
    answers = {
        step: Answer(value=a["value"], at=datetime.fromisoformat(a["at"]), kind=a["kind"])
        for step, a in data.get("answers", {}).items()
    }
    return Run(
        id=data["id"],
        flow=data["flow"],
        version=data["version"],
        started_at=datetime.fromisoformat(data["started_at"]),
        answers=answers,
        history=tuple(data.get("history", ())),
        recorded=data.get("recorded", False),
        scheduled={step: tuple(ids) for step, ids in data.get("scheduled", {}).items()},
    )


def evolve(record: Any, **changes: Any) -> Any:
    """`dataclasses.replace` without re-running `__init__`: the engine changes its state many
    times per event, and these records hold no validation to repeat."""
    new = object.__new__(type(record))
    new.__dict__.update(record.__dict__)
    new.__dict__.update(changes)
    return new


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dump_run(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "flow": run.flow,
        "version": run.version,
        "started_at": run.started_at.isoformat(),
        "answers": {
            step: {"value": a.value, "at": a.at.isoformat(), "kind": a.kind}
            for step, a in run.answers.items()
        },
        "history": list(run.history),
        "recorded": run.recorded,
        "scheduled": {step: list(ids) for step, ids in run.scheduled.items()},
    }
