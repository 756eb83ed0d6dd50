"""Reading and writing a person's rows. Every function takes an open session: the caller owns
the transaction, so one turn of the conversation is one commit."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, SQLModel, col, select

from bot.storage import db
from bot.storage.models import (
    AnswerRow,
    CheckinRow,
    OutboxClaim,
    OutboxRow,
    Person,
    ProcessedUpdate,
    ReceivedMessage,
    RunRow,
    SendBudget,
    UTCDateTime,
    checkin_row,
)
from flows import delivery
from flows.checkin import Checkin
from flows.state import State

# On SQLite, how long a transaction waits for the process's other writers before it goes on
# to SQLite's own busy handler anyway (as long as that handler's timeout, `bot.storage.db`).
WRITER_WAIT = 30.0


class Store:
    def __init__(self, engine: sa.Engine):
        self.engine = engine
        # SQLite has one writer at a time, and its busy handler lets a waiting thread sleep and
        # look again: a thread that writes back to back (a dispatcher's passes of 10,000 due
        # check-ins) kept the outbox's claim from being renewed for 30 s, and the sender from
        # acknowledging what it sent. Writers of one process wait on a lock instead, which
        # lets one of them go the moment the one before it commits (usually the one waiting
        # longest: a threading.Lock promises no order, so a writer may be passed over now and
        # then, never for the busy handler's sleeps). Between processes SQLite's own lock
        # still decides.
        self._writer = threading.Lock() if db.is_sqlite(engine) else None

    def ping(self) -> None:
        """A query that only shows the database answers (raises when it does not)."""
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        queued = self._writer is not None and self._writer.acquire(timeout=WRITER_WAIT)
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        finally:
            if queued:
                assert self._writer is not None
                self._writer.release()


def _insert(session: Session, table: Any) -> Any:
    """INSERT with ON CONFLICT, in the database's own dialect (imported only when used)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _table(model: type[SQLModel]) -> sa.Table:
    """A model's table, for Core statements (SQLModel sets `__table__` without a type)."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


# --- people -------------------------------------------------------------------------------------


def lock_person(session: Session, channel: str, address: str, now: datetime) -> Person:
    """The person at this address, created if new, locked until the transaction ends so that
    their events are handled one at a time, across processes too."""
    statement = (
        select(Person)
        .where(Person.channel == channel, Person.address == address)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    person = session.exec(statement).first()
    if person is not None:
        return person
    # New: insert, unless another process just did (then its row is found below).
    session.execute(
        _insert(session, Person)
        .values(channel=channel, address=address, state="{}", created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "address"])
    )
    statement = (
        select(Person)
        .where(Person.channel == channel, Person.address == address)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).one()


def lock_person_by_id(
    session: Session, person_id: int, *, skip_locked: bool = False
) -> Person | None:
    """The person, locked; with `skip_locked` None while another transaction holds them."""
    statement = (
        select(Person)
        .where(Person.id == person_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).first()


def find_person(session: Session, channel: str, address: str) -> Person | None:
    statement = select(Person).where(Person.channel == channel, Person.address == address)
    return session.exec(statement).first()


def load_state(person: Person) -> State:
    return State.from_json(json.loads(person.state or "{}"))


def availability(person: Person) -> delivery.Availability:
    """What the delivery rule needs to know of a person, from their row."""
    return delivery.Availability(
        paused=person.paused,
        paused_until=person.paused_until,
        unreachable=person.unreachable,
        held_until=person.held_until,
    )


def save_state(session: Session, person: Person, state: State, now: datetime) -> None:
    """The state, and the profile columns that queries need (paused, held, language …)."""
    reach = delivery.Availability(
        paused=state.paused,
        paused_until=state.paused_until,
        unreachable=person.unreachable,
        held_until=state.held_until,
    )
    values = {
        "state": json.dumps(state.to_json(), ensure_ascii=False),
        "lang": state.lang,
        "timezone": state.timezone,
        "consent": state.consent,
        "checkin_time": state.checkin_time,
        "paused": state.paused,
        "paused_until": state.paused_until,
        "held_until": state.held_until,
        "unreachable": person.unreachable,
        "checkins_from": delivery.checkins_from(reach),
        "updated_at": now,
    }
    table = _table(Person)
    session.connection().execute(sa.update(table).where(table.c.id == person.id).values(values))


def mark_update(session: Session, channel: str, update_id: int, now: datetime) -> bool:
    """Record a platform update; False when it was handled before."""
    # Core statements on the table (not the ORM class) here and below: this runs for every
    # message, and the ORM's bookkeeping cost more than the database work.
    result = session.connection().execute(
        _insert(session, _table(ProcessedUpdate))
        .values(channel=channel, update_id=update_id, processed_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "update_id"])
        .returning(_table(ProcessedUpdate).c.update_id)
    )
    return result.first() is not None


def set_unreachable(session: Session, person: Person, unreachable: bool) -> None:
    reach = dataclasses.replace(availability(person), unreachable=unreachable)
    values = {"unreachable": unreachable, "checkins_from": delivery.checkins_from(reach)}
    session.execute(sa.update(Person).where(col(Person.id) == person.id).values(**values))


# --- answers and runs ---------------------------------------------------------------------------


def save_answer(
    session: Session,
    person_id: int,
    *,
    run: str,
    flow: str,
    step: str,
    question: str,
    kind: str,
    item: int,
    value: Any,
    at: datetime,
    crisis: bool = False,
) -> None:
    values = dict(
        person_id=person_id,
        run_key=run,
        flow=flow,
        step=step,
        question=question,
        kind=kind,
        item=item,
        value=json.dumps(value, ensure_ascii=False),
        answered_at=at,
        crisis=crisis,
    )
    statement = _insert(session, AnswerRow).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["person_id", "run_key", "step", "item"],
        set_={
            "value": statement.excluded.value,
            "answered_at": statement.excluded.answered_at,
            "question": statement.excluded.question,
            "crisis": statement.excluded.crisis,
        },
    )
    session.execute(statement)


def start_run(
    session: Session, person_id: int, run: str, flow: str, version: int, at: datetime
) -> None:
    session.execute(
        _insert(session, RunRow)
        .values(person_id=person_id, run_key=run, flow=flow, flow_version=version, started_at=at)
        .on_conflict_do_nothing(index_elements=["person_id", "run_key"])
    )


def finish_run(session: Session, person_id: int, run: str, at: datetime) -> None:
    session.execute(
        sa.update(RunRow)
        .where(col(RunRow.person_id) == person_id, col(RunRow.run_key) == run)
        .values(finished_at=at)
    )


def runs_of(session: Session, person_id: int) -> Sequence[RunRow]:
    return session.exec(
        select(RunRow)
        .where(RunRow.person_id == person_id)
        .order_by(col(RunRow.started_at), col(RunRow.id))
    ).all()


def answers_of(session: Session, person_id: int) -> Sequence[AnswerRow]:
    return session.exec(
        select(AnswerRow)
        .where(AnswerRow.person_id == person_id)
        .order_by(col(AnswerRow.answered_at), col(AnswerRow.id))
    ).all()


# --- check-ins ------------------------------------------------------------------------------------


def schedule_checkin(session: Session, person_id: int, checkin: Checkin, now: datetime) -> None:
    session.add(checkin_row(person_id, checkin, now))


def cancel_checkins(
    session: Session,
    person_id: int,
    kinds: Sequence[str],
    flow: str | None,
    keys: Sequence[str] = (),
) -> None:
    """Cancel pending check-ins of these kinds (of `flow`, when given) and those with these keys."""
    by_kind: sa.ColumnElement[bool] = col(CheckinRow.kind).in_(kinds)
    if flow is not None:
        by_kind = sa.and_(by_kind, col(CheckinRow.flow) == flow)
    statement = sa.update(CheckinRow).where(
        col(CheckinRow.person_id) == person_id,
        col(CheckinRow.status) == "pending",
        sa.or_(by_kind, col(CheckinRow.key).in_(keys)),
    )
    session.execute(statement.values(status="cancelled"))


def forget_answer(session: Session, person_id: int, run: str, step: str, from_item: int) -> None:
    session.execute(
        sa.delete(AnswerRow).where(
            col(AnswerRow.person_id) == person_id,
            col(AnswerRow.run_key) == run,
            col(AnswerRow.step) == step,
            col(AnswerRow.item) >= from_item,
        )
    )


def checkins_of(session: Session, person_id: int) -> Sequence[CheckinRow]:
    return session.exec(
        select(CheckinRow).where(CheckinRow.person_id == person_id).order_by(col(CheckinRow.due_at))
    ).all()


def due_checkins(
    session: Session, now: datetime, limit: int, *, claim: bool = False
) -> list[tuple[int, int]]:
    """(check-in id, person id) of up to `limit` due check-ins whose person may receive them
    now (`Person.checkins_from`, the delivery rule's result), oldest first. With `claim` their
    people are locked until the transaction ends, passing over those another holds: several
    processes each take different people, and all of one person's due check-ins go to the one
    process that holds them (delivered together, as one conversation, never split in two)."""
    statement = (
        sa.select(col(CheckinRow.id), col(CheckinRow.person_id))
        .join(Person, col(Person.id) == col(CheckinRow.person_id))
        .where(
            col(CheckinRow.status) == "pending",
            col(CheckinRow.due_at) <= now,
            col(Person.checkins_from) <= now,
        )
        .order_by(col(CheckinRow.due_at))
        .limit(limit)
    )
    if claim:
        statement = statement.with_for_update(skip_locked=True, of=_table(Person))
    return [(row[0], row[1]) for row in session.execute(statement)]


def claim_due_checkins(session: Session, person_id: int, now: datetime) -> list[CheckinRow]:
    """Every pending check-in of this person that is due by `now`, locked (rows another process
    holds are left to it): they are delivered together, as one conversation."""
    # On SQLite `|| ''` keeps the planner on the person's index: without statistics it took
    # ix_checkin_due and walked every pending check-in due by now to find this person's few
    # (with 10,000 due at once, a third of the dispatcher's time). PostgreSQL chooses well.
    status = col(CheckinRow.status) + "" if _on_sqlite(session) else col(CheckinRow.status)
    statement = (
        select(CheckinRow)
        .where(
            CheckinRow.person_id == person_id,
            status == "pending",
            col(CheckinRow.due_at) <= now,
        )
        .order_by(col(CheckinRow.due_at), col(CheckinRow.id))
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(statement))


def settle_checkins(
    session: Session,
    person_id: int,
    folded: Sequence[str],
    dropped: Sequence[str],
    waiting: Sequence[Checkin],
) -> None:
    """Of check-ins delivered together, those folded into the one delivered, those let go, and
    those that wait: pending again at their new moment, their planned moment kept."""
    mine = col(CheckinRow.person_id) == person_id
    for status, keys in (("folded", folded), ("dropped", dropped)):
        if keys:
            session.execute(
                sa.update(CheckinRow)
                .where(mine, col(CheckinRow.key).in_(list(keys)))
                .values(status=status)
            )
    for checkin in waiting:
        session.execute(
            sa.update(CheckinRow)
            .where(mine, col(CheckinRow.key) == checkin.id)
            .values(status="pending", due_at=checkin.due_at, planned_at=checkin.planned_at)
        )


def wait_for(session: Session, rows: Sequence[CheckinRow], until: datetime) -> None:
    """Due check-ins that wait (the quiet hours) until `until`; the moment they were meant for
    is kept."""
    for row in rows:
        row.planned_at = row.planned_at or row.due_at
        row.due_at = until
        session.add(row)


def checkin_failed(session: Session, checkin_id: int, retry_at: datetime, limit: int) -> int:
    """Count a failed delivery; try again at `retry_at`, or give up after `limit` failures.
    Returns the number of failures so far."""
    row = session.get(CheckinRow, checkin_id)
    if row is None:
        return 0
    row.attempts += 1
    if row.attempts >= limit:
        row.status = "failed"
    else:
        row.due_at = retry_at
    session.add(row)
    return row.attempts


def next_due_at(session: Session) -> datetime | None:
    """When the next check-in can be delivered: its due time, or the end of a hold."""
    start = col(Person.checkins_from)
    due = col(CheckinRow.due_at)
    deliverable_at = sa.case((start > due, start), else_=due)
    statement = (
        sa.select(sa.func.min(sa.type_coerce(deliverable_at, UTCDateTime())))
        .select_from(CheckinRow)
        .join(Person, col(Person.id) == col(CheckinRow.person_id))
        .where(col(CheckinRow.status) == "pending", start.is_not(None))
    )
    value = session.execute(statement).scalar()
    return _as_utc(value)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- the outbox ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    id: int
    person_id: int | None
    channel: str
    address: str
    payload: dict[str, Any]
    attempts: int


def add_outgoing(
    session: Session,
    *,
    person_id: int | None,
    channel: str,
    address: str,
    payloads: Sequence[dict[str, Any]],
    now: datetime,
) -> None:
    if not payloads:
        return
    rows = [
        {
            "person_id": person_id,
            "channel": channel,
            "address": address,
            "payload": json.dumps(payload, ensure_ascii=False),
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for payload in payloads
    ]
    session.connection().execute(sa.insert(_table(OutboxRow)), rows)


@dataclass(frozen=True, kw_only=True)
class Hold:
    """Who takes rows: a claim (`OutboxClaim`), and the wall-clock moment by which a claim that
    was not renewed is dead."""

    claim: int
    alive_at: datetime
    skip_own: bool = False  # leave out what this claim holds already (a sender's busy chats)


def ready_outgoing(
    session: Session,
    channel: str,
    now: datetime,
    limit: int,
    exclude: Collection[str] = (),
    hold: Hold | None = None,
) -> list[Outgoing]:
    """Messages to send, oldest first; only the first waiting one of each chat is ready, so a
    chat's messages go out in order even when one of them has to wait. `exclude`: addresses
    the caller is busy with already. `hold`: the rows become the caller's claim's, so other
    processes sharing the database leave them alone while that claim lives; rows of a dead
    claim (its `alive_until` before `hold.alive_at`) are free again. With `hold.skip_own`, rows
    the caller's own claim holds are left out too: those are the chats a sender is busy with,
    so it need not name them all (`exclude`) at every look; it lets go of a row it keeps
    (`release`) for it to be taken again."""
    # The head of each chat: no earlier row for the same address. Asked per candidate through
    # the index (channel, address, id), in id order, so a pass reads about `limit` rows however
    # long the outbox is: grouping the whole outbox by chat at every pass made 10,000 check-ins
    # due at once fall behind the send rate (docs/performance.md).
    earlier = aliased(OutboxRow)
    no_earlier = ~sa.exists().where(
        col(earlier.channel) == col(OutboxRow.channel),
        col(earlier.address) == col(OutboxRow.address),
        col(earlier.id) < col(OutboxRow.id),
    )
    # On SQLite `|| ''` keeps the planner off ix_outbox_ready (whose range is the whole backlog,
    # then sorted): walking the ids in order stops after `limit`. SQLite has no statistics to
    # choose by; PostgreSQL's planner, with them, walks the ids by itself, and would not with
    # the expression (its estimate of it is wrong).
    sqlite = _on_sqlite(session)
    of_channel = (
        (col(OutboxRow.channel) + "") == channel if sqlite else col(OutboxRow.channel) == channel
    )
    statement = (
        select(OutboxRow)
        .where(of_channel, col(OutboxRow.next_attempt_at) <= now, no_earlier)
        .order_by(col(OutboxRow.id))
        .limit(limit)
    )
    if exclude:
        statement = statement.where(col(OutboxRow.address).not_in(list(exclude)))
    if hold is not None:
        alive = col(OutboxClaim.alive_until) >= hold.alive_at
        living = sa.select(col(OutboxClaim.id)).where(
            sa.or_(alive, col(OutboxClaim.id) == hold.claim)
            if hold.skip_own
            else sa.and_(alive, col(OutboxClaim.id) != hold.claim)
        )
        statement = statement.where(
            sa.or_(col(OutboxRow.claim).is_(None), col(OutboxRow.claim).not_in(living))
        ).with_for_update(skip_locked=True)
    rows = list(session.exec(statement))
    if hold is not None and rows:
        table = _table(OutboxRow)
        session.connection().execute(
            sa.update(table).where(table.c.id.in_([r.id for r in rows])).values(claim=hold.claim)
        )
    return [_outgoing(row) for row in rows]


def open_claim(
    session: Session, channel: str, host: str, pid: int, now: datetime, until: datetime
) -> int:
    """A new claim, alive until `until`; claims dead for a day are cleared away meanwhile."""
    session.execute(
        sa.delete(OutboxClaim).where(col(OutboxClaim.alive_until) < now - timedelta(days=1))
    )
    claim = OutboxClaim(channel=channel, host=host[:64], pid=pid, started_at=now, alive_until=until)
    session.add(claim)
    session.flush()
    assert claim.id is not None
    return claim.id


def _on_sqlite(session: Session) -> bool:
    return db.is_sqlite(session.get_bind())


def renew_claim(session: Session, claim: int, until: datetime, alive_at: datetime) -> bool:
    """Still alive until `until` (never less than before: of two renewals racing, the later
    write does not shorten the earlier one's). False when the claim is gone, or was dead by
    `alive_at` (the caller's moment plus what other clocks may run ahead): others may have
    taken its rows, so it is not revived, and the caller opens a new one."""
    table = _table(OutboxClaim)
    moment = sa.literal(until, type_=table.c.alive_until.type)
    longest = (
        sa.func.max(table.c.alive_until, moment)
        if _on_sqlite(session)
        else sa.func.greatest(table.c.alive_until, moment)
    )
    result = session.connection().execute(
        sa.update(table)
        .where(table.c.id == claim, table.c.alive_until >= alive_at)
        .values(alive_until=longest)
    )
    return result.rowcount > 0


def close_claim(session: Session, claim: int) -> None:
    """The process stops: the rows it held are free at once, and its claim goes."""
    table = _table(OutboxRow)
    session.connection().execute(sa.update(table).where(table.c.claim == claim).values(claim=None))
    session.execute(sa.delete(OutboxClaim).where(col(OutboxClaim.id) == claim))


def _outgoing(row: OutboxRow) -> Outgoing:
    assert row.id is not None
    return Outgoing(
        id=row.id,
        person_id=row.person_id,
        channel=row.channel,
        address=row.address,
        payload=json.loads(row.payload),
        attempts=row.attempts,
    )


def release(session: Session, outgoing_ids: Collection[int], claim: int) -> None:
    """Rows this claim took and did not deliver (to be tried again) are no longer held by it,
    so that it (or another process) takes them again; rows another claim holds by now stay."""
    table = _table(OutboxRow)
    session.connection().execute(
        sa.update(table)
        .where(table.c.id.in_(list(outgoing_ids)), table.c.claim == claim)
        .values(claim=None)
    )


def sent(session: Session, outgoing_ids: Collection[int]) -> None:
    """Delivered: the rows go, so what they said is not kept."""
    if outgoing_ids:
        table = _table(OutboxRow)
        session.connection().execute(sa.delete(table).where(table.c.id.in_(list(outgoing_ids))))


def retry_later(session: Session, outgoing_id: int, at: datetime) -> bool:
    """Count a failed attempt and wait until `at`; False when the row is gone."""
    result = session.execute(
        sa.update(OutboxRow)
        .where(col(OutboxRow.id) == outgoing_id)
        .values(next_attempt_at=at, attempts=OutboxRow.attempts + 1)
    )
    return cast("sa.CursorResult[Any]", result).rowcount > 0


def drop_outgoing_of(session: Session, channel: str, address: str) -> int:
    """A person who blocked the bot gets nothing more; what waited for them is dropped."""
    result = session.execute(
        sa.delete(OutboxRow).where(
            col(OutboxRow.channel) == channel, col(OutboxRow.address) == address
        )
    )
    return cast("sa.CursorResult[Any]", result).rowcount


def next_outgoing_at(session: Session, channel: str) -> datetime | None:
    value = session.execute(
        sa.select(sa.func.min(OutboxRow.next_attempt_at)).where(col(OutboxRow.channel) == channel)
    ).scalar()
    return _as_utc(value)


# --- what a channel received, kept before it is handled ------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Received:
    id: int  # the update id the channel hands to `Coach.handle`
    sender: str
    sent_at: int  # the sender's timestamp (milliseconds)
    content: dict[str, Any]


def keep_received(
    session: Session,
    channel: str,
    sender: str,
    sent_at: int,
    content: dict[str, Any],
    now: datetime,
) -> int | None:
    """Keep a message as it arrives; its id, or None when it was handled before (delivered
    again). One kept earlier but not yet handled (a crash came between) gets its id again."""
    table = _table(ReceivedMessage)
    session.connection().execute(
        _insert(session, table)
        .values(
            channel=channel,
            sender=sender,
            sent_at=sent_at,
            content=json.dumps(content, ensure_ascii=False),
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel", "sender", "sent_at"])
    )
    row = (
        session.connection()
        .execute(
            sa.select(table.c.id, table.c.handled_at).where(
                table.c.channel == channel, table.c.sender == sender, table.c.sent_at == sent_at
            )
        )
        .first()
    )
    return None if row is None or row.handled_at is not None else int(row.id)


def received_handled(session: Session, received_id: int, now: datetime) -> None:
    """The turn is committed: what the person wrote now lives in their answers, not here."""
    table = _table(ReceivedMessage)
    session.connection().execute(
        sa.update(table).where(table.c.id == received_id).values(content=None, handled_at=now)
    )


def received_waiting(session: Session, channel: str, limit: int) -> list[Received]:
    """Messages kept but not handled (the process ended in between), oldest first."""
    table = _table(ReceivedMessage)
    rows = session.connection().execute(
        sa.select(table.c.id, table.c.sender, table.c.sent_at, table.c.content)
        .where(table.c.channel == channel, table.c.handled_at.is_(None))
        .order_by(table.c.id)
        .limit(limit)
    )
    return [
        Received(id=r.id, sender=r.sender, sent_at=r.sent_at, content=json.loads(r.content or "{}"))
        for r in rows
    ]


def prune_received(session: Session, channel: str, before: datetime) -> int:
    """Handled messages' keys older than `before`: no channel delivers a message again so late."""
    table = _table(ReceivedMessage)
    result = session.connection().execute(
        sa.delete(table).where(
            table.c.channel == channel,
            table.c.handled_at.is_not(None),
            table.c.handled_at < before,
        )
    )
    return cast("sa.CursorResult[Any]", result).rowcount


def delete_received_of(session: Session, channel: str, address: str) -> None:
    """Everything kept of what one person sent (with /vergeet)."""
    table = _table(ReceivedMessage)
    session.connection().execute(
        sa.delete(table).where(table.c.channel == channel, table.c.sender == address)
    )


# --- the send budget shared by processes (bot/send_budget.py) ---------------------------------


def reserve_tokens(
    session: Session, name: str, count: int, rate: float, burst: int, *, until: float = 0.0
) -> tuple[float, float]:
    """Reserve `count` messages' places in the bucket `name` (refilled at `rate` a second, up to
    `burst`), its row locked until the transaction ends. The bucket may go into debt: the places
    lie in the future then, and whoever reserves next waits behind them. `until` (seconds since
    the epoch): nothing may go out before it (Telegram said 429 for the bot as a whole).
    Returns (now, tokens before): place i is free at now + max(0, (i + 1 - tokens) / rate)."""
    connection = session.connection()
    table = _table(SendBudget)
    now = _epoch(connection)
    locked = sa.select(table.c.tokens, table.c.at).where(table.c.name == name).with_for_update()
    row = connection.execute(locked).first()
    if row is None:  # the first reservation ever: a full bucket (unless another just made it)
        connection.execute(
            _insert(session, table)
            .values(name=name, tokens=float(burst), at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = connection.execute(locked).one()
    at = float(row.at)
    tokens = min(float(burst), float(row.tokens) + max(0.0, now - at) * rate)
    if until > now:
        tokens = min(tokens, -(until - now) * rate)
    connection.execute(
        sa.update(table).where(table.c.name == name).values(tokens=tokens - count, at=max(now, at))
    )
    return now, tokens


def _epoch(connection: sa.Connection) -> float:
    """Now in seconds since the epoch: the database's clock on PostgreSQL (processes on several
    machines agree on it), the machine's on SQLite (whose processes share one machine)."""
    if connection.dialect.name == "postgresql":
        value = connection.exec_driver_sql("SELECT extract(epoch FROM clock_timestamp())")
        return float(value.scalar_one())
    return time.time()


# --- deletion -----------------------------------------------------------------------------------


def delete_person(session: Session, person_id: int) -> None:
    """Everything of one person: answers, runs, check-ins, waiting messages, the person."""
    for table in (AnswerRow, RunRow, CheckinRow, OutboxRow):
        session.execute(sa.delete(table).where(col(table.person_id) == person_id))
    session.execute(sa.delete(Person).where(col(Person.id) == person_id))
