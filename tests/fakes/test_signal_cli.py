"""Tests for the fake signal-cli daemon, spoken to over raw TCP, line by line.

If these lines look like what signal-cli writes (see the shapes cited in ``signal_cli.py``), a
client that works against the fake works against the daemon.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from .signal_cli import (
    DEFAULT_ACCOUNT,
    FAKE_VERSION,
    FakeSignalCli,
    SendFailure,
)

PERSON = "8b0c2a47-6a0e-4e59-9b4c-1f6f3e1d2a10"
PERSON_NUMBER = "+31612345678"
OTHER = "3f1e9d2c-0b7a-4c55-8e21-9a8b7c6d5e4f"
GROUP = "Pmpi+EfPWmsxiomLe9Nx2XF9HOE483p6iKiFj65iMwI="
WAIT = 5.0


class Line:
    """A raw connection to the daemon: write JSON lines, read JSON lines."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def write_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def call(self, method: str, params: Any = None, request_id: Any = 1) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
        if params is not None:
            message["params"] = params
        await self.write_raw(json.dumps(message).encode() + b"\n")

    async def read(self, timeout: float = WAIT) -> dict[str, Any]:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        assert line, "the daemon closed the connection"
        assert line.endswith(b"\n")
        return json.loads(line)

    async def answer(self, request_id: Any) -> dict[str, Any]:
        """Read until the response to ``request_id`` (notifications before it are skipped)."""
        while True:
            message = await self.read()
            if "id" in message and message["id"] == request_id:
                return message

    async def notification(self) -> dict[str, Any]:
        while True:
            message = await self.read()
            if "method" in message:
                return message

    async def closed(self, timeout: float = WAIT) -> bool:
        data = await asyncio.wait_for(self.reader.read(), timeout)
        return data == b""

    async def subscribe(self, request_id: Any = "sub") -> int:
        await self.call("subscribeReceive", request_id=request_id)
        response = await self.answer(request_id)
        return response["result"]

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
def fake() -> Iterator[FakeSignalCli]:
    with FakeSignalCli() as daemon:
        yield daemon


@pytest.fixture
async def line(fake: FakeSignalCli) -> AsyncIterator[Line]:
    connection = Line(*await asyncio.open_connection("127.0.0.1", fake.port))
    yield connection
    connection.close()


async def connect(fake: FakeSignalCli) -> Line:
    return Line(*await asyncio.open_connection("127.0.0.1", fake.port))


# --- framing and JSON-RPC errors ----------------------------------------------------------------


async def test_version_answers_with_the_request_id_as_sent(line):
    await line.call("version", request_id="my special mark")
    assert await line.read() == {
        "jsonrpc": "2.0",
        "result": {"version": FAKE_VERSION},
        "id": "my special mark",
    }
    await line.call("version", request_id=7)
    assert (await line.read())["id"] == 7


async def test_unknown_method_is_error_32601(line):
    await line.call("listGroupz", request_id=3)
    response = await line.read()
    assert response["error"]["code"] == -32601
    assert response["id"] == 3
    assert "result" not in response


async def test_a_line_that_is_not_json_is_error_32700_without_id(line):
    await line.write_raw(b"{not json\n")
    response = await line.read()
    assert response["error"]["code"] == -32700
    assert response["id"] is None


async def test_an_empty_line_is_a_parse_error(line):
    await line.write_raw(b"\n")
    response = await line.read()
    assert response["error"] == {"code": -32700, "message": "Empty input line", "data": None}


async def test_a_request_without_method_is_error_32600(line):
    await line.write_raw(b'{"jsonrpc":"2.0"}\n')
    assert await line.read() == {
        "jsonrpc": "2.0",
        "error": {"code": -32600, "message": "method field must be set", "data": None},
        "id": None,
    }


async def test_a_request_without_id_gets_no_answer(fake, line):
    await line.write_raw(b'{"jsonrpc":"2.0","method":"version"}\n')
    await line.call("version", request_id="after")
    assert (await line.read())["id"] == "after"
    assert [method for method, _ in fake.requests] == ["version", "version"]


async def test_an_answer_can_overtake_an_earlier_request(fake, line):
    fake.hold_sends()
    await line.call("send", {"recipient": [PERSON], "message": "a"}, request_id=1)
    await fake.wait_until_async(lambda: fake.sends_in_flight() or None, WAIT, "a held send")
    await line.call("version", request_id=2)
    assert (await line.read())["id"] == 2
    fake.release_sends()
    assert (await line.read())["id"] == 1


# --- manual receive mode ------------------------------------------------------------------------


async def test_subscribe_receive_returns_an_integer_and_then_envelopes_arrive(fake, line):
    subscription = await line.subscribe()
    assert subscription == 0
    fake.person_writes("Hallo", uuid=PERSON, number=PERSON_NUMBER, timestamp=1700000000123)
    notification = await line.notification()
    assert notification["jsonrpc"] == "2.0"
    assert notification["method"] == "receive"
    assert "id" not in notification
    params = notification["params"]
    assert params["subscription"] == subscription
    assert params["result"]["account"] == DEFAULT_ACCOUNT
    envelope = params["result"]["envelope"]
    assert envelope["sourceUuid"] == PERSON
    assert envelope["sourceNumber"] == PERSON_NUMBER
    assert envelope["source"] == PERSON_NUMBER
    assert envelope["sourceDevice"] == 1
    assert envelope["timestamp"] == 1700000000123
    assert envelope["dataMessage"] == {
        "timestamp": 1700000000123,
        "message": "Hallo",
        "expiresInSeconds": 0,
        "isExpirationUpdate": False,
        "viewOnce": False,
    }


async def test_nothing_arrives_before_subscribe_receive(fake, line):
    fake.person_writes("eerder", uuid=PERSON)
    await line.call("version", request_id=1)
    assert (await line.read())["id"] == 1  # the first line is the answer, not the envelope
    assert fake.queued == 1


async def test_messages_sent_while_nobody_listens_wait_and_arrive_once(fake, line):
    fake.person_writes("een", uuid=PERSON)
    fake.person_writes("twee", uuid=PERSON)
    await line.subscribe()
    first, second = await line.notification(), await line.notification()
    texts = [n["params"]["result"]["envelope"]["dataMessage"]["message"] for n in (first, second)]
    assert texts == ["een", "twee"]
    assert fake.queued == 0
    line.close()

    again = await connect(fake)
    await again.subscribe()
    fake.person_writes("drie", uuid=PERSON)
    envelope = (await again.notification())["params"]["result"]["envelope"]
    assert envelope["dataMessage"]["message"] == "drie"
    again.close()


async def test_subscription_ids_count_up_across_connections(fake, line):
    assert await line.subscribe() == 0
    other = await connect(fake)
    assert await other.subscribe() == 1
    other.close()


async def test_unsubscribe_receive_stops_envelopes(fake, line):
    subscription = await line.subscribe()
    await line.call("unsubscribeReceive", {"subscription": subscription}, request_id="u")
    assert (await line.answer("u"))["result"] == {}
    fake.person_writes("niet voor jou", uuid=PERSON)
    await line.call("version", request_id="v")
    assert (await line.read())["id"] == "v"
    assert fake.queued == 1


async def test_unsubscribing_an_unknown_subscription_is_a_user_error(line):
    await line.call("unsubscribeReceive", {"subscription": 41}, request_id="u")
    error = (await line.read())["error"]
    assert error["code"] == -1
    assert error["message"] == "Unknown subscription id"


# --- the kinds of envelope ----------------------------------------------------------------------


async def test_group_sync_receipt_and_typing_envelopes_have_signal_cli_shapes(fake, line):
    await line.subscribe()
    fake.group_message("Hoi allemaal", uuid=PERSON, group_id=GROUP, group_name="Familie")
    fake.sync_message("van mijn telefoon", destination_uuid=PERSON)
    fake.receipt(uuid=PERSON, timestamps=[111, 222], kind="read")
    fake.typing(uuid=PERSON, action="STARTED")
    group, sync, receipt, typing = [
        (await line.notification())["params"]["result"]["envelope"] for _ in range(4)
    ]
    assert group["dataMessage"]["groupInfo"] == {
        "groupId": GROUP,
        "groupName": "Familie",
        "revision": 1,
        "type": "DELIVER",
    }
    assert sync["sourceNumber"] == DEFAULT_ACCOUNT
    assert sync["sourceDevice"] == 2
    sent = sync["syncMessage"]["sentMessage"]
    assert sent["destinationUuid"] == PERSON
    assert sent["message"] == "van mijn telefoon"
    assert "dataMessage" not in sync
    assert receipt["receiptMessage"] == {
        "when": receipt["timestamp"],
        "isDelivery": False,
        "isRead": True,
        "isViewed": False,
        "timestamps": [111, 222],
    }
    assert typing["typingMessage"] == {"action": "STARTED", "timestamp": typing["timestamp"]}


async def test_attachments_arrive_with_every_field_of_json_attachment(fake, line):
    await line.subscribe()
    fake.person_writes(None, uuid=PERSON, attachments=[{"contentType": "image/jpeg"}])
    data = (await line.notification())["params"]["result"]["envelope"]["dataMessage"]
    assert data["message"] is None
    [attachment] = data["attachments"]
    assert set(attachment) == {
        "contentType",
        "filename",
        "id",
        "size",
        "width",
        "height",
        "caption",
        "uploadTimestamp",
    }
    assert attachment["contentType"] == "image/jpeg"


# --- sending ------------------------------------------------------------------------------------


async def test_send_answers_timestamp_and_a_result_per_recipient(fake, line):
    fake.person_writes("hoi", uuid=PERSON, number=PERSON_NUMBER)
    await line.call(
        "send",
        {"recipient": [PERSON], "message": "Dag", "textStyle": ["0:3:BOLD"]},
        request_id=4,
    )
    response = await line.answer(4)
    result = response["result"]
    assert isinstance(result["timestamp"], int)
    assert result["results"] == [
        {
            "recipientAddress": {"uuid": PERSON, "number": PERSON_NUMBER, "username": None},
            "type": "SUCCESS",
        }
    ]
    [sent] = fake.sent
    assert (sent.recipient, sent.message, sent.text_styles) == (PERSON, "Dag", ("0:3:BOLD",))
    assert sent.timestamp == result["timestamp"]


async def test_recipient_may_be_a_single_string_and_attachments_are_recorded(fake, line):
    await line.call(
        "send", {"recipient": PERSON, "message": "", "attachment": "/tmp/export.txt"}, request_id=1
    )
    assert "result" in await line.read()
    assert fake.sent[0].attachments == ("/tmp/export.txt",)


async def test_send_to_a_group_names_the_group_in_each_result(fake, line):
    await line.call("send", {"groupId": GROUP, "message": "Dit is een persoonlijke coach."})
    [result] = (await line.read())["result"]["results"]
    assert result["groupId"] == GROUP
    assert fake.sent[0].is_group


async def test_an_empty_message_is_refused(fake, line):
    await line.call("send", {"recipient": [PERSON], "message": ""})
    assert (await line.read())["error"]["code"] == -1
    assert fake.sent == []


async def test_an_unknown_text_style_is_refused(line):
    await line.call("send", {"recipient": [PERSON], "message": "x", "textStyle": ["0:1:LOUD"]})
    error = (await line.read())["error"]
    assert (error["code"], error["message"]) == (-1, "Invalid style: LOUD")


async def test_a_rate_limited_send_is_error_5_with_retry_after_then_the_next_succeeds(fake, line):
    fake.fail_next_send(PERSON, SendFailure.RATE_LIMIT, retry_after_seconds=7)
    await line.call("send", {"recipient": [PERSON], "message": "een"}, request_id=1)
    error = (await line.read())["error"]
    assert error["code"] == -5
    assert error["message"] == "Failed to send message due to rate limiting"
    [result] = error["data"]["response"]["results"]
    assert result["type"] == "RATE_LIMIT_FAILURE"
    assert result["retryAfterSeconds"] == 7
    await line.call("send", {"recipient": [PERSON], "message": "een"}, request_id=2)
    assert (await line.read())["result"]["results"][0]["type"] == "SUCCESS"


async def test_a_proof_required_failure_is_a_rate_limit_with_a_token(fake, line):
    fake.fail_next_send(PERSON, SendFailure.PROOF_REQUIRED, retry_after_seconds=86400)
    await line.call("send", {"recipient": [PERSON], "message": "een"})
    error = (await line.read())["error"]
    assert error["code"] == -5
    [result] = error["data"]["response"]["results"]
    assert result["type"] == "RATE_LIMIT_FAILURE"
    assert isinstance(result["token"], str)


async def test_an_unregistered_recipient_is_a_user_error_with_the_result(fake, line):
    fake.unregister(PERSON)
    await line.call("send", {"recipient": [PERSON], "message": "een"})
    error = (await line.read())["error"]
    assert (error["code"], error["message"]) == (-1, "Failed to send message")
    assert error["data"]["response"]["results"][0]["type"] == "UNREGISTERED_FAILURE"


async def test_an_untrusted_identity_is_error_4(fake, line):
    fake.fail_next_send(PERSON, SendFailure.UNTRUSTED_IDENTITY)
    await line.call("send", {"recipient": [PERSON], "message": "een"})
    error = (await line.read())["error"]
    assert error["code"] == -4
    assert error["data"]["response"]["results"][0]["type"] == "IDENTITY_FAILURE"


async def test_one_failing_recipient_among_several_still_answers_a_result(fake, line):
    fake.fail_next_send(OTHER, SendFailure.UNREGISTERED)
    await line.call("send", {"recipient": [PERSON, OTHER], "message": "een"})
    results = (await line.read())["result"]["results"]
    assert sorted(r["type"] for r in results) == ["SUCCESS", "UNREGISTERED_FAILURE"]


async def test_any_call_can_be_made_to_fail_with_a_code(fake, line):
    fake.fail_next_call("send", -6, "Captcha rejected")
    await line.call("send", {"recipient": [PERSON], "message": "een"})
    assert (await line.read())["error"]["code"] == -6


async def test_send_typing_is_recorded_and_answered(fake, line):
    await line.call("sendTyping", {"recipient": [PERSON]}, request_id="t")
    assert "timestamp" in (await line.read())["result"]
    await line.call("sendTyping", {"recipient": [PERSON], "stop": True}, request_id="s")
    await line.read()
    assert [(t.recipient, t.stop) for t in fake.typing_sent] == [(PERSON, False), (PERSON, True)]


# --- restarts and silence -----------------------------------------------------------------------


async def test_restart_closes_connections_and_keeps_the_queue(fake, line):
    await line.subscribe()
    fake.restart()
    assert await line.closed()
    fake.person_writes("tijdens de herstart", uuid=PERSON)
    again = await connect(fake)
    assert await again.subscribe() == 0  # a new daemon process counts from 0 again
    envelope = (await again.notification())["params"]["result"]["envelope"]
    assert envelope["dataMessage"]["message"] == "tijdens de herstart"
    again.close()


async def test_while_stopped_nobody_can_connect(fake):
    fake.stop_daemon()
    with pytest.raises(OSError):
        await connect(fake)
    fake.start_daemon()
    (await connect(fake)).close()


async def test_half_open_connection_stays_open_but_silent_and_a_new_one_is_served(fake, line):
    await line.subscribe()
    fake.go_half_open()
    fake.person_writes("wacht", uuid=PERSON)
    await line.call("version", request_id="ping")
    with pytest.raises(TimeoutError):
        await line.read(timeout=0.2)  # silence is the point: a bounded wait, not a timing
    assert fake.open_connections == 1
    assert fake.queued == 1
    fresh = await connect(fake)
    await fresh.subscribe()
    envelope = (await fresh.notification())["params"]["result"]["envelope"]
    assert envelope["dataMessage"]["message"] == "wacht"
    fresh.close()


async def test_another_jsonrpc_version_is_refused(line):
    await line.write_raw(b'{"jsonrpc":"1.0","method":"version","id":5}\n')
    error = (await line.read())["error"]
    assert (error["code"], error["message"]) == (-32600, "only jsonrpc version 2.0 is supported")
