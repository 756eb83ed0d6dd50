"""What the shell must do after a step: the engine's outputs besides messages.

The engine never writes or schedules anything itself; it returns these, and `bot/` carries them
out in the same transaction as the new state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flows.events import CheckinDue
from flows.registry import Record

CHECKIN_KINDS = ("reminder", "evaluation", "repeat", "daily")


class Effect(Record):
    """Something the shell must carry out."""


@dataclass(frozen=True, kw_only=True)
class SaveAnswer(Effect, type_name="save_answer"):
    """Store what the person answered. `item` numbers the entries of a list answer (0 otherwise);
    saving the same run, step and item again replaces the earlier answer."""

    run: str
    flow: str
    step: str
    question: str  # the text key of the question, so /mijn and exports can show it
    kind: str  # what the step expected: text, entries, choice, scale, when, clock
    value: Any  # JSON: a string for most kinds
    item: int = 0
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ForgetAnswer(Effect, type_name="forget_answer"):
    """An answer no longer holds: the person went back and skipped the step (from item 0), or
    wrote a shorter list the second time (the items from `from_item` on)."""

    run: str
    step: str
    from_item: int = 0


@dataclass(frozen=True, kw_only=True)
class RunStarted(Effect, type_name="run_started"):
    """The person began (or began again) an exercise."""

    run: str
    flow: str
    flow_version: int
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RunFinished(Effect, type_name="run_finished"):
    run: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ScheduleCheckin(Effect, type_name="schedule_checkin"):
    """Come back at `due_at` (UTC) and enter `flow` at `step`; `every` repeats it."""

    checkin: str  # unique per person
    kind: str
    flow: str
    step: str
    run: str | None  # None: the check-in starts a new run
    due_at: datetime
    every: str | None = None

    def due_event(self) -> CheckinDue:
        """The event this check-in becomes when it falls due."""
        return CheckinDue(
            checkin=self.checkin,
            kind=self.kind,
            flow=self.flow,
            step=self.step,
            run=self.run,
            due_at=self.due_at,
            every=self.every,
        )

    def __post_init__(self) -> None:
        if self.kind not in CHECKIN_KINDS:
            raise ValueError(f"unknown check-in kind {self.kind!r}")
        if self.due_at.utcoffset() is None:
            raise ValueError("due_at must carry its time zone")


@dataclass(frozen=True, kw_only=True)
class CancelCheckins(Effect, type_name="cancel_checkins"):
    """Cancel the person's pending check-ins of these kinds (of one flow, when given), and
    those named in `checkins`."""

    kinds: tuple[str, ...] = ()
    flow: str | None = None
    checkins: tuple[str, ...] = ()

    def cancels(self, checkin: ScheduleCheckin) -> bool:
        by_kind = checkin.kind in self.kinds and self.flow in (None, checkin.flow)
        return by_kind or checkin.checkin in self.checkins


def still_scheduled(
    pending: list[ScheduleCheckin], effects: tuple[Effect, ...]
) -> list[ScheduleCheckin]:
    """The check-ins still to come once `effects` are carried out (for simulations without a
    database: transcripts and tests)."""
    pending = list(pending)
    for effect in effects:
        if isinstance(effect, ScheduleCheckin):
            pending.append(effect)
        elif isinstance(effect, CancelCheckins):
            pending = [c for c in pending if not effect.cancels(c)]
    return pending


@dataclass(frozen=True, kw_only=True)
class ShowAnswers(Effect, type_name="show_answers"):
    """The person asked what they wrote (`/mijn`): the shell reads it from storage."""


@dataclass(frozen=True, kw_only=True)
class ExportRequested(Effect, type_name="export_requested"):
    """The person asked for everything (`/export`)."""


@dataclass(frozen=True, kw_only=True)
class DeletionRequested(Effect, type_name="deletion_requested"):
    """The person confirmed `/vergeet`: delete them and everything of theirs."""
