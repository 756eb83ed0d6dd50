"""Sorting signal-cli envelopes: what a person wrote, what to answer once, what to ignore.

The envelopes come from the fake daemon (the shapes signal-cli writes) and, in the last test,
over TCP through the real client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from bot.channels.signal.envelopes import (
    AttachmentKind,
    GroupMessage,
    Ignored,
    IgnoreReason,
    Incoming,
    PersonMessage,
    classify,
)
from bot.channels.signal.jsonrpc import Backoff, SignalCliClient
from tests.fakes.signal_cli import DEFAULT_ACCOUNT, FakeSignalCli

ANNA = "8b0c2a47-6a0e-4e59-9b4c-1f6f3e1d2a10"
ANNA_NUMBER = "+31612345678"
GROUP = "Pmpi+EfPWmsxiomLe9Nx2XF9HOE483p6iKiFj65iMwI="


@pytest.fixture
def fake() -> Iterator[FakeSignalCli]:
    with FakeSignalCli() as daemon:
        yield daemon


def wire(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope as the client reads it off the line."""
    parsed: dict[str, Any] = json.loads(json.dumps(envelope))
    return parsed


def test_a_persons_text_is_a_message_from_their_uuid(fake):
    envelope = wire(fake.person_writes("Mijn vader", uuid=ANNA, number=ANNA_NUMBER))
    message = classify(envelope, account=DEFAULT_ACCOUNT)
    assert message == PersonMessage(
        sender=ANNA, timestamp=envelope["timestamp"], text="Mijn vader", attachments=()
    )
    assert message.key == (ANNA, envelope["timestamp"])


def test_without_a_uuid_the_number_names_the_sender(fake):
    envelope = wire(fake.person_writes("hoi", uuid=ANNA, number=ANNA_NUMBER))
    envelope["sourceUuid"] = None
    message = classify(envelope)
    assert isinstance(message, PersonMessage)
    assert message.sender == ANNA_NUMBER


def test_attachments_are_kept_as_kinds_even_without_text(fake):
    envelope = wire(
        fake.person_writes(
            None,
            uuid=ANNA,
            attachments=[
                {"contentType": "image/jpeg"},
                {"contentType": "audio/aac"},
                {"contentType": "video/mp4"},
                {"contentType": "application/pdf"},
            ],
        )
    )
    message = classify(envelope)
    assert isinstance(message, PersonMessage)
    assert message.text is None
    assert message.attachments == (
        AttachmentKind.IMAGE,
        AttachmentKind.AUDIO,
        AttachmentKind.VIDEO,
        AttachmentKind.FILE,
    )


def test_a_sticker_is_an_attachment_kind_not_silence(fake):
    envelope = wire(fake.person_writes(None, uuid=ANNA))
    envelope["dataMessage"]["sticker"] = {"packId": "ab", "stickerId": 3}
    message = classify(envelope)
    assert isinstance(message, PersonMessage)
    assert message.attachments == (AttachmentKind.STICKER,)


def test_an_edit_is_the_new_text_and_names_the_message_it_edits(fake):
    first = fake.person_writes("Mijn moder", uuid=ANNA)
    envelope = wire(fake.person_edits(first["timestamp"], "Mijn moeder", uuid=ANNA))
    message = classify(envelope)
    assert isinstance(message, PersonMessage)
    assert (message.text, message.edit_of) == ("Mijn moeder", first["timestamp"])
    assert message.timestamp != first["timestamp"]


def test_a_group_message_is_to_be_answered_once_not_handled(fake):
    envelope = wire(fake.group_message("Wie is dit?", uuid=ANNA, group_id=GROUP))
    assert classify(envelope) == GroupMessage(
        sender=ANNA, group_id=GROUP, timestamp=envelope["timestamp"]
    )


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda f: f.sync_message("van mijn telefoon", destination_uuid=ANNA), IgnoreReason.SYNC),
        (lambda f: f.receipt(uuid=ANNA, timestamps=[1]), IgnoreReason.RECEIPT),
        (lambda f: f.receipt(uuid=ANNA, timestamps=[1], kind="read"), IgnoreReason.RECEIPT),
        (lambda f: f.typing(uuid=ANNA), IgnoreReason.TYPING),
        (lambda f: f.typing(uuid=ANNA, action="STOPPED"), IgnoreReason.TYPING),
    ],
    ids=["sync", "delivery-receipt", "read-receipt", "typing", "typing-stopped"],
)
def test_sync_messages_receipts_and_typing_are_ignored(fake, make, reason):
    ignored = classify(wire(make(fake)), account=DEFAULT_ACCOUNT)
    assert isinstance(ignored, Ignored)
    assert ignored.reason is reason


def test_a_reaction_without_text_is_ignored(fake):
    envelope = wire(fake.person_writes(None, uuid=ANNA))
    envelope["dataMessage"]["reaction"] = {"emoji": "❤️", "isRemove": False}
    assert classify(envelope) == Ignored(
        reason=IgnoreReason.NO_CONTENT, sender=ANNA, timestamp=envelope["timestamp"]
    )


def test_a_message_from_the_coachs_own_account_is_ignored(fake):
    envelope = wire(fake.person_writes("notitie", uuid=ANNA, number=DEFAULT_ACCOUNT))
    ignored = classify(envelope, account=DEFAULT_ACCOUNT)
    assert isinstance(ignored, Ignored)
    assert ignored.reason is IgnoreReason.OWN_ACCOUNT


def test_an_envelope_without_sender_is_ignored(fake):
    envelope = wire(fake.person_writes("?", uuid=ANNA))
    envelope.update(source=None, sourceNumber=None, sourceUuid=None)
    ignored = classify(envelope)
    assert isinstance(ignored, Ignored)
    assert ignored.reason is IgnoreReason.NO_SENDER


async def test_over_the_wire_only_the_persons_words_and_the_group_remain(fake):
    sorted_: list[Incoming] = []
    arrived = asyncio.Event()

    async def handle(envelope: Mapping[str, Any]) -> None:
        sorted_.append(classify(envelope, account=DEFAULT_ACCOUNT))
        if len(sorted_) == 5:
            arrived.set()

    fake.typing(uuid=ANNA)
    fake.person_writes("Ik wil beginnen", uuid=ANNA, number=ANNA_NUMBER)
    fake.receipt(uuid=ANNA, timestamps=[1])
    fake.sync_message("test", destination_uuid=ANNA)
    fake.group_message("Hallo", uuid=ANNA, group_id=GROUP)
    async with SignalCliClient(fake.url, handle, backoff=Backoff(initial=0.01, maximum=0.1)):
        await asyncio.wait_for(arrived.wait(), 5.0)
    handled = [s for s in sorted_ if not isinstance(s, Ignored)]
    assert [type(s).__name__ for s in handled] == ["PersonMessage", "GroupMessage"]
    assert isinstance(handled[0], PersonMessage)
    assert handled[0].text == "Ik wil beginnen"
    assert [s.reason for s in sorted_ if isinstance(s, Ignored)] == [
        IgnoreReason.TYPING,
        IgnoreReason.RECEIPT,
        IgnoreReason.SYNC,
    ]
