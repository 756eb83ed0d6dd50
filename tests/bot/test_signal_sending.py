"""The Signal sender against the fake signal-cli over real TCP, with the real outbox on SQLite and
PostgreSQL: whatever Signal refuses waits in the outbox as long as the refusal says (never tried
again at once), the operator gets one log line without content, and nothing is lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.channels.signal.jsonrpc import SignalCliClient
from bot.channels.signal.sending import OPERATOR_WAIT, Sender
from bot.storage.models import OutboxRow
from flows.events import TextReceived
from tests.fakes.signal_cli import CAPTCHA_REJECTED_ERROR, FakeSignalCli, SendFailure

PERSON = "8b0c2a47-6a0e-4e59-9b4c-1f6f3e1d2a10"
WRITTEN = "Mijn moeder belt elke avond"
WAIT = 10.0


def untrusted(fake: FakeSignalCli) -> None:
    fake.fail_next_send(PERSON, SendFailure.UNTRUSTED_IDENTITY)


def captcha_rejected(fake: FakeSignalCli) -> None:
    fake.fail_next_call("send", CAPTCHA_REJECTED_ERROR, "Captcha rejected")


def proof_required(fake: FakeSignalCli) -> None:
    fake.fail_next_send(PERSON, SendFailure.PROOF_REQUIRED, retry_after_seconds=60)


def rate_limited(fake: FakeSignalCli) -> None:
    fake.fail_next_send(PERSON, SendFailure.RATE_LIMIT, retry_after_seconds=120)


def network(fake: FakeSignalCli) -> None:
    fake.fail_next_send(PERSON, SendFailure.NETWORK)


async def nothing(envelope: Mapping[str, Any]) -> None:
    pass


@pytest.mark.parametrize(
    ("refuse", "told", "wait"),
    [
        (untrusted, "safety number of person 1 changed", OPERATOR_WAIT),
        (captcha_rejected, "Signal rejected the captcha", OPERATOR_WAIT),
        (proof_required, "Signal wants a captcha", OPERATOR_WAIT),
        (rate_limited, "rate limited sending item", timedelta(seconds=120)),
        (network, "not sent (SendFailed -1", timedelta(seconds=1)),
    ],
)
async def test_a_refused_message_waits_in_the_outbox_and_goes_once_it_may(
    coach, clock, caplog, refuse: Callable[[FakeSignalCli], None], told: str, wait: timedelta
):
    caplog.set_level(logging.INFO)
    coach.handle("signal", PERSON, TextReceived(text=WRITTEN))  # the welcome, two messages
    with FakeSignalCli() as fake:
        refuse(fake)
        client = SignalCliClient(fake.url, nothing)
        client.start()
        await client.wait_connected(WAIT)
        sender = Sender(client, coach.outbox("signal"), clock.now, {})
        running = asyncio.create_task(sender.run())

        async def first_row() -> OutboxRow | None:
            async with asyncio.timeout(WAIT):
                while True:
                    with coach.store.transaction() as session:
                        rows = list(session.exec(select(OutboxRow).order_by(OutboxRow.id)))
                    if not rows or rows[0].attempts:
                        return rows[0] if rows else None
                    await asyncio.sleep(0.02)

        row = await first_row()
        assert row is not None and row.attempts == 1  # refused once, and kept
        # The outbox does not hand it out again before the wait is over: no loop of retries.
        assert row.next_attempt_at >= clock.now() + wait
        assert row.next_attempt_at <= clock.now() + max(wait * 2, timedelta(minutes=10))
        assert not [s for s in fake.sent if s.recipient == PERSON and s.failure is None]

        clock.advance(max(wait * 2, OPERATOR_WAIT))
        sender.wake()
        delivered = await fake.wait_for_sent_async(PERSON, 2, WAIT)
        assert delivered[0].message.startswith("Welkom.")  # in order: the refused one first
        assert "1. Verder" in delivered[1].message
        await sender.stop()
        await running
        await client.aclose()
    with coach.store.transaction() as session:
        assert list(session.exec(select(OutboxRow))) == []  # nothing lost, nothing left
    assert sum(told in record.getMessage() for record in caplog.records) == 1
    assert WRITTEN not in caplog.text and "Welkom" not in caplog.text
    assert PERSON not in caplog.text  # a phone number is a person's: logs name ids
