"""A fake signal-cli daemon for tests.

``FakeSignalCli`` imitates ``signal-cli -a ACCOUNT daemon --tcp 127.0.0.1:7583
--receive-mode=manual`` on 127.0.0.1, closely enough that a JSON-RPC client written for the real
daemon runs against it unchanged::

    with FakeSignalCli() as fake:
        client = SignalRpcClient(fake.url, ...)           # tcp://127.0.0.1:<port>
        fake.person_writes("hallo", uuid=PERSON)         # a person writes to the coach's account
        [sent] = fake.wait_for_sent(PERSON, 1)           # what the coach sent back
        fake.fail_next_send(PERSON, SendFailure.RATE_LIMIT, retry_after_seconds=3)
        fake.restart()                                   # drop every connection, keep the queue

The shapes follow signal-cli at commit c26e0632 ("Prepare next release", 0.14.7-SNAPSHOT),
read from ``man/signal-cli-jsonrpc.5.adoc`` and these Java sources (no code copied):

* Framing (``jsonrpc/SocketHandler``, ``output/JsonWriterImpl``, ``jsonrpc/JsonRpcReader``): one
  JSON value per line, both ways. Each request is handled on its own (virtual) thread, so responses
  may come back in another order than the requests went out: clients must match them by ``id``,
  which is echoed as sent (string or number). An empty line or unparsable JSON gets a ``-32700``
  error with ``"id": null``; an object without ``method`` or with another ``jsonrpc`` than "2.0"
  gets ``-32600``. A request without ``id`` is run but not answered.
* Responses (``jsonrpc/JsonRpcResponse``): ``{"jsonrpc":"2.0","result":…,"id":…}`` or
  ``{"jsonrpc":"2.0","error":{"code":…,"message":…,"data":…},"id":…}``; a command that writes
  nothing answers ``{}``.
* Error codes (``jsonrpc/SignalJsonRpcCommandHandler``): -1 user error, -3 I/O error, -4
  untrusted identity, -5 rate limit, -6 captcha rejected, -32601 "Method not implemented",
  -32602 invalid params, -32603 internal error. When a command wrote its result before failing,
  the error's ``data`` is ``{"response": <that result>}``.
* Manual receive mode (``jsonrpc/SignalJsonRpcDispatcherHandler``): ``subscribeReceive`` answers
  an integer subscription id from a counter shared by all connections of one daemon process
  (starting at 0); after it, each incoming envelope is a notification
  ``{"method":"receive","params":{"subscription":N,"result":{"account":…,"envelope":…}}}``.
  (The envelope sits under ``params.result``, not directly in ``params``: that bare shape is the
  default ``on-start`` mode.) ``unsubscribeReceive`` takes ``{"subscription": N}`` (or ``[N]``)
  and answers ``{}``, or -1 "Unknown subscription id". A closed connection loses its
  subscriptions. While nobody is subscribed the daemon does not receive at all, so messages wait
  on Signal's server: here they wait in a queue and arrive after the next ``subscribeReceive``.
* ``send`` (``commands/SendCommand``, ``util/SendMessageResultUtils``,
  ``json/JsonSendMessageResult``, ``json/JsonRecipientAddress``, ``commands/JsonRpcNamespace``):
  params ``recipient`` (a string or a list; a UUID or a +number), or ``groupId``; ``message``;
  ``attachment(s)``; ``textStyle(s)`` as ``"start:length:STYLE"`` (STYLE one of NONE, BOLD,
  ITALIC, SPOILER, STRIKETHROUGH, MONOSPACE). The result is ``{"timestamp": T, "results": [...]}``
  with, per recipient, ``recipientAddress`` ``{uuid, number, username}``, ``type`` (SUCCESS,
  NETWORK_FAILURE, UNREGISTERED_FAILURE, IDENTITY_FAILURE, RATE_LIMIT_FAILURE,
  INVALID_PRE_KEY_FAILURE), ``groupId`` for group sends, ``token`` when a proof (captcha) is
  required, ``retryAfterSeconds`` when Signal gave one. When no recipient succeeded the call fails
  after writing that result: only identity failures -> -4 "Failed to send message due to
  untrusted identities"; only rate-limit failures (a proof-required failure counts as one) -> -5
  "Failed to send message due to rate limiting"; anything else (an unregistered recipient, a
  network failure) -> -1 "Failed to send message". Each time with ``data.response`` = the result.
  An empty message without attachments is -1.
* ``sendTyping`` (``commands/SendTypingCommand``): ``recipient`` or ``groupId``, optional
  ``stop``; answers a send result. ``version`` (``commands/VersionCommand``): ``{"version": …}``.
* Envelopes (``json/JsonReceiveMessageHandler``, ``JsonMessageEnvelope``, ``JsonDataMessage``,
  ``JsonSyncMessage``, ``JsonSyncDataMessage``, ``JsonReceiptMessage``, ``JsonTypingMessage``,
  ``JsonGroupInfo``, ``JsonAttachment``, ``JsonEditMessage``): ``source`` (deprecated),
  ``sourceNumber`` (null when the person hides their number), ``sourceUuid``, ``sourceName``,
  ``sourceDevice``, ``timestamp``, ``serverReceivedTimestamp``, ``serverDeliveredTimestamp``, and
  one of ``dataMessage`` (``timestamp``, ``message``, ``expiresInSeconds``,
  ``isExpirationUpdate``, ``viewOnce``, and when present ``attachments``, ``groupInfo``
  ``{groupId, groupName, revision, type: DELIVER|UPDATE}``), ``editMessage``
  ``{targetSentTimestamp, dataMessage}``, ``syncMessage`` (``sentMessage`` = the data message
  plus ``destination``, ``destinationNumber``, ``destinationUuid``), ``receiptMessage``
  ``{when, isDelivery, isRead, isViewed, timestamps}``, ``typingMessage``
  ``{action: STARTED|STOPPED, timestamp, groupId?}``.

What is *not* imitated: batch requests, multi-account mode, the HTTP and D-Bus endpoints, every
command other than the five above (they answer -32601, as a daemon without them would), group
membership checks, and attachment files (paths and data URIs are recorded, not read).
Half-open connections are imitated kindly: a frozen connection neither answers nor receives
envelopes, so they stay queued; a real daemon may write an envelope into a dead socket.

Threading: the daemon runs on its own asyncio loop in a background thread, so it serves async
tests, sync tests and a coach running as a separate process alike. The controls are called from
the test's thread; the ``wait_*`` helpers block it (use the ``*_async`` variants from async
tests, so that the client in the test's event loop keeps running while you wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import re
import threading
import time
import uuid as uuid_module
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

_T = TypeVar("_T")

FAKE_VERSION = "0.14.7-SNAPSHOT"
DEFAULT_ACCOUNT = "+31600000000"
DEFAULT_ACCOUNT_UUID = "00000000-0000-4000-8000-00000000c0ac"

# signal-cli's JSON-RPC error codes (SignalJsonRpcCommandHandler, JsonRpcResponse.Error).
USER_ERROR = -1
IO_ERROR = -3
UNTRUSTED_KEY_ERROR = -4
RATELIMIT_ERROR = -5
CAPTCHA_REJECTED_ERROR = -6
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602

TEXT_STYLES = frozenset({"NONE", "BOLD", "ITALIC", "SPOILER", "STRIKETHROUGH", "MONOSPACE"})
_TEXT_STYLE = re.compile(r"(\d+):(\d+):(.+)")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NUMBER = re.compile(r"\+\d{6,15}")


class SendFailure(enum.Enum):
    """How the next send to a recipient fails, as a per-recipient ``type`` in the result."""

    RATE_LIMIT = "RATE_LIMIT_FAILURE"
    PROOF_REQUIRED = "RATE_LIMIT_FAILURE+token"  # a rate limit that asks for a captcha proof
    UNREGISTERED = "UNREGISTERED_FAILURE"
    UNTRUSTED_IDENTITY = "IDENTITY_FAILURE"
    NETWORK = "NETWORK_FAILURE"


@dataclass(frozen=True)
class SentMessage:
    """One ``send`` the daemon accepted (or refused, then ``failure`` says how)."""

    recipient: str  # as the client named it: a UUID, a +number or a group id
    message: str
    attachments: tuple[str, ...]
    text_styles: tuple[str, ...]
    timestamp: int
    is_group: bool = False
    failure: SendFailure | None = None


@dataclass(frozen=True)
class TypingSent:
    recipient: str
    stop: bool


@dataclass
class _Failure:
    kind: SendFailure
    retry_after_seconds: int | None


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    subscriptions: set[int] = field(default_factory=set)
    frozen: bool = False


class _JsonRpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class FakeSignalCli:
    """A signal-cli JSON-RPC daemon in manual receive mode, on 127.0.0.1."""

    def __init__(
        self,
        *,
        account: str = DEFAULT_ACCOUNT,
        account_uuid: str = DEFAULT_ACCOUNT_UUID,
        port: int = 0,
    ) -> None:
        self.account = account
        self.account_uuid = account_uuid
        self._port = port
        self._cond = threading.Condition()
        # Everything below is guarded by _cond (the daemon's loop and the test thread share it).
        self._queue: deque[dict[str, Any]] = deque()  # envelopes no subscriber has had yet
        self._delivered: list[dict[str, Any]] = []
        self._sent: list[SentMessage] = []
        self._typing: list[TypingSent] = []
        self._requests: list[tuple[str, Any]] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._call_failures: dict[str, deque[_JsonRpcError]] = {}
        self._unregistered: set[str] = set()
        self._numbers: dict[str, str] = {}  # uuid -> number, for people seen or added
        self._subscribe_calls = 0
        self._connections_accepted = 0
        self._in_flight: dict[str, int] = {}
        self._max_in_flight: dict[str, int] = {}
        self._max_in_flight_total = 0
        self._clock = itertools.count(int(time.time() * 1000))
        # Daemon-process state, reset by restart().
        self._next_subscription = 0
        self._connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._sends_open: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeSignalCli:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the loop thread and the daemon."""
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            started.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-signal-cli", daemon=True)
        self._thread.start()
        started.wait()
        self._call(self._start_daemon)

    def close(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._call(self._stop_daemon)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The value for ``SIGNAL_CLI_URL``."""
        return f"tcp://127.0.0.1:{self._port}"

    def stop_daemon(self) -> None:
        """The daemon process ends: every connection is closed, nobody can connect."""
        self._call(self._stop_daemon)

    def start_daemon(self) -> None:
        """A new daemon process on the same port: subscription ids start at 0 again."""
        self._call(self._start_daemon)

    def restart(self) -> None:
        """Stop and start the daemon; envelopes not yet delivered stay queued on Signal's side."""
        self.stop_daemon()
        self.start_daemon()

    def go_half_open(self) -> None:
        """Every open connection goes silent without closing: no answers, no envelopes.

        New connections are served as usual, as after a network path that broke and healed.
        """

        def freeze() -> None:
            with self._cond:
                for connection in self._connections:
                    connection.frozen = True
                self._cond.notify_all()

        self._call_sync(freeze)

    # --- what people do ---------------------------------------------------------------------

    def person_writes(
        self,
        text: str | None,
        *,
        uuid: str,
        number: str | None = None,
        timestamp: int | None = None,
        attachments: Iterable[dict[str, Any]] = (),
        name: str | None = None,
    ) -> dict[str, Any]:
        """A person sends ``text`` (and attachments) to the coach's account: the envelope."""
        ts = self._timestamp(timestamp)
        data = self._data_message(ts, text, attachments)
        envelope = self._envelope(uuid, number, ts, name=name, dataMessage=data)
        self.inject_envelope(envelope)
        return envelope

    def person_edits(
        self, target_timestamp: int, text: str, *, uuid: str, number: str | None = None
    ) -> dict[str, Any]:
        """A person edits a message they sent earlier."""
        ts = self._timestamp(None)
        data = self._data_message(ts, text)
        edit = {"targetSentTimestamp": target_timestamp, "dataMessage": data}
        envelope = self._envelope(uuid, number, ts, editMessage=edit)
        self.inject_envelope(envelope)
        return envelope

    def group_message(
        self,
        text: str,
        *,
        uuid: str,
        group_id: str,
        group_name: str = "Familie",
        number: str | None = None,
    ) -> dict[str, Any]:
        """Someone writes in a group the coach's account was added to."""
        ts = self._timestamp(None)
        data = self._data_message(ts, text)
        data["groupInfo"] = {
            "groupId": group_id,
            "groupName": group_name,
            "revision": 1,
            "type": "DELIVER",
        }
        envelope = self._envelope(uuid, number, ts, dataMessage=data)
        self.inject_envelope(envelope)
        return envelope

    def sync_message(self, text: str, *, destination_uuid: str) -> dict[str, Any]:
        """Another device of the coach's own account sent ``text``: signal-cli sees a transcript."""
        ts = self._timestamp(None)
        sent = {
            "destination": self._numbers.get(destination_uuid, destination_uuid),
            "destinationNumber": self._numbers.get(destination_uuid),
            "destinationUuid": destination_uuid,
            **self._data_message(ts, text),
        }
        envelope = self._envelope(
            self.account_uuid,
            self.account,
            ts,
            device=2,
            syncMessage={"sentMessage": sent},
        )
        self.inject_envelope(envelope)
        return envelope

    def receipt(
        self, *, uuid: str, timestamps: Iterable[int], kind: str = "delivery"
    ) -> dict[str, Any]:
        """The person's phone confirms delivery (``kind`` "delivery", "read" or "viewed")."""
        ts = self._timestamp(None)
        receipt = {
            "when": ts,
            "isDelivery": kind == "delivery",
            "isRead": kind == "read",
            "isViewed": kind == "viewed",
            "timestamps": list(timestamps),
        }
        envelope = self._envelope(uuid, None, ts, receiptMessage=receipt)
        self.inject_envelope(envelope)
        return envelope

    def typing(self, *, uuid: str, action: str = "STARTED") -> dict[str, Any]:
        """The person starts (or stops) typing."""
        ts = self._timestamp(None)
        envelope = self._envelope(uuid, None, ts, typingMessage={"action": action, "timestamp": ts})
        self.inject_envelope(envelope)
        return envelope

    def inject_envelope(self, envelope: dict[str, Any]) -> None:
        """Queue any envelope; it reaches every live subscription, or waits for the next one."""
        with self._cond:
            number, person = envelope.get("sourceNumber"), envelope.get("sourceUuid")
            if number and person:
                self._numbers[person] = number
            self._queue.append(envelope)
        self._call_soon(self._deliver)

    # --- what goes wrong --------------------------------------------------------------------

    def fail_next_send(
        self, recipient: str, failure: SendFailure, *, retry_after_seconds: int | None = None
    ) -> None:
        """The next ``send`` to ``recipient`` fails so (further calls queue further failures)."""
        with self._cond:
            self._failures.setdefault(recipient, deque()).append(
                _Failure(failure, retry_after_seconds)
            )

    def unregister(self, recipient: str) -> None:
        """The person deleted their Signal account: every send to them fails from now on."""
        with self._cond:
            self._unregistered.add(recipient)

    def fail_next_call(self, method: str, code: int, message: str) -> None:
        """The next call of ``method`` answers a JSON-RPC error (e.g. -6 after a captcha)."""
        with self._cond:
            self._call_failures.setdefault(method, deque()).append(_JsonRpcError(code, message))

    def hold_sends(self) -> None:
        """``send`` calls wait (unanswered) until ``release_sends``; other calls are answered."""

        def hold() -> None:
            assert self._sends_open is not None
            self._sends_open.clear()

        self._call_sync(hold)

    def release_sends(self) -> None:
        def release() -> None:
            assert self._sends_open is not None
            self._sends_open.set()

        self._call_sync(release)

    # --- what the test sees -----------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        with self._cond:
            return list(self._sent)

    @property
    def typing_sent(self) -> list[TypingSent]:
        with self._cond:
            return list(self._typing)

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Envelopes written to at least one subscribed connection, in order."""
        with self._cond:
            return list(self._delivered)

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def subscribe_calls(self) -> int:
        with self._cond:
            return self._subscribe_calls

    @property
    def active_subscriptions(self) -> int:
        """Subscriptions envelopes would reach now (on open connections that still answer)."""
        with self._cond:
            return sum(len(c.subscriptions) for c in self._connections if not c.frozen)

    @property
    def connections_accepted(self) -> int:
        with self._cond:
            return self._connections_accepted

    @property
    def open_connections(self) -> int:
        with self._cond:
            return len(self._connections)

    @property
    def requests(self) -> list[tuple[str, Any]]:
        """Every request's method and params, in the order they arrived."""
        with self._cond:
            return list(self._requests)

    def max_sends_in_flight(self, recipient: str | None = None) -> int:
        """The most ``send`` calls that were unanswered at once (to ``recipient``, or in all)."""
        with self._cond:
            if recipient is None:
                return self._max_in_flight_total
            return self._max_in_flight.get(recipient, 0)

    def sends_in_flight(self) -> dict[str, int]:
        with self._cond:
            return {r: n for r, n in self._in_flight.items() if n}

    def wait_for_sent(
        self, recipient: str, count: int, timeout: float = 5.0, *, successful: bool = True
    ) -> list[SentMessage]:
        """Block until ``count`` sends to ``recipient`` were answered; returns all of them."""

        def ready() -> list[SentMessage] | None:
            found = [
                s
                for s in self._sent
                if s.recipient == recipient and (s.failure is None or not successful)
            ]
            return found if len(found) >= count else None

        return self.wait_until(ready, timeout, f"{count} message(s) sent to {recipient}")

    async def wait_for_sent_async(
        self, recipient: str, count: int, timeout: float = 5.0, *, successful: bool = True
    ) -> list[SentMessage]:
        return await asyncio.to_thread(
            self.wait_for_sent, recipient, count, timeout, successful=successful
        )

    def wait_until(self, predicate: Callable[[], _T | None], timeout: float, what: str) -> _T:
        """Block until ``predicate()`` (called under the lock) returns something, not None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value is not None:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"fake signal-cli: no {what} within {timeout}s")
                self._cond.wait(remaining)

    async def wait_until_async(
        self, predicate: Callable[[], _T | None], timeout: float, what: str
    ) -> _T:
        return await asyncio.to_thread(self.wait_until, predicate, timeout, what)

    def wait_for_subscribe_calls(self, count: int, timeout: float = 5.0) -> int:
        return self.wait_until(
            lambda: self._subscribe_calls if self._subscribe_calls >= count else None,
            timeout,
            f"{count} subscribeReceive call(s)",
        )

    async def wait_for_subscribe_calls_async(self, count: int, timeout: float = 5.0) -> int:
        return await asyncio.to_thread(self.wait_for_subscribe_calls, count, timeout)

    # --- envelopes --------------------------------------------------------------------------

    def _timestamp(self, timestamp: int | None) -> int:
        return timestamp if timestamp is not None else next(self._clock)

    def _data_message(
        self, ts: int, text: str | None, attachments: Iterable[dict[str, Any]] = ()
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "timestamp": ts,
            "message": text,
            "expiresInSeconds": 0,
            "isExpirationUpdate": False,
            "viewOnce": False,
        }
        attachment_list = [_attachment(a) for a in attachments]
        if attachment_list:
            data["attachments"] = attachment_list
        return data

    def _envelope(
        self,
        person: str,
        number: str | None,
        ts: int,
        *,
        name: str | None = None,
        device: int = 1,
        **content: Any,
    ) -> dict[str, Any]:
        number = number if number is not None else self._numbers.get(person)
        return {
            "source": number or person,
            "sourceNumber": number,
            "sourceUuid": person,
            "sourceName": name,
            "sourceDevice": device,
            "timestamp": ts,
            "serverReceivedTimestamp": ts + 3,
            "serverDeliveredTimestamp": ts + 5,
            **content,
        }

    # --- the daemon (runs on the fake's loop) -----------------------------------------------

    def _call(self, coroutine_function: Callable[[], Any]) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine_function(), self._loop).result(10)

    def _call_sync(self, function: Callable[[], None]) -> None:
        async def run() -> None:
            function()

        self._call(run)

    def _call_soon(self, function: Callable[[], None]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(function)

    async def _start_daemon(self) -> None:
        self._next_subscription = 0
        self._sends_open = asyncio.Event()
        self._sends_open.set()
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self._port, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _stop_daemon(self) -> None:
        if self._server is None:
            return
        self._server.close()
        with self._cond:
            connections = list(self._connections)
            self._connections.clear()
            self._in_flight.clear()
            self._cond.notify_all()
        for connection in connections:
            connection.writer.close()  # held sends end unanswered with their connection
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(writer)
        with self._cond:
            self._connections.add(connection)
            self._connections_accepted += 1
            self._cond.notify_all()
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ConnectionError, ValueError):
                    break
                if not line:
                    break
                if connection.frozen or connection not in self._connections:
                    continue  # half-open: the bytes arrive nowhere
                task = asyncio.ensure_future(self._handle_line(connection, line))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            with self._cond:
                self._connections.discard(connection)
                self._cond.notify_all()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handle_line(self, connection: _Connection, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace").strip()
        if not text:
            self._write(connection, _error_response(PARSE_ERROR, "Empty input line", None))
            return
        try:
            message = json.loads(text)
        except json.JSONDecodeError as error:
            self._write(connection, _error_response(PARSE_ERROR, str(error), None))
            return
        if not isinstance(message, dict):
            kind = "ARRAY" if isinstance(message, list) else type(message).__name__.upper()
            self._write(
                connection, _error_response(INVALID_REQUEST, f"unexpected type: {kind}", None)
            )
            return
        if "result" in message or "error" in message:
            return  # a response from the client: signal-cli only logs it
        request_id = message.get("id")
        if message.get("jsonrpc") != "2.0":
            refusal = _error_response(
                INVALID_REQUEST, "only jsonrpc version 2.0 is supported", request_id
            )
            self._write(connection, refusal)
            return
        method = message.get("method")
        if not isinstance(method, str):
            refusal = _error_response(INVALID_REQUEST, "method field must be set", request_id)
            self._write(connection, refusal)
            return
        params = message.get("params")
        with self._cond:
            self._requests.append((method, params))
            self._cond.notify_all()
        try:
            result = await self._dispatch(connection, method, params)
        except _JsonRpcError as error:
            if "id" in message:
                response = _error_response(error.code, error.message, request_id, error.data)
                self._write(connection, response)
            return
        if "id" in message:
            self._write(connection, {"jsonrpc": "2.0", "result": result, "id": request_id})
        if method == "subscribeReceive":
            self._deliver()

    async def _dispatch(self, connection: _Connection, method: str, params: Any) -> Any:
        with self._cond:
            failures = self._call_failures.get(method)
            if failures:
                raise failures.popleft()
        if params is not None and not isinstance(params, dict | list):
            raise _JsonRpcError(INVALID_REQUEST, "params must be an object or an array")
        args = params if isinstance(params, dict) else {}
        if method == "version":
            return {"version": FAKE_VERSION}
        if method == "subscribeReceive":
            with self._cond:
                subscription = self._next_subscription
                self._next_subscription += 1
                self._subscribe_calls += 1
                connection.subscriptions.add(subscription)
                self._cond.notify_all()
            return subscription
        if method == "unsubscribeReceive":
            return self._unsubscribe(connection, params)
        if method == "send":
            return await self._send(args)
        if method == "sendTyping":
            return self._send_typing(args)
        raise _JsonRpcError(METHOD_NOT_FOUND, "Method not implemented")

    def _unsubscribe(self, connection: _Connection, params: Any) -> dict[str, Any]:
        subscription: Any = None
        if isinstance(params, list) and params:
            subscription = params[0]
        elif isinstance(params, dict):
            subscription = params.get("subscription")
        with self._cond:
            if subscription is None:
                if connection.subscriptions:
                    connection.subscriptions.pop()
                    self._cond.notify_all()
                return {}
            if subscription not in connection.subscriptions:
                raise _JsonRpcError(USER_ERROR, "Unknown subscription id")
            connection.subscriptions.discard(subscription)
            self._cond.notify_all()
        return {}

    async def _send(self, args: dict[str, Any]) -> dict[str, Any]:
        recipients = _as_list(args, "recipient")
        groups = _as_list(args, "groupId")
        if not recipients and not groups:
            raise _JsonRpcError(USER_ERROR, "No recipients given")
        message = args.get("message") or ""
        if not isinstance(message, str):
            raise _JsonRpcError(INVALID_REQUEST, "message must be a string")
        attachments = tuple(str(a) for a in _as_list(args, "attachment"))
        styles = tuple(str(s) for s in _as_list(args, "textStyle"))
        for style in styles:
            match = _TEXT_STYLE.fullmatch(style)
            if match is None:
                raise _JsonRpcError(
                    USER_ERROR, f"Invalid textStyle syntax ({style}) expected 'start:length:STYLE'"
                )
            if match.group(3) not in TEXT_STYLES:
                raise _JsonRpcError(USER_ERROR, f"Invalid style: {match.group(3)}")
        for recipient in recipients:
            if not (_UUID.fullmatch(recipient) or _NUMBER.fullmatch(recipient)):
                raise _JsonRpcError(USER_ERROR, f"Invalid phone number '{recipient}'")
        if not message and not attachments:
            raise _JsonRpcError(
                USER_ERROR,
                "Sending empty message is not allowed, either a message, attachment or sticker "
                "must be given.",
            )
        targets = [*recipients, *groups]
        self._sends_started(targets)
        try:
            assert self._sends_open is not None
            await self._sends_open.wait()
        finally:
            self._sends_ended(targets)
        timestamp = next(self._clock)
        results: list[dict[str, Any]] = []
        with self._cond:
            for target in targets:
                is_group = target in groups
                failure = self._take_failure(target)
                self._sent.append(
                    SentMessage(
                        recipient=target,
                        message=message,
                        attachments=attachments,
                        text_styles=styles,
                        timestamp=timestamp,
                        is_group=is_group,
                        failure=failure.kind if failure else None,
                    )
                )
                results.append(self._result(target, failure, group_id=target if is_group else None))
            self._cond.notify_all()
        return _fail_unless_one_succeeded({"timestamp": timestamp, "results": results})

    def _send_typing(self, args: dict[str, Any]) -> dict[str, Any]:
        targets = [*_as_list(args, "recipient"), *_as_list(args, "groupId")]
        if not targets:
            raise _JsonRpcError(USER_ERROR, "No recipients given")
        stop = bool(args.get("stop", False))
        with self._cond:
            for target in targets:
                self._typing.append(TypingSent(target, stop))
            self._cond.notify_all()
        results = [self._result(t, None) for t in targets]
        return {"timestamp": next(self._clock), "results": results}

    def _take_failure(self, target: str) -> _Failure | None:
        if target in self._unregistered:
            return _Failure(SendFailure.UNREGISTERED, None)
        pending = self._failures.get(target)
        return pending.popleft() if pending else None

    def _result(
        self, target: str, failure: _Failure | None, *, group_id: str | None = None
    ) -> dict[str, Any]:
        person: str | None
        number: str | None
        if _UUID.fullmatch(target):
            person, number = target, self._numbers.get(target)
        else:
            number = target if _NUMBER.fullmatch(target) else None
            person = next((u for u, n in self._numbers.items() if n == target), None)
        result: dict[str, Any] = {
            "recipientAddress": {"uuid": person, "number": number, "username": None},
            "type": "SUCCESS",
        }
        if group_id is not None:
            result["groupId"] = group_id
        if failure is not None:
            if failure.kind is SendFailure.PROOF_REQUIRED:
                result["type"] = "RATE_LIMIT_FAILURE"
                result["token"] = str(uuid_module.uuid4())
            else:
                result["type"] = failure.kind.value
            if failure.retry_after_seconds is not None:
                result["retryAfterSeconds"] = failure.retry_after_seconds
        return result

    def _sends_started(self, targets: list[str]) -> None:
        with self._cond:
            for target in targets:
                now = self._in_flight.get(target, 0) + 1
                self._in_flight[target] = now
                self._max_in_flight[target] = max(self._max_in_flight.get(target, 0), now)
            total = sum(self._in_flight.values())
            self._max_in_flight_total = max(self._max_in_flight_total, total)
            self._cond.notify_all()

    def _sends_ended(self, targets: list[str]) -> None:
        with self._cond:
            for target in targets:
                if self._in_flight.get(target):
                    self._in_flight[target] -= 1
            self._cond.notify_all()

    def _deliver(self) -> None:
        """Hand queued envelopes to every live subscription (runs on the fake's loop)."""
        with self._cond:
            live = [
                (connection, subscription)
                for connection in self._connections
                if not connection.frozen
                for subscription in sorted(connection.subscriptions)
            ]
            if not live:
                return
            envelopes = list(self._queue)
            self._queue.clear()
            self._delivered.extend(envelopes)
            self._cond.notify_all()
        for envelope in envelopes:
            for connection, subscription in live:
                notification = {
                    "jsonrpc": "2.0",
                    "method": "receive",
                    "params": {
                        "subscription": subscription,
                        "result": {"account": self.account, "envelope": envelope},
                    },
                }
                self._write(connection, notification)

    def _write(self, connection: _Connection, message: dict[str, Any]) -> None:
        if connection.frozen or connection.writer.is_closing():
            return
        line = json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n"
        connection.writer.write(line.encode("utf-8"))


def _error_response(code: int, message: str, request_id: Any, data: Any = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "error": {"code": code, "message": message, "data": data},
        "id": request_id,
    }


def _fail_unless_one_succeeded(response: dict[str, Any]) -> dict[str, Any]:
    """signal-cli writes the result, then fails the call when no recipient got the message."""
    types = [r["type"] for r in response["results"]]
    if not types or "SUCCESS" in types:
        return response
    data = {"response": response}
    if all(t == "IDENTITY_FAILURE" for t in types):
        raise _JsonRpcError(
            UNTRUSTED_KEY_ERROR, "Failed to send message due to untrusted identities", data
        )
    if all(t == "RATE_LIMIT_FAILURE" for t in types):
        raise _JsonRpcError(RATELIMIT_ERROR, "Failed to send message due to rate limiting", data)
    raise _JsonRpcError(USER_ERROR, "Failed to send message", data)


def _as_list(args: dict[str, Any], name: str) -> list[Any]:
    """JsonRpcNamespace: a list parameter may be a single value, or spelled in the plural."""
    value = args.get(name)
    if value is None:
        value = args.get(name + "s")
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _attachment(spec: dict[str, Any]) -> dict[str, Any]:
    """An incoming attachment as JsonAttachment shows it (every field present, maybe null)."""
    return {
        "contentType": spec.get("contentType", "application/octet-stream"),
        "filename": spec.get("filename"),
        "id": spec.get("id", uuid_module.uuid4().hex[:20]),
        "size": spec.get("size", 1024),
        "width": spec.get("width"),
        "height": spec.get("height"),
        "caption": spec.get("caption"),
        "uploadTimestamp": spec.get("uploadTimestamp"),
    }
