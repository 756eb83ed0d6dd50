"""Sending: an outbox item as Bot API calls, and the sender that drains the outbox.

The outbox is the truth. A row is sent after the turn that wrote it committed and deleted once
Telegram accepted it; a row still there after a crash is sent after restart. `Outbox.take`
offers only the oldest row of each chat, and the sender keeps at most one row of a chat in flight,
so a chat's messages arrive in order, while different chats are served side by side.

What Telegram answers decides what happens to a row:

* accepted: deleted;
* 429 `RetryAfter`: that chat (or, when several chats hear it at once, everyone) waits as long as
  Telegram asks, then the same row is tried again; never dropped;
* network trouble, time-outs, 5xx: tried again with growing pauses (`Outbox.retry_later` records
  the attempt, so the pause keeps growing after a restart);
* 400 `BadRequest`: a bug on our side; logged without content and dropped, the chat moves on;
* 403 `Forbidden`: the person blocked the bot; `Outbox.unreachable` holds their check-ins and
  drops what waited for them.

A delivery that timed out may still have reached Telegram; trying again may then show it twice.
That is the price of never losing one.

A long message that has to wait for its turn is announced with "typing…" while it waits. Only as
many Bot API calls run at once as the measured round trip needs for Telegram's 30 a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import time
import warnings
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, LinkPreviewOptions
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBUserWarning

from bot import metrics
from bot.channels.telegram.html import render, split_html, visible_length
from bot.channels.telegram.pacing import CallLimit, Pacer, retry_after_seconds
from bot.coach import Coach
from bot.outbox import Chart, Document, Item, Outgoing, kind_of
from bot.retry import backoff
from flows.messages import Button

log = logging.getLogger(__name__)
T = TypeVar("T")

# `Bot.do_api_request` is used where what Telegram sends back needs no objects made of it
# (sendMessage) or only some of it (getUpdates); PTB suggests the typed methods there.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)

# python-telegram-bot 22 warns on every 429 unless told to hand `retry_after` out as a timedelta
# already (its future behaviour); `retry_after_seconds` reads either.
os.environ.setdefault("PTB_TIMEDELTA", "true")

CHANNEL = "telegram"
TYPING_AFTER = 300  # a message longer than this is announced with "typing…" when it must wait


Call = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class Part:
    """One Bot API call that puts something in the chat."""

    call: Call
    long: bool = False  # announce it with "typing…"
    what: str = "message"


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.token) for b in row] for row in rows if row]
    )


NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def _send_balance(bot: Bot, chat_id: int, chart: Chart) -> Any:
    """The balance over time as a photo with a one-line caption (drawn in a thread: matplotlib
    takes a few hundred milliseconds the first time)."""
    from bot.balance_chart import drawn

    png = await asyncio.to_thread(drawn, chart.as_json())
    if png is None:  # the caption alone: the chat goes on (drawn() logged why)
        return await bot.send_message(chat_id, chart.caption, parse_mode=None)
    return await bot.send_photo(
        chat_id,
        InputFile(png, filename="balans.png"),
        caption=chart.caption,
        write_timeout=30,
    )


def parts_of(bot: Bot, chat_id: int, item: Item) -> list[Part]:
    """The calls that deliver one outbox item: a text (in as many messages as it takes, the
    buttons under the last one), a document, or the balance chart."""
    if isinstance(item, Document):
        data, filename = item.content.encode("utf-8"), item.filename

        async def send_document() -> Any:
            return await bot.send_document(
                chat_id, InputFile(data, filename=filename), filename=filename, write_timeout=30
            )

        return [Part(send_document, what="document")]
    if isinstance(item, Chart):
        return [Part(functools.partial(_send_balance, bot, chat_id, item), what="chart")]
    texts = split_html(render(item))
    markup = keyboard(item.buttons)
    parts = []
    for i, text in enumerate(texts):
        last = i == len(texts) - 1

        async def send(text: str = text, last: bool = last) -> Any:
            # What Telegram answers (the message as it shows it) is not read, so it is not
            # turned into objects either: that is a good part of a send's cost.
            fields: dict[str, Any] = {
                "chat_id": chat_id,
                "text": text,
                "parse_mode": ParseMode.HTML.value,
                "link_preview_options": NO_PREVIEW,
            }
            if last and markup is not None:
                fields["reply_markup"] = markup
            return await bot.do_api_request("sendMessage", api_kwargs=fields)

        visible = visible_length(text)
        parts.append(Part(send, long=visible > TYPING_AFTER))
    return parts


# --- the sender ----------------------------------------------------------------------------------


class FatalTelegramError(Exception):
    """Telegram refuses the token: nothing will work until an operator fixes it."""


class DatabaseWork:
    """Runs the channel's database work off the event loop, on as many threads as the coach's
    database makes useful (`Coach.concurrency`)."""

    def __init__(self, workers: int):
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="kern-coach-db")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(function, *args))

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class OutboxSender:
    """Drains the outbox of the Telegram channel; see the module docstring.

    One loop reads the outbox; each chat with a message ready gets a delivery task (at most one
    per chat). A delivered row is deleted by the loop, in the same transaction that reads what is
    ready next, so a chat's next message is offered only once the one before it is gone: the
    deliveries that ended since the last look are acknowledged together, one statement.

    The work per message does not grow with the backlog: at most `most_in_flight` chats are in
    flight (what the rate sends in `AHEAD` seconds), each waits for its own moment (the pacer's
    reservation) and then for a place among the calls under way (handed over one at a time),
    and the outbox leaves out what this process holds by its claim, so the sender never hands
    the database the list of chats it is busy with."""

    BATCH = 100  # rows taken from the database at once, at most
    # Chats in flight at once: what the overall rate sends in this many seconds. Enough to keep
    # sending while a look at the outbox waits for the database (on SQLite, for a dispatcher
    # pass to commit); taking more would only hold rows other processes could be sending, and
    # that a killed one holds.
    AHEAD = 2.0
    IDLE = 2.0  # seconds between looks at the outbox when nobody woke us (safety net)
    SHUTDOWN_GRACE = 5.0

    def __init__(
        self,
        coach: Coach,
        bot: Bot,
        pacer: Pacer | None = None,
        database: DatabaseWork | None = None,
    ):
        self.coach = coach
        self.bot = bot
        self.pacer = pacer or Pacer()
        # A thread of its own: an acknowledgement never waits behind people's turns, so the
        # window between Telegram's answer and the row's deletion stays one transaction long.
        self.db = database or DatabaseWork(1)
        self._own_db = database is None
        self.outbox = coach.outbox(CHANNEL)
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}  # address → its delivery
        # deliveries that ended: (address, row id, whether it is done with: deleted, else kept
        # and let go of, so that it is taken again)
        self._ended: list[tuple[str, int, bool]] = []
        # Rows taken for a chat in flight with another row (the one in flight was deleted
        # meanwhile, e.g. the person forgotten, and a new one written): no task has them.
        self._not_started: list[int] = []
        self._calling: set[str] = set()  # chats whose delivery waits for Telegram's answer
        self._before: dict[str, asyncio.Task[Any]] = {}  # address → an edit that goes first
        self._stopping = False
        rate = self.pacer.rate
        # As many calls at once as the rate needs at the round trip measured (at 200 a second
        # and 30 ms, seven; sized for 30 a second that would be two, and the rate out of reach).
        self.calls = CallLimit() if rate is None else CallLimit(rate)
        self.most_in_flight = self.BATCH if rate is None else max(1, math.ceil(rate * self.AHEAD))
        self.fatal: FatalTelegramError | None = None
        self.sent_count = 0

    def wake(self) -> None:
        self._wake.set()

    def busy(self, address: str) -> bool:
        """Something for this chat is on its way (or its row not yet deleted)."""
        return address in self._in_flight or address in self._before

    def first_do(self, address: str, task: asyncio.Task[Any]) -> None:
        """Let this chat's next message wait for `task` (the edit after a button press)."""
        self._before[address] = task
        task.add_done_callback(
            lambda t: self._before.get(address) is t and self._before.pop(address, None)
        )

    async def run(self) -> None:
        try:
            await self.db.run(self.outbox.open)
            while not self._stopping:
                self._wake.clear()
                ended, self._ended = self._ended, []
                not_started, self._not_started = self._not_started, []
                room = max(0, self.most_in_flight - len(self._in_flight) + len(ended))
                busy: list[str] = []
                if not self.outbox.lease:  # no claim leaves out the chats in flight: by name
                    ending = {a for a, _, _ in ended}
                    busy = [a for a in self._in_flight if a not in ending]
                try:
                    rows = await self.db.run(
                        self._look, ended, not_started, min(self.BATCH, room), busy
                    )
                except Exception as error:  # the database is away: keep what we know, wait
                    self._ended = ended + self._ended
                    self._not_started = not_started + self._not_started
                    log.warning("cannot read the outbox (%s); trying again", type(error).__name__)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.IDLE)
                    continue
                for address, _, _ in ended:
                    self._in_flight.pop(address, None)
                for row in rows:
                    flying = self._in_flight.get(row.address)
                    if flying is not None:
                        # Taken again under a new claim while its delivery under the lapsed one
                        # is still under way (that delivery sends nothing now, `holds`): it
                        # stays held, so no one else is offered it, and when the delivery ends
                        # it is let go of and taken again. No second task for the chat.
                        if flying.get_name() != f"send-{row.id}":
                            self._not_started.append(row.id)
                        continue
                    self._in_flight[row.address] = asyncio.create_task(
                        self._deliver(row), name=f"send-{row.id}"
                    )
                if len(rows) == self.BATCH and len(self._in_flight) < self.most_in_flight:
                    self._wake.set()  # more may be ready, and there is room: look again at once
                if self.fatal is not None:
                    raise self.fatal
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.IDLE)
        finally:
            await self._finish_in_flight()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _finish_in_flight(self) -> None:
        """Deliveries waiting (for their turn, or to try again) stop now; those talking to
        Telegram get a few seconds to hear the answer. What was sent is deleted; the outbox
        keeps the rest for next time."""
        for address, task in self._in_flight.items():
            if address not in self._calling:
                task.cancel()
        tasks = list(self._in_flight.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.SHUTDOWN_GRACE)
            for task in pending:  # not awaited: see TelegramChannel._unless_stopped
                task.cancel()
        sent = [i for _, i, done in self._ended if done]
        if sent:
            try:
                await self.db.run(self._look, self._ended, [], 0, [])
            except Exception as error:
                log.warning(
                    "%d sent message(s) not deleted (%s); they may go out again",
                    len(sent),
                    type(error).__name__,
                )
        self._ended.clear()
        self._in_flight.clear()
        try:
            await self.db.run(self.outbox.close)
        except Exception as error:  # what it held is free once its claim runs out
            log.warning("outbox not released (%s)", type(error).__name__)
        await asyncio.to_thread(self.pacer.close)
        if self._own_db:
            await asyncio.to_thread(self.db.close)

    def _look(
        self,
        ended: list[tuple[str, int, bool]],
        not_started: list[int],
        limit: int,
        busy: list[str],
    ) -> list[Outgoing]:
        """Acknowledge what was delivered and let go of what was kept (and of rows no delivery
        has), then take what is ready now: one transaction. The chats in flight are left out by
        the claim that holds their rows (or, without a lease, `busy`)."""
        return self.outbox.take(
            limit,
            busy,
            sent=[i for _, i, done in ended if done],
            release=[*not_started, *(i for _, i, done in ended if not done)],
            skip_held=True,
        )

    def _retry_later(self, outgoing_id: int, delay: float) -> bool:
        """Record the failed attempt; False when the row is gone (the person was forgotten)."""
        at = self.coach.clock.now() + timedelta(seconds=delay)
        return self.outbox.retry_later(outgoing_id, at)

    async def _deliver(self, row: Outgoing) -> None:
        delete = False
        try:
            before = self._before.get(row.address)
            if before is not None:
                await asyncio.wait([before], timeout=10)
            delete = await self._send(row)
        except asyncio.CancelledError:
            raise
        except FatalTelegramError as error:
            self.fatal = error
        except Exception as error:  # a bug here must not stop everyone else's messages
            log.error(
                "sending to chat %s failed unexpectedly (%s); will try again",
                row.address,
                type(error).__name__,
            )
            with contextlib.suppress(Exception):
                await self.db.run(self._retry_later, row.id, backoff(row.attempts + 1))
        finally:
            self._ended.append((row.address, row.id, delete))
            self._wake.set()

    async def _send(self, row: Outgoing) -> bool:
        """Deliver one row; True when it is done with (sent, or dropped as undeliverable)."""
        chat_id = int(row.address)
        try:
            parts = parts_of(self.bot, chat_id, row.item)
        except (KeyError, TypeError, ValueError) as error:
            log.error(
                "outbox row %s for chat %s cannot be sent (%s); dropped",
                row.id,
                row.address,
                type(error).__name__,
            )
            return True
        key = kind_of(row.item)
        attempts = row.attempts
        done = 0
        while done < len(parts):
            part = parts[done]
            try:
                await self.pacer.turn(
                    chat_id,
                    functools.partial(self._typing, chat_id) if part.long else None,
                    overall=False,
                )
                self._calling.add(row.address)
                async with self.calls.call() as timing:
                    # The overall moment with a place in hand, so that slow calls do not let
                    # moments pass and then send their messages together (above the rate).
                    await self.pacer.overall_turn()
                    timing.begin()
                    if not self.outbox.holds(row.claim):
                        # Others may think the claim it was taken under dead and send this row:
                        # leave it to them (or to this process's next look, under a new claim).
                        log.warning("outbox claim lapsed; chat %s not sent to now", row.address)
                        return False
                    started = time.monotonic()
                    await part.call()
                    metrics.SEND_SECONDS.observe(time.monotonic() - started)
            except RetryAfter as error:
                self.pacer.flood(chat_id, retry_after_seconds(error))
                continue
            except Forbidden:
                await self.db.run(self.outbox.unreachable, row.address)
                return False  # their waiting messages are gone with it
            except BadRequest as error:
                # Our bug, not Telegram's trouble. Its description may quote the text: not logged.
                log.error(
                    "Telegram refused %s '%s' (part %d of %d) for chat %s: %s; dropped",
                    part.what,
                    key,
                    done + 1,
                    len(parts),
                    row.address,
                    type(error).__name__,
                )
                return True
            except ChatMigrated as error:
                log.error(
                    "chat %s moved (%s); message '%s' dropped",
                    row.address,
                    type(error).__name__,
                    key,
                )
                return True
            except (InvalidToken, EndPointNotFound) as error:
                raise FatalTelegramError("Telegram refuses the bot token") from error
            except TelegramError as error:  # network trouble, time-outs, 5xx, conflicts
                metrics.SEND_FAILURES.inc()
                self._calling.discard(row.address)
                attempts += 1
                delay = backoff(attempts)
                log.warning(
                    "sending to chat %s failed (%s, attempt %d); again in %.0fs",
                    row.address,
                    type(error).__name__,
                    attempts,
                    delay,
                )
                if not await self.db.run(self._retry_later, row.id, delay):
                    return False  # deleted meanwhile
                await asyncio.sleep(delay)
                continue
            finally:
                self._calling.discard(row.address)
            done += 1
        self.sent_count += 1
        return True

    async def _typing(self, chat_id: int) -> None:
        """Best effort, except that a blocked chat is recognised at once."""
        try:
            async with self.calls.call():
                await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except Forbidden:
            raise
        except TelegramError:
            pass  # shows up again, and is handled, on the send itself
