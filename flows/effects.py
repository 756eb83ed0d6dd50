"""What the shell must do after a step: the engine's outputs besides messages.

The engine never writes or schedules anything itself; it returns these, and `bot/` carries them
out in the same transaction as the new state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flows.checkin import Checkin
from flows.registry import Record


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
    kind: str  # what the step expected: text, entries, choice, scale, when, clock; or note
    value: Any  # JSON: a string for most kinds
    item: int = 0  # notes (words no question asked for) count down from -1, never meeting these
    at: datetime
    crisis: bool = False  # it set off the crisis check: kept and shown, never quoted back


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
    """Come back later, as the check-in says; storage keeps it until it falls due."""

    checkin: Checkin


@dataclass(frozen=True, kw_only=True)
class CancelCheckins(Effect, type_name="cancel_checkins"):
    """Cancel the person's pending check-ins of these kinds (of one flow, when given), and
    those named in `checkins`."""

    kinds: tuple[str, ...] = ()
    flow: str | None = None
    checkins: tuple[str, ...] = ()

    def cancels(self, checkin: Checkin) -> bool:
        by_kind = checkin.kind in self.kinds and self.flow in (None, checkin.flow)
        return by_kind or checkin.id in self.checkins


@dataclass(frozen=True, kw_only=True)
class CheckinsSettled(Effect, type_name="checkins_settled"):
    """Of check-ins due at once (`flows.delivery.together`), those not delivered: folded into
    the one that was, let go, or waiting (each with its new `due_at`, its planned moment kept).
    Their statuses stay visible to the operator."""

    folded: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    waiting: tuple[Checkin, ...] = ()


def still_scheduled(pending: list[Checkin], effects: tuple[Effect, ...]) -> list[Checkin]:
    """The check-ins still to come once `effects` are carried out (for simulations without a
    database: transcripts and tests)."""
    pending = list(pending)
    for effect in effects:
        if isinstance(effect, ScheduleCheckin):
            pending.append(effect.checkin)
        elif isinstance(effect, CancelCheckins):
            pending = [c for c in pending if not effect.cancels(c)]
        elif isinstance(effect, CheckinsSettled):
            moved = {c.id for c in effect.waiting}
            pending = [c for c in pending if c.id not in moved] + list(effect.waiting)
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
