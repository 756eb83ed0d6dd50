"""Nothing lost on the way out: many people at once, Telegram's limits, 429 storms, 5xx bursts,
dropped connections and an outage; every message arrives, in order, in every chat."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.channels.telegram import Pacer
from bot.channels.telegram.pacing import CallLimit
from bot.outbox import encode
from bot.storage import store
from bot.storage.models import OutboxClaim
from flows.messages import Message, Span
from tests.bot.test_telegram_harness import Harness, Person, original, wait_until
from tests.fakes.telegram_api import FakeBotAPI

PEOPLE = 20


# The channel calls `Bot.do_api_request` where it reads only part of Telegram's answer; pytest
# shows PTB's hint about the typed methods again in every test (the module filters it once).
pytestmark = pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning")


@pytest.fixture
def fake():
    with FakeBotAPI() as server:
        yield server


async def a_few_turns(person: Person) -> None:
    """Consent, the menu, into exercise 1, a relationship and two written answers."""
    await person.says("/start")
    await person.chooses("_next")
    await person.chooses("ja")
    await person.says("/menu")
    await person.chooses("oefening-1")
    await person.chooses("_next")
    await person.chooses("familielid")
    await person.chooses("_skip")  # how to call the other
    await person.says("Ik kook voor haar, elke zondag.")
    await person.says("Ze luistert naar me.")


async def reference(tmp_path, name: str) -> list[str]:
    """What one person sees when nothing goes wrong."""
    with FakeBotAPI() as quiet:
        directory = tmp_path / name
        directory.mkdir()
        async with Harness(directory, quiet) as harness:
            person = harness.person(999)
            await a_few_turns(person)
            return person.seen


def answered(person: Person, harness: Harness) -> bool:
    answers = harness.answers(person.chat_id)
    return (
        answers.get("geven") == "Ik kook voor haar, elke zondag."
        and answers.get("nemen") == "Ze luistert naar me."
    )


async def test_twenty_people_at_once_within_telegrams_limits(tmp_path, database_url, fake):
    expected = await reference(tmp_path, "reference")
    fake.enforce_chat_rate(1.0, burst=3)
    fake.enforce_global_rate(30.0, burst=30)
    async with Harness(tmp_path, fake, pacer=Pacer(), url=database_url) as harness:
        people = [harness.person(100 + i) for i in range(PEOPLE)]
        await asyncio.gather(*(a_few_turns(p) for p in people))
        await harness.settled()

    for person in people:
        assert person.seen == expected, f"chat {person.chat_id}"
        assert answered(person, harness)
    sends = [r for r in fake.requests if r.method in ("sendMessage", "editMessageText")]
    refused = [r for r in sends if r.status == 429]
    # Paced like Telegram asks, the bot hardly ever hears "too many requests".
    assert len(refused) <= len(sends) // 10, f"{len(refused)} of {len(sends)} refused"


async def test_every_message_arrives_in_order_through_429_storms_5xx_and_an_outage(
    tmp_path, database_url, fake
):
    expected = await reference(tmp_path, "reference")
    fake.rate_limit_every(7, retry_after=1)  # a 429 storm from the start

    async def trouble() -> None:
        await wait_until(lambda: len(fake.sends()) >= 40, what="some messages out")
        fake.fail_next(6, 502, sends_only=True)
        fake.fail_next(4, 500, html=True)  # nginx's error page, getUpdates too
        await wait_until(lambda: len(fake.sends()) >= 100, what="more messages out")
        fake.drop_connections(5)
        fake.outage(3.0)  # Telegram unreachable for a while
        await wait_until(lambda: len(fake.sends()) >= 200, what="still more messages out")
        fake.outage(2.0, mode="refuse")

    async with Harness(tmp_path, fake, pacer=Pacer(), url=database_url) as harness:
        people = [harness.person(200 + i) for i in range(PEOPLE)]
        troublemaker = asyncio.create_task(trouble())
        await asyncio.gather(*(a_few_turns(p) for p in people))
        await harness.settled()
        await asyncio.wait_for(troublemaker, 5)

    statuses = {r.status for r in fake.requests}
    assert {429, 502, 500, -1} <= statuses  # every kind of trouble really happened
    for person in people:
        assert person.seen == expected, f"chat {person.chat_id}"
        assert answered(person, harness)
    assert harness.waiting() == 0


async def test_replies_not_yet_sent_at_a_stop_are_sent_after_the_restart(
    tmp_path, database_url, fake, library
):
    async with Harness(tmp_path, fake, url=database_url) as harness:
        person = harness.person(300)
        await person.says("/start")
        fake.fail_next(10_000, 502, sends_only=True)  # Telegram takes updates, refuses sends
        update_id = fake.send_text(300, "/help")
        await wait_until(lambda: fake.is_confirmed(update_id), what="the update committed")
        await wait_until(lambda: any(r.status == 502 for r in fake.requests), what="a refusal")
        before = len(fake.messages(300))
    assert harness.waiting("300") >= 1  # committed, not sent, kept
    fake.reset_faults()
    async with Harness(tmp_path, fake, url=database_url) as again:
        await again.settled(300)
    seen = [original(m) for m in fake.messages(300)]
    assert len(seen) > before
    assert any(m.startswith("Ik help je reflecteren") for m in seen[before:])
    assert again.waiting() == 0


async def test_pacer_keeps_a_chat_to_its_rate_and_everyone_to_the_overall_rate():
    pacer = Pacer(chat=(20.0, 2), overall=(50.0, 5))
    started = time.monotonic()
    for _ in range(8):
        await pacer.turn(1)
    one_chat = time.monotonic() - started
    started = time.monotonic()
    await asyncio.gather(*(pacer.turn(chat) for chat in range(10, 30)))
    overall = time.monotonic() - started
    assert one_chat >= (8 - 2) / 20.0  # a burst of two, then twenty a second
    assert overall >= (20 - 5) / 50.0 * 0.9  # the overall bucket holds everyone back


async def test_a_429_makes_that_chat_wait_and_many_of_them_make_everyone_wait():
    pacer = Pacer(chat=None, overall=None)
    pacer.flood(1, 0.3)
    started = time.monotonic()
    await pacer.turn(2)  # another chat is not held up by one 429
    assert time.monotonic() - started < 0.2
    await pacer.turn(1)
    assert time.monotonic() - started >= 0.3
    for chat in (3, 4, 5):
        pacer.flood(chat, 0.3)
    started = time.monotonic()
    await pacer.turn(6)  # three chats at once: the bot as a whole is too fast
    assert time.monotonic() - started >= 0.3


BACKLOG_EACH = 2


# At 100 a second the bound (200) is more than a look takes (BATCH, 100): the sender looks again
# at once while it has room, instead of waiting for a delivery to end.
@pytest.mark.parametrize(("chats", "rate"), [(150, 40.0), (320, 100.0)])
async def test_a_backlog_of_many_chats_goes_out_once_in_order_never_all_held_at_once(
    tmp_path, database_url, fake, chats, rate
):
    """Far more chats waiting than the rate sends in two seconds (check-ins due at once): the
    sender holds no more than that at a time (what a killed process would keep from others),
    and every chat still gets each of its messages once, in order."""
    harness = Harness(
        tmp_path, fake, pacer=Pacer(chat=(20.0, 10), overall=(rate, 1)), url=database_url
    )
    expected: dict[int, list[str]] = {}
    now = harness.coach.clock.now()  # the coach's clock runs on a Monday evening
    with harness.coach.store.transaction() as session:
        for n in range(BACKLOG_EACH):
            for chat in range(chats):
                text = f"bericht {chat}-{n}"
                expected.setdefault(7000 + chat, []).append(text)
                store.add_outgoing(
                    session,
                    person_id=None,
                    channel="telegram",
                    address=str(7000 + chat),
                    payloads=[
                        encode(Message(key="test:backlog", paragraphs=((Span(text=text),),)))
                    ],
                    now=now,
                )
    bound = int(rate * 2)  # what the rate sends in two seconds
    assert 1.5 * bound < chats, "the backlog must be larger than the bound"
    held: list[int] = []

    def held_now() -> int:
        return int(harness.rows("SELECT count(*) FROM outbox WHERE claim IS NOT NULL")[0][0])

    async with harness:
        deadline = time.monotonic() + 60
        while harness.waiting() and time.monotonic() < deadline:
            held.append(held_now())
            await asyncio.sleep(0.02)
        await harness.settled()

    for chat, texts in expected.items():
        assert [m.text for m in fake.messages(chat)] == texts, f"chat {chat}"
    assert max(held) <= bound, f"held {max(held)} at once, more than {bound}"
    assert max(held) >= bound // 2, "the sender took hardly anything ahead"


async def test_a_message_being_delivered_when_its_claim_lapsed_arrives_once(
    tmp_path, database_url, fake
):
    """The sender stalled while a chat's message waited its turn: its claim lapsed in others'
    eyes, another process took the row and stopped before sending it. The delivery under the
    lapsed claim sends nothing; the row, taken again under a new claim while that delivery is
    still under way, stays held (no other process is offered it), and the person gets the
    message once."""
    harness = Harness(tmp_path, fake, url=database_url)
    async with harness:
        assert harness.channel is not None
        sender = harness.channel.sender
        outbox = sender.outbox
        looks = 0
        look = sender._look

        def counted(*args):
            nonlocal looks
            looks += 1
            return look(*args)

        sender._look = counted
        gate = asyncio.Event()
        sender.first_do("8001", asyncio.create_task(gate.wait()))  # it waits for its turn
        with harness.coach.store.transaction() as session:
            store.add_outgoing(
                session,
                person_id=None,
                channel="telegram",
                address="8001",
                payloads=[encode(Message(key="test:lapse", paragraphs=((Span(text="een"),),)))],
                now=harness.coach.clock.now(),
            )
        sender.wake()
        await wait_until(lambda: "8001" in sender._in_flight, what="the delivery")
        lapsed = outbox._claim
        other, third = harness.coach.outbox("telegram"), harness.coach.outbox("telegram")
        try:
            with harness.coach.store.transaction() as session:
                session.execute(
                    sa.update(OutboxClaim)
                    .where(OutboxClaim.id == lapsed)
                    .values(alive_until=harness.coach.clock.real() - timedelta(seconds=1))
                )
            assert [o.address for o in other.take(10)] == ["8001"], "free in others' eyes"
            other.close()
            await wait_until(lambda: outbox._claim != lapsed, what="a new claim")
            sender.wake()
            await wait_until(
                lambda: harness.rows("SELECT claim FROM outbox") == [(outbox._claim,)],
                what="the row taken again",
            )
            for _ in range(3):  # the looks that follow keep it while the delivery runs
                seen = looks
                sender.wake()
                await wait_until(lambda: looks > seen, what="a look")  # noqa: B023
                assert third.take(10) == [], "offered to another process while in flight"
            assert "8001" in sender._in_flight and fake.messages(8001) == []
            gate.set()
            await harness.settled()
        finally:
            other.close()
            third.close()
    assert [m.text for m in fake.messages(8001)] == ["een"]


async def test_calls_start_in_the_order_they_asked_never_more_than_the_limit():
    calls = CallLimit(rate=10.0, most=1)  # one call at a time
    assert calls.limit == 1
    started: list[int] = []
    under_way = 0
    most = 0

    async def call(n: int) -> None:
        nonlocal under_way, most
        async with calls.call():
            under_way += 1
            most = max(most, under_way)
            started.append(n)
            await asyncio.sleep(0)
            under_way -= 1

    first = asyncio.create_task(call(-1))
    await asyncio.sleep(0)  # under way; the others queue behind it
    waiting = [asyncio.create_task(call(n)) for n in range(200)]
    await asyncio.sleep(0)
    waiting[5].cancel()  # one gives up while it waits: its place is not lost
    await asyncio.gather(first, *waiting, return_exceptions=True)
    assert started == [-1, *(n for n in range(200) if n != 5)]
    assert most == 1
    assert calls.active == 0 and calls.waiting == 0
