"""From signal-cli's envelopes to the coach's turns; nothing a person sends is lost.

Each message a person sends is kept first (`bot.inbox`, committed on its own), then handled
through `Coach.handle` with the kept row's id as its update id, then marked handled. So a coach
killed at any moment loses nothing that signal-cli handed over (what was kept is handled at the
next start) and handles nothing twice (the same sender and timestamp delivered again, or a kept
message handled again after a crash, is recognised). Sync messages from the coach's own devices,
receipts and typing notices are ignored; a group gets one polite line and nothing else.

The envelopes come one at a time, in signal-cli's order (`jsonrpc.SignalCliClient`), so each
person's messages are handled in the order they were sent. Logs name ids and kinds, never text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.channels import numbered
from bot.coach import Coach
from bot.inbox import Inbox, Received
from flows.events import (
    ChoiceMade,
    Event,
    MediaReceived,
    Started,
    TextEdited,
    TextReceived,
    parse_command,
)
from flows.messages import Button

from .envelopes import AttachmentKind, GroupMessage, Ignored, PersonMessage, classify

log = logging.getLogger(__name__)

CHANNEL = "signal"
GROUP_CHAT = "common:group-chat"  # the one line in a group: the coach works in private
GROUP_PREFIX = "group:"  # a group's outbox address: "group:" and signal-cli's group id
GROUP_LANGUAGE = "nl"  # Signal tells nothing of a person's language
# A turn that fails (the database away) is tried again after these pauses, in order; then the
# message waits, kept, for the next sweep or start.
HANDLE_RETRIES = (1.0, 3.0)

MEDIA = {
    AttachmentKind.IMAGE: "photo",
    AttachmentKind.AUDIO: "voice",
    AttachmentKind.VIDEO: "video",
    AttachmentKind.STICKER: "sticker",
    AttachmentKind.FILE: "document",
}


def event_of(content: Mapping[str, Any], sent_at: int, buttons: Sequence[Button]) -> Event:
    """The engine event for a kept message; `buttons` are those of the last message the person
    was shown (a typed number or label picks one, as in the terminal)."""
    text = content.get("text")
    if not isinstance(text, str):  # only attachments: a photo, a voice note …
        kinds = [AttachmentKind(k) for k in content.get("attachments", [])]
        return MediaReceived(kind=MEDIA[kinds[0]] if kinds else "other")
    edit_of = content.get("edit_of")
    if isinstance(edit_of, int):
        return TextEdited(text=text, ref=str(edit_of))
    if text.startswith("/"):
        command = parse_command(text)
        if command is not None and command.name == "start":
            return Started(flow=command.argument or None)
        if command is not None:
            return command
    button = numbered.pressed(text, buttons)
    if button is not None:
        return ChoiceMade(token=button.token)
    at = datetime.fromtimestamp(sent_at / 1000, UTC)
    return TextReceived(text=text, ref=str(sent_at), at=at)


class Receiver:
    """Keeps envelopes as they arrive, and handles what it kept; `shown` holds the buttons each
    person saw last (the sender fills it), `on_turn` is called after each committed turn (it
    wakes the sender), told whether the turn changed what is planned (a check-in to re-arm).

    Keeping and handling are apart: signal-cli counts a message delivered once it has written
    it to the socket, so each is stored the moment it is read, while turns (slower, and waiting
    when the database is away) take the kept ones in order from `run`. A crash loses nothing
    kept; the sweep handles it after the restart."""

    def __init__(
        self,
        coach: Coach,
        inbox: Inbox,
        *,
        account: str | None,
        shown: Mapping[str, Sequence[Button]],
        on_turn: Callable[[bool], None],
    ) -> None:
        self.coach = coach
        self.inbox = inbox
        self.account = account
        self.shown = shown
        self.on_turn = on_turn
        self._handling = asyncio.Lock()  # the live path and the sweep never hold the same row
        self._kept: asyncio.Queue[Received] = asyncio.Queue()
        # People one of whose messages could not be handled: their later ones wait for the
        # sweep too, which takes them in the order they came (never an answer before the one
        # written first).
        self._behind: set[str] = set()
        self.handled = 0

    async def run(self) -> None:
        """Handle what was kept, in the order it came, until cancelled (what is left stays
        kept, for the sweep)."""
        while True:
            received = await self._kept.get()
            async with self._handling:
                if received.sender in self._behind:
                    continue
                if not await self._handle(received):
                    self._behind.add(received.sender)

    async def on_envelope(self, envelope: Mapping[str, Any]) -> None:
        incoming = classify(envelope, account=self.account)
        if isinstance(incoming, Ignored):
            log.debug("envelope %s ignored (%s)", incoming.timestamp, incoming.reason.value)
            return
        if isinstance(incoming, GroupMessage):
            await self._group(incoming)
            return
        await self._person(incoming)

    async def _person(self, message: PersonMessage) -> None:
        content: dict[str, Any] = {"attachments": [kind.value for kind in message.attachments]}
        if message.text is not None:
            content["text"] = message.text
        if message.edit_of is not None:
            content["edit_of"] = message.edit_of
        received_id = await self._keep(message.sender, message.timestamp, content)
        if received_id is None:
            log.info("message %s seen before; skipped", message.timestamp)
            return
        self._kept.put_nowait(
            Received(
                id=received_id, sender=message.sender, sent_at=message.timestamp, content=content
            )
        )

    async def _keep(self, sender: str, sent_at: int, content: dict[str, Any]) -> int | None:
        """Keep it before anything else; if the database is away, wait for it: signal-cli has
        handed the message over, and this is its only copy."""
        pause = 0.5
        while True:
            try:
                return await asyncio.to_thread(self.inbox.keep, sender, sent_at, content)
            except Exception as error:
                log.error("message %s not kept yet (%s); again", sent_at, type(error).__name__)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)

    async def _handle(self, received: Received) -> bool:
        event = event_of(received.content, received.sent_at, self.shown.get(received.sender, ()))
        for attempt, pause in enumerate((*HANDLE_RETRIES, None)):
            try:
                handled = await asyncio.to_thread(
                    self.coach.handle, CHANNEL, received.sender, event, update_id=received.id
                )
                await asyncio.to_thread(self.inbox.handled, received.id)
                if not handled.new:
                    log.info("message kept as %d was handled before; skipped", received.id)
            except Exception as error:  # its text may quote the message: the class only
                log.error(
                    "message %s (kept as %d) not handled (%s, attempt %d)",
                    received.sent_at,
                    received.id,
                    type(error).__name__,
                    attempt + 1,
                )
                if pause is None:
                    return False  # it stays kept: the next sweep or start handles it
                await asyncio.sleep(pause)
                continue
            self.handled += 1
            self.on_turn(handled.plans_changed)
            return True
        return False

    async def _group(self, message: GroupMessage) -> None:
        """One line per group, ever (while its key is kept): the coach does not chat in groups,
        and answering every message there would be noise."""
        address = GROUP_PREFIX + message.group_id
        received_id = await self._keep(address, 0, {})
        if received_id is not None:
            await self._notice(address, received_id)

    async def _notice(self, address: str, received_id: int) -> None:
        try:
            await asyncio.to_thread(
                self.coach.notice,
                CHANNEL,
                address,
                GROUP_CHAT,
                GROUP_LANGUAGE,
                update_id=received_id,
            )
            await asyncio.to_thread(self.inbox.handled, received_id)
        except Exception as error:
            log.error("group line not queued (%s)", type(error).__name__)
            return
        log.info("a group wrote to the coach; told it once that the coach works in private")
        self.on_turn(False)

    async def sweep(self) -> int:
        """Handle what was kept and not handled (the process ended in between); how many."""
        done = 0
        async with self._handling:
            waiting = await asyncio.to_thread(self.inbox.waiting)
            failed: set[str] = set()
            for received in waiting:
                if received.sender.startswith(GROUP_PREFIX):
                    await self._notice(received.sender, received.id)  # said once at most
                    continue
                if received.sender in failed:
                    continue  # in order: after the one that failed, on the next sweep
                if await self._handle(received):
                    done += 1
                else:
                    failed.add(received.sender)
            self._behind = failed
        if done:
            log.info("%d kept message(s) handled after a restart or a fault", done)
        return done
