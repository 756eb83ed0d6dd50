"""The tables. One person's rows all carry `person_id`, so export and deletion are one query each.

Times are stored as UTC; `UTCDateTime` hands back aware datetimes on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from flows import defaults
from flows.checkin import Checkin


class UTCDateTime(sa.types.TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; stored without zone, always in UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("store only aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def _time(**kwargs: Any) -> Any:
    """A time column stored in UTC; typed `Any` as SQLModel's own `Field` is."""
    return Field(sa_type=UTCDateTime, **kwargs)


class Person(SQLModel, table=True):
    __tablename__ = "person"
    __table_args__ = (sa.UniqueConstraint("channel", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)  # console | telegram | signal
    address: str = Field(max_length=64)  # the chat id on that channel
    lang: str = Field(default="nl", max_length=8)
    timezone: str = Field(default=defaults.TIMEZONE, max_length=64)
    consent: str = Field(default="unknown", max_length=16)
    checkin_time: str | None = Field(default=None, max_length=5)
    paused: bool = False
    paused_until: datetime | None = _time(default=None, nullable=True)  # /pauze 1 week
    unreachable: bool = False  # the person blocked the bot; a new message clears it
    held_until: datetime | None = _time(default=None, nullable=True)
    # flows.delivery.checkins_from of the four above, kept with them so that the dispatcher's
    # query compares moments instead of repeating the rule. NULL: not until something changes.
    checkins_from: datetime | None = _time(default=None, nullable=True)
    state: str = Field(default="{}", sa_type=sa.Text)  # flows.state.State as JSON
    created_at: datetime = _time()
    updated_at: datetime = _time()


class RunRow(SQLModel, table=True):
    __tablename__ = "run"
    __table_args__ = (sa.UniqueConstraint("person_id", "run_key"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    run_key: str = Field(max_length=16)
    flow: str = Field(max_length=64)
    flow_version: int
    started_at: datetime = _time()
    finished_at: datetime | None = _time(default=None, nullable=True)


class AnswerRow(SQLModel, table=True):
    __tablename__ = "answer"
    __table_args__ = (sa.UniqueConstraint("person_id", "run_key", "step", "item"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    run_key: str = Field(max_length=16)
    flow: str = Field(max_length=64)
    step: str = Field(max_length=64)
    question: str = Field(max_length=128)  # the text key of the question asked
    kind: str = Field(max_length=16)
    item: int = 0
    value: str = Field(sa_type=sa.Text)  # JSON
    answered_at: datetime = _time()
    crisis: bool = False  # it set off the crisis check: shown marked, never quoted back


class CheckinRow(SQLModel, table=True):
    __tablename__ = "checkin"
    __table_args__ = (
        sa.UniqueConstraint("person_id", "key"),
        sa.Index("ix_checkin_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    key: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    flow: str = Field(max_length=64)
    step: str = Field(max_length=64)
    run_key: str | None = Field(default=None, max_length=16)
    every: str | None = Field(default=None, max_length=16)
    due_at: datetime = _time()  # when it may be delivered (moves: quiet hours, its turn, a retry)
    # The moment the coach meant (NULL: due_at); the wording fits it ("gisteren").
    planned_at: datetime | None = _time(default=None, nullable=True)
    chosen: bool = False  # the person named the moment: quiet hours do not hold it back
    # pending|done|cancelled|failed, and of several due at once (flows.delivery.together):
    # folded (a line in the one delivered) or dropped (let go: its day passed, a second series)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0  # deliveries that raised; see Coach.deliver_due
    created_at: datetime = _time()


def checkin_row(person_id: int, checkin: Checkin, now: datetime) -> CheckinRow:
    """The row that keeps a check-in until it falls due (the one way from check-in to row)."""
    return CheckinRow(
        person_id=person_id,
        key=checkin.id,
        kind=checkin.kind,
        flow=checkin.flow,
        step=checkin.step,
        run_key=checkin.run,
        every=checkin.every,
        due_at=checkin.due_at,
        planned_at=checkin.planned_at,
        chosen=checkin.chosen,
        created_at=now,
    )


def checkin_of(row: CheckinRow) -> Checkin:
    """The check-in a row keeps (the one way back)."""
    return Checkin(
        id=row.key,
        kind=row.kind,
        flow=row.flow,
        step=row.step,
        run=row.run_key,
        due_at=row.due_at,
        every=row.every,
        planned_at=row.planned_at,
        chosen=row.chosen,
    )


class OutboxRow(SQLModel, table=True):
    """A message committed with the turn that made it, sent after commit, deleted once sent.
    The address is kept here (not only the person) so a goodbye after /vergeet still goes out."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index("ix_outbox_ready", "channel", "next_attempt_at"),
        # A chat's messages in order: which one is first (store.ready_outgoing).
        sa.Index("ix_outbox_chat", "channel", "address", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int | None = Field(default=None, index=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=64)
    payload: str = Field(sa_type=sa.Text)  # JSON: bot.outbox.encode of an item
    attempts: int = 0
    next_attempt_at: datetime = _time()
    created_at: datetime = _time()
    # The OutboxClaim of the process sending it; free when NULL or when that claim is dead.
    claim: int | None = Field(default=None, nullable=True)


class OutboxClaim(SQLModel, table=True):
    """A process that sends from the outbox, alive while it renews `alive_until` (every second);
    the rows it holds are free for others once that moment has passed."""

    __tablename__ = "outbox_claim"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    host: str = Field(max_length=64)  # which process: for the operator and the tests
    pid: int
    started_at: datetime = _time()
    alive_until: datetime = _time()


class ProcessedUpdate(SQLModel, table=True):
    """A platform update already handled, so one delivered again is not handled twice."""

    __tablename__ = "processed_update"

    channel: str = Field(primary_key=True, max_length=16)
    update_id: int = Field(primary_key=True, sa_type=sa.BigInteger)
    processed_at: datetime = _time()


class ReceivedMessage(SQLModel, table=True):
    """A message kept the moment it arrives, before it is handled: a channel that pushes
    messages once (Signal) would lose one that a crash interrupted. `content` (what the person
    wrote, as JSON) is emptied once the turn is committed; the row stays a while as the key
    that tells a message delivered again from a new one."""

    __tablename__ = "received_message"
    # The id is the update id the turn is recorded by (`processed_update`): never used twice,
    # also after rows are pruned (SQLite would otherwise hand out the highest id again).
    __table_args__ = (
        sa.UniqueConstraint("channel", "sender", "sent_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    sender: str = Field(max_length=64)
    sent_at: int = Field(sa_type=sa.BigInteger)  # the sender's timestamp, in milliseconds
    content: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    received_at: datetime = _time()
    handled_at: datetime | None = _time(default=None, nullable=True)


class SendBudget(SQLModel, table=True):
    """A token bucket shared by every process that sends for one bot (bot/send_budget.py):
    `tokens` as they were at `at` (seconds since the epoch, by the database's clock on
    PostgreSQL), refilled at the bot's rate up to its burst."""

    __tablename__ = "send_budget"

    name: str = Field(primary_key=True, max_length=32)
    tokens: float
    at: float
