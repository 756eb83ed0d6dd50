"""Incoming signal-cli envelopes, sorted into what the coach does with them.

An envelope (signal-cli's ``JsonMessageEnvelope``) names its sender by ``sourceUuid`` and, unless
the person hides it, ``sourceNumber``, and carries one kind of content:

* ``dataMessage`` (or ``editMessage.dataMessage``, an edit of an earlier message): what a person
  wrote, ``message``, with ``attachments`` and, in a group, ``groupInfo``;
* ``syncMessage``: another device of the coach's own account did something (sent a message,
  read one): never the person;
* ``receiptMessage`` and ``typingMessage``: the person's phone reporting delivery, reading or
  typing; nothing was written.

``classify`` turns each into a small frozen value: a ``PersonMessage`` to handle, a
``GroupMessage`` to answer once, or ``Ignored`` with the reason. Nothing here reads or logs
the text.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class AttachmentKind(enum.StrEnum):
    IMAGE = "image"
    AUDIO = "audio"  # voice notes too
    VIDEO = "video"
    STICKER = "sticker"
    FILE = "file"


class IgnoreReason(enum.StrEnum):
    SYNC = "sync"  # the coach's own devices
    OWN_ACCOUNT = "own-account"  # sent by the coach's account itself
    RECEIPT = "receipt"
    TYPING = "typing"
    NO_SENDER = "no-sender"  # signal-cli could not tell who sent it (e.g. it failed to decrypt)
    NO_CONTENT = "no-content"  # a reaction, a deletion, a timer change, a call, a story


@dataclass(frozen=True, kw_only=True)
class PersonMessage:
    """A person wrote to the coach: text, attachments or both."""

    sender: str  # the person's Signal id: sourceUuid, or sourceNumber when there is no UUID
    timestamp: int  # the sender's timestamp: with ``sender`` it names the message
    text: str | None
    attachments: tuple[AttachmentKind, ...] = ()
    edit_of: int | None = None  # the timestamp of the message this one edits

    @property
    def key(self) -> tuple[str, int]:
        """Sender and timestamp: the same message, delivered twice, has the same key."""
        return (self.sender, self.timestamp)


@dataclass(frozen=True, kw_only=True)
class GroupMessage:
    """Someone wrote in a group the coach's account is in: one polite line, nothing else."""

    sender: str
    group_id: str
    timestamp: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.sender, self.timestamp)


@dataclass(frozen=True, kw_only=True)
class Ignored:
    """An envelope the coach does nothing with, and why."""

    reason: IgnoreReason
    sender: str | None = None
    timestamp: int | None = None


Incoming = PersonMessage | GroupMessage | Ignored


def classify(envelope: Mapping[str, Any], *, account: str | None = None) -> Incoming:
    """What ``envelope`` is for the coach; ``account`` is the coach's own number."""
    sender = _text(envelope.get("sourceUuid")) or _text(envelope.get("sourceNumber"))
    timestamp = envelope.get("timestamp")
    timestamp = timestamp if isinstance(timestamp, int) else None
    if sender is None or timestamp is None:
        return Ignored(reason=IgnoreReason.NO_SENDER, sender=sender, timestamp=timestamp)
    if "syncMessage" in envelope:
        return Ignored(reason=IgnoreReason.SYNC, sender=sender, timestamp=timestamp)
    if account is not None and account in (envelope.get("sourceNumber"), envelope.get("source")):
        return Ignored(reason=IgnoreReason.OWN_ACCOUNT, sender=sender, timestamp=timestamp)
    if "receiptMessage" in envelope:
        return Ignored(reason=IgnoreReason.RECEIPT, sender=sender, timestamp=timestamp)
    if "typingMessage" in envelope:
        return Ignored(reason=IgnoreReason.TYPING, sender=sender, timestamp=timestamp)

    data, edit_of = _data_message(envelope)
    if data is None:
        return Ignored(reason=IgnoreReason.NO_CONTENT, sender=sender, timestamp=timestamp)
    group = data.get("groupInfo")
    if isinstance(group, Mapping) and _text(group.get("groupId")):
        return GroupMessage(sender=sender, group_id=str(group["groupId"]), timestamp=timestamp)
    text = _text(data.get("message"))
    attachments = _attachment_kinds(data)
    if text is None and not attachments:
        return Ignored(reason=IgnoreReason.NO_CONTENT, sender=sender, timestamp=timestamp)
    return PersonMessage(
        sender=sender, timestamp=timestamp, text=text, attachments=attachments, edit_of=edit_of
    )


def _data_message(envelope: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, int | None]:
    data = envelope.get("dataMessage")
    if isinstance(data, Mapping):
        return data, None
    edit = envelope.get("editMessage")
    if isinstance(edit, Mapping) and isinstance(edit.get("dataMessage"), Mapping):
        target = edit.get("targetSentTimestamp")
        return edit["dataMessage"], target if isinstance(target, int) else None
    return None, None


def _attachment_kinds(data: Mapping[str, Any]) -> tuple[AttachmentKind, ...]:
    kinds = []
    attachments = data.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        content_type = attachment.get("contentType") if isinstance(attachment, Mapping) else None
        kinds.append(_kind_of(content_type if isinstance(content_type, str) else ""))
    if isinstance(data.get("sticker"), Mapping):
        kinds.append(AttachmentKind.STICKER)
    return tuple(kinds)


def _kind_of(content_type: str) -> AttachmentKind:
    major = content_type.split("/", 1)[0].lower()
    if major == "image":
        return AttachmentKind.IMAGE
    if major == "audio":
        return AttachmentKind.AUDIO
    if major == "video":
        return AttachmentKind.VIDEO
    return AttachmentKind.FILE


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None
