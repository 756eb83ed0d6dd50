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
from flows import defaults, delivery, safety
from flows.effects import (
    CancelCheckins,
    CheckinsSettled,
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
from flows.engine import ALREADY_CHOSEN, Engine, Step, crisis_checked
from flows.events import CheckinDue, CheckinsDue, Event
from flows.messages import Message
from flows.model import Library
from flows.turn import navigation

log = logging.getLogger(__name__)

# How many due check-ins one pass of the dispatcher takes on.
DISPATCH_BATCH = 50
# A check-in whose delivery raised is tried again this much later, this many times at most.
CHECKIN_RETRY = timedelta(minutes=10)
CHECKIN_ATTEMPTS = 5


@dataclass(frozen=True, kw_only=True)
class Handled:
    """What one turn did, for the channel: whether it was new, whom it wrote to, and what the
    channel has to do about it (so that no channel matches the engine's text keys)."""

    new: bool
    person_id: int | None
    deleted: bool = False
    replies: tuple[str, ...] = ()  # the text keys of the engine's messages in this turn
    # The button pressed was not the current question's (an older one, or a second tap): the
    # question it belonged to shows no choice.
    stale_choice: bool = False
    # When the person's next check-in can come may have changed (one planned or cancelled, a
    # pause or a hold begun or ended): the channel sets its alarm clock again.
    plans_changed: bool = False


# The engine's answers to a button that is not the current question's.
_STALE_REPLIES = frozenset({navigation.STALE_BUTTON, ALREADY_CHOSEN})


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
            before = person.checkins_from
            if person.unreachable:  # they wrote again, so they can be reached again
                person.unreachable = False
            deleted, step = self._turn(session, person, event, now)
        if deleted:
            db.checkpoint(self.store.engine)
        after = delivery.checkins_from(
            delivery.Availability(
                paused=step.state.paused, unreachable=False, held_until=step.state.held_until
            )
        )
        replies = tuple(key for m in step.messages for key in m.keys)
        return Handled(
            new=True,
            person_id=None if deleted else person.id,
            deleted=deleted,
            replies=replies,
            stale_choice=bool(_STALE_REPLIES.intersection(replies)),
            plans_changed=not deleted
            and (
                after != before
                or any(isinstance(e, (ScheduleCheckin, CancelCheckins)) for e in step.effects)
            ),
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
    ) -> tuple[bool, Step]:
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
                store.delete_received_of(session, person.channel, person.address)
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
        return deleted, step

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
        elif isinstance(effect, CheckinsSettled):
            store.settle_checkins(session, person_id, effect.folded, effect.dropped, effect.waiting)
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
        """Feed the due check-ins to the engine, each person's together (one calm conversation,
        not one message per check-in); returns how many people got one. Several processes may
        run this at once: each check-in is claimed by one of them.

        A pass is one transaction, each person's check-ins in a savepoint of their own: one
        commit for the pass instead of one per person (10,000 due at once, docs/performance.md),
        and one broken delivery is rolled back alone and tried again later. The pass claims its
        check-ins together, passing over those another process claimed, so processes share what
        is due instead of queueing for the same rows; a person whose turn another holds is passed
        over too, their check-ins pending for the next pass: a pass never waits for a lock."""
        now = self.clock.now()
        delivered = 0
        failed: list[int] = []
        with self.store.transaction() as session:
            people: dict[int, list[int]] = {}
            for checkin_id, person_id in store.due_checkins(session, now, limit, claim=True):
                people.setdefault(person_id, []).append(checkin_id)
            for person_id, checkin_ids in people.items():
                try:
                    with session.begin_nested():
                        if self._deliver(session, person_id, now):
                            delivered += 1
                except Exception as error:  # one broken check-in must not stop everyone else's
                    # The type only: a message could quote what the person wrote.
                    log.error(
                        "check-ins %s could not be delivered: %s",
                        ",".join(map(str, checkin_ids)),
                        type(error).__name__,
                    )
                    failed.extend(checkin_ids)
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

    def _deliver(self, session: Session, person_id: int, now: datetime) -> bool:
        person = store.lock_person_by_id(session, person_id, skip_locked=True)
        if person is None:
            return False  # gone, or another holds their turn: the next pass
        rows = store.claim_due_checkins(session, person_id, now)
        if not rows:
            return False  # another process has them, or they were cancelled meanwhile
        # The query found them due by the rule's stored result; the person, locked now, may
        # have paused or blocked the bot since: the rule itself decides.
        if not delivery.may_receive(store.availability(person), now):
            return False  # they wait, still pending
        state = store.load_state(person)
        tz = ZoneInfo(state.timezone)
        quiet = delivery.QuietHours.parse(state.quiet)
        going = []
        for row in rows:
            until = delivery.quiet_until(checkin_of(row), now, tz, quiet)
            if until is not None:
                store.wait_for(session, [row], until)  # the night is quiet: the morning
            else:
                going.append(row)
        if not going:
            return False
        for row in going:
            row.status = "done"  # unless the engine folds or lets it go (CheckinsSettled)
            session.add(row)
        session.flush()
        checkins = tuple(checkin_of(row) for row in going)
        event = (
            CheckinDue(checkin=checkins[0])
            if len(checkins) == 1
            else CheckinsDue(checkins=checkins)
        )
        self._turn(session, person, event, now)
        return True

    def check_ahead(self, event: Event) -> None:
        """The crisis check of the event's text, before its turn and outside any transaction:
        the check is pure and remembers what it found (`flows.memo`), so the turn finds the
        finding ready. The model's milliseconds are then not spent on the database thread
        that every chat's turn waits for (one on SQLite), nor while the person's row is locked.
        The turn decides as it always did; this only moves when the work is done."""
        text = crisis_checked(event)
        if text is not None:
            safety.assess(text, self.library.safety)

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
