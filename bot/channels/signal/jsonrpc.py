"""A JSON-RPC 2.0 client for a signal-cli daemon, over TCP, one JSON value per line.

The daemon is started as ``signal-cli -a ACCOUNT daemon --tcp 127.0.0.1:7583
--receive-mode=manual``. In manual mode it fetches nothing from Signal until a client calls
``subscribeReceive``; so messages that arrive while the coach is away wait on Signal's side
instead of being acknowledged and dropped. This client therefore subscribes after every
(re)connect, and hands each envelope to one handler, in order, apart from the responses: the
reader never waits for the handler, so a handler may itself call the daemon.

What the client keeps true:

* requests are matched to responses by ``id`` (signal-cli answers each request on its own
  thread, so answers come in any order);
* one ``send`` at a time per recipient, waiting for its answer, in the order they were asked
  for: signal-cli confirmed messages that were sent before the previous one's answer and never
  delivered them (AsamK/signal-cli#1783);
* a heartbeat (``version``) notices a connection that went silent without closing, and the
  client reconnects with capped exponential backoff and jitter, whatever ended the connection;
* failures are named exceptions (``errors``); nothing a person wrote is logged, only methods,
  ids, codes and kinds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.channels.keyed_locks import KeyedLocks
from bot.retry import Backoff

from .errors import (
    ConnectionLost,
    NotConnected,
    RequestTimedOut,
    RpcError,
    SignalCliError,
    error_from_response,
)

log = logging.getLogger(__name__)

DEFAULT_URL = "tcp://127.0.0.1:7583"
# An envelope with a long text and many attachments is well below this; a line longer than it
# means the stream is broken, and the connection is dropped and made again.
LINE_LIMIT = 8 * 1024 * 1024

EnvelopeHandler = Callable[[Mapping[str, Any]], Awaitable[None]]


def parse_url(url: str) -> tuple[str, int]:
    """``tcp://host:port`` (the form of ``SIGNAL_CLI_URL``) as host and port."""
    parts = urlsplit(url)
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise ValueError(f"SIGNAL_CLI_URL must look like {DEFAULT_URL}, not {url!r}")
    return parts.hostname, parts.port


@dataclass(frozen=True)
class TextStyle:
    """A styled span of a message, as signal-cli's ``textStyle`` "start:length:STYLE".

    Signal counts ``start`` and ``length`` in UTF-16 code units, not in Python characters: use
    ``TextStyle.span`` to style a slice of a Python string.
    """

    start: int
    length: int
    style: str  # BOLD, ITALIC, SPOILER, STRIKETHROUGH, MONOSPACE

    @classmethod
    def span(cls, text: str, start: int, end: int, style: str) -> TextStyle:
        """The style for ``text[start:end]``."""
        return cls(_utf16_len(text[:start]), _utf16_len(text[start:end]), style)

    def __str__(self) -> str:
        return f"{self.start}:{self.length}:{self.style}"


@dataclass(frozen=True)
class RecipientResult:
    """What happened to a message for one recipient (signal-cli's SendMessageResult)."""

    uuid: str | None
    number: str | None
    type: str  # SUCCESS, UNREGISTERED_FAILURE, RATE_LIMIT_FAILURE, ...
    retry_after_seconds: int | None = None

    @property
    def ok(self) -> bool:
        return self.type == "SUCCESS"


@dataclass(frozen=True)
class SendResult:
    """A ``send`` signal-cli carried out: Signal's timestamp of the message, and per recipient."""

    timestamp: int
    results: tuple[RecipientResult, ...]

    @classmethod
    def from_json(cls, result: Any) -> SendResult:
        if not isinstance(result, Mapping) or not isinstance(result.get("timestamp"), int):
            raise ValueError("signal-cli answered a send without a timestamp")
        rows = result.get("results")
        parsed = []
        for row in rows if isinstance(rows, list) else []:
            address = row.get("recipientAddress") if isinstance(row, Mapping) else None
            address = address if isinstance(address, Mapping) else {}
            retry_after = row.get("retryAfterSeconds")
            parsed.append(
                RecipientResult(
                    uuid=address.get("uuid"),
                    number=address.get("number"),
                    type=str(row.get("type")),
                    retry_after_seconds=retry_after if isinstance(retry_after, int) else None,
                )
            )
        return cls(result["timestamp"], tuple(parsed))


RECONNECT = Backoff(initial=0.5, maximum=30.0)  # the daemon is near: try again soon


class SignalCliClient:
    """One connection to signal-cli at a time, kept up for as long as the client runs.

    ``on_envelope`` gets every received envelope (the ``envelope`` object of a ``receive``
    notification), one at a time, in the order signal-cli sent them.
    """

    def __init__(
        self,
        url: str,
        on_envelope: EnvelopeHandler,
        *,
        heartbeat_interval: float = 30.0,
        heartbeat_timeout: float = 10.0,
        request_timeout: float = 60.0,
        connect_timeout: float = 10.0,
        backoff: Backoff = RECONNECT,
        drain_timeout: float = 10.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._host, self._port = parse_url(url)
        self._on_envelope = on_envelope
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_timeout = heartbeat_timeout
        self._request_timeout = request_timeout
        self._connect_timeout = connect_timeout
        self._backoff = backoff
        self._drain_timeout = drain_timeout
        self._rand = rand
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._subscription: int | None = None
        self._inbox: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        self._recipient_locks = KeyedLocks()
        self._run_task: asyncio.Task[None] | None = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self._sessions = 0
        self._closing = False

    # --- life cycle -------------------------------------------------------------------------

    async def __aenter__(self) -> SignalCliClient:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def start(self) -> None:
        """Connect and stay connected in the background (returns at once)."""
        if self._run_task is not None:
            raise RuntimeError("SignalCliClient already started")
        self._run_task = asyncio.create_task(self._run(), name="signal-cli connection")
        self._dispatch_task = asyncio.create_task(self._dispatch(), name="signal-cli envelopes")

    async def aclose(self) -> None:
        """Stop receiving, let the handler finish what was received (it may still send), close.

        signal-cli counts an envelope as delivered once it wrote it to us, so none that arrived
        is dropped here: the subscription ends first, then the inbox is drained.
        """
        if self._run_task is None or self._dispatch_task is None:
            return
        self._closing = True  # a reconnect while draining serves calls but does not subscribe
        subscription = self._subscription
        if self.connected and subscription is not None:
            try:
                params = {"subscription": subscription}
                await self._call("unsubscribeReceive", params, self._heartbeat_timeout)
            except SignalCliError as error:
                log.info("unsubscribeReceive failed at shutdown (%s)", _kind(error))
        try:
            async with asyncio.timeout(self._drain_timeout):
                await self._inbox.join()
        except TimeoutError:
            log.warning("%d received envelope(s) not handled at shutdown", self._inbox.qsize())
        for task in (self._run_task, self._dispatch_task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def connected(self) -> bool:
        """Connected and subscribed: envelopes flow and calls can be made."""
        return self._connected.is_set()

    @property
    def subscription(self) -> int | None:
        return self._subscription

    @property
    def sessions(self) -> int:
        """How many times a connection was made and subscribed (1 + reconnects)."""
        return self._sessions

    async def wait_connected(self, timeout: float) -> None:
        """Wait until connected and subscribed; ``TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    # --- calls ------------------------------------------------------------------------------

    async def request(
        self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Call ``method`` and return its result; waits for a connection up to ``timeout``."""
        timeout = self._request_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            raise NotConnected(method) from None
        return await self._call(method, params, timeout)

    async def send(
        self,
        recipient: str,
        message: str,
        *,
        attachments: Iterable[str] = (),
        text_styles: Iterable[TextStyle] = (),
        timeout: float | None = None,
    ) -> SendResult:
        """Send ``message`` to one person (a UUID or a +number), after their earlier sends."""
        params: dict[str, Any] = {"recipient": [recipient], "message": message}
        attachment_list = list(attachments)
        if attachment_list:
            params["attachments"] = attachment_list
        styles = [str(style) for style in text_styles]
        if styles:
            params["textStyle"] = styles
        async with self._recipient_locks.hold(recipient):
            result = await self.request("send", params, timeout=timeout)
        return SendResult.from_json(result)

    async def send_to_group(
        self, group_id: str, message: str, *, timeout: float | None = None
    ) -> SendResult:
        """Send ``message`` to a group (by its base64 id)."""
        params = {"groupId": group_id, "message": message}
        async with self._recipient_locks.hold(group_id):
            result = await self.request("send", params, timeout=timeout)
        return SendResult.from_json(result)

    async def send_typing(
        self, recipient: str, *, stop: bool = False, timeout: float | None = None
    ) -> None:
        """Show (or stop showing) the typing indicator to one person, in turn with their sends."""
        params: dict[str, Any] = {"recipient": [recipient]}
        if stop:
            params["stop"] = True
        async with self._recipient_locks.hold(recipient):
            await self.request("sendTyping", params, timeout=timeout)

    async def version(self, *, timeout: float | None = None) -> str:
        result = await self.request("version", timeout=timeout)
        return str(result.get("version")) if isinstance(result, Mapping) else ""

    async def _call(self, method: str, params: Mapping[str, Any] | None, timeout: float) -> Any:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise NotConnected(method)
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (method, future)
        request: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            request["params"] = dict(params)
        line = json.dumps(request, ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            async with asyncio.timeout(timeout):
                writer.write(line.encode("utf-8"))
                await writer.drain()
                return await future
        except TimeoutError:
            raise RequestTimedOut(method, timeout) from None
        except ConnectionError:
            raise ConnectionLost(method) from None
        finally:
            self._pending.pop(request_id, None)

    # --- the connection ---------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(self._connect_timeout):
                    reader, writer = await asyncio.open_connection(
                        self._host, self._port, limit=LINE_LIMIT
                    )
            except (OSError, TimeoutError) as error:
                delay = self._backoff.delay(attempt, self._rand)
                attempt += 1
                log.info("signal-cli not reachable (%s); again in %.2fs", _kind(error), delay)
                await asyncio.sleep(delay)
                continue
            if await self._session(reader, writer):
                attempt = 0
            delay = self._backoff.delay(attempt, self._rand)
            attempt += 1
            log.info("connection to signal-cli ended; again in %.2fs", delay)
            await asyncio.sleep(delay)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one connection until it ends; True when it got as far as subscribing."""
        self._writer = writer
        reading = asyncio.create_task(self._read(reader), name="signal-cli reader")
        heartbeat: asyncio.Task[None] | None = None
        try:
            if not self._closing:
                try:
                    subscription = await self._call(
                        "subscribeReceive", None, self._heartbeat_timeout
                    )
                except SignalCliError as error:
                    log.warning("subscribeReceive failed (%s)", _kind(error))
                    return False
                self._subscription = subscription if isinstance(subscription, int) else None
                log.info("subscribed to signal-cli (subscription %s)", self._subscription)
            self._sessions += 1
            self._connected.set()
            heartbeat = asyncio.create_task(self._heartbeat(), name="signal-cli heartbeat")
            await asyncio.wait({reading, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
            return True
        finally:
            self._connected.clear()
            self._subscription = None
            self._writer = None
            for task in (heartbeat, reading):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            # abort, not close: close waits to flush, which a half-open peer never lets happen.
            writer.transport.abort()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            for method, future in list(self._pending.values()):
                if not future.done():
                    future.set_exception(ConnectionLost(method))

    async def _heartbeat(self) -> None:
        """Return when the daemon stops answering: a half-open connection never says so."""
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            try:
                await self._call("version", None, self._heartbeat_timeout)
            except RequestTimedOut:
                log.warning(
                    "signal-cli did not answer the heartbeat within %gs; reconnecting",
                    self._heartbeat_timeout,
                )
                return
            except (ConnectionLost, NotConnected):
                return
            except RpcError as error:
                log.debug("heartbeat answered with error %d; the daemon is alive", error.code)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await reader.readline()
            except (ConnectionError, ValueError) as error:
                # ValueError: a line over LINE_LIMIT; the stream cannot be trusted after it.
                log.warning("reading from signal-cli failed (%s)", _kind(error))
                return
            if not line:
                log.info("signal-cli closed the connection")
                return
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("signal-cli sent a line that is not JSON (%d bytes)", len(line))
                continue
            for item in message if isinstance(message, list) else [message]:
                if isinstance(item, dict):
                    self._route(item)

    def _route(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" not in message:
            self._notification(str(message["method"]), message.get("params"))
            return
        request_id = message.get("id")
        entry = self._pending.get(request_id) if isinstance(request_id, int) else None
        if entry is None:
            error = message.get("error")
            if request_id is None and isinstance(error, Mapping):
                log.warning("signal-cli refused a line (error %s)", error.get("code"))
            else:
                log.debug("answer for unknown request id %r", request_id)
            return
        method, future = entry
        if future.done():
            return
        error = message.get("error")
        if isinstance(error, Mapping):
            future.set_exception(error_from_response(method, error))
        else:
            future.set_result(message.get("result"))

    def _notification(self, method: str, params: Any) -> None:
        if method != "receive" or not isinstance(params, Mapping):
            log.debug("notification %s ignored", method)
            return
        # Manual mode wraps the payload: {"subscription": N, "result": {...}}; the default
        # on-start mode sends the payload itself. Both carry {"account", "envelope"}.
        payload = params.get("result") if "subscription" in params else params
        if not isinstance(payload, Mapping):
            return
        problem = payload.get("exception")
        if isinstance(problem, Mapping):
            log.warning("signal-cli could not read an incoming message (%s)", problem.get("type"))
        envelope = payload.get("envelope")
        if isinstance(envelope, Mapping):
            self._inbox.put_nowait(envelope)

    async def _dispatch(self) -> None:
        while True:
            envelope = await self._inbox.get()
            try:
                await self._on_envelope(envelope)
            except Exception as error:
                # The frames say where; the exception's text might quote the message, so not it.
                frames = "".join(traceback.format_tb(error.__traceback__))
                log.error(
                    "envelope handler failed (%s, envelope %s)\n%s",
                    type(error).__name__,
                    envelope.get("timestamp"),
                    frames,
                )
            finally:
                self._inbox.task_done()


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _kind(error: BaseException) -> str:
    """An error's kind and, for signal-cli errors, its code: never its text."""
    if isinstance(error, RpcError):
        return f"{type(error).__name__} {error.code}"
    return type(error).__name__
