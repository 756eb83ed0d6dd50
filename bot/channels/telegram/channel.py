"""The Telegram channel: python-telegram-bot's `Application` talks to the Bot API; this module
decides when.

Coming in, nothing is lost. We poll `getUpdates` ourselves instead of using PTB's Updater, which
confirms a batch on its next poll before the handlers are done: here the offset moves past an
update only after `Coach.handle` committed it, and the coach records each update id, so an
update that Telegram delivers again after a crash is handled once. Each chat has a queue: one
person's updates are handled one at a time, in order; different people at once, and nobody
waits for a slow batch. In webhook mode Telegram gets its `200 OK` only after the commit, and
sends the update again otherwise.

Going out, nothing is lost either: the turn's replies sit in the outbox, and
`sending.OutboxSender` delivers them (paced, retried, in order per chat). After a button
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
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from telegram import CallbackQuery, Message, Update
from telegram.constants import ParseMode
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
from bot.channels.telegram.html import MESSAGE_LIMIT, escape, visible_length
from bot.channels.telegram.menu import command_menus
from bot.channels.telegram.pacing import Pacer, retry_after_seconds
from bot.channels.telegram.sending import (
    CHANNEL,
    NO_PREVIEW,
    DatabaseWork,
    FatalTelegramError,
    OutboxSender,
)
from bot.channels.telegram.updates import Incoming, chosen_label, incoming
from bot.coach import Coach, Handled
from bot.health import ChannelHealth, HealthRoutes
from bot.retry import backoff, retrying
from bot.scheduler import CheckinScheduler
from bot.web import Limits, Request, Response, WebServer
from flows.texts import SOURCE_LANGUAGE

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
POLL_TIMEOUT = 50  # seconds a getUpdates waits for news (Telegram's maximum)
POLL_READ_MARGIN = 10  # seconds more than that before we call the connection lost
BUSY_POLL_INTERVAL = 0.1  # seconds between polls while updates are under way
GROUP_CHAT = "common:group-chat"  # the one line in a group chat: the coach works in private
CHOSEN = "\n\n→ {label}"  # shown under a question once its button was pressed
HANDLE_ATTEMPTS = 3  # an update that fails this often because of a bug is given up on
SECRET_HEADER = "x-telegram-bot-api-secret-token"


class _Stopped(Exception):
    """The channel stopped while waiting for Telegram."""


def _forget(task: asyncio.Future[Any]) -> None:
    """An abandoned call's outcome is of no interest (and not worth a warning)."""
    if not task.cancelled():
        task.exception()


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
        self.health = HealthRoutes(coach, lambda: self.scheduler.running, self._link_health)
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
        await self._retrying("getMe at start", self.application.initialize)

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

        def wait(error: Exception, failures: int) -> float:
            if isinstance(error, InvalidToken):
                raise FatalTelegramError("Telegram refuses the bot token") from error
            if isinstance(error, RetryAfter):
                return retry_after_seconds(error)
            if isinstance(error, BadRequest) or not isinstance(error, TelegramError):
                raise error  # asking again will not help
            delay = backoff(failures)
            log.warning("%s failed (%s); again in %.0fs", what, type(error).__name__, delay)
            return delay

        return await retrying(
            functools.partial(call, *args, **kwargs),
            wait,
            sleep=self._sleep,
            stopped=self._stop.is_set,
        )

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
                # Beside the database thread, not on it: see Coach.check_ahead.
                await asyncio.to_thread(self.coach.check_ahead, meaning.event)
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
        if handled is not None and handled.plans_changed:
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
        label = None if handled.stale_choice else chosen_label(query)
        edit = self._spawn(self._show_choice(int(address), message, label))
        self.sender.first_do(address, edit)

    async def _answer_query(self, query: CallbackQuery) -> None:
        def wait(error: Exception, failures: int) -> float | None:
            if isinstance(error, RetryAfter):
                return retry_after_seconds(error)
            if isinstance(error, (BadRequest, Forbidden)):
                return None  # too old, or already answered before a restart
            if isinstance(error, TelegramError):
                return backoff(failures)
            raise error

        await retrying(query.answer, wait, sleep=self._sleep, attempts=3)

    async def _show_choice(self, chat_id: int, message: Message, label: str | None) -> None:
        """Edit the question: its buttons go, and the choice shows under it."""
        text = message.text_html if message.text is not None else None

        async def edit() -> None:
            await self.sender.pacer.turn(chat_id)
            async with self.sender.calls.call():
                await self._edit(chat_id, message, text, label)

        def wait(error: Exception, failures: int) -> float | None:
            if isinstance(error, RetryAfter):  # the pacer makes the next attempt wait
                self.sender.pacer.flood(chat_id, retry_after_seconds(error))
                return 0.0
            if isinstance(error, (BadRequest, Forbidden)):
                return None  # already edited, too old, or blocked: nothing to fix here
            if isinstance(error, TelegramError):
                return backoff(failures)
            raise error

        await retrying(edit, wait, sleep=self._sleep, attempts=4)

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
        answer = await self.health.handle(request)
        if answer is not None:
            return answer
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

    def _link_health(self) -> ChannelHealth:
        """Telegram's part of /healthz: in polling mode, a getUpdates answered lately."""
        report: dict[str, Any] = {"mode": "webhook" if self.webhook_url else "polling"}
        healthy = True
        if self.webhook_url:
            report["last_update"] = self.last_update.isoformat() if self.last_update else None
        else:
            report["last_poll"] = self.last_poll.isoformat() if self.last_poll else None
            age = (datetime.now(UTC) - self.last_poll).total_seconds() if self.last_poll else None
            report["last_poll_seconds_ago"] = round(age, 1) if age is not None else None
            healthy = age is not None and age <= 2 * self.poll_timeout + 30
        report["messages_sent"] = self.sender.sent_count  # since this process started
        return ChannelHealth(healthy, report)


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
