"""The signal-cli JSON-RPC client, against the fake daemon over real TCP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest

from bot.channels.signal.errors import (
    CaptchaRejected,
    ConnectionLost,
    DaemonUnavailable,
    MethodNotFound,
    NotConnected,
    ProofRequired,
    RateLimited,
    RequestTimedOut,
    SendFailed,
    Unregistered,
    UntrustedIdentity,
)
from bot.channels.signal.jsonrpc import (
    SignalCliClient,
    TextStyle,
    parse_url,
)
from bot.retry import Backoff
from tests.fakes.signal_cli import FAKE_VERSION, FakeSignalCli, SendFailure

ANNA = "8b0c2a47-6a0e-4e59-9b4c-1f6f3e1d2a10"
BRAM = "3f1e9d2c-0b7a-4c55-8e21-9a8b7c6d5e4f"
WAIT = 5.0
FAST = Backoff(initial=0.01, maximum=0.1)


class Inbox:
    """The envelope handler of these tests: keeps what arrives, lets a test wait for it."""

    def __init__(self) -> None:
        self.envelopes: list[Mapping[str, Any]] = []
        self._changed = asyncio.Condition()

    async def __call__(self, envelope: Mapping[str, Any]) -> None:
        self.envelopes.append(envelope)
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, count: int) -> list[str | None]:
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: len(self.envelopes) >= count)
        return self.texts()

    def texts(self) -> list[str | None]:
        return [e.get("dataMessage", {}).get("message") for e in self.envelopes]


def make_client(fake: FakeSignalCli, inbox: Inbox, **options: Any) -> SignalCliClient:
    settings: dict[str, Any] = {
        "heartbeat_interval": 0.2,
        "heartbeat_timeout": 2.0,
        "request_timeout": 3.0,
        "connect_timeout": 1.0,
        "backoff": FAST,
    }
    settings.update(options)
    return SignalCliClient(fake.url, inbox, **settings)


@pytest.fixture
def fake() -> Iterator[FakeSignalCli]:
    with FakeSignalCli() as daemon:
        yield daemon


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def client(fake: FakeSignalCli, inbox: Inbox) -> AsyncIterator[SignalCliClient]:
    async with make_client(fake, inbox) as connected:
        await connected.wait_connected(WAIT)
        yield connected


# --- receiving ----------------------------------------------------------------------------------


async def test_a_message_written_to_the_coach_reaches_the_handler(fake, inbox, client):
    fake.person_writes("Hallo coach", uuid=ANNA)
    assert await inbox.wait_for(1) == ["Hallo coach"]
    assert inbox.envelopes[0]["sourceUuid"] == ANNA
    assert client.subscription == 0


async def test_messages_written_before_the_coach_connected_arrive_after_it_subscribes(fake, inbox):
    fake.person_writes("een", uuid=ANNA)
    fake.person_writes("twee", uuid=BRAM)
    async with make_client(fake, inbox):
        assert await inbox.wait_for(2) == ["een", "twee"]


async def test_envelopes_arrive_while_a_send_waits_for_its_answer(fake, inbox, client):
    fake.hold_sends()
    sending = asyncio.create_task(client.send(ANNA, "Dank je"))
    await fake.wait_until_async(lambda: fake.sends_in_flight() or None, WAIT, "a held send")
    fake.person_writes("nog iets", uuid=ANNA)
    fake.person_writes("en dit", uuid=BRAM)
    assert await inbox.wait_for(2) == ["nog iets", "en dit"]
    assert not sending.done()
    fake.release_sends()
    result = await asyncio.wait_for(sending, WAIT)
    assert result.results[0].ok


async def test_the_handler_may_answer_through_the_client_while_envelopes_keep_coming(fake):
    replies: list[str] = []

    async def echo(envelope: Mapping[str, Any]) -> None:
        result = await coach.send(envelope["sourceUuid"], "Ik lees je.")
        replies.append(envelope["dataMessage"]["message"] if result.results[0].ok else "")

    coach = SignalCliClient(fake.url, echo, backoff=FAST, heartbeat_timeout=2.0)
    async with coach:
        for text in ("een", "twee", "drie"):
            fake.person_writes(text, uuid=ANNA)
        sent = await fake.wait_for_sent_async(ANNA, 3)
    assert [s.message for s in sent] == ["Ik lees je."] * 3
    assert replies == ["een", "twee", "drie"]


# --- requests and responses ---------------------------------------------------------------------


async def test_concurrent_calls_each_get_their_own_answer(fake, client):
    fake.hold_sends()
    to_anna = asyncio.create_task(client.send(ANNA, "voor Anna"))
    to_bram = asyncio.create_task(client.send(BRAM, "voor Bram"))
    await fake.wait_until_async(
        lambda: True if len(fake.sends_in_flight()) == 2 else None, WAIT, "two held sends"
    )
    # While both sends wait, later calls are answered first: matching by id, not by order.
    versions = await asyncio.gather(*(client.version() for _ in range(10)))
    assert versions == [FAKE_VERSION] * 10
    fake.release_sends()
    anna, bram = await asyncio.gather(to_anna, to_bram)
    assert anna.results[0].uuid == ANNA
    assert bram.results[0].uuid == BRAM
    assert {s.recipient: s.message for s in fake.sent} == {ANNA: "voor Anna", BRAM: "voor Bram"}
    assert anna.timestamp == next(s.timestamp for s in fake.sent if s.recipient == ANNA)


async def test_sends_to_one_person_go_one_at_a_time_and_in_order(fake, client):
    fake.hold_sends()
    tasks = [asyncio.create_task(client.send(ANNA, f"bericht {n}")) for n in (1, 2, 3)]
    tasks.append(asyncio.create_task(client.send(BRAM, "voor Bram")))
    await fake.wait_until_async(
        lambda: True if fake.sends_in_flight() == {ANNA: 1, BRAM: 1} else None,
        WAIT,
        "one held send per person",
    )
    fake.release_sends()
    await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
    assert [s.message for s in fake.sent if s.recipient == ANNA] == [
        "bericht 1",
        "bericht 2",
        "bericht 3",
    ]
    assert fake.max_sends_in_flight(ANNA) == 1
    assert fake.max_sends_in_flight() == 2  # different people are not held up by each other


async def test_text_styles_are_counted_in_utf16_as_signal_counts_them(fake, client):
    text = "🙂 Verder lezen"
    bold = TextStyle.span(text, text.index("Verder"), len(text), "BOLD")
    await client.send(ANNA, text, text_styles=[bold])
    [sent] = fake.sent
    assert sent.text_styles == ("3:12:BOLD",)  # the emoji is two UTF-16 units


async def test_attachments_are_passed_as_paths(fake, client):
    await client.send(ANNA, "Je export", attachments=["/tmp/export.txt", "/tmp/export.json"])
    assert fake.sent[0].attachments == ("/tmp/export.txt", "/tmp/export.json")


async def test_typing_indicator_is_sent_and_stopped(fake, client):
    await client.send_typing(ANNA)
    await client.send_typing(ANNA, stop=True)
    assert [(t.recipient, t.stop) for t in fake.typing_sent] == [(ANNA, False), (ANNA, True)]


async def test_a_group_gets_its_message_by_group_id(fake, client):
    result = await client.send_to_group("R3JvdXA=", "Ik ben een persoonlijke coach.")
    assert result.results[0].type == "SUCCESS"
    assert fake.sent[0].is_group


# --- errors -------------------------------------------------------------------------------------


async def test_a_rate_limit_is_surfaced_with_retry_after_and_the_next_send_succeeds(fake, client):
    fake.fail_next_send(ANNA, SendFailure.RATE_LIMIT, retry_after_seconds=42)
    with pytest.raises(RateLimited) as caught:
        await client.send(ANNA, "te snel")
    assert caught.value.code == -5
    assert caught.value.retry_after_seconds == 42
    assert not isinstance(caught.value, ProofRequired)
    result = await client.send(ANNA, "te snel")
    assert result.results[0].ok


async def test_a_rate_limit_without_retry_after_says_so(fake, client):
    fake.fail_next_send(ANNA, SendFailure.RATE_LIMIT)
    with pytest.raises(RateLimited) as caught:
        await client.send(ANNA, "te snel")
    assert caught.value.retry_after_seconds is None


async def test_a_captcha_proof_is_a_rate_limit_that_carries_the_token(fake, client):
    fake.fail_next_send(ANNA, SendFailure.PROOF_REQUIRED, retry_after_seconds=3600)
    with pytest.raises(ProofRequired) as caught:
        await client.send(ANNA, "hallo")
    assert caught.value.retry_after_seconds == 3600
    assert caught.value.token


async def test_an_unregistered_recipient_is_surfaced(fake, client):
    fake.unregister(ANNA)
    with pytest.raises(Unregistered) as caught:
        await client.send(ANNA, "ben je er nog")
    assert caught.value.code == -1
    assert (await client.send(BRAM, "wel bereikbaar")).results[0].ok


async def test_an_untrusted_identity_and_a_rejected_captcha_are_named(fake, client):
    fake.fail_next_send(ANNA, SendFailure.UNTRUSTED_IDENTITY)
    with pytest.raises(UntrustedIdentity):
        await client.send(ANNA, "hallo")
    fake.fail_next_call("send", -6, "Captcha rejected")
    with pytest.raises(CaptchaRejected):
        await client.send(ANNA, "hallo")


async def test_a_network_failure_for_the_only_recipient_is_a_failed_send(fake, client):
    fake.fail_next_send(ANNA, SendFailure.NETWORK)
    with pytest.raises(SendFailed) as caught:
        await client.send(ANNA, "hallo")
    assert caught.value.failure_types == ("NETWORK_FAILURE",)


async def test_a_method_this_signal_cli_lacks_is_named_and_the_connection_stays(fake, client):
    sessions = client.sessions
    with pytest.raises(MethodNotFound) as caught:
        await client.request("sendPollCreate", {"recipient": [ANNA]})
    assert caught.value.code == -32601
    assert await client.version() == FAKE_VERSION
    assert client.sessions == sessions


async def test_the_error_text_of_the_daemon_is_not_in_the_exception_message(fake, client):
    fake.fail_next_call("send", -1, "The user +31612345678 is not registered.")
    with pytest.raises(Unregistered) as caught:
        await client.send("+31612345678", "hallo")
    assert "+31612345678" not in str(caught.value)
    assert caught.value.daemon_message.endswith("is not registered.")


# --- restarts, silence, backoff -----------------------------------------------------------------


async def test_daemon_restart_mid_stream_loses_nothing_and_repeats_nothing(fake, inbox, client):
    fake.person_writes("voor de herstart", uuid=ANNA)
    await inbox.wait_for(1)
    fake.stop_daemon()
    fake.person_writes("tijdens", uuid=ANNA)
    fake.person_writes("nog tijdens", uuid=BRAM)
    fake.start_daemon()
    assert await inbox.wait_for(3) == ["voor de herstart", "tijdens", "nog tijdens"]
    fake.person_writes("erna", uuid=ANNA)
    assert await inbox.wait_for(4) == ["voor de herstart", "tijdens", "nog tijdens", "erna"]
    assert fake.subscribe_calls >= 2
    assert client.sessions >= 2
    assert (await client.send(ANNA, "ik ben er weer")).results[0].ok


async def test_a_call_made_while_the_daemon_is_down_waits_for_it_and_succeeds(fake, client):
    fake.stop_daemon()
    # A call that races the closing connection cannot know whether it arrived: it fails.
    with pytest.raises(DaemonUnavailable):
        await client.version(timeout=0.5)
    calling = asyncio.create_task(client.send(ANNA, "even geduld"))
    fake.start_daemon()
    result = await asyncio.wait_for(calling, WAIT)
    assert result.results[0].ok
    assert [s.message for s in fake.sent] == ["even geduld"]


async def test_a_send_cut_off_by_a_restart_is_surfaced_as_connection_lost(fake, client):
    fake.hold_sends()
    sending = asyncio.create_task(client.send(ANNA, "onderweg"))
    await fake.wait_until_async(lambda: fake.sends_in_flight() or None, WAIT, "a held send")
    fake.restart()
    with pytest.raises(ConnectionLost):
        await asyncio.wait_for(sending, WAIT)
    await client.wait_connected(WAIT)
    assert (await client.send(ANNA, "opnieuw")).results[0].ok


async def test_a_half_open_connection_is_found_by_the_heartbeat(fake, inbox):
    watchful = make_client(fake, inbox, heartbeat_interval=0.05, heartbeat_timeout=0.2)
    async with watchful:
        await watchful.wait_connected(WAIT)
        fake.go_half_open()
        fake.person_writes("hoor je me", uuid=ANNA)
        assert await inbox.wait_for(1) == ["hoor je me"]
        assert fake.connections_accepted >= 2
        assert watchful.sessions >= 2


async def test_the_client_keeps_trying_until_the_daemon_is_up(fake, inbox):
    fake.stop_daemon()
    patient = make_client(fake, inbox)
    async with patient:
        with pytest.raises(NotConnected):
            await patient.version(timeout=0.05)
        fake.start_daemon()
        await patient.wait_connected(WAIT)
        assert await patient.version() == FAKE_VERSION


def test_the_url_must_be_tcp_host_and_port():
    assert parse_url("tcp://127.0.0.1:7583") == ("127.0.0.1", 7583)
    for wrong in ("127.0.0.1:7583", "http://127.0.0.1:7583", "tcp://127.0.0.1"):
        with pytest.raises(ValueError):
            parse_url(wrong)


async def test_nothing_a_person_wrote_or_was_sent_is_logged(fake, inbox, caplog):
    caplog.set_level(logging.DEBUG)
    async with make_client(fake, inbox, heartbeat_interval=0.05, heartbeat_timeout=0.2) as c:
        await c.wait_connected(WAIT)
        fake.person_writes("mijn moeder en ik", uuid=ANNA, number="+31612345678")
        await inbox.wait_for(1)
        fake.fail_next_send(ANNA, SendFailure.RATE_LIMIT, retry_after_seconds=5)
        with pytest.raises(RateLimited):
            await c.send(ANNA, "wat je schreef over je moeder")
        fake.go_half_open()
        fake.person_writes("schuld en schaamte", uuid=ANNA)
        await inbox.wait_for(2)
    assert caplog.records, "the client logs what it does"
    for secret in ("moeder", "schuld", "+31612345678"):
        assert secret not in caplog.text


async def test_at_shutdown_what_was_received_is_still_handled(fake):
    handled: list[str] = []
    first_arrived = asyncio.Event()
    may_go_on = asyncio.Event()

    async def slow(envelope: Mapping[str, Any]) -> None:
        first_arrived.set()
        await may_go_on.wait()
        handled.append(envelope["dataMessage"]["message"])

    coach = SignalCliClient(fake.url, slow, backoff=FAST, heartbeat_timeout=2.0)
    coach.start()
    await coach.wait_connected(WAIT)
    for text in ("een", "twee", "drie"):
        fake.person_writes(text, uuid=ANNA)
    await fake.wait_until_async(lambda: True if fake.queued == 0 else None, WAIT, "delivery")
    await asyncio.wait_for(first_arrived.wait(), WAIT)
    closing = asyncio.create_task(coach.aclose())
    await fake.wait_until_async(
        lambda: True if fake.active_subscriptions == 0 else None, WAIT, "unsubscribeReceive"
    )
    fake.person_writes("na het afmelden", uuid=ANNA)  # waits on Signal's side for next time
    may_go_on.set()
    await asyncio.wait_for(closing, WAIT)
    assert handled == ["een", "twee", "drie"]
    assert fake.queued == 1


async def test_a_send_into_a_silent_connection_fails_instead_of_waiting_forever(fake, inbox):
    quiet = make_client(
        fake, inbox, heartbeat_interval=60.0, heartbeat_timeout=0.2, request_timeout=0.2
    )
    async with quiet:
        await quiet.wait_connected(WAIT)
        fake.go_half_open()
        with pytest.raises(RequestTimedOut):
            await quiet.send(ANNA, "hallo")
    assert fake.sent == []
