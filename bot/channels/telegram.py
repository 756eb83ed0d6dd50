"""Telegram: python-telegram-bot's `Application` talks to the Bot API; this module decides when.

Coming in, nothing is lost. We poll `getUpdates` ourselves instead of using PTB's Updater, which
confirms a batch on its next poll before the handlers are done: here the offset moves past an
update only after `Coach.handle` committed it, and the coach records each update id, so an
update that Telegram delivers again after a crash is handled once. Each chat has a queue: one
person's updates are handled one at a time, in order; different people at once, and nobody
waits for a slow batch. In webhook mode Telegram gets its `200 OK` only after the commit, and
sends the update again otherwise.

Going out, nothing is lost either: the turn's replies sit in the outbox, and
`telegram_send.OutboxSender` delivers them (paced, retried, in order per chat). After a button
press the question is edited to show the choice, and the spinner always stops.

Logs say what happened (update ids, chat ids, counts, error classes), never what a person wrote:
no update is printed, and no exception text, which may quote it.

An edited message updates the answer it gave, if it was the latest one. Group chats are not
served: added to one, the coach says so in one line, then stays silent. An update the library
cannot read is logged by id and kind, confirmed and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
import signal
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application

from bot import metrics
from bot.channels.keyed_locks import KeyedLocks
from bot.channels.telegram_send import (
    CHANNEL,
    MESSAGE_LIMIT,
    NO_PREVIEW,
    DatabaseWork,
    FatalTelegramError,
    OutboxSender,
    Pacer,
    backoff,
    escape,
    retry_after_seconds,
    visible_length,
)
from bot.coach import Coach, Handled
from bot.scheduler import CheckinScheduler
from bot.web import Limits, Request, Response, WebServer, database_ok
from flows import defaults
from flows.engine import ALREADY_CHOSEN
from flows.events import (
    ChoiceMade,
    Event,
    MediaReceived,
    Started,
    TextEdited,
    TextReceived,
    parse_command,
)
from flows.texts import LANGUAGES, SOURCE_LANGUAGE

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
POLL_TIMEOUT = 50  # seconds a getUpdates waits for news (Telegram's maximum)
POLL_READ_MARGIN = 10  # seconds more than that before we call the connection lost
BUSY_POLL_INTERVAL = 0.1  # seconds between polls while updates are under way
# The text the engine answers a button of an earlier question with (flows/engine.py).
STALE_BUTTON = "common:stale-button"
GROUP_CHAT = "common:group-chat"  # the one line in a group chat: the coach works in private
CHOSEN = "\n\n→ {label}"  # shown under a question once its button was pressed
HANDLE_ATTEMPTS = 3  # an update that fails this often because of a bug is given up on
SECRET_HEADER = "x-telegram-bot-api-secret-token"
MENU_TZ = ZoneInfo(defaults.TIMEZONE)  # the menu texts name no time; a zone is required


class _Stopped(Exception):
    """The channel stopped while waiting for Telegram."""


def _forget(task: asyncio.Future[Any]) -> None:
    """An abandoned call's outcome is of no interest (and not worth a warning)."""
    if not task.cancelled():
        task.exception()


# --- from a Telegram update to an engine event ---------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """What one update means for the coach."""

    address: str
    event: Event | None = None
    callback: CallbackQuery | None = None  # the button press, answered after the turn
    blocked: bool = False  # the person blocked the bot (my_chat_member → kicked)
    group: str | None = None  # added to a group chat: the language of its one line


MEDIA = (  # message attribute → MediaReceived kind
    ("sticker", "sticker"),
    ("photo", "photo"),
    ("voice", "voice"),
    ("audio", "audio"),  # a sound file is not a voice message
    ("video_note", "video"),
    ("video", "video"),
    ("animation", "video"),
    ("location", "location"),
    ("venue", "location"),
    ("document", "document"),
    ("contact", "other"),
    ("poll", "other"),
    ("dice", "other"),
    ("story", "other"),
)


def incoming(update: Update) -> Incoming | None:
    """The engine event an update stands for; None for what the coach does not read (group
    chats, service messages …)."""
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat_id = message.chat.id if message is not None else query.from_user.id
        if message is not None and message.chat.type != ChatType.PRIVATE:
            return None
        if not query.data:
            return Incoming(str(chat_id), None, callback=query)
        return Incoming(str(chat_id), ChoiceMade(token=query.data), callback=query)
    if update.my_chat_member is not None:
        member = update.my_chat_member
        if (
            member.chat.type == ChatType.PRIVATE
            and member.new_chat_member.status == ChatMemberStatus.BANNED
        ):
            return Incoming(str(member.chat.id), blocked=True)
        if member.chat.type != ChatType.PRIVATE and member.new_chat_member.status in (
            ChatMemberStatus.MEMBER,
            ChatMemberStatus.ADMINISTRATOR,
        ):  # added to a group: one line that the coach works in a private chat, then silence
            code = (member.from_user.language_code or "") if member.from_user else ""
            lang = code.split("-")[0].lower()
            return Incoming(str(member.chat.id), group=lang if lang in LANGUAGES else "nl")
        return None
    edited = update.edited_message
    if edited is not None:
        if edited.chat.type != ChatType.PRIVATE or edited.text is None:
            return None
        # The engine updates the answer if this message was the latest one written.
        event: Event = TextEdited(text=edited.text, ref=str(edited.message_id))
        return Incoming(str(edited.chat.id), event)
    message = update.message
    if message is None or message.chat.type != ChatType.PRIVATE:
        return None  # groups are not served
    found = _event_of(message)
    return Incoming(str(message.chat.id), found) if found is not None else None


def _event_of(message: Message) -> Event | None:
    if message.text is not None:
        text = message.text
        command = parse_command(text) if text.startswith("/") else None
        if command is not None and command.name == "start":
            language = message.from_user.language_code if message.from_user else None
            return Started(language=language, flow=command.argument or None)
        return command or _written(message, text)
    if message.caption:  # a photo (or file) with words: the words are what the person wrote
        return _written(message, message.caption)
    for attribute, kind in MEDIA:
        if getattr(message, attribute, None):
            return MediaReceived(kind=kind)
    if message.effective_attachment is not None:
        return MediaReceived(kind="other")
    return None  # a service message: someone joined, a pinned message …


def _written(message: Message, text: str) -> TextReceived:
    """Words the person wrote, with the message's id (for edits) and when they sent it (a
    second message shortly after an answer belongs to it)."""
    return TextReceived(text=text, ref=str(message.message_id), at=message.date)


def chosen_label(query: CallbackQuery) -> str | None:
    """The label of the button that was pressed, read from the message that showed it."""
    message = query.message
    markup = getattr(message, "reply_markup", None)
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


# --- the command menu ----------------------------------------------------------------------------


def command_menus(library: Any) -> dict[str, list[BotCommand]]:
    """`locales/<lang>/commands.yaml`: per command, how it is spelled in that language and
    what the menu says about it; in the order of the Dutch file."""
    texts = library.texts
    names = [
        key.removeprefix("commands:").removesuffix(".command")
        for key in texts.catalogs.get(SOURCE_LANGUAGE, {})
        if key.startswith("commands:") and key.endswith(".command")
    ]
    menus: dict[str, list[BotCommand]] = {}
    for lang in LANGUAGES:
        commands = []
        for name in names:
            command_key = f"commands:{name}.command"
            description_key = f"commands:{name}.description"
            if not (texts.has(lang, command_key) and texts.has(lang, description_key)):
                continue
            command = texts.plain(lang, command_key, MENU_TZ).strip().lstrip("/")
            description = texts.plain(lang, description_key, MENU_TZ).strip()
            commands.append(BotCommand(command, description))
        menus[lang] = commands
    return menus


# --- the channel ---------------------------------------------------------------------------------


class TelegramChannel:
    """Runs the Telegram channel until `stop()`: updates in (long polling or a webhook), the
    outbox out, check-ins on time, and `/healthz`."""

    def __init__(
        self,
        coach: Coach,
        application: Application,
        *,
        webhook_url: str | None = None,
        webhook_port: int | None = None,
        webhook_secret: str | None = None,
        webhook_host: str = "0.0.0.0",
        health_port: int | None = None,
        health_host: str = "0.0.0.0",
        poll_timeout: int = POLL_TIMEOUT,
        pacer: Pacer | None = None,
        http_limits: Limits | None = None,
    ):
        self.coach = coach
        self.application = application
        self.bot = application.bot
        self.webhook_url = webhook_url
        self.webhook_port = webhook_port
        self.webhook_secret = webhook_secret
        self.webhook_host = webhook_host
        self.health_port = health_port
        self.health_host = health_host
        self.http_limits = http_limits
        self.poll_timeout = poll_timeout
        self.db = DatabaseWork(coach.concurrency)
        self.sender = OutboxSender(coach, self.bot, pacer)
        self.scheduler = CheckinScheduler(coach, on_delivered=self._delivered)
        self.ready = asyncio.Event()  # set once updates are being received
        self.last_poll: datetime | None = None  # the last getUpdates that answered
        self.last_update: datetime | None = None
        self._seen = 0  # the highest update id taken in
        self._open: set[int] = set()  # taken in, not yet committed
        self._queues: dict[str, deque[tuple[int, Incoming]]] = {}  # chat → its updates
        self._workers: dict[str, asyncio.Task[None]] = {}  # chat → the task working through them
        self._progress = asyncio.Event()  # an update was committed
        self._rearming: asyncio.Task[None] | None = None
        self.webhook_server: WebServer | None = None
        self.health_server: WebServer | None = None
        self._stop = asyncio.Event()
        self._failures: dict[int, int] = defaultdict(int)  # update id → failed attempts
        # One person's updates one at a time, also when Telegram posts them over several
        # connections at once.
        self._chat_locks = KeyedLocks()
        self._background: set[asyncio.Task[Any]] = set()
        self.exit_code = 0

    def stop(self) -> None:
        self._stop.set()

    # --- running ---------------------------------------------------------------------------------

    async def run(self) -> int:
        """Serve until stopped; the exit code (1 when Telegram refuses the token)."""
        tasks: list[asyncio.Task[Any]] = []
        quiet_libraries()
        try:
            await self._start_application()
            if self._stop.is_set():
                return self.exit_code
            await self._start_http()
            self.scheduler.start()
            tasks.append(asyncio.create_task(self.sender.run(), name="telegram-sender"))
            if self.webhook_url:
                await self._set_webhook()
            else:
                await self._retrying("deleteWebhook", self.bot.delete_webhook)
                tasks.append(asyncio.create_task(self._poll(), name="telegram-poll"))
            self._spawn(self._set_commands())
            self.ready.set()
            log.info("telegram channel running (%s)", "webhook" if self.webhook_url else "polling")
            stop = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            for task in done:
                if task is not stop and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        except FatalTelegramError as error:
            log.critical("%s; stopping", error)
            self.exit_code = 1
        except Exception as error:  # a bug: say which, never with its text
            log.critical("telegram channel failed (%s); stopping", type(error).__name__)
            self.exit_code = 1
        finally:
            await self._shutdown(tasks)
        return self.exit_code

    async def _start_application(self) -> None:
        """`getMe` until Telegram answers; a refused token ends the run."""
        attempt = 0
        while not self._stop.is_set():
            try:
                await self.application.initialize()
                return
            except InvalidToken as error:
                raise FatalTelegramError("Telegram refuses the bot token") from error
            except TelegramError as error:
                attempt += 1
                delay = backoff(attempt)
                log.warning(
                    "Telegram not reachable at start (%s); again in %.0fs",
                    type(error).__name__,
                    delay,
                )
                await self._sleep(delay)

    async def _start_http(self) -> None:
        ports: dict[int, str] = {}
        if self.webhook_url and self.webhook_port is not None:
            ports[self.webhook_port] = self.webhook_host
        if self.health_port is not None:
            ports.setdefault(self.health_port, self.health_host)
        for port, host in ports.items():
            # /healthz and /metrics only on the health port: the webhook's faces the internet.
            handler = self._http if port == self.health_port else self._webhook_only
            server = WebServer(handler, host, port, self.http_limits)
            await server.start()
            if port == self.webhook_port and self.webhook_url:
                self.webhook_server = server
            if port == self.health_port:
                self.health_server = server
        if self.health_server is not None:
            log.info("health check on port %d", self.health_server.port)

    async def _shutdown(self, tasks: list[asyncio.Task[Any]]) -> None:
        await self.scheduler.stop()
        polling = [task for task in tasks if task.get_name() == "telegram-poll"]
        if polling:  # it sees the stop and returns; cancelled only if it does not
            _, late = await asyncio.wait(polling, timeout=2)
            for task in late:
                task.cancel()
        if self._workers:  # a turn under way finishes; what is queued comes again later
            await asyncio.wait(list(self._workers.values()), timeout=30)
        await self.sender.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._background:
            await asyncio.wait(list(self._background), timeout=5)
            for task in self._background:
                task.cancel()
        for server in {self.webhook_server, self.health_server} - {None}:
            await server.stop()  # type: ignore[union-attr]
        with contextlib.suppress(Exception):
            if self.application._initialized:  # noqa: SLF001 - PTB has no public flag
                await self.application.shutdown()
        await asyncio.to_thread(self.db.close)
        log.info("telegram channel stopped")

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _retrying(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        """A start-up call, tried until it works (or the token is refused)."""
        attempt = 0
        while not self._stop.is_set():
            try:
                return await call(*args, **kwargs)
            except InvalidToken as error:
                raise FatalTelegramError("Telegram refuses the bot token") from error
            except RetryAfter as error:
                await self._sleep(retry_after_seconds(error))
            except BadRequest:
                raise  # asking again will not help
            except TelegramError as error:
                attempt += 1
                delay = backoff(attempt)
                log.warning("%s failed (%s); again in %.0fs", what, type(error).__name__, delay)
                await self._sleep(delay)
        return None

    async def _set_commands(self) -> None:
        """The command menu in Dutch (everyone) and English (people whose Telegram is English)."""
        try:
            menus = command_menus(self.coach.library)
        except Exception as error:
            log.error("command menu not set: the texts cannot be read (%s)", type(error).__name__)
            return
        for lang, commands in menus.items():
            if not commands:
                continue
            language = None if lang == SOURCE_LANGUAGE else lang
            try:
                await self._retrying(
                    f"setMyCommands {lang}",
                    self.bot.set_my_commands,
                    commands,
                    language_code=language,
                )
            except FatalTelegramError:
                raise
            except BadRequest as error:
                log.error("Telegram refused the %s command menu (%s)", lang, type(error).__name__)

    async def _delivered(self) -> None:
        self.sender.wake()

    def _rearm_soon(self) -> None:
        """Turns may have planned check-ins: set the alarm clock again, once for a burst."""
        if self._rearming is None or self._rearming.done():
            self._rearming = self._spawn(self._rearm())

    async def _rearm(self) -> None:
        await self._sleep(0.5)
        if self._stop.is_set():
            return
        try:
            await self.scheduler.rearm()
        except Exception as error:  # the safety net looks every minute anyway
            log.warning("check-in alarm not set (%s)", type(error).__name__)

    # --- long polling ----------------------------------------------------------------------------

    async def _poll(self) -> None:
        """Fetch updates and hand each to its chat's queue, without waiting for a batch to be
        done: the offset only ever moves past updates that are committed, so Telegram keeps
        handing back those under way, and they are recognised by id and left alone."""
        attempt = 0
        while not self._stop.is_set():
            if self._open:
                # Telegram hands back what is under way with every poll: wait until something
                # was committed, and poll at most a few times a second meanwhile.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._progress.wait(), 1.0)
                await self._sleep(BUSY_POLL_INTERVAL)
            self._progress.clear()
            # The first poll returns at once, so health shows a working connection early.
            timeout = self.poll_timeout if self.last_poll and not self._open else 0
            try:
                # Raw, so that only updates not seen before are turned into objects.
                raw = await self._unless_stopped(
                    self.bot.do_api_request(
                        "getUpdates",
                        api_kwargs={
                            "offset": self._offset(),
                            "timeout": timeout,
                            "allowed_updates": list(ALLOWED_UPDATES),
                        },
                        read_timeout=timeout + POLL_READ_MARGIN,
                    )
                )
            except _Stopped:
                return
            except (InvalidToken, EndPointNotFound) as error:
                raise FatalTelegramError("Telegram refuses the bot token") from error
            except RetryAfter as error:
                await self._sleep(retry_after_seconds(error))
                continue
            except Conflict:
                attempt += 1
                log.warning("another process polls with this token, or a webhook is set; waiting")
                await self._sleep(backoff(attempt))
                continue
            except TelegramError as error:
                attempt += 1
                delay = backoff(attempt)
                log.warning("getUpdates failed (%s); again in %.0fs", type(error).__name__, delay)
                await self._sleep(delay)
                continue
            attempt = 0
            self.last_poll = datetime.now(UTC)
            for item in raw or ():
                if item.get("update_id", 0) > self._seen:
                    update = self._readable(item)
                    if update is not None:
                        self._take([update])

    def _readable(self, item: dict[str, Any]) -> Update | None:
        """The update as python-telegram-bot reads it. One it cannot read (a poll in an older
        shape …) is logged by id and kind, confirmed and skipped: otherwise it would stop the
        process again on every restart, for everyone."""
        try:
            return Update.de_json(item, self.bot)
        except Exception as error:
            update_id = item.get("update_id", 0)
            kinds = ",".join(k for k in item if k != "update_id") or "-"
            log.error(
                "update %s (%s) cannot be read (%s); confirmed and skipped",
                update_id,
                kinds,
                type(error).__name__,
            )
            if isinstance(update_id, int):
                self._seen = max(self._seen, update_id)
            return None

    async def _unless_stopped(self, call: Any) -> Any:
        """Await a Bot API call, but give up on it when the channel stops. (Cancelling it is
        not enough: after anyio has raced connection attempts in a task, a later cancellation
        of that task can wait until the request is done, up to a whole long poll.)"""
        request = asyncio.ensure_future(call)
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait([request, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            abandoned = not request.done()
            if abandoned:  # it ends when the HTTP client closes, at the latest
                request.cancel()
                request.add_done_callback(_forget)
        if abandoned:
            raise _Stopped
        return request.result()

    def _offset(self) -> int:
        """Where Telegram should start: the first update not yet committed."""
        return min(self._open) if self._open else self._seen + 1 if self._seen else 0

    def _take(self, updates: Sequence[Update]) -> list[int]:
        """Queue the updates not seen before, each with its chat; their ids."""
        taken = []
        for update in updates:
            if update.update_id <= self._seen:
                continue  # under way, or done but not yet confirmed to Telegram
            self._seen = update.update_id
            taken.append(update.update_id)
            try:
                meaning = incoming(update)
            except Exception as error:  # an update we cannot read is not worth stopping for
                log.error(
                    "update %s not understood (%s); skipped", update.update_id, type(error).__name__
                )
                meaning = None
            if meaning is None:
                continue
            self._open.add(update.update_id)
            queue = self._queues.setdefault(meaning.address, deque())
            queue.append((update.update_id, meaning))
            if meaning.address not in self._workers:
                self._workers[meaning.address] = asyncio.create_task(
                    self._work_through(meaning.address), name=f"chat-{meaning.address}"
                )
        return taken

    async def _work_through(self, address: str) -> None:
        """One person's updates, one at a time, in order."""
        queue = self._queues[address]
        try:
            while queue and not self._stop.is_set():
                update_id, meaning = queue[0]
                if not await self._handle_one(update_id, meaning):
                    await self._sleep(min(30.0, backoff(self._failures[update_id])))
                    continue  # the same update again
                queue.popleft()
                self._open.discard(update_id)
                self._progress.set()
        finally:
            # Anything left is not confirmed to Telegram: it comes again after a restart.
            del self._workers[address]
            if not queue:
                del self._queues[address]

    async def handle_batch(self, updates: Sequence[Update]) -> None:
        """Handle these updates as if Telegram had just delivered them, and wait until done
        (for tests: a delivery repeated after a crash)."""
        self._seen = min([self._seen, *(u.update_id - 1 for u in updates)])
        taken = set(self._take(updates))
        while taken & self._open:
            self._progress.clear()
            await self._progress.wait()

    async def _handle_one(self, update_id: int, meaning: Incoming) -> bool:
        """Commit one update; False when it has to be tried again."""
        try:
            if meaning.blocked:
                await self.db.run(self.sender.outbox.unreachable, meaning.address)
                return True
            if meaning.group is not None:
                await self.db.run(
                    functools.partial(
                        self.coach.notice,
                        CHANNEL,
                        meaning.address,
                        GROUP_CHAT,
                        meaning.group,
                        update_id=update_id,
                    )
                )
                self.sender.wake()
                return True
            handled = None
            if meaning.event is not None:
                started = time.monotonic()
                handled = await self.db.run(
                    functools.partial(
                        self.coach.handle,
                        CHANNEL,
                        meaning.address,
                        meaning.event,
                        update_id=update_id,
                    )
                )
                metrics.TURN_SECONDS.observe(time.monotonic() - started)
                self.last_update = datetime.now(UTC)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            log.warning(
                "update %s of chat %s not handled, the database is unavailable (%s); "
                "will try again",
                update_id,
                meaning.address,
                type(error).__name__,
            )
            self._failures[update_id] += 1
            return False
        except Exception as error:
            self._failures[update_id] += 1
            if self._failures[update_id] < HANDLE_ATTEMPTS:
                log.error(
                    "update %s of chat %s failed (%s); will try again",
                    update_id,
                    meaning.address,
                    type(error).__name__,
                )
                return False
            log.error(
                "update %s of chat %s failed %d times (%s); skipped",
                update_id,
                meaning.address,
                HANDLE_ATTEMPTS,
                type(error).__name__,
            )
            self._failures.pop(update_id, None)
            return True
        self._failures.pop(update_id, None)
        self.sender.wake()
        self._rearm_soon()
        if meaning.callback is not None:
            self._after_press(meaning.address, meaning.callback, handled)
        return True

    # --- buttons ---------------------------------------------------------------------------------

    def _after_press(self, address: str, query: CallbackQuery, handled: Handled | None) -> None:
        """Stop the spinner; mark the question as answered (or, for a button of an earlier
        question, just take its buttons away: the engine says the rest)."""
        self._spawn(self._answer_query(query))
        message = query.message
        if handled is None or not handled.new or not isinstance(message, Message):
            return
        # An old button, or a second tap of one already handled: the question shows its choice.
        stale = STALE_BUTTON in handled.replies or ALREADY_CHOSEN in handled.replies
        label = None if stale else chosen_label(query)
        edit = self._spawn(self._show_choice(int(address), message, label))
        self.sender.first_do(address, edit)

    async def _answer_query(self, query: CallbackQuery) -> None:
        for attempt in range(3):
            try:
                await query.answer()
                return
            except RetryAfter as error:
                await self._sleep(retry_after_seconds(error))
            except (BadRequest, Forbidden):
                return  # too old, or already answered before a restart
            except TelegramError:
                await self._sleep(backoff(attempt + 1))

    async def _show_choice(self, chat_id: int, message: Message, label: str | None) -> None:
        """Edit the question: its buttons go, and the choice shows under it."""
        text = message.text_html if message.text is not None else None
        for attempt in range(4):
            await self.sender.pacer.turn(chat_id)
            try:
                async with self.sender.calls.call():
                    await self._edit(chat_id, message, text, label)
                return
            except RetryAfter as error:
                self.sender.pacer.flood(chat_id, retry_after_seconds(error))
            except (BadRequest, Forbidden):
                return  # already edited, too old, or blocked: nothing to fix here
            except TelegramError:
                await self._sleep(backoff(attempt + 1))

    async def _edit(
        self, chat_id: int, message: Message, text: str | None, label: str | None
    ) -> None:
        if (
            label is not None
            and text is not None
            and visible_length(text) + len(label) + 4 <= MESSAGE_LIMIT
        ):
            await self.bot.edit_message_text(
                text + CHOSEN.format(label=escape(label)),
                chat_id=chat_id,
                message_id=message.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=None,
                link_preview_options=NO_PREVIEW,
            )
        else:
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message.message_id, reply_markup=None
            )

    # --- webhook ---------------------------------------------------------------------------------

    async def _set_webhook(self) -> None:
        await self._retrying(
            "setWebhook",
            self.bot.set_webhook,
            self.webhook_url,
            allowed_updates=ALLOWED_UPDATES,
            secret_token=self.webhook_secret,
        )

    async def _webhook_only(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._webhook(request)
        return Response(404, b"not found\n")

    async def _http(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/healthz":
            return await self._health()
        if request.method == "GET" and request.path == "/metrics":
            # In a thread of its own: a scrape does not take a turn's place in the queue.
            text = await asyncio.to_thread(
                metrics.exposition, self.coach.store.engine, self.coach.clock.now
            )
            return Response(200, text, metrics.CONTENT_TYPE)
        if self.webhook_url and request.method == "POST":
            return await self._webhook(request)
        return Response(404, b"not found\n")

    async def _webhook(self, request: Request) -> Response:
        secret = request.headers.get(SECRET_HEADER, "")
        if not self.webhook_secret or not hmac.compare_digest(
            secret.encode(), self.webhook_secret.encode()
        ):
            return Response(403, b"forbidden\n")
        try:
            item = json.loads(request.body)
        except ValueError:
            return Response(400, b"not an update\n")
        if not isinstance(item, dict) or not isinstance(item.get("update_id"), int):
            return Response(400, b"not an update\n")
        update = self._readable(item)
        if update is None:  # logged; confirmed, so Telegram does not send it again and again
            return Response(200, b"ok\n")
        meaning = incoming(update)
        if meaning is None:
            return Response(200, b"ok\n")
        async with self._chat_locks.hold(meaning.address):
            ok = await self._handle_one(update.update_id, meaning)
        if ok:
            return Response(200, b"ok\n")
        return Response(500, b"try again\n")  # Telegram delivers it again later

    # --- health ----------------------------------------------------------------------------------

    async def _health(self) -> Response:
        database = await database_ok(self.coach.store.ping)
        scheduler = self.scheduler.running
        now = datetime.now(UTC)
        report: dict[str, Any] = {
            "database": "ok" if database else "unreachable",
            "scheduler": "running" if scheduler else "stopped",
            "mode": "webhook" if self.webhook_url else "polling",
        }
        healthy = database and scheduler
        if self.webhook_url:
            report["last_update"] = self.last_update.isoformat() if self.last_update else None
        else:
            report["last_poll"] = self.last_poll.isoformat() if self.last_poll else None
            age = (now - self.last_poll).total_seconds() if self.last_poll else None
            report["last_poll_seconds_ago"] = round(age, 1) if age is not None else None
            healthy = healthy and age is not None and age <= 2 * self.poll_timeout + 30
        report["messages_sent"] = self.sender.sent_count  # since this process started
        report["status"] = "ok" if healthy else "unhealthy"
        return Response.json(200 if healthy else 503, report)


# --- the command ---------------------------------------------------------------------------------


def build_application(token: str, base_url: str) -> Application:
    """python-telegram-bot's Application without its Updater: we fetch updates ourselves."""
    return (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .updater(None)
        .connection_pool_size(20)
        .pool_timeout(30)
        .connect_timeout(10)
        .read_timeout(15)
        .write_timeout(15)
        .get_updates_connect_timeout(10)
        .get_updates_read_timeout(15)
        .build()
    )


def quiet_libraries() -> None:
    """PTB logs request parameters (what people wrote) at DEBUG; httpx logs URLs (the token)."""
    for name in ("telegram", "httpcore", "httpx", "hpack"):
        logger = logging.getLogger(name)
        logger.setLevel(
            max(logger.getEffectiveLevel(), logging.INFO if name == "telegram" else logging.WARNING)
        )


def run_telegram(webhook_url: str | None = None, port: int = 8443, host: str = "0.0.0.0") -> int:
    """`kern-coach telegram`: serve until SIGTERM/SIGINT; the exit code."""
    from bot.app import build_coach, configure_logging
    from bot.config import Config

    config = Config.from_environment()
    configure_logging(config.log_level, config.log_format)
    quiet_libraries()
    if not config.telegram_token:
        log.critical("TELEGRAM_BOT_TOKEN is not set")
        return 2
    if webhook_url and not config.telegram_webhook_secret:
        log.critical(
            "webhook mode needs TELEGRAM_WEBHOOK_SECRET (Telegram sends it with every "
            "update, so nobody else can post updates)"
        )
        return 2
    coach = build_coach(config)
    application = build_application(config.telegram_token, config.telegram_api_url)
    channel = TelegramChannel(
        coach,
        application,
        webhook_url=webhook_url,
        webhook_port=port,
        webhook_host=host,
        webhook_secret=config.telegram_webhook_secret,
        health_port=config.health_port,
        pacer=Pacer(config.chat_rate, config.send_rate),
    )

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, channel.stop)
        return await channel.run()

    started = time.monotonic()
    code = asyncio.run(main())
    log.info("ran %.0fs, exit code %d", time.monotonic() - started, code)
    return code
