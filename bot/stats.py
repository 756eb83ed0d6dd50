"""Counts for the operator and the author, never content: how many people, runs, check-ins and
waiting messages there are, and per flow and step how many people reached it, stand there now
or skipped it. Nothing here reads an answer's value or a message's text; `kern-coach stats`
prints these, and `/metrics` serves the first kind to Prometheus."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.storage import db, store
from bot.storage.models import AnswerRow, CheckinRow, OutboxRow, Person, RunRow, UTCDateTime
from flows.model import Library

# A deliverable check-in still waiting this long after its time is stuck, not merely queued (the
# dispatcher looks every minute).
LATE = timedelta(minutes=15)
DAY = timedelta(days=1)
# Per flow and step, a count of fewer people than this is not shown: it could single someone out.
SMALLEST_GROUP = 5


@dataclass(frozen=True, kw_only=True)
class Counts:
    people: dict[str, int]  # channel → people
    unreachable: int  # people who blocked the bot
    active_runs: dict[str, int]  # flow → runs started and not finished
    checkins_due: int  # deliverable now
    checkins_late: int  # deliverable, and due for longer than LATE
    checkins_held: int  # due, but the person paused, is held or cannot be reached
    checkins_done_last_day: int  # delivered, due in the last day
    checkins_failed_last_day: int  # given up on, due in the last day
    checkins_folded: int  # due with the evaluation of their plan: a line in it (all time)
    checkins_dropped: int  # due with others and let go: their day passed, a second series
    outbox_backlog: int  # messages committed, not yet sent
    oldest_unsent_seconds: float | None  # how long the oldest of them has waited


def counts(engine: sa.Engine, now: datetime) -> Counts:
    with db.reading(engine) as session:
        people: dict[str, int] = {
            row[0]: row[1]
            for row in session.execute(
                sa.select(col(Person.channel), sa.func.count()).group_by(col(Person.channel))
            )
        }
        unreachable = _count(session, sa.select(sa.func.count()).where(col(Person.unreachable)))
        active: dict[str, int] = {
            row[0]: row[1]
            for row in session.execute(
                sa.select(col(RunRow.flow), sa.func.count())
                .where(col(RunRow.finished_at).is_(None))
                .group_by(col(RunRow.flow))
            )
        }
        pending_due = sa.and_(col(CheckinRow.status) == "pending", col(CheckinRow.due_at) <= now)
        joined = (
            sa.select(sa.func.count())
            .select_from(CheckinRow)
            .join(Person, col(Person.id) == col(CheckinRow.person_id))
        )
        # The delivery rule, as store.due_checkins applies it: the person's checkins_from.
        deliverable = sa.and_(pending_due, col(Person.checkins_from) <= now)
        due = _count(session, joined.where(deliverable))
        late = _count(session, joined.where(deliverable, col(CheckinRow.due_at) <= now - LATE))
        held = _count(session, joined.where(pending_due)) - due

        def of_last_day(status: str) -> int:
            return _count(
                session,
                sa.select(sa.func.count()).where(
                    col(CheckinRow.status) == status, col(CheckinRow.due_at) > now - DAY
                ),
            )

        done, failed = of_last_day("done"), of_last_day("failed")
        # All time: a check-in let go after downtime was due long before the last day.
        folded, dropped = (
            _count(session, sa.select(sa.func.count()).where(col(CheckinRow.status) == status))
            for status in ("folded", "dropped")
        )
        backlog = _count(session, sa.select(sa.func.count()).select_from(OutboxRow))
        oldest = session.execute(
            sa.select(sa.func.min(sa.type_coerce(OutboxRow.created_at, UTCDateTime())))
        ).scalar()
    oldest_at = store._as_utc(oldest)
    return Counts(
        people={str(k): int(v) for k, v in people.items()},
        unreachable=unreachable,
        active_runs={str(k): int(v) for k, v in active.items()},
        checkins_due=due,
        checkins_late=late,
        checkins_held=held,
        checkins_done_last_day=done,
        checkins_failed_last_day=failed,
        checkins_folded=folded,
        checkins_dropped=dropped,
        outbox_backlog=backlog,
        oldest_unsent_seconds=(now - oldest_at).total_seconds() if oldest_at else None,
    )


def _count(session: Session, statement: sa.Select[Any]) -> int:
    return int(session.execute(statement).scalar() or 0)


def render_counts(found: Counts) -> str:
    def per(values: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "none"

    oldest = found.oldest_unsent_seconds
    lines = [
        f"people: {sum(found.people.values())} ({per(found.people)})",
        f"unreachable people: {found.unreachable}",
        f"active runs: {sum(found.active_runs.values())} ({per(found.active_runs)})",
        f"check-ins due now: {found.checkins_due}",
        f"check-ins late (due over {int(LATE.total_seconds() // 60)} min): {found.checkins_late}",
        f"check-ins held (paused, on hold or unreachable): {found.checkins_held}",
        f"check-ins sent in the last day: {found.checkins_done_last_day}",
        f"check-ins failed in the last day: {found.checkins_failed_last_day}",
        f"check-ins folded into another (due together): {found.checkins_folded}",
        f"check-ins let go (due together; their day passed, a second series): "
        f"{found.checkins_dropped}",
        f"outbox backlog: {found.outbox_backlog}",
        f"oldest unsent message: {f'{oldest:.0f}s' if oldest is not None else 'none'}",
    ]
    return "\n".join(lines) + "\n"


# --- where people stop ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StepCount:
    """People per step; None where fewer than SMALLEST_GROUP (but not none) would be shown."""

    flow: str
    step: str
    reached: int | None
    standing: int | None
    skipped: int | None


def flow_steps(engine: sa.Engine, library: Library) -> list[StepCount]:
    """Per flow and step, in the flow's order: how many people reached the step (they stood on
    it, or it holds an answer of theirs), how many stand on it now, and how many passed it
    without an answer. Read from the conversation states and which steps hold an answer (not
    what it says)."""
    reached: dict[tuple[str, str], set[int]] = defaultdict(set)
    standing: dict[tuple[str, str], set[int]] = defaultdict(set)
    skipped: dict[tuple[str, str], set[int]] = defaultdict(set)
    with db.reading(engine) as session:
        answered = session.execute(
            sa.select(col(AnswerRow.person_id), col(AnswerRow.flow), col(AnswerRow.step)).distinct()
        ).all()
        for person_id, flow, step in answered:
            reached[(flow, step)].add(person_id)
        for person in session.exec(select(Person)):
            assert person.id is not None
            state = store.load_state(person)
            if state.at is not None:
                standing[(state.at.flow, state.at.step)].add(person.id)
                reached[(state.at.flow, state.at.step)].add(person.id)
            for run in state.runs:
                flow = library.flows.get(run.flow)
                for step in run.history:  # the waiting steps passed in this run
                    reached[(run.flow, step)].add(person.id)
                    spec = flow.steps.get(step) if flow is not None else None
                    asks = spec is not None and spec.expect not in (None, "continue")
                    if asks and step not in run.answers:
                        skipped[(run.flow, step)].add(person.id)

    def shown(people: set[int]) -> int | None:
        return len(people) if not people or len(people) >= SMALLEST_GROUP else None

    rows = []
    for flow_id, flow in library.flows.items():
        if (
            flow.kind == "dialogue"
        ):  # the engine's own questions (consent, forget, ...): not content
            continue
        for step_id in flow.steps:
            key = (flow_id, step_id)
            rows.append(
                StepCount(
                    flow=flow_id,
                    step=step_id,
                    reached=shown(reached[key]),
                    standing=shown(standing[key]),
                    skipped=shown(skipped[key]),
                )
            )
    return rows


def render_flow_steps(rows: list[StepCount]) -> str:
    def cell(value: int | None) -> str:
        return f"<{SMALLEST_GROUP}" if value is None else str(value)

    width = max((len(r.step) for r in rows), default=4)
    lines = [f"(a count under {SMALLEST_GROUP} people is not shown)"]
    flow = None
    for row in rows:
        if row.flow != flow:
            flow = row.flow
            lines += ["", f"{flow}", f"  {'step':<{width}}  reached  standing  skipped"]
        lines.append(
            f"  {row.step:<{width}}  {cell(row.reached):>7}  {cell(row.standing):>8}"
            f"  {cell(row.skipped):>7}"
        )
    return "\n".join(lines) + "\n"
