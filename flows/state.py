"""A person's conversation state: plain data that round-trips through JSON.

It holds where the person is, where they were before a check-in or the menu interrupted, their
profile, and the recent runs with their answers (so a check-in a month later can quote them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from flows import defaults
from flows.errors import UnknownStateVersion

CONSENT = ("unknown", "given", "declined")
KEEP_RUNS = 12  # per flow; older runs stay in storage (/mijn, /export) but leave the state

# The layout of the stored state (`State.to_json`). When it changes, raise this and add a
# migration below that turns the previous layout into the new one and says why.
STATE_VERSION = 3


@dataclass(frozen=True, kw_only=True)
class Position:
    """The step a person is on, in which run of which flow."""

    flow: str
    step: str
    run: str
    entries: int = 0  # how many entries of an `entries` step they have written so far
    # A choice step: the person wrote their own words here on this visit, kept as the answer of
    # the step's `words:` question, which choosing an option then goes past.
    words: bool = False


@dataclass(frozen=True, kw_only=True)
class Answer:
    value: Any
    at: datetime
    kind: str
    # The items (0 for a single answer) that set off the crisis check: they stay the person's,
    # in /mijn and /export, but are never quoted back in a reminder, evaluation or repeat.
    crisis: tuple[int, ...] = ()


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
    # A run a check-in opened: the moment that check-in was meant for, so its questions name
    # that day ("gisteren" when it arrives the morning after).
    meant_for: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Prompt:
    """A question of the engine's own, outside any flow: confirm /vergeet, pick a language, …"""

    kind: str  # the dialogue it is (flows.system.DIALOGUES): forget | language | time | …
    flow: str | None = None  # consent: the flow to enter once the person agrees
    step: str | None = None  # the dialogue's step that is open; None: its first
    answered: bool = False  # crisis: whether the message was kept as the answer of the step


@dataclass(frozen=True, kw_only=True)
class AnswerRef:
    """Which stored answer a platform message became, so editing that message can update it."""

    ref: str | None  # the platform's id of the message; None where it has none
    run: str
    flow: str
    step: str
    item: int
    at: datetime | None = None  # when the person sent it, if the channel said (double texts)


@dataclass(frozen=True, kw_only=True)
class State:
    lang: str = "nl"
    timezone: str = defaults.TIMEZONE
    consent: str = "unknown"
    paused: bool = False
    paused_until: datetime | None = None  # /pauze 1 week: check-ins resume by themselves then
    quiet: str | None = defaults.QUIET_HOURS  # "22:00-08:00", local; None: no quiet hours
    checkin_time: str | None = None  # "20:00", local to `timezone`
    held_until: datetime | None = None
    at: Position | None = None
    suspended: tuple[Position, ...] = ()
    prompt: Prompt | None = None
    runs: tuple[Run, ...] = ()
    counter: int = 0
    last_event_at: datetime | None = None
    last_answer: AnswerRef | None = None  # the latest written answer, the only one edits change
    last_sent_at: datetime | None = None  # when the person's latest message was sent
    burst: int = 0  # how many messages in a row came faster than anyone reads (flows.turn.flood)
    last_choice: str | None = None  # the latest button pressed, to know a second tap of it

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
            "version": STATE_VERSION,
            "lang": self.lang,
            "timezone": self.timezone,
            "consent": self.consent,
            "paused": self.paused,
            "paused_until": _iso(self.paused_until),
            "quiet": self.quiet,
            "checkin_time": self.checkin_time,
            "held_until": _iso(self.held_until),
            "at": _flat(self.at) if self.at else None,
            "suspended": [_flat(p) for p in self.suspended],
            "prompt": _flat(self.prompt) if self.prompt else None,
            "runs": [_dump_run(r) for r in self.runs],
            "counter": self.counter,
            "last_event_at": _iso(self.last_event_at),
            "last_answer": _dump_ref(self.last_answer),
            "last_sent_at": _iso(self.last_sent_at),
            "burst": self.burst,
            "last_choice": self.last_choice,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        """The state as `to_json` wrote it, in this or any earlier layout."""
        current = data.get("version") == STATE_VERSION
        data = migrate(data)
        return State(
            lang=data["lang"],
            timezone=data["timezone"],
            consent=data["consent"],
            paused=data["paused"],
            paused_until=_when(data["paused_until"]),
            quiet=data["quiet"],
            checkin_time=data["checkin_time"],
            held_until=_when(data["held_until"]),
            at=Position(**data["at"]) if data["at"] else None,
            suspended=tuple(Position(**p) for p in data["suspended"]),
            prompt=Prompt(**data["prompt"]) if data["prompt"] else None,
            runs=tuple(_load_run(r, keep=current) for r in data["runs"]),
            counter=data["counter"],
            last_event_at=_when(data["last_event_at"]),
            last_answer=_load_ref(data["last_answer"]),
            last_sent_at=_when(data["last_sent_at"]),
            burst=data["burst"],
            last_choice=data["last_choice"],
        )


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A stored state in the current layout; states written before versions existed count as 0."""
    version = data.get("version", 0)
    if not isinstance(version, int) or version > STATE_VERSION:
        raise UnknownStateVersion(
            f"state version {version!r}; this code knows 0 to {STATE_VERSION}"
        )
    while version < STATE_VERSION:
        data = STATE_MIGRATIONS[version](data)
        version = data["version"]
    return data


def _from_unversioned(data: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (no `version` key): fields were added one by one as the coach grew (the
    profile, `suspended`, `prompt`, `last_answer`, a run's `history`, `recorded`, `scheduled`),
    so an old state may lack any of them. From version 1 on every field is written. The values
    are what a missing field meant then (history: they stay even if `flows.defaults` changes)."""
    then: dict[str, Any] = {
        "lang": "nl",
        "timezone": "Europe/Amsterdam",
        "consent": "unknown",
        "paused": False,
        "checkin_time": None,
        "held_until": None,
        "at": None,
        "suspended": [],
        "prompt": None,
        "runs": [],
        "counter": 0,
        "last_event_at": None,
        "last_answer": None,
    }
    run_defaults: dict[str, Any] = {
        "answers": {},
        "history": [],
        "recorded": False,
        "scheduled": {},
    }
    runs = [{**run_defaults, **run} for run in data.get("runs") or ()]
    return {**then, **data, "runs": runs, "version": 1}


def _with_what_was_written(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 keeps more of what a person wrote: which answers set off the crisis check
    (never quoted back), when the latest answer was sent (a second message shortly after it
    belongs to it), whether own words were written at a choice step, how fast messages came
    (a flood gets one calm answer) and the latest button pressed (a second tap of it)."""

    def position(p: dict[str, Any] | None) -> dict[str, Any] | None:
        return {"words": False, **p} if p is not None else None

    runs = [
        {**run, "answers": {s: {"crisis": [], **a} for s, a in run["answers"].items()}}
        for run in data["runs"]
    ]
    last = data["last_answer"]
    return {
        **data,
        "at": position(data["at"]),
        "suspended": [position(p) for p in data["suspended"]],
        "runs": runs,
        "last_answer": {"at": None, **last} if last else None,
        "last_sent_at": None,
        "burst": 0,
        "last_choice": None,
        "version": 2,
    }


def _with_calm_checkins(data: dict[str, Any]) -> dict[str, Any]:
    """Version 3 lets check-ins arrive as one calm conversation: a pause may end by itself
    (`paused_until`; pauses before this had no end), nights are quiet (`quiet`, the hours
    check-ins wait out; everyone stored before gets the quiet hours new people get), and a run a
    check-in opened knows the moment it was meant for (`meant_for`; older runs: unknown)."""
    runs = [{"meant_for": None, **run} for run in data["runs"]]
    return {**data, "paused_until": None, "quiet": "22:00-08:00", "runs": runs, "version": 3}


# Each function turns a stored state of version N into N + 1.
STATE_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: _from_unversioned,
    1: _with_what_was_written,
    2: _with_calm_checkins,
}


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# A run's JSON, kept on the run (in its `__dict__`, outside its fields): a state holds its recent
# runs with all their answers, and most events change none of them, so each is written out once
# and read back as it was stored. `evolve` drops it from the changed copy; nothing else changes a
# run (they are frozen), and the JSON is only ever serialised, never changed.
_JSON = "_json"


def _load_run(data: dict[str, Any], *, keep: bool = False) -> Run:
    """The run `data` describes; `keep`: `data` is in the current layout, and is this run's
    JSON from now on."""
    answers = {
        step: Answer(
            value=a["value"],
            at=datetime.fromisoformat(a["at"]),
            kind=a["kind"],
            crisis=tuple(a["crisis"]),
        )
        for step, a in data["answers"].items()
    }
    run = Run(
        id=data["id"],
        flow=data["flow"],
        version=data["version"],
        started_at=datetime.fromisoformat(data["started_at"]),
        answers=answers,
        history=tuple(data["history"]),
        recorded=data["recorded"],
        scheduled={step: tuple(ids) for step, ids in data["scheduled"].items()},
        meant_for=_when(data["meant_for"]),
    )
    if keep:
        run.__dict__[_JSON] = data
    return run


_Record = TypeVar("_Record")


def evolve(record: _Record, **changes: Any) -> _Record:
    """`dataclasses.replace` without re-running `__init__`: the engine changes its state many
    times per event, and these records hold no validation to repeat."""
    new: _Record = object.__new__(type(record))
    new.__dict__.update(record.__dict__)
    new.__dict__.update(changes)
    new.__dict__.pop(_JSON, None)  # a changed run is written out anew
    return new


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dump_run(run: Run) -> dict[str, Any]:
    kept: dict[str, Any] | None = run.__dict__.get(_JSON)
    if kept is not None:
        return kept
    data = run.__dict__[_JSON] = {
        "id": run.id,
        "flow": run.flow,
        "version": run.version,
        "started_at": run.started_at.isoformat(),
        "answers": {
            step: {
                "value": a.value,
                "at": a.at.isoformat(),
                "kind": a.kind,
                "crisis": list(a.crisis),
            }
            for step, a in run.answers.items()
        },
        "history": list(run.history),
        "recorded": run.recorded,
        "scheduled": {step: list(ids) for step, ids in run.scheduled.items()},
        "meant_for": _iso(run.meant_for),
    }
    return data


_FIELDS = {kind: tuple(f.name for f in fields(kind)) for kind in (Position, Prompt, AnswerRef)}


def _flat(record: Position | Prompt | AnswerRef) -> dict[str, Any]:
    """The fields of a record of plain values, as `dataclasses.asdict` gives them, without its
    deep copy (this runs at every event). By the class's own field names, never the instance's
    `__dict__`: an attribute set by mistake is not written, so it cannot make the state unreadable
    at the next read."""
    return {name: getattr(record, name) for name in _FIELDS[type(record)]}


def _dump_ref(ref: AnswerRef | None) -> dict[str, Any] | None:
    return {**_flat(ref), "at": _iso(ref.at)} if ref is not None else None


def _load_ref(data: dict[str, Any] | None) -> AnswerRef | None:
    return AnswerRef(**{**data, "at": _when(data["at"])}) if data else None
