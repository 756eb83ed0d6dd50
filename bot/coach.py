"""The coach's one path: an event in, one transaction out.

channel → `Coach.handle` → engine → effects → storage (answers, check-ins, outbox) → commit.
The channel's sender then delivers the outbox. A check-in that falls due takes the same path
(`Coach.deliver_due`). Nothing here knows Telegram or the terminal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot import views
from bot.clock import Clock
from bot.forgotten import DeletionList
from bot.outbox import Item, Outbox, encode
from bot.storage import db, store
from bot.storage.models import Person, checkin_of
from flows import defaults, delivery
from flows.effects import (
    CancelCheckins,
    DeletionRequested,
    Effect,
    ExportRequested,
    ForgetAnswer,
    RunFinished,
    RunStarted,
    SaveAnswer,
    ScheduleCheckin,
    ShowAnswers,
)
from flows.engine import Engine
from flows.events import CheckinDue, Event
from flows.messages import Message
from flows.model import Library

log = logging.getLogger(__name__)

# How many due check-ins one pass of the dispatcher takes on.
DISPATCH_BATCH = 50
# A check-in whose delivery raised is tried again this much later, this many times at most.
CHECKIN_RETRY = timedelta(minutes=10)
CHECKIN_ATTEMPTS = 5


@dataclass(frozen=True, kw_only=True)
class Handled:
    """What one turn did, for the caller: whether it was new, and whom it wrote to."""

    new: bool
    person_id: int | None
    deleted: bool = False
    replies: tuple[str, ...] = ()  # the text keys of the engine's messages in this turn


class Coach:
    def __init__(
        self,
        library: Library,
        store_: store.Store,
        clock: Clock,
        forgotten: DeletionList | None = None,
    ):
        self.library = library
        self.engine = Engine(library)
        self.store = store_
        self.clock = clock
        self.forgotten = forgotten  # where /vergeet is noted, so a restore does not undo it

    # --- incoming --------------------------------------------------------------------------------

    def handle(
        self, channel: str, address: str, event: Event, *, update_id: int | None = None
    ) -> Handled:
        """Handle one event of the person at `address`: the state, their answer and the replies
        are committed together. An update seen before is skipped."""
        now = self.clock.now()
        with self.store.transaction() as session:
            person = store.lock_person(session, channel, address, now)
            if update_id is not None and not store.mark_update(session, channel, update_id, now):
                return Handled(new=False, person_id=person.id)
            if person.unreachable:  # they wrote again, so they can be reached again
                person.unreachable = False
            deleted, replies = self._turn(session, person, event, now)
        if deleted:
            db.checkpoint(self.store.engine)
        return Handled(
            new=True, person_id=None if deleted else person.id, deleted=deleted, replies=replies
        )

    def notice(
        self, channel: str, address: str, key: str, lang: str, *, update_id: int | None = None
    ) -> None:
        """One message to a chat the coach does not serve (a group chat): nobody is created and
        nothing is kept but the message in the outbox. An update seen before says nothing."""
        now = self.clock.now()
        tz = ZoneInfo(defaults.TIMEZONE)
        message = Message(key=key, paragraphs=self.library.texts.render(lang, key, tz))
        with self.store.transaction() as session:
            if update_id is not None and not store.mark_update(session, channel, update_id, now):
                return
            store.add_outgoing(
                session,
                person_id=None,
                channel=channel,
                address=address,
                payloads=[encode(message)],
                now=now,
            )

    def _turn(
        self, session: Session, person: Person, event: Event, now: datetime
    ) -> tuple[bool, tuple[str, ...]]:
        assert person.id is not None
        state = store.load_state(person)
        step = self.engine.advance(state, event, now)
        log.info(
            "turn person=%s event=%s messages=%d effects=%s",
            person.id,
            event.type_name,
            len(step.messages),
            ",".join(e.type_name for e in step.effects) or "-",
        )
        first: list[Item] = []  # what storage adds goes before the engine's replies
        deleted = False
        for effect in step.effects:
            if isinstance(effect, DeletionRequested):
                if self.forgotten is not None:
                    self.forgotten.add(person.channel, person.address, now)
                store.delete_person(session, person.id)
                deleted = True
            else:
                first += self._apply(session, person, step.state.lang, effect, now)
        payloads = [encode(item) for item in [*first, *step.messages]]
        if not deleted:
            store.save_state(session, person, step.state, now)
        store.add_outgoing(
            session,
            person_id=None if deleted else person.id,
            channel=person.channel,
            address=person.address,
            payloads=payloads,
            now=now,
        )
        return deleted, tuple(m.key for m in step.messages)

    def _apply(
        self, session: Session, person: Person, lang: str, effect: Effect, now: datetime
    ) -> list[Item]:
        person_id = person.id
        assert person_id is not None
        if isinstance(effect, SaveAnswer):
            store.save_answer(
                session,
                person_id,
                run=effect.run,
                flow=effect.flow,
                step=effect.step,
                question=effect.question,
                kind=effect.kind,
                item=effect.item,
                value=effect.value,
                at=effect.at,
                crisis=effect.crisis,
            )
        elif isinstance(effect, RunStarted):
            store.start_run(
                session, person_id, effect.run, effect.flow, effect.flow_version, effect.at
            )
        elif isinstance(effect, RunFinished):
            store.finish_run(session, person_id, effect.run, effect.at)
        elif isinstance(effect, ScheduleCheckin):
            store.schedule_checkin(session, person_id, effect.checkin, now)
        elif isinstance(effect, CancelCheckins):
            store.cancel_checkins(session, person_id, effect.kinds, effect.flow, effect.checkins)
        elif isinstance(effect, ForgetAnswer):
            store.forget_answer(session, person_id, effect.run, effect.step, effect.from_item)
        elif isinstance(effect, ShowAnswers):
            shown: list[Item] = [*views.mine(session, person, self.library, lang)]
            return shown + views.balance_chart(session, person, self.library, lang)
        elif isinstance(effect, ExportRequested):
            return views.export_items(session, person, self.library, lang, now)
        else:  # a programming error: an effect nobody carries out
            raise TypeError(f"no handler for {effect!r}")
        return []

    # --- check-ins -------------------------------------------------------------------------------

    def deliver_due(self, limit: int = DISPATCH_BATCH) -> int:
        """Feed every due check-in to the engine; returns how many. Several processes may run
        this at once: each check-in is claimed by one of them.

        A pass is one transaction, each check-in in a savepoint of its own: one commit for the
        pass instead of one per check-in (10,000 due at once, docs/performance.md), and one
        broken check-in is rolled back alone and tried again later. The pass claims its
        check-ins together, passing over those another process claimed, so processes share
        what is due instead of queueing for the same rows; a person whose turn another holds is
        passed over too, their check-in pending for the next pass: a pass never waits for a
        lock."""
        now = self.clock.now()
        delivered = 0
        failed: list[int] = []
        with self.store.transaction() as session:
            for checkin_id, person_id in store.due_checkins(session, now, limit, claim=True):
                try:
                    with session.begin_nested():
                        if self._deliver(session, checkin_id, person_id, now):
                            delivered += 1
                except Exception as error:  # one broken check-in must not stop everyone else's
                    # The type only: a message could quote what the person wrote.
                    log.error(
                        "check-in %d could not be delivered: %s", checkin_id, type(error).__name__
                    )
                    failed.append(checkin_id)
        for checkin_id in failed:  # after the commit: on SQLite the pass holds the write lock
            self._retry_later(checkin_id, now)
        return delivered

    def _retry_later(self, checkin_id: int, now: datetime) -> None:
        """A passing fault (a locked database, a dropped connection) is tried again later; after
        CHECKIN_ATTEMPTS tries the check-in is marked failed, so it never loops."""
        with self.store.transaction() as session:
            attempts = store.checkin_failed(
                session, checkin_id, now + CHECKIN_RETRY, CHECKIN_ATTEMPTS
            )
        if attempts >= CHECKIN_ATTEMPTS:
            log.error("check-in %d failed %d times; it is marked failed", checkin_id, attempts)

    def _deliver(self, session: Session, checkin_id: int, person_id: int, now: datetime) -> bool:
        person = store.lock_person_by_id(session, person_id, skip_locked=True)
        row = store.claim_checkin(session, checkin_id, now)
        if person is None or row is None:
            return False  # another has the person or the check-in, or it was cancelled meanwhile
        # The query found it due by the rule's stored result; the person, locked now, may
        # have paused or blocked the bot since: the rule itself decides.
        if not delivery.may_receive(store.availability(person), now):
            return False  # it waits, still pending
        row.status = "done"
        session.add(row)
        self._turn(session, person, CheckinDue(checkin=checkin_of(row)), now)
        return True

    def next_due_at(self) -> datetime | None:
        with self.store.transaction() as session:
            return store.next_due_at(session)

    # --- what channels need ---------------------------------------------------------------------

    def outbox(self, channel: str, *, lease: bool = True) -> Outbox:
        """The outbox as `channel` sees it (`lease`: held against other processes)."""
        return Outbox(self.store, channel, self.clock, lease=lease)

    @property
    def concurrency(self) -> int:
        """How many turns are worth running at once: on SQLite one (one writer at a time, and
        threads waiting in its busy handler only sleep), on PostgreSQL a few (different people's
        turns lock different rows)."""
        return 1 if db.is_sqlite(self.store.engine) else 4

    def language_of(self, channel: str, address: str) -> str | None:
        """The language of the person at this address, if they have begun."""
        with self.store.transaction() as session:
            person = store.find_person(session, channel, address)
            return person.lang if person is not None and person.state != "{}" else None
