"""Helpers for the Telegram tests (this module holds no tests of its own).

Two ways to run the real channel, each on a SQLite file in the test's directory, or on the
database `url` names (the `database_url` fixture: SQLite and PostgreSQL):

* `Harness`: python-telegram-bot over HTTP against the fake Bot API, the channel polling as in
  production; `Person` chats with it through the fake. For what happens on the wire: offsets,
  redelivery, 429, 403, 5xx, outages, webhooks.
* `Offline`: no HTTP at all. The Application's requests go to a `RecordingRequest`, and updates
  are handed to the channel as Telegram would deliver them (`Update.de_json`); `OfflinePerson`
  builds those updates. For what a person sees: events, menus, keyboards, long texts, files.

Every wait has a generous deadline and looks at what happened (updates confirmed, outbox empty,
nothing in flight); nothing sleeps for a fixed time and hopes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from telegram import Update
from telegram.ext import Application

from bot.channels.telegram import Pacer, TelegramChannel, build_application
from bot.clock import Clock
from bot.coach import Coach
from bot.content import load_library
from bot.storage import db
from bot.storage.migrations import upgrade_engine
from bot.storage.store import Store
from flows import defaults
from flows.tokens import option_of
from tests.conftest import MONDAY_EVENING
from tests.fakes.recording_request import BOT_USER as BOT
from tests.fakes.recording_request import RecordingRequest
from tests.fakes.telegram_api import PERSON_PACE, FakeBotAPI, SentMessage, bot_command_entities

TOKEN = "123:TEST"
AMSTERDAM = ZoneInfo(defaults.TIMEZONE)
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


class _Coached:
    """The coach on a SQLite file, and what is in its database."""

    engine: sa.Engine

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


class Harness(_Coached):
    """The coach on a SQLite file in `directory`, served to the fake by a TelegramChannel."""

    def __init__(
        self,
        directory: Path,
        fake: FakeBotAPI,
        *,
        clock: Clock | None = None,
        pacer: Pacer | None = None,
        poll_timeout: int = 10,
        url: str | None = None,
        **channel: Any,
    ):
        self.fake = fake
        self.engine = db.make_engine(url or f"sqlite:///{directory / 'coach.db'}")
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
            report=lambda: self.fake.report("chat to settle"),
        )


def _chat_of(update: dict[str, Any]) -> int | None:
    if "message" in update:
        return update["message"]["chat"]["id"]
    if "callback_query" in update:
        return update["callback_query"]["message"]["chat"]["id"]
    return None


def original(message: SentMessage) -> str:
    """What a message said when it was sent (before a pressed button was noted under it)."""
    return (message.history[0].plain if message.history else message.plain) or ""


def text(library: Any, key: str, lang: str = "nl", **context: Any) -> str:
    """What the person sees of a text of the coach."""
    return library.texts.plain(lang, key, AMSTERDAM, **context)


async def consent(person: Person | OfflinePerson) -> None:
    """/start, past the welcome, and yes to keeping what they write."""
    await person.says("/start")
    await person.chooses("_next")
    await person.chooses("ja")


async def to_exercise_one(person: Person | OfflinePerson) -> None:
    await consent(person)
    await person.says("/menu")
    await person.chooses("oefening-1")
    await person.chooses("_next")


class _Chatting:
    """What somebody in a chat sees: the fake's or the recording request's messages."""

    side: FakeBotAPI | RecordingRequest
    chat_id: int

    @property
    def messages(self) -> list[SentMessage]:
        return self.side.messages(self.chat_id)

    @property
    def seen(self) -> list[str]:
        """Every message the bot sent, as first sent, oldest first."""
        return [original(m) for m in self.messages]

    def buttons(self) -> list[tuple[str, str]]:
        return [
            (label, data)
            for row in self.side.last_buttons(self.chat_id)
            for label, data in row
            if data
        ]

    def shown_with(self, token: str) -> SentMessage:
        """The newest message that shows the button with this token."""
        return next(
            m
            for m in reversed(self.messages)
            if any(d == token for row in m.buttons for _, d in row)
        )

    def token(self, option: str) -> str:
        """The token of the shown button for this option (labels differ per language)."""
        found = [data for _, data in self.buttons() if option_of(data) == option]
        assert found, f"no option {option!r} among {self.buttons()}"
        return found[0]

    def label(self, option: str) -> str:
        return next(label for label, data in self.buttons() if data == self.token(option))


class Person(_Chatting):
    """Somebody chatting with the bot through the fake; each action waits for the replies."""

    def __init__(self, harness: Harness, chat_id: int, language_code: str = "nl"):
        self.harness = harness
        self.fake = self.side = harness.fake
        self.chat_id = chat_id
        self.language_code = language_code

    async def _after(self, action: Callable[[], int]) -> list[SentMessage]:
        before = len(self.messages)
        action()
        await self.harness.settled(self.chat_id)
        return self.messages[before:]

    async def says(self, text: str) -> list[SentMessage]:
        return await self._after(
            lambda: self.fake.send_text(self.chat_id, text, language_code=self.language_code)
        )

    async def chooses(self, option: str) -> list[SentMessage]:
        """Presses the button of this option, on the newest message that shows it."""
        token = self.token(option)
        message = self.shown_with(token)
        return await self._after(
            lambda: self.fake.press_button(self.chat_id, message.message_id, token)
        )


# --- without a network ---------------------------------------------------------------------------


class Offline(_Coached):
    """The coach on a SQLite file in `directory`, its TelegramChannel's Application answered by
    a RecordingRequest. Updates go in through `deliver`; the outbox is sent as in production."""

    def __init__(
        self,
        directory: Path,
        *,
        clock: Clock | None = None,
        pacer: Pacer | None = None,
        url: str | None = None,
    ):
        self.recorder = RecordingRequest()
        self.engine = db.make_engine(url or f"sqlite:///{directory / 'coach.db'}")
        upgrade_engine(self.engine)
        self.coach = Coach(load_library(), Store(self.engine), clock or running_clock())
        application = (
            Application.builder()
            .token(TOKEN)
            .request(self.recorder)
            .get_updates_request(self.recorder)
            .updater(None)
            .build()
        )
        self.channel = TelegramChannel(self.coach, application, pacer=pacer or quick_pacer())
        self._update_ids = itertools.count(1)
        self._sender: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Offline:
        await self.channel.application.initialize()
        self._sender = asyncio.create_task(self.channel.sender.run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.channel.sender.stop()
        if self._sender is not None:
            await asyncio.wait_for(self._sender, WAIT)
        if self.channel._background:
            await asyncio.wait(list(self.channel._background), timeout=WAIT)
        await self.channel.application.shutdown()
        self.channel.db.close()
        self.engine.dispose()

    def person(self, chat_id: int, language_code: str = "nl") -> OfflinePerson:
        return OfflinePerson(self, chat_id, language_code)

    async def deliver(self, update: dict[str, Any]) -> int:
        """Telegram delivers this update (`update_id` is added); when it is committed. Its
        update_id."""
        update = {"update_id": next(self._update_ids), **update}
        await self.channel.handle_batch([Update.de_json(update, self.channel.bot)])
        return update["update_id"]

    async def settled(self, chat_id: int) -> None:
        """Until everything for this chat was sent."""
        address = str(chat_id)
        await wait_until(
            lambda: not self.channel.sender.busy(address) and self.waiting(address) == 0,
            what=f"chat {chat_id} to settle",
        )


class OfflinePerson(_Chatting):
    """Somebody in a private chat, as the updates Telegram would deliver for what they do;
    each action waits until the replies are sent."""

    def __init__(self, offline: Offline, chat_id: int, language_code: str = "nl"):
        self.offline = offline
        self.side = self.recorder = offline.recorder
        self.chat_id = chat_id
        self.language_code = language_code
        self._query_ids = itertools.count(chat_id * 1000)
        self.last_date = 0

    def next_date(self) -> int:
        """When they send their next message: they read the reply first, so a minute after
        their previous one at least (quicker messages are double texts to the coach)."""
        self.last_date = max(int(time.time()), self.last_date + PERSON_PACE)
        return self.last_date

    @property
    def user(self) -> dict[str, Any]:
        return {
            "id": self.chat_id,
            "is_bot": False,
            "first_name": "Test",
            "language_code": self.language_code,
        }

    @property
    def chat(self) -> dict[str, Any]:
        return {"id": self.chat_id, "type": "private", "first_name": "Test"}

    def message(self, **content: Any) -> dict[str, Any]:
        """A Message dict from this person, with the next message id of the chat."""
        return {
            "message_id": self.recorder.next_message_id(self.chat_id),
            "from": self.user,
            "chat": self.chat,
            "date": self.next_date(),
            **content,
        }

    async def does(self, update: dict[str, Any]) -> list[SentMessage]:
        """Telegram delivers this update of theirs; the replies, once sent."""
        before = len(self.messages)
        await self.offline.deliver(update)
        await self.offline.settled(self.chat_id)
        return self.messages[before:]

    async def says(self, text: str) -> list[SentMessage]:
        entities = bot_command_entities(text)
        return await self.does({"message": self.message(text=text, entities=entities)})

    async def sends(self, **content: Any) -> list[SentMessage]:
        """Something other than text: `sticker={…}`, `photo=[…]` …"""
        return await self.does({"message": self.message(**content)})

    async def edits(self, written: dict[str, Any], text: str) -> list[SentMessage]:
        """Changes a message they wrote (as `message` returned it)."""
        edited = {**written, "text": text, "edit_date": int(time.time())}
        return await self.does({"edited_message": edited})

    async def presses(self, message: SentMessage, token: str) -> list[SentMessage]:
        """Taps a button with this token on this message (shown or not any more)."""
        query = {
            "id": str(next(self._query_ids)),
            "from": self.user,
            "chat_instance": str(self.chat_id),
            "data": token,
            "message": message.raw,
        }
        return await self.does({"callback_query": query})

    async def chooses(self, option: str) -> list[SentMessage]:
        """Presses the button of this option, on the newest message that shows it."""
        token = self.token(option)
        return await self.presses(self.shown_with(token), token)

    async def blocks_the_bot(self) -> None:
        """Telegram tells the bot: a my_chat_member update, the bot now 'kicked'."""
        member = {"user": BOT, "status": "member"}
        await self.offline.deliver(
            {
                "my_chat_member": {
                    "chat": self.chat,
                    "from": self.user,
                    "date": int(time.time()),
                    "old_chat_member": member,
                    "new_chat_member": {**member, "status": "kicked", "until_date": 0},
                }
            }
        )
