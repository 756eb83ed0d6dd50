"""The outbox as a channel sees it (`bot/outbox.py`), on SQLite and on PostgreSQL: typed items to
and from their stored JSON (rows of earlier versions too), and the operations a channel needs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col

from bot.outbox import CLAIM_LIFE, Chart, Document, Outbox, encode, item_of
from bot.storage import store
from bot.storage.models import OutboxClaim, OutboxRow
from flows.events import Started, TextReceived
from flows.messages import Button, Message, Span

CHANNEL = "telegram"


@pytest.fixture(autouse=True)
def closed_afterwards(coach):
    """Every outbox a test opens is closed at its end, as a process closes its own on stopping
    (its claim's thread would otherwise outlive the test's database)."""
    opened: list[Outbox] = []
    real = coach.outbox

    def outbox(channel: str, **options) -> Outbox:
        opened.append(real(channel, **options))
        return opened[-1]

    coach.outbox = outbox
    yield
    for each in opened:
        each.close()


def message(key: str, text: str) -> Message:
    return Message(
        key=key,
        paragraphs=((Span(text=text, strong=True), Span(text=" & meer")),),
        buttons=((Button(label="Verder", token="r1:stap:_next"),),),
    )


def put(coach, address: str, *items) -> None:
    with coach.store.transaction() as session:
        store.add_outgoing(
            session,
            person_id=None,
            channel=CHANNEL,
            address=address,
            payloads=[encode(i) for i in items],
            now=coach.clock.now(),
        )


def test_every_kind_of_item_reads_back_as_it_was_written():
    items = [
        message("k", "Hallo <jij>"),
        Document(filename="kern-coach.txt", mime="text/plain", content="Wat ik schreef"),
        Chart(
            texts={"caption": "Je balans."},
            points=({"at": "2026-03-02T08:00:00+00:00", "position": 0, "kind": "daily"},),
        ),
    ]
    assert [item_of(encode(i)) for i in items] == items


def test_a_message_stored_by_an_earlier_version_reads_as_the_message_it_was():
    before = {
        "key": "oefening-1:evaluatie.terugblik",
        "text": "<b>Je plan:</b>\n<blockquote>Ik zeg &lt;nee&gt; &amp; meen het</blockquote>",
        "buttons": [[{"label": "Verder", "token": "r1:evaluatie:_next"}]],
    }
    read = item_of(before)
    assert isinstance(read, Message)
    assert read.plain == "Je plan:\n\nIk zeg <nee> & meen het"  # the quote on lines of its own
    assert read.buttons == ((Button(label="Verder", token="r1:evaluatie:_next"),),)


def test_a_channel_takes_the_first_item_of_each_chat_oldest_first(coach):
    put(coach, "1", message("a", "een"), message("b", "twee"))
    put(coach, "2", message("c", "drie"))
    outbox, other = coach.outbox(CHANNEL), coach.outbox(CHANNEL)
    try:
        taken = outbox.take(10)
        assert [(o.address, o.item.key) for o in taken] == [("1", "a"), ("2", "c")]
        assert other.take(10) == [], "what one process took is not offered to another"
        outbox.sent([o.id for o in taken])
        assert [(o.address, o.item.key) for o in outbox.take(10)] == [("1", "b")]
    finally:
        outbox.close()
        other.close()


def test_busy_chats_are_left_out_and_acknowledgements_go_with_the_next_take(coach):
    put(coach, "1", message("a", "een"), message("b", "twee"))
    put(coach, "2", message("c", "drie"))
    outbox = coach.outbox(CHANNEL, lease=False)
    assert [o.address for o in outbox.take(10, exclude=["1"])] == ["2"]
    first = outbox.take(10)
    again = outbox.take(10, sent=[o.id for o in first])
    assert [o.item.key for o in again] == ["b"]


def test_one_channel_never_sees_anothers_items(coach):
    put(coach, "1", message("a", "een"))
    assert coach.outbox("signal").take(10) == []
    assert coach.outbox("signal").next_at() is None
    assert coach.outbox(CHANNEL).next_at() == coach.clock.now()


def test_retry_later_keeps_the_item_until_then_and_counts_the_attempt(coach, clock):
    put(coach, "1", message("a", "een"))
    outbox = coach.outbox(CHANNEL, lease=False)
    (first,) = outbox.take(10)
    assert outbox.retry_later(first.id, clock.now() + timedelta(minutes=2))
    assert outbox.take(10) == []
    assert outbox.next_at() == clock.now() + timedelta(minutes=2)
    clock.advance(timedelta(minutes=2))
    (again,) = outbox.take(10)
    assert (again.id, again.attempts) == (first.id, 1)
    outbox.sent([again.id])
    assert not outbox.retry_later(again.id, clock.now()), "a row that is gone is not revived"


def test_an_unreachable_person_is_held_and_what_waited_for_them_dropped(coach, clock):
    coach.handle(CHANNEL, "7", Started(language="nl"))
    put(coach, "8", message("a", "voor iemand anders"))
    outbox = coach.outbox(CHANNEL)
    assert outbox.unreachable("7") >= 1
    assert [o.address for o in outbox.take(10)] == ["8"]
    with coach.store.transaction() as session:
        person = store.find_person(session, CHANNEL, "7")
        assert person is not None and person.unreachable
    coach.handle(CHANNEL, "7", TextReceived(text="hallo"))
    with coach.store.transaction() as session:
        assert not store.find_person(session, CHANNEL, "7").unreachable  # they wrote again


def test_drop_for_empties_one_chat_only(coach):
    put(coach, "1", message("a", "een"), message("b", "twee"))
    put(coach, "2", message("c", "drie"))
    outbox = coach.outbox(CHANNEL, lease=False)
    assert outbox.drop_for("1") == 2
    assert [o.address for o in outbox.take(10)] == ["2"]


def test_a_row_of_no_known_shape_is_dropped_without_its_content_in_the_log(coach, caplog):
    with coach.store.transaction() as session:
        store.add_outgoing(
            session,
            person_id=None,
            channel=CHANNEL,
            address="1",
            payloads=[{"iets": "Mijn geheim 4711"}, encode(message("b", "twee"))],
            now=coach.clock.now(),
        )
    outbox = coach.outbox(CHANNEL, lease=False)
    assert [o.item.key for o in outbox.take(10)] == ["b"], "the chat goes on"
    assert any("cannot be read (KeyError)" in r.getMessage() for r in caplog.records)
    assert all("4711" not in r.getMessage() for r in caplog.records)


def test_what_a_killed_process_held_is_free_once_its_claim_lapses(coach):
    put(coach, "1", message("a", "een"))
    first, second = coach.outbox(CHANNEL), coach.outbox(CHANNEL)  # as two processes
    try:
        (taken,) = first.take(10)
        assert second.take(10) == [], "held by a living claim"
        first._stop.set()  # killed -9: nothing renews its claim any more …
        with coach.store.transaction() as session:  # … and CLAIM_LIFE has passed
            session.execute(
                sa.update(OutboxClaim).values(alive_until=coach.clock.real() - timedelta(seconds=1))
            )
            second_claim = session.execute(sa.select(sa.func.max(OutboxClaim.id))).scalar()
            session.execute(
                sa.update(OutboxClaim)
                .where(OutboxClaim.id == second_claim)
                .values(alive_until=coach.clock.real() + CLAIM_LIFE)
            )
        assert [o.id for o in second.take(10)] == [taken.id]
    finally:
        first.close()
        second.close()


def test_a_stopped_process_leaves_no_claim_and_nothing_held(coach):
    put(coach, "1", message("a", "een"))
    outbox = coach.outbox(CHANNEL)
    assert len(outbox.take(10)) == 1
    outbox.close()
    with coach.store.transaction() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(OutboxClaim)).scalar() == 0
        assert session.execute(sa.select(OutboxRow.claim)).scalars().all() == [None]


def test_a_sender_is_not_offered_what_it_holds_until_it_lets_go_of_it(coach):
    put(coach, "1", message("a", "een"), message("b", "twee"))
    put(coach, "2", message("c", "drie"))
    put(coach, "3", message("d", "vier"))
    outbox, other = coach.outbox(CHANNEL), coach.outbox(CHANNEL)  # as two processes
    first = outbox.take(2, skip_held=True)
    assert [o.address for o in first] == ["1", "2"]
    # What it holds is its busy chats: it need not name them to be offered only the others.
    again = outbox.take(10, skip_held=True)
    assert [o.address for o in again] == ["3"]
    assert outbox.take(10, skip_held=True) == []
    # Chat 1's first message delivered, chat 2's kept to try again: let go of, offered anew,
    # and not to the other process while this one holds it again.
    one, two = first
    offered = outbox.take(10, sent=[one.id], release=[two.id], skip_held=True)
    assert sorted((o.address, o.item.key) for o in offered) == [("1", "b"), ("2", "c")]
    assert other.take(10) == [], "everything is held by the first process"
    # Without skip_held a process is offered what it holds (and excludes by name).
    assert [o.address for o in outbox.take(10, exclude=["2", "3"])] == ["1"]


def lapse(coach, outbox: Outbox) -> None:
    """The process stalled: its claim is dead in others' eyes (it has not renewed in time)."""
    with coach.store.transaction() as session:
        session.execute(
            sa.update(OutboxClaim)
            .where(col(OutboxClaim.id) == outbox._claim)
            .values(alive_until=coach.clock.real() - timedelta(seconds=1))
        )


def test_a_row_in_flight_is_never_offered_to_another_process_after_its_claim_lapsed(coach):
    """The review's scenario: P1's claim lapses while it delivers X; P2 takes X and stops before
    sending it; P1's renewal gets through. The lapsed claim is not revived: P1's delivery under
    it sends nothing, and X, taken again by P1's next look, is held (not let go of) until that
    delivery has ended, so a third process is never offered it."""
    put(coach, "1", message("a", "een"))
    p1, p2, p3 = (coach.outbox(CHANNEL) for _ in range(3))
    p1.open()
    p1._stop.set()  # its renewals by hand: the thread that renews it ends
    assert p1._renewer is not None
    p1._renewer.join()
    (x,) = p1.take(10, skip_held=True)  # in flight: its delivery waits for its moment
    assert p1.holds(x.claim)
    lapse(coach, p1)
    assert [o.id for o in p2.take(10)] == [x.id], "free in others' eyes"
    p2.close()  # stopped before sending it
    p1._renew()
    assert not p1.holds(x.claim), "the delivery under the lapsed claim sends nothing"
    (again,) = p1.take(10, skip_held=True)
    assert again.id == x.id and p1.holds(again.claim)
    for _ in range(3):  # looks while that delivery still runs: no room, nothing let go of
        assert p1.take(0, skip_held=True) == []
        assert p3.take(10) == [], "held by the process delivering it"
    # The delivery under the lapsed claim ends unsent: let go of, taken again, sent once.
    (last,) = p1.take(10, release=[x.id], skip_held=True)
    assert last.id == x.id and p1.holds(last.claim)
    assert p3.take(10) == []


class LookFailed(Exception):
    pass


def test_a_renewal_in_a_look_that_fails_is_not_believed(coach, monkeypatch):
    """A look renews the claim in its own transaction; if that transaction does not commit, the
    database keeps the old moment, and so does the process."""
    put(coach, "1", message("a", "een"))
    outbox = coach.outbox(CHANNEL)
    outbox.open()
    outbox._stop.set()
    outbox._renewer.join()
    with coach.store.transaction() as session:
        alive_before = session.execute(sa.select(OutboxClaim.alive_until)).scalar_one()
    outbox._holds_until -= 2.0  # the last renewal is two seconds old: the look renews
    before = outbox._holds_until

    def failing(*args, **kwargs):
        raise LookFailed("the connection was lost after the renewal")

    monkeypatch.setattr(store, "ready_outgoing", failing)
    with pytest.raises(LookFailed):
        outbox.take(10, skip_held=True)
    assert outbox._holds_until == before, "believed only what was committed"
    with coach.store.transaction() as session:
        assert session.execute(sa.select(OutboxClaim.alive_until)).scalar_one() == alive_before
    monkeypatch.undo()
    assert [o.item.key for o in outbox.take(10, skip_held=True)] == ["a"]
    assert outbox._holds_until > before, "a look that commits renews"


def test_a_renewal_never_moves_the_claim_back_nor_revives_a_lapsed_one(coach):
    outbox = coach.outbox(CHANNEL)
    outbox.open()
    outbox._stop.set()
    outbox._renewer.join()
    claim = outbox._claim
    now = coach.clock.real()
    margin = timedelta(seconds=1)

    def alive_until():
        with coach.store.transaction() as session:
            return session.execute(
                sa.select(OutboxClaim.alive_until).where(OutboxClaim.id == claim)
            ).scalar_one()

    with coach.store.transaction() as session:
        assert store.renew_claim(session, claim, now + 3 * CLAIM_LIFE, now + margin)
    later = alive_until()
    with coach.store.transaction() as session:  # a renewal that waited, its moment older
        assert store.renew_claim(session, claim, now + CLAIM_LIFE, now + margin)
    assert alive_until() == later, "the later write does not shorten the claim"
    with coach.store.transaction() as session:  # lapsed by the time a renewal gets through
        assert not store.renew_claim(
            session, claim, later + CLAIM_LIFE, later + timedelta(seconds=1)
        )
    assert alive_until() == later
    # The process itself: a lapsed claim is replaced, and what it took is not sent under it.
    put(coach, "1", message("a", "een"))
    (x,) = outbox.take(10, skip_held=True)
    lapse(coach, outbox)
    outbox._renew()
    assert outbox._claim != claim and outbox.holds() and not outbox.holds(x.claim)
