"""The coach's HTTP server under malformed and hostile requests, over raw sockets on 127.0.0.1:
the real Telegram channel in webhook mode (webhook, /healthz and /metrics on one port) against
the fake Bot API. Whatever arrives, the server answers or closes, logs no traceback, and a
normal update is handled afterwards. Every loop here is bounded in count and in time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os

import pytest

from bot.web import Limits
from tests.bot.test_telegram_harness import WAIT, Harness, wait_until
from tests.fakes.telegram_api import FakeBotAPI

pytestmark = pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning")

SECRET = "s3cret"
CLOSE = b"Host: c\r\nConnection: close\r\n"  # each raw request ends its connection


@pytest.fixture
def fake():
    with FakeBotAPI() as server:
        yield server


def webhook_harness(tmp_path, fake, **options) -> Harness:
    return Harness(
        tmp_path,
        fake,
        webhook_url="https://coach.example/telegram",
        webhook_port=0,
        webhook_secret=SECRET,
        webhook_host="127.0.0.1",
        health_port=0,
        health_host="127.0.0.1",
        **options,
    )


def start_update(update_id: int, chat_id: int) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
                "from": {"id": chat_id, "is_bot": False, "first_name": "T", "language_code": "nl"},
            },
        }
    ).encode()


def post(body: bytes, secret: str = SECRET, path: str = "/telegram") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: coach\r\nContent-Type: application/json\r\n"
        f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


async def exchange(port: int, data: bytes, timeout: float = WAIT) -> bytes:
    """Send raw bytes, read until the server closes (or `timeout`); what came back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    except ConnectionError:
        return b""  # the server closed on us while we were still sending: also an answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def status(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1."):
        return None
    return int(answer.split(b" ", 2)[1])


def no_tracebacks(caplog) -> None:
    broken = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert broken == [], [r.getMessage() for r in broken]


HOSTILE = {
    "content length not a number": (
        b"POST /telegram HTTP/1.1\r\n" + CLOSE + b"Content-Length: abc\r\n\r\n{}",
        {400},
    ),
    "negative content length": (
        b"POST /telegram HTTP/1.1\r\n" + CLOSE + b"Content-Length: -5\r\n\r\n{}",
        {400},
    ),
    "two different content lengths": (
        b"POST /telegram HTTP/1.1\r\n"
        + CLOSE
        + b"Content-Length: 2\r\nContent-Length: 7\r\n\r\n{}",
        {400},
    ),
    "a body over the limit": (
        b"POST /telegram HTTP/1.1\r\n" + CLOSE + b"Content-Length: 5000000\r\n\r\n" + b"x" * 1000,
        {400, 413, None},
    ),
    "a header block over the limit": (
        b"GET /healthz HTTP/1.1\r\n" + CLOSE + b"X-Pad: " + b"a" * 40_000 + b"\r\n\r\n",
        {400, 431, None},
    ),
    "a broken chunked body": (
        b"POST /telegram HTTP/1.1\r\n" + CLOSE + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
        {400},
    ),
    "garbage bytes": (os.urandom(2048) + b"\r\n\r\n", {400, None}),
    "no HTTP version": (b"GET /healthz\r\n\r\n", {400, None}),
    "a request line of nonsense": (b"\x00\xff \x01 HTTP/1.1\r\n\r\n", {400, None}),
    "PUT": (b"PUT /telegram HTTP/1.1\r\n" + CLOSE + b"Content-Length: 0\r\n\r\n", {405}),
    "DELETE": (b"DELETE /healthz HTTP/1.1\r\n" + CLOSE + b"\r\n", {405}),
    "a made-up method": (b"BREW /healthz HTTP/1.1\r\n" + CLOSE + b"\r\n", {405}),
    "no secret": (
        b"POST /telegram HTTP/1.1\r\n" + CLOSE + b"Content-Length: 2\r\n\r\n{}",
        {403},
    ),
    "the wrong secret": (post(start_update(900, 41), secret="guess"), {403}),
    "the secret, but no JSON": (post(b"\x00\x01not json"), {400}),
    "the secret, JSON but no update": (post(b'[1, 2, {"update_id": "x"}]'), {400}),
    # An update the library cannot read is logged, confirmed and skipped: refused, Telegram
    # would send it again and again.
    "the secret, an update of the wrong shape": (
        post(b'{"update_id": 901, "message": {"chat": 5}}'),
        {200},
    ),
    "a very long path": (b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\n" + CLOSE + b"\r\n", {404, 400}),
    "a path of invalid UTF-8": (b"GET /\xc3\x28%ff HTTP/1.1\r\n" + CLOSE + b"\r\n", {404, 400}),
}


async def test_malformed_and_hostile_requests_get_an_answer_and_the_coach_keeps_serving(
    tmp_path, fake, caplog
):
    caplog.set_level(logging.DEBUG)
    async with webhook_harness(tmp_path, fake) as harness:
        port = harness.channel.webhook_server.port
        answers = {}
        for name, (data, _) in HOSTILE.items():
            answers[name] = status(await exchange(port, data))
        assert harness.rows("SELECT count(*) FROM processed_update")[0][0] == 0
        normal = await exchange(port, post(start_update(902, 42)))
        health = await exchange(port, b"GET /healthz HTTP/1.1\r\n" + CLOSE + b"\r\n", timeout=5)
        scraped = await exchange(port, b"GET /metrics HTTP/1.1\r\n" + CLOSE + b"\r\n")
        await harness.settled(42)
    unexpected = {n: a for n, a in answers.items() if a not in HOSTILE[n][1]}
    assert unexpected == {}
    assert status(normal) == 200
    assert status(health) in (200, 503) and b'"database": "ok"' in health
    assert len(fake.messages(42)) == 2  # the welcome and the consent question
    assert status(scraped) == 200 and b'kern_coach_people{channel="telegram"} 1.0' in scraped
    assert b"kern_coach_turn_seconds_count" in scraped
    no_tracebacks(caplog)


async def test_slow_clients_are_cut_off_and_do_not_keep_others_waiting(tmp_path, fake, caplog):
    """Slowloris: eight clients send their headers a few bytes at a time. Each is closed once the
    header time is up, and a normal request meanwhile is answered."""
    caplog.set_level(logging.DEBUG)
    limits = Limits(header_seconds=1.0, body_seconds=1.0)
    async with webhook_harness(tmp_path, fake, http_limits=limits) as harness:
        port = harness.channel.webhook_server.port

        async def slow_client() -> bool:
            """True when the server closed the connection before the client was done."""
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(b"POST /telegram HTTP/1.1\r\n" + CLOSE + b"")
                for _ in range(40):  # 40 × 0.2 s at most
                    writer.write(b"X-A: b\r\n")
                    await writer.drain()
                    try:
                        if await asyncio.wait_for(reader.read(1), 0.2) == b"":
                            return True
                    except TimeoutError:
                        continue
                return False
            except ConnectionError:
                return True
            finally:
                writer.close()

        slow = [asyncio.create_task(slow_client()) for _ in range(8)]
        normal = await exchange(port, post(start_update(903, 43)))
        cut_off = await asyncio.gather(*slow)
        after = await exchange(port, post(start_update(904, 44)))
        await harness.settled()
    assert status(normal) == 200 and status(after) == 200
    assert cut_off == [True] * 8
    no_tracebacks(caplog)


async def test_past_the_connection_limit_a_client_is_told_to_come_back(tmp_path, fake, caplog):
    caplog.set_level(logging.DEBUG)
    limits = Limits(connections=5, header_seconds=30.0)
    async with webhook_harness(tmp_path, fake, http_limits=limits) as harness:
        server = harness.channel.webhook_server
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
        await wait_until(lambda: server.open_connections == 5, what="five open connections")
        turned_away = await exchange(server.port, post(start_update(905, 45)), timeout=10)
        for _, writer in idle:
            writer.close()
        await wait_until(lambda: server.open_connections == 0, what="the idle ones closed")
        served = await exchange(server.port, post(start_update(906, 45)))
        await harness.settled(45)
    assert status(turned_away) == 503
    assert status(served) == 200
    assert len(fake.messages(45)) == 2
    no_tracebacks(caplog)


async def test_the_webhook_port_serves_only_the_webhook(tmp_path, fake):
    """Health and metrics stay on the health port; the webhook's port faces the internet."""
    async with Harness(
        tmp_path,
        fake,
        webhook_url="https://coach.example/telegram",
        webhook_port=0,
        webhook_secret=SECRET,
        webhook_host="127.0.0.1",
        health_port=None,
    ) as harness:
        port = harness.channel.webhook_server.port
        metrics = await exchange(port, b"GET /metrics HTTP/1.1\r\n" + CLOSE + b"\r\n")
        health = await exchange(port, b"GET /healthz HTTP/1.1\r\n" + CLOSE + b"\r\n")
        update = await exchange(port, post(start_update(907, 46)))
        await harness.settled(46)
    assert (status(metrics), status(health), status(update)) == (404, 404, 200)
    assert b"kern_coach" not in metrics


async def test_a_flood_of_refused_connections_is_one_log_line_not_one_each(tmp_path, fake, caplog):
    caplog.set_level(logging.DEBUG)
    limits = Limits(connections=2, header_seconds=30.0)
    async with webhook_harness(tmp_path, fake, http_limits=limits) as harness:
        server = harness.channel.webhook_server
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
        await wait_until(lambda: server.open_connections == 2, what="two open connections")
        answers = [
            await exchange(server.port, b"GET /healthz HTTP/1.1\r\n\r\n", timeout=10)
            for _ in range(30)
        ]
        for _, writer in idle:
            writer.close()
    assert [status(a) for a in answers] == [503] * 30
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1


async def test_a_request_no_route_matches_gets_a_404_that_does_not_name_the_server(tmp_path, fake):
    async with webhook_harness(tmp_path, fake) as harness:
        port = harness.channel.webhook_server.port
        answer = await exchange(port, b"OPTIONS * HTTP/1.1\r\n" + CLOSE + b"\r\n")
    assert status(answer) == 404
    assert b"server:" not in answer.split(b"\r\n\r\n")[0].lower()
