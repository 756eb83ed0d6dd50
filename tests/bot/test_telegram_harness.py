"""Helpers for the Telegram tests (this module holds no tests of its own).

`Harness` runs the real channel (python-telegram-bot over HTTP) against the fake Bot API, on a
SQLite file, as an asyncio task; `Person` is somebody chatting with it through the fake. Every
wait has a generous deadline and looks at what happened (updates confirmed, outbox empty,
nothing in flight); nothing sleeps for a fixed time and hopes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.channels.telegram import TelegramChannel, build_application
from bot.channels.telegram_send import Pacer
from bot.clock import Clock
from bot.coach import Coach
from bot.content import load_library
from bot.storage import db
from bot.storage.migrations import upgrade_engine
from bot.storage.store import Store
from tests.conftest import MONDAY_EVENING
from tests.fakes.telegram_api import FakeBotAPI, SentMessage

TOKEN = "123:TEST"
WAIT = 60.0  # seconds; generous, for a busy two-core machine


def quick_pacer() -> Pacer:
    """Telegram's overall limit, but chats may go faster than once a second: for tests that are
    not about pacing, so that a conversation does not take minutes."""
    return Pacer(chat=(20.0, 10))


def running_clock(start: datetime = MONDAY_EVENING) -> Clock:
    """A clock that starts on a Monday evening and then runs like the wall clock (the check-in
    alarm clock needs time to pass; a clock that stands still would make it spin)."""
    return Clock(start - datetime.now(UTC))


async def wait_until(
    predicate: Callable[[], Any],
    timeout: float = WAIT,
    what: str = "",
    report: Callable[[], str] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = report() if report else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{detail}")
        await asyncio.sleep(0.02)


class Harness:
    """The coach on a SQLite file in `directory`, served to the fake by a TelegramChannel."""

    def __init__(
        self,
        directory: Path,
        fake: FakeBotAPI,
        *,
        clock: Clock | None = None,
        pacer: Pacer | None = None,
        poll_timeout: int = 10,
        **channel: Any,
    ):
        self.fake = fake
        self.engine = db.make_engine(f"sqlite:///{directory / 'coach.db'}")
        upgrade_engine(self.engine)
        self.coach = Coach(load_library(), Store(self.engine), clock or running_clock())
        self.pacer = pacer or quick_pacer()
        self.poll_timeout = poll_timeout
        self.channel_options = channel
        self.channel: TelegramChannel | None = None
        self.task: asyncio.Task[int] | None = None

    async def start(self) -> Harness:
        application = build_application(TOKEN, self.fake.base_url)
        self.channel = TelegramChannel(
            self.coach,
            application,
            poll_timeout=self.poll_timeout,
            pacer=self.pacer,
            **self.channel_options,
        )
        self.task = asyncio.create_task(self.channel.run())
        ready = asyncio.create_task(self.channel.ready.wait())
        done, _ = await asyncio.wait(
            [ready, self.task], timeout=WAIT, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            raise AssertionError("the channel did not start")
        return self

    async def stop(self) -> int:
        assert self.channel is not None and self.task is not None
        self.channel.stop()
        code = await asyncio.wait_for(self.task, WAIT)
        self.channel = None
        return code

    async def __aenter__(self) -> Harness:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        if self.channel is not None:
            await self.stop()
        self.engine.dispose()

    def person(self, chat_id: int, language_code: str = "nl") -> Person:
        return Person(self, chat_id, language_code)

    # --- what is in the database -------------------------------------------------------------

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params))

    def waiting(self, address: str | None = None) -> int:
        """Messages in the outbox (of one chat)."""
        if address is None:
            return self.rows("SELECT count(*) FROM outbox")[0][0]
        return self.rows("SELECT count(*) FROM outbox WHERE address = :a", a=address)[0][0]

    def answers(self, chat_id: int) -> dict[str, Any]:
        """The stored answers of this chat's person, by step (and item for lists)."""
        rows = self.rows(
            "SELECT a.step, a.item, a.value FROM answer a JOIN person p ON p.id = a.person_id "
            "WHERE p.channel = 'telegram' AND p.address = :a ORDER BY a.id",
            a=str(chat_id),
        )
        out: dict[str, Any] = {}
        for step, item, value in rows:
            out[step if item == 0 else f"{step}.{item}"] = json.loads(value)
        return out

    def person_row(self, chat_id: int) -> Any:
        rows = self.rows(
            "SELECT * FROM person WHERE channel = 'telegram' AND address = :a", a=str(chat_id)
        )
        return rows[0] if rows else None

    # --- waiting -----------------------------------------------------------------------------

    def _idle_for(self, address: str | None) -> bool:
        channel = self.channel
        if channel is None:
            return False
        pending = self.fake.pending_updates()
        if address is not None:
            pending = [u for u in pending if _chat_of(u) == int(address)]
        if pending:
            return False
        sender = channel.sender
        if address is None:
            busy = bool(sender._in_flight) or bool(channel._background)
        else:
            busy = sender.busy(address)
        return not busy and self.waiting(address) == 0

    async def settled(self, chat_id: int | None = None, timeout: float = WAIT) -> None:
        """Until every update (of this chat) is handled and everything for it was sent."""
        address = None if chat_id is None else str(chat_id)
        await wait_until(
            lambda: self._idle_for(address),
            timeout,
            f"chat {chat_id or 'all'} to settle",
            report=lambda: self.fake._timeout_report("settle", timeout),
        )


def _chat_of(update: dict[str, Any]) -> int | None:
    if "message" in update:
        return update["message"]["chat"]["id"]
    if "edited_message" in update:
        return update["edited_message"]["chat"]["id"]
    if "callback_query" in update:
        return update["callback_query"]["message"]["chat"]["id"]
    if "my_chat_member" in update:
        return update["my_chat_member"]["chat"]["id"]
    return None


def original(message: SentMessage) -> str:
    """What a message said when it was sent (before a pressed button was noted under it)."""
    return (message.history[0].plain if message.history else message.plain) or ""


class Person:
    """Somebody chatting with the bot through the fake; each action waits for the replies."""

    def __init__(self, harness: Harness, chat_id: int, language_code: str = "nl"):
        self.harness = harness
        self.fake = harness.fake
        self.chat_id = chat_id
        self.language_code = language_code

    @property
    def messages(self) -> list[SentMessage]:
        return self.fake.messages(self.chat_id)

    @property
    def seen(self) -> list[str]:
        """Every message the bot sent, as first sent, oldest first."""
        return [original(m) for m in self.messages]

    async def _after(self, action: Callable[[], int]) -> list[SentMessage]:
        before = len(self.messages)
        action()
        await self.harness.settled(self.chat_id)
        return self.messages[before:]

    async def says(self, text: str) -> list[SentMessage]:
        return await self._after(
            lambda: self.fake.send_text(self.chat_id, text, language_code=self.language_code)
        )

    async def sends(self, what: Callable[[int], int]) -> list[SentMessage]:
        """Something other than text: `fake.send_sticker`, `fake.send_photo` …"""
        return await self._after(lambda: what(self.chat_id))

    def buttons(self) -> list[tuple[str, str]]:
        return [
            (label, data)
            for row in self.fake.last_buttons(self.chat_id)
            for label, data in row
            if data
        ]

    def token(self, option: str) -> str:
        """The token of the shown button for this option (labels differ per language)."""
        found = [data for _, data in self.buttons() if data.rsplit(":", 1)[1] == option]
        assert found, f"no option {option!r} among {self.buttons()}"
        return found[0]

    def label(self, option: str) -> str:
        return next(label for label, data in self.buttons() if data == self.token(option))

    async def chooses(self, option: str) -> list[SentMessage]:
        """Presses the button of this option, on the newest message that shows it."""
        token = self.token(option)
        message = next(
            m
            for m in reversed(self.messages)
            if any(d == token for row in m.buttons for _, d in row)
        )
        return await self._after(
            lambda: self.fake.press_button(self.chat_id, message.message_id, token)
        )

    async def presses(self, label: str) -> list[SentMessage]:
        return await self._after(lambda: self.fake.press_label(self.chat_id, label))
