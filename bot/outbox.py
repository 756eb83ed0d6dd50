"""The outbox: what the coach has to say, kept with the turn that made it until a channel has
delivered it. Every channel sends through here and none reads the table itself.

What goes out is typed (`Item`): a message (`flows.messages.Message`), a document (`/export`'s
files) or the balance chart (`/mijn`). `encode` and `item_of` are the one way to and from the
stored JSON; rows written by earlier versions are still read (`item_of`).

A channel holds an `Outbox` bound to itself and asks it for what is ready (`take`: oldest first,
only the first waiting item of each chat, so a chat's messages go out in order), says what was
delivered (`sent`), what must wait (`retry_later`), and who cannot be reached (`unreachable`,
`drop_for`).

Several processes may send from one database. A process holds what it took through a claim it
renews every `RENEW_EVERY` from a thread of its own; others leave those rows alone while the claim
lives. A process killed -9 stops renewing, and `CLAIM_LIFE` later its rows are free: another
process sends them within seconds. A process whose claim could not be renewed in time
(`holds()` false) sends nothing more under it: the claim is not revived (a renewal that gets
through late fails), a new one is opened, and what was taken under the old one is not sent
(`holds(claim)`) but taken again like any free row, so two processes never believe they hold
the same row. A renewal is believed only once committed, and never shortens the claim. The one
window left (`docs/operating.md`): a row the platform accepted and whose
deletion was not yet committed when the process died is sent again.
"""

from __future__ import annotations

import html
import logging
import os
import socket
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.clock import Clock
from bot.storage import store
from flows import markup
from flows.messages import Message, buttons_of

log = logging.getLogger(__name__)

# A claim not renewed for this long is dead, and the rows it held are free: a chat whose message
# a killed process had taken waits about this long. Renewed far more often, so that a renewal
# delayed by a busy database or machine does not let the claim lapse.
CLAIM_LIFE = timedelta(seconds=5)
RENEW_EVERY = 1.0  # seconds
# A process stops sending this long before its claim would lapse in others' eyes: their clocks
# may run a little ahead of ours (NTP keeps machines within milliseconds; this allows far more).
CLOCK_MARGIN = 1.0  # seconds


@dataclass(frozen=True, kw_only=True)
class Document:
    """A file for the person (`/export`): its name, type and text."""

    filename: str
    mime: str
    content: str


@dataclass(frozen=True, kw_only=True)
class Chart:
    """The balance over time (`/mijn`), as `flows.balance.chart` describes it: the texts and
    the points, drawn by each channel its own way."""

    texts: Mapping[str, str]
    points: Sequence[Mapping[str, Any]]

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Chart:
        return cls(texts=dict(data["texts"]), points=tuple(data["points"]))

    @property
    def caption(self) -> str:
        return str(self.texts["caption"])

    def as_json(self) -> dict[str, Any]:
        """What the drawings read (`bot.balance_chart`, `plain_text.render_balance`)."""
        return {"texts": dict(self.texts), "points": [dict(p) for p in self.points]}


Item = Message | Document | Chart


def encode(item: Item) -> dict[str, Any]:
    """The stored JSON of an item."""
    if isinstance(item, Message):
        return item.to_json()
    if isinstance(item, Document):
        return {"document": {"filename": item.filename, "mime": item.mime, "content": item.content}}
    return {"balance": item.as_json()}


def item_of(payload: Mapping[str, Any]) -> Item:
    """The item stored as `payload`. A message written before messages had paragraphs holds a
    `text` of the coach's markup with everything else escaped as HTML entities: it is read with
    the markup's own parser, each piece of text unescaped. Raises KeyError, TypeError or
    ValueError for a payload of no known shape."""
    if "document" in payload:
        document = payload["document"]
        return Document(
            filename=str(document["filename"]),
            mime=str(document.get("mime", "application/octet-stream")),
            content=str(document["content"]),
        )
    if "balance" in payload:
        return Chart.of(payload["balance"])
    if "paragraphs" in payload:
        return Message.from_json(dict(payload))
    parsed = markup.parse(str(payload["text"]), unescape=html.unescape)
    return Message(
        key=payload["key"], paragraphs=parsed.paragraphs, buttons=buttons_of(dict(payload))
    )


def kind_of(item: Item) -> str:
    """What a log line may say about an item: a message's text key, or its kind."""
    if isinstance(item, Message):
        return item.key
    return "document" if isinstance(item, Document) else "chart"


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """One item taken from the outbox for one chat."""

    id: int
    person_id: int | None
    address: str
    item: Item
    attempts: int  # failed attempts so far (a retry's pause grows with them, across restarts)
    claim: int | None = None  # the claim it was taken under: sent only while that one holds


class Outbox:
    """The outbox of one channel, as that channel sees it. Blocking calls (the database): an
    asynchronous channel runs them off its event loop."""

    def __init__(self, store_: store.Store, channel: str, clock: Clock, *, lease: bool = True):
        self.store = store_
        self.channel = channel
        self.clock = clock
        # Whether taken rows are held against other processes (the terminal is alone).
        self.lease = lease
        self._claim: int | None = None
        self._holds_until = 0.0  # time.monotonic() by which our claim must be renewed
        self._lock = threading.Lock()  # opening and replacing the claim
        self._belief = threading.Lock()  # the claim and `_holds_until`, changed together
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def open(self) -> None:
        """Begin to hold what this process takes: a claim, renewed from a thread of its own
        until `close` (taking opens it too)."""
        if not self.lease:
            return
        with self._lock:
            if self._claim is not None:
                return
            self._open_claim()
            self._stop.clear()
            self._renewer = threading.Thread(
                target=self._renew_while_open, name=f"outbox-claim-{self.channel}", daemon=True
            )
            self._renewer.start()
        log.info("outbox claim %d for %s", self._claim, self.channel)

    def close(self) -> None:
        """The process stops: what it took and did not send is free for others at once."""
        with self._lock, self._belief:
            claim, self._claim = self._claim, None
            self._holds_until = 0.0
            self._stop.set()
            renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.join(timeout=10)
        if claim is not None:
            with self.store.transaction() as session:
                store.close_claim(session, claim)

    def holds(self, claim: int | None = None) -> bool:
        """Whether what this process took is still its own in every process's eyes: a sender
        asks before each call to the platform and sends nothing while this is false. With
        `claim` (the one a row was taken under, `Outgoing.claim`): whether that claim is still
        the one this process holds; a row taken under a claim that lapsed may be another's."""
        if not self.lease:
            return True
        with self._belief:  # the claim and its deadline as one: a new claim comes with its own
            current, until = self._claim, self._holds_until
        if claim is not None and claim != current:
            return False
        return time.monotonic() < until

    def _renew_while_open(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            try:
                self._renew()
            except Exception as error:  # the database is away: try again in a second
                log.warning("outbox claim not renewed (%s)", type(error).__name__)

    def _renew_in(self, session: Session, claim: int) -> float | None:
        """Renew the claim in a transaction the sender makes anyway, once the last renewal is
        `RENEW_EVERY` old: a busy database (on SQLite, a dispatcher's passes one after another)
        can keep the renewing thread waiting, but not a sender that gets to write. Returns the
        `time.monotonic()` by which the claim must be renewed again if the renewal holds: the
        caller believes it only once the transaction committed (`_believe`). 0.0 when the claim
        lapsed (`_replace`); None when no renewal was due."""
        started = time.monotonic()
        if started < self._holds_until - CLAIM_LIFE.total_seconds() + CLOCK_MARGIN + RENEW_EVERY:
            return None
        return self._renewal(session, claim, started)

    def _renewal(self, session: Session, claim: int, started: float) -> float:
        """The renewal itself, its moments taken inside the transaction that writes it (after
        any wait for the database): the deadline believed if it commits, or 0.0 when the claim
        is gone or lapsed already in the eyes of a process whose clock runs ahead."""
        if not self.holds(claim):  # we stopped sending: others may have taken its rows already
            return 0.0
        now = self.clock.real()
        margin = timedelta(seconds=CLOCK_MARGIN)
        if not store.renew_claim(session, claim, now + CLAIM_LIFE, now + margin):
            return 0.0
        return started + CLAIM_LIFE.total_seconds() - CLOCK_MARGIN

    def _believe(self, claim: int, until: float) -> None:
        """A committed renewal: held until `until`, unless the claim was replaced meanwhile;
        never less than an earlier renewal's (both were written, the database keeps the later
        moment)."""
        with self._belief:
            if self._claim == claim:
                self._holds_until = max(self._holds_until, until)

    def _renew(self) -> None:
        claim = self._claim
        if claim is None:
            return
        with self.store.transaction() as session:
            until = self._renewal(session, claim, time.monotonic())
        if until:
            self._believe(claim, until)
        else:
            self._replace(claim)

    def _replace(self, claim: int) -> None:
        """The claim lapsed (or was cleared as dead): what it held may be another's by now, and
        is not sent under it any more (`holds(claim)`). A new claim takes only what is free, so
        nothing is sent twice by our mistake."""
        log.warning("outbox claim %d lapsed; taking a new one", claim)
        with self._lock:
            if self._claim == claim:
                self._open_claim()

    def _open_claim(self) -> None:
        """A new claim (with `_lock` held), its moments taken inside the transaction that
        writes it, believed once committed."""
        with self.store.transaction() as session:
            started = time.monotonic()
            now = self.clock.real()
            new = store.open_claim(
                session, self.channel, socket.gethostname(), os.getpid(), now, now + CLAIM_LIFE
            )
        with self._belief:
            self._claim = new
            self._holds_until = started + CLAIM_LIFE.total_seconds() - CLOCK_MARGIN

    def take(
        self,
        limit: int,
        exclude: Collection[str] = (),
        *,
        sent: Collection[int] = (),
        release: Collection[int] = (),
        skip_held: bool = False,
    ) -> list[Outgoing]:
        """Up to `limit` items ready now, oldest first, the first waiting one of each chat only;
        not for the chats in `exclude` (those the caller is busy with). `skip_held` (with a
        lease): what this process holds already is left out instead, so a sender with many
        chats in flight need not name them; it then `release`s what it took and kept (to be
        tried again), so that it is taken again. `sent`: rows delivered since the last take,
        acknowledged in the same transaction. A row that cannot be read is logged (its id and
        the error's kind) and dropped."""
        if self.lease and self._claim is None:
            self.open()
        now = self.clock.now()
        taken: list[Outgoing] = []
        unreadable: list[int] = []
        with self.store.transaction() as session:
            if sent:
                store.sent(session, list(sent))
            claim = self._claim
            if release and claim is not None:
                store.release(session, list(release), claim)
            renewed = self._renew_in(session, claim) if claim is not None and limit else None
            # The renewal and the rows taken commit together: within this transaction it holds.
            holding = self.holds(claim) or bool(renewed and time.monotonic() < renewed)
            if limit and renewed != 0.0 and holding:
                hold = None
                if claim is not None:
                    hold = store.Hold(claim=claim, alive_at=self.clock.real(), skip_own=skip_held)
                rows = store.ready_outgoing(
                    session, self.channel, now, limit, exclude=exclude, hold=hold
                )
                for row in rows:
                    try:
                        item = item_of(row.payload)
                    except (KeyError, TypeError, ValueError) as error:
                        log.error(
                            "outbox row %s of person %s cannot be read (%s); dropped",
                            row.id,
                            row.person_id,  # not the address: on Signal a phone number
                            type(error).__name__,
                        )
                        unreadable.append(row.id)
                        continue
                    taken.append(
                        Outgoing(
                            id=row.id,
                            person_id=row.person_id,
                            address=row.address,
                            item=item,
                            attempts=row.attempts,
                            claim=claim,
                        )
                    )
                if unreadable:
                    store.sent(session, unreadable)
        # Committed: only now is the renewal believed (a look that failed renewed nothing).
        if claim is not None and renewed == 0.0:
            self._replace(claim)
        elif claim is not None and renewed:
            self._believe(claim, renewed)
        if unreadable:  # the chats of dropped rows may have a next one ready
            busy = [*exclude, *(o.address for o in taken)]
            taken += self.take(limit - len(taken), busy, skip_held=skip_held)
        return taken

    def sent(self, ids: Collection[int]) -> None:
        """Delivered (or given up on): the rows go, so what they said is not kept."""
        if ids:
            with self.store.transaction() as session:
                store.sent(session, list(ids))

    def retry_later(self, outgoing_id: int, at: datetime) -> bool:
        """A failed attempt: counted, and the row waits until `at`. False when the row is gone
        (the person was forgotten meanwhile): there is nothing left to send."""
        with self.store.transaction() as session:
            return store.retry_later(session, outgoing_id, at)

    def drop_for(self, address: str) -> int:
        """Everything waiting for this chat goes; how many."""
        with self.store.transaction() as session:
            return store.drop_outgoing_of(session, self.channel, address)

    def unreachable(self, address: str) -> int:
        """The person blocked the coach (or left the platform): their check-ins are held until
        they write again, and what waited for them is dropped; how many."""
        with self.store.transaction() as session:
            person = store.find_person(session, self.channel, address)
            if person is not None and person.id is not None:
                store.set_unreachable(session, person, True)
            dropped = store.drop_outgoing_of(session, self.channel, address)
        # The person's id, not the address: on Signal that is a phone number.
        log.warning(
            "person %s unreachable on %s; %d waiting item(s) dropped",
            person.id if person is not None else "?",
            self.channel,
            dropped,
        )
        return dropped

    def next_at(self) -> datetime | None:
        """When the next item of this channel may go out (None: nothing waits)."""
        with self.store.transaction() as session:
            return store.next_outgoing_at(session, self.channel)
