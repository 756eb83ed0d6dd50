"""A fake Telegram Bot API server on 127.0.0.1, for what can only be tested on the wire.

The real python-telegram-bot `Bot` / `Application` runs against it unchanged::

    with FakeBotAPI() as fake:
        bot = Bot("123:abc", base_url=fake.base_url)     # or ApplicationBuilder().base_url(…)
        ...
        fake.send_text(42, "/start")                     # the person writes to the bot
        fake.press_button(42, message_id, "run:step:ja") # the person taps a button
        fake.messages(42)                                # what the bot put in the chat

What it is for: `getUpdates` with its offsets (an update comes again until an offset confirms
it; a second long poll ends the first with 409), webhooks being set, the calls the channel
makes (sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery, sendDocument,
sendChatAction, setMyCommands), and trouble on demand: 429 with `retry_after` (every n-th send,
or flood control per chat and overall), 403 from a person who blocked the bot, 5xx (with a JSON
or nginx's HTML body), connections dropped without an answer, slow answers, outages; and
Telegram's refusal of malformed HTML ("can't parse entities", see `telegram_html`). What needs
no wire (updates turned into events, menus, splitting, keyboards) is tested with
`tests/bot/offline.py`, a request object that records calls.

It speaks the wire format of the real Bot API:

* Requests are `POST /bot<token>/<method>`; python-telegram-bot sends form fields
  (`application/x-www-form-urlencoded`, `multipart/form-data` once a file goes along) with
  non-string values JSON-encoded (`chat_id=42`, `reply_markup={"inline_keyboard": …}`).
* Answers are `{"ok": true, "result": …}` or `{"ok": false, "error_code": N, "description":
  "…", "parameters": {"retry_after": N}}`, with the HTTP status equal to `error_code`:
  python-telegram-bot picks its exception from the status (400 BadRequest, 403 Forbidden,
  401/404 InvalidToken, 409 Conflict, others NetworkError) and raises RetryAfter whenever
  `parameters.retry_after` is there. The descriptions are Telegram's.

The server runs in a background thread, one thread per connection, so it serves sync tests,
async tests and a bot in another process alike. All state sits behind one condition variable;
`wait_for` blocks the calling thread (from async tests use `wait_for_async`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import math
import re
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from tests.fakes import telegram_html

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")

# --- Telegram's limits and error texts --------------------------------------------------------

MAX_MESSAGE_LENGTH = 4096  # characters, counted after the HTML is parsed and trimmed
MAX_CALLBACK_DATA_BYTES = 64
MAX_RAW_TEXT_BYTES = 1 << 15  # the Bot API refuses longer raw text before even parsing it
LONG_POLL_MAX_TIMEOUT = 50

ERR_NOT_FOUND = "Not Found"
ERR_UNAUTHORIZED = "Unauthorized"
ERR_TEXT_EMPTY = "Bad Request: message text is empty"
ERR_TEXT_WHITESPACE = "Bad Request: text must be non-empty"
ERR_RAW_TEXT_TOO_LONG = "Bad Request: text is too long"
ERR_MESSAGE_TOO_LONG = "Bad Request: message is too long"
ERR_PARSE_ENTITIES = "Bad Request: can't parse entities: "
ERR_BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
ERR_BLOCKED = "Forbidden: bot was blocked by the user"
ERR_CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
ERR_CHAT_NOT_FOUND = "Bad Request: chat not found"
ERR_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
ERR_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
ERR_QUERY_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
ERR_BAD_ACTION = "Bad Request: wrong parameter action in request"
ERR_NO_DOCUMENT = "Bad Request: there is no document in the request"
ERR_FILE_EMPTY = "Bad Request: file must be non-empty"
ERR_NO_PHOTO = "Bad Request: there is no photo in the request"
ERR_BOT_COMMAND_INVALID = "Bad Request: BOT_COMMAND_INVALID"
ERR_CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
ERR_CONFLICT_WEBHOOK_SET = "Conflict: terminated by setWebhook request"
ERR_CONFLICT_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)

# Methods that put (or change) a message in a chat: what rate limits and `sends_only` faults act
# on. Lower-case: the Bot API matches method names case-insensitively.
SEND_METHODS = frozenset(
    {"sendmessage", "senddocument", "editmessagetext", "editmessagereplymarkup"}
)
CHAT_ACTIONS = frozenset({"typing", "upload_document", "cancel"})  # those the fake takes


class _ApiError(Exception):
    """An error answer of the Bot API: HTTP status == error_code, and Telegram's description."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, description)


def _too_many_requests(retry_after: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


class _DropConnection(Exception):
    """Raised inside request handling to close the socket without writing any answer."""


# --- the request body ----------------------------------------------------------------------------


@dataclass
class UploadedFile:
    """One file part of a multipart request."""

    filename: str | None
    content_type: str | None
    content: bytes


def _header_params(value: str) -> dict[str, str]:
    """`form-data; name="document"; filename="a.txt"` → {"name": …, "filename": …}."""
    params = {}
    for match in re.finditer(r';\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', value):
        raw = match.group(2).strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1].replace("\\\\", "\\")
        # httpx (like browsers) writes '"' as %22 and control characters as %XX in names.
        raw = re.sub(r"%(22|[01][0-9A-Fa-f])", lambda m: chr(int(m.group(1), 16)), raw)
        params[match.group(1).lower()] = raw
    return params


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Form fields and file parts (the standard library's `email` mangles UTF-8 file names)."""
    boundary = _header_params(content_type).get("boundary")
    if not boundary:
        raise ValueError("multipart body without boundary")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for chunk in (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, _, content = chunk.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            header, sep, value = line.partition(":")
            if sep:
                headers[header.strip().lower()] = value.strip()
        disposition = _header_params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        if "filename" in disposition or "content-type" in headers:
            files[name] = UploadedFile(
                disposition.get("filename"), headers.get("content-type"), content
            )
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields, files


def _parse_body(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Any]]:
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        return _parse_multipart(body, content_type)
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), {}


# --- records handed to tests ---------------------------------------------------------------------

Buttons = list[list[tuple[str, str | None]]]


@dataclass
class SentDocument:
    filename: str | None
    mime_type: str | None
    content: bytes


@dataclass
class Version:
    """How an edited message looked before."""

    plain: str | None
    buttons: Buttons


@dataclass
class SentMessage:
    """A message the bot put in a chat, as it is now.

    `text` is what the bot sent (HTML source); `plain` what the person sees (tags removed,
    entities decoded, trimmed); `buttons` the inline keyboard rows as `(label, callback_data)`;
    `history` the earlier versions, oldest first."""

    chat_id: int
    message_id: int
    text: str | None
    parse_mode: str | None
    plain: str | None
    entities: list[dict[str, Any]]
    buttons: Buttons
    date: int
    document: SentDocument | None = None
    photo: SentDocument | None = None  # sendPhoto: the uploaded image; `plain` is its caption
    history: list[Version] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # the Message as Telegram returns it

    @property
    def edited(self) -> bool:
        return bool(self.history)


@dataclass
class CallbackAnswer:
    """One answerCallbackQuery call."""

    callback_query_id: str
    data: str | None
    text: str | None
    show_alert: bool


@dataclass
class ChatAction:
    chat_id: int
    action: str
    at: float


@dataclass
class SendRecord:
    """When one send (see SEND_METHODS) was accepted, for order and pacing."""

    chat_id: int
    method: str
    message_id: int
    at: float


@dataclass
class RequestRecord:
    """One HTTP request and how the fake answered it: `status` 0 while a long poll waits,
    -1 when the connection was dropped without an answer."""

    method: str | None
    content_type: str
    chat_id: int | None
    params: dict[str, str]
    files: dict[str, str | None]  # field → uploaded file name
    at: float  # time.monotonic() on arrival
    status: int = 0
    description: str | None = None


# --- internal state ------------------------------------------------------------------------------


@dataclass
class _Bucket:
    """A token bucket for enforce_chat_rate / enforce_global_rate."""

    tokens: float
    last: float


@dataclass
class _Fault:
    """A 'next n requests' fault; only requests matching the filter count down."""

    remaining: int
    sends_only: bool
    methods: frozenset[str] | None
    status: int = 502
    html: bool = False
    seconds: float = 0.0

    def matches(self, method: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        return not self.sends_only or method in SEND_METHODS


# Seconds between a person's messages at the least: they read the coach's reply before writing.
PERSON_PACE = 60


@dataclass
class _Chat:
    id: int
    user: dict[str, Any]
    next_message_id: int = 1
    sent: list[SentMessage] = field(default_factory=list)
    inbox: list[dict[str, Any]] = field(default_factory=list)  # the person's messages
    actions: list[ChatAction] = field(default_factory=list)
    blocked: bool = False
    bucket: _Bucket | None = None
    last_date: int = 0  # the date of the person's latest message

    def person_date(self) -> int:
        """When the person sends their next message: they read the reply first, so a minute
        after their previous one at least (the coach takes quicker messages for double texts)."""
        self.last_date = max(int(time.time()), self.last_date + PERSON_PACE)
        return self.last_date

    def chat_dict(self) -> dict[str, Any]:
        return {"id": self.id, "first_name": self.user["first_name"], "type": "private"}

    def find_sent(self, message_id: int) -> SentMessage | None:
        return next((m for m in self.sent if m.message_id == message_id), None)


@dataclass
class _Call:
    token: str
    method: str  # lower-case
    params: dict[str, str]
    files: dict[str, UploadedFile]
    record: RequestRecord


class _WithDescription:
    """A successful result that also carries a description (setWebhook, deleteWebhook)."""

    def __init__(self, result: Any, description: str):
        self.result = result
        self.description = description


def _json_arg(params: dict[str, str], name: str, error: str) -> Any:
    value = params.get(name) or None
    try:
        return None if value is None else json.loads(value)
    except ValueError:
        raise _bad_request(error) from None


def _int_arg(params: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    # telegram-bot-api's get_integer_arg: unparsable → default, then clamped to [lo, hi].
    value = params.get(name, "").strip()
    return max(lo, min(hi, int(value))) if re.fullmatch(r"-?\d+", value) else default


def _bool_arg(params: dict[str, str], name: str) -> bool:
    return params.get(name, "").strip().lower() in {"true", "1"}


_PATH_RE = re.compile(r"/bot([^/]*)/([^/?]+)")
_BOT_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")


def bot_command_entities(text: str) -> list[dict[str, Any]]:
    """Telegram marks /commands in what a person writes."""
    return [
        {
            "type": "bot_command",
            "offset": telegram_html.utf16_len(text[: m.start()]),
            "length": telegram_html.utf16_len(m[0]),
        }
        for m in _BOT_COMMAND_RE.finditer(text)
    ]


# --- the HTTP layer ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to FakeBotAPI; HTTP/1.1 so httpx keeps connections alive."""

    protocol_version = "HTTP/1.1"
    # One write for the headers, one for the body: without TCP_NODELAY, Nagle's algorithm and
    # delayed ACKs add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track_connection(self.connection, add=False)

    def do_POST(self) -> None:
        self.server.fake._serve_http(self)

    def log_message(self, format: str, *args: Any) -> None:
        _LOG.debug("%s - " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for long polls or idle keep-alive connections

    def __init__(self, address: tuple[str, int], fake: FakeBotAPI):
        self.fake = fake
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients vanishing mid-request is normal here (dropped connections, killed bots).
        _LOG.debug("error while serving %s", client_address, exc_info=True)


# --- the fake ------------------------------------------------------------------------------------


class FakeBotAPI:
    """A fake Telegram Bot API server on 127.0.0.1 (see the module docstring).

    `require_token`: other tokens get 401 Unauthorized (python-telegram-bot: InvalidToken).
    The bot's user id is the number before ':' in the token, as with real tokens."""

    def __init__(
        self, *, bot_username: str = "kern_coach_test_bot", require_token: str | None = None
    ) -> None:
        self.bot_username = bot_username
        self.require_token = require_token

        self._cond = threading.Condition(threading.RLock())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._port = 0
        self._listening = False
        self._connections: set[socket.socket] = set()
        self._inflight = 0  # requests being answered (stop() lets them finish)

        # Updates: the person → the bot.
        self._next_update_id = 1
        self._updates: list[dict[str, Any]] = []  # not yet confirmed, by update_id
        self._delivered: set[int] = set()
        self._poll_generation = 0
        self._polling = 0
        self._webhook_url = ""

        # What the bot did.
        self._chats: dict[int, _Chat] = {}
        self._requests: list[RequestRecord] = []
        self._sends: list[SendRecord] = []
        self._callback_answers: list[CallbackAnswer] = []
        self._callback_queries: dict[str, str] = {}  # query id → the button's data
        self._commands: dict[str, list[tuple[str, str]]] = {}
        self._ids = itertools.count(1)

        # Trouble on demand.
        self._fail: list[_Fault] = []
        self._drop: list[_Fault] = []
        self._delay: list[_Fault] = []
        self._outage_until = 0.0
        self._outage_mode = "drop"
        self._rate_every = 0
        self._rate_retry_after = 1
        self._rate_counter = 0
        self._chat_rate: tuple[float, int] | None = None
        self._global_rate: tuple[float, int] | None = None
        self._global_bucket: _Bucket | None = None

        self._methods: dict[str, Callable[[_Call], Any]] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._m_get_me,
                "getUpdates": self._m_get_updates,
                "setWebhook": self._m_set_webhook,
                "deleteWebhook": self._m_delete_webhook,
                "setMyCommands": self._m_set_my_commands,
                "sendMessage": self._m_send_message,
                "sendDocument": self._m_send_document,
                "sendPhoto": self._m_send_photo,
                "editMessageText": self._m_edit_message_text,
                "editMessageReplyMarkup": self._m_edit_message_reply_markup,
                "answerCallbackQuery": self._m_answer_callback_query,
                "sendChatAction": self._m_send_chat_action,
            }.items()
        }

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeBotAPI:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        if self._thread is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), self)
        self._port = self._server.server_address[1]
        self._listening = True
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"FakeBotAPI:{self._port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Requests being answered get their answer; waiting long polls and idle keep-alive
        connections are closed without one."""
        if self._thread is None:
            return
        self._stopping.set()
        self._close_listening_socket()  # also wakes the accept loop's select()
        self._thread.join(timeout=5)
        self._thread = None
        with self._cond:
            self._cond.notify_all()  # long polls notice _stopping and drop their connection
            self._cond.wait_for(lambda: self._inflight == 0, timeout=2)
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """python-telegram-bot's `base_url`: it appends the token and the method."""
        return f"http://127.0.0.1:{self._port}/bot"

    def _close_listening_socket(self) -> None:
        with self._cond:
            if self._server is not None and self._listening:
                self._listening = False
                # shutdown() first: close() alone leaves the port accepting for as long as the
                # accept loop's select() still holds the socket.
                with contextlib.suppress(OSError):
                    self._server.socket.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    self._server.socket.close()

    def _accept_loop(self) -> None:
        # Our own loop instead of serve_forever(): outage(mode="refuse") closes the listening
        # socket, and the port has to be opened again afterwards.
        server = self._server
        assert server is not None
        while True:
            with self._cond:
                if self._stopping.is_set():
                    return
                refusing = self._outage_active() and self._outage_mode == "refuse"
                if not refusing and not self._listening:
                    refusing = not self._reopen_port(server)
            if refusing:
                time.sleep(0.01)
                continue
            try:
                readable, _, _ = select.select([server.socket], [], [], 0.05)
                if not readable:
                    continue
                conn, address = server.socket.accept()
            except (OSError, ValueError):
                continue
            server.process_request(conn, address)  # one thread per connection

    def _reopen_port(self, server: _Server) -> bool:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._port))
            sock.listen(128)
        except OSError:
            sock.close()
            _LOG.warning("FakeBotAPI: can't reopen port %s yet", self._port, exc_info=True)
            return False
        server.socket = sock
        self._listening = True
        return True

    def _track_connection(self, conn: socket.socket, *, add: bool) -> None:
        with self._cond:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # --- one request ----------------------------------------------------------------------------

    def _serve_http(self, handler: _Handler) -> None:
        with self._cond:
            self._inflight += 1
        try:
            self._handle_request(handler)
        finally:
            with self._cond:
                self._inflight -= 1
                self._cond.notify_all()

    def _handle_request(self, handler: _Handler) -> None:
        arrived = time.monotonic()
        try:
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else b""
        except (OSError, ValueError):
            handler.close_connection = True
            return
        match = _PATH_RE.fullmatch(handler.path)
        token, method = (match.group(1), match.group(2)) if match else (None, None)
        content_type = handler.headers.get("Content-Type", "")
        params, files = _parse_body(body, content_type)
        chat_id = params.get("chat_id", "")
        record = RequestRecord(
            method=method,
            content_type=content_type.split(";")[0].strip(),
            chat_id=int(chat_id) if re.fullmatch(r"-?\d+", chat_id) else None,
            params=params,
            files={name: f.filename for name, f in files.items()},
            at=arrived,
        )
        lower = (method or "").lower()
        with self._cond:
            self._requests.append(record)
            drop = self._outage_active() or self._take(self._drop, lower) is not None
            delay = None if drop else self._take(self._delay, lower)
            fail = None if drop else self._take(self._fail, lower)
            self._cond.notify_all()

        if drop:
            self._finish(record, -1, "connection dropped")
            self._drop_connection(handler)
            return
        if delay is not None:
            time.sleep(delay.seconds)
        if fail is not None:
            self._answer_failure(handler, record, fail)
            return
        try:
            status, payload = self._dispatch(token, method, params, files, record)
        except _DropConnection:
            self._finish(record, -1, "connection dropped")
            self._drop_connection(handler)
            return
        self._finish(record, status, payload.get("description"))
        self._write(handler, status, "application/json", json.dumps(payload).encode())

    def _dispatch(
        self,
        token: str | None,
        method: str | None,
        params: dict[str, str],
        files: dict[str, UploadedFile],
        record: RequestRecord,
    ) -> tuple[int, dict[str, Any]]:
        # Telegram answers a bad path and an unknown method alike: a bare 404.
        handler = self._methods.get((method or "").lower())
        if token is None or handler is None:
            return 404, _ApiError(404, ERR_NOT_FOUND).payload()
        if self.require_token is not None and token != self.require_token:
            return 401, _ApiError(401, ERR_UNAUTHORIZED).payload()
        try:
            result = handler(_Call(token, (method or "").lower(), params, files, record))
        except _ApiError as err:
            return err.status, err.payload()
        if isinstance(result, _WithDescription):
            return 200, {"ok": True, "result": result.result, "description": result.description}
        return 200, {"ok": True, "result": result}

    def _answer_failure(self, handler: _Handler, record: RequestRecord, fault: _Fault) -> None:
        phrase = HTTPStatus(fault.status).phrase
        self._finish(record, fault.status, phrase)
        if fault.html:
            # What nginx in front of api.telegram.org sends when the backend is down.
            body = (
                f"<html>\r\n<head><title>{fault.status} {phrase}</title></head>\r\n<body>\r\n"
                f"<center><h1>{fault.status} {phrase}</h1></center>\r\n"
                "<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
            ).encode()
            self._write(handler, fault.status, "text/html", body)
        else:
            payload = {"ok": False, "error_code": fault.status, "description": phrase}
            self._write(handler, fault.status, "application/json", json.dumps(payload).encode())

    @staticmethod
    def _write(handler: _Handler, status: int, content_type: str, body: bytes) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            handler.close_connection = True  # the client went away (its read timeout, a kill)

    @staticmethod
    def _drop_connection(handler: _Handler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    def _finish(self, record: RequestRecord, status: int, description: str | None) -> None:
        with self._cond:
            record.status = status
            record.description = description
            self._cond.notify_all()

    # --- what Telegram's servers decide (call with the lock held) --------------------------------

    def _outage_active(self) -> bool:
        return time.monotonic() < self._outage_until

    @staticmethod
    def _take(faults: list[_Fault], method: str) -> _Fault | None:
        for fault in faults:
            if fault.matches(method):
                fault.remaining -= 1
                return fault
        return None

    def _admit(self, chat: _Chat, method: str) -> None:
        """After the request is found valid: a blocked person, then flood control."""
        if chat.blocked:
            raise _ApiError(403, ERR_BLOCKED)
        if method not in SEND_METHODS:
            return
        if self._rate_every:
            self._rate_counter += 1
            if self._rate_counter % self._rate_every == 0:
                raise _too_many_requests(self._rate_retry_after)
        now = time.monotonic()
        checks: list[tuple[_Bucket, float]] = []
        if self._global_rate is not None:
            if self._global_bucket is None:
                self._global_bucket = _Bucket(self._global_rate[1], now)
            wait = self._wait(self._global_bucket, *self._global_rate)
            checks.append((self._global_bucket, wait))
        if self._chat_rate is not None:
            if chat.bucket is None:
                chat.bucket = _Bucket(self._chat_rate[1], now)
            checks.append((chat.bucket, self._wait(chat.bucket, *self._chat_rate)))
        longest = max((w for _, w in checks), default=0.0)
        if longest > 0:
            raise _too_many_requests(max(1, math.ceil(longest)))
        for bucket, _ in checks:
            bucket.tokens -= 1

    @staticmethod
    def _wait(bucket: _Bucket, rate: float, burst: int) -> float:
        now = time.monotonic()
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.last) * rate)
        bucket.last = now
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / rate

    # --- helpers for the methods ----------------------------------------------------------------

    def _bot_user(self, token: str) -> dict[str, Any]:
        prefix = token.split(":", 1)[0]
        return {
            "id": int(prefix) if prefix.isdigit() else 1,
            "is_bot": True,
            "first_name": "Kern Coach",
            "username": self.bot_username,
        }

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            user = {"id": chat_id, "is_bot": False, "first_name": "Test", "language_code": "nl"}
            chat = self._chats[chat_id] = _Chat(chat_id, user)
        return chat

    def _target_chat(self, call: _Call) -> _Chat:
        if not call.params.get("chat_id"):
            raise _bad_request(ERR_CHAT_ID_EMPTY)
        if call.record.chat_id is None:  # "@channelname" and garbage: no such chat here
            raise _bad_request(ERR_CHAT_NOT_FOUND)
        return self._chat(call.record.chat_id)

    @staticmethod
    def _format(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
        """What Telegram makes of (text, parse_mode): the text shown and its entities."""
        if len(text.encode("utf-8", "surrogatepass")) > MAX_RAW_TEXT_BYTES:
            raise _bad_request(ERR_RAW_TEXT_TOO_LONG)
        entities: list[dict[str, Any]] = []
        if (parse_mode or "").lower() == "html":
            try:
                text, entities = telegram_html.parse(text)
            except telegram_html.HtmlRefused as err:
                raise _bad_request(ERR_PARSE_ENTITIES + str(err)) from None
        plain, entities = telegram_html.trim(text, entities)
        if not plain:
            raise _bad_request(ERR_TEXT_WHITESPACE)
        if len(plain) > MAX_MESSAGE_LENGTH:
            raise _bad_request(ERR_MESSAGE_TOO_LONG)
        return plain, entities

    @staticmethod
    def _buttons(params: dict[str, str]) -> Buttons:
        """The inline keyboard of reply_markup, checked as Telegram checks callback data."""
        markup = _json_arg(
            params, "reply_markup", "Bad Request: can't parse reply keyboard markup JSON object"
        )
        rows = (markup or {}).get("inline_keyboard") or []
        buttons = [[(b["text"], b.get("callback_data")) for b in row] for row in rows]
        for row in buttons:
            for _, data in row:
                if data is not None and len(data.encode()) > MAX_CALLBACK_DATA_BYTES:
                    raise _bad_request(ERR_BUTTON_DATA_INVALID)
        return [row for row in buttons if row]

    def _render(self, chat: _Chat, message: SentMessage, token: str) -> dict[str, Any]:
        """The Message object Telegram answers with (kept in .raw; a copy is returned)."""
        raw: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self._bot_user(token),
            "chat": chat.chat_dict(),
            "date": message.date,
        }
        if message.history:
            raw["edit_date"] = int(time.time())
        if message.photo is not None:
            content = message.photo.content
            # A PNG's width and height stand at bytes 16 to 24; Telegram reports them per size.
            width, height = (
                struct.unpack(">II", content[16:24]) if content[:4] == b"\x89PNG" else (1, 1)
            )
            file_id = f"AgACAgQAAxkDAAI{message.message_id:06d}"
            raw["photo"] = [
                {
                    "file_id": file_id,
                    "file_unique_id": f"U{file_id}",
                    "width": width,
                    "height": height,
                    "file_size": len(content),
                }
            ]
            if message.plain:
                raw["caption"] = message.plain
        elif message.document is not None:
            doc = message.document
            file_id = f"BQACAgQAAxkDAAI{message.message_id:06d}"
            raw["document"] = {
                "file_id": file_id,
                "file_unique_id": f"U{file_id}",
                "file_size": len(doc.content),
            }
            if doc.filename:
                raw["document"]["file_name"] = doc.filename
            if doc.mime_type:
                raw["document"]["mime_type"] = doc.mime_type
        else:
            raw["text"] = message.plain
            if message.entities:
                raw["entities"] = message.entities
        if message.buttons:
            raw["reply_markup"] = {
                "inline_keyboard": [
                    [{"text": label, "callback_data": data} for label, data in row]
                    for row in message.buttons
                ]
            }
        message.raw = raw
        return copy.deepcopy(raw)

    def _sent(self, chat: _Chat, message: SentMessage, method: str, token: str) -> dict[str, Any]:
        if message not in chat.sent:
            chat.sent.append(message)
        self._record_send(chat, message, method)
        self._cond.notify_all()
        return self._render(chat, message, token)

    def _record_send(self, chat: _Chat, message: SentMessage, method: str) -> None:
        self._sends.append(SendRecord(chat.id, method, message.message_id, time.monotonic()))

    def _new_message_id(self, chat: _Chat) -> int:
        # In a private chat both sides share one sequence of message ids.
        message_id = chat.next_message_id
        chat.next_message_id += 1
        return message_id

    def _find_for_edit(self, call: _Call) -> tuple[_Chat, SentMessage]:
        chat = self._target_chat(call)
        message_id = call.params.get("message_id", "")
        message = chat.find_sent(int(message_id)) if message_id.isdigit() else None
        if message is None:
            raise _bad_request(ERR_EDIT_NOT_FOUND)
        return chat, message

    # --- Bot API methods ------------------------------------------------------------------------

    def _m_get_me(self, call: _Call) -> dict[str, Any]:
        return {**self._bot_user(call.token), "can_join_groups": True}

    def _m_get_updates(self, call: _Call) -> list[dict[str, Any]]:
        offset = _int_arg(call.params, "offset", 0, -(2**31), 2**31 - 1)
        limit = _int_arg(call.params, "limit", 100, 1, 100)
        timeout = _int_arg(call.params, "timeout", 0, 0, LONG_POLL_MAX_TIMEOUT)
        with self._cond:
            if self._webhook_url:
                raise _ApiError(409, ERR_CONFLICT_WEBHOOK_ACTIVE)
            if 0 < offset <= self._next_update_id:
                # The offset confirms (and forgets) every update below it. One "in the future"
                # is ignored by telegram-bot-api's queue, which serves from the oldest.
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and timeout > 0:
                self._long_poll(timeout)
            batch = copy.deepcopy(self._updates[:limit])
            self._delivered.update(update["update_id"] for update in batch)
            return batch

    def _long_poll(self, timeout: int) -> None:
        """Wait (lock released meanwhile) until an update arrives or the time is up."""
        # A newer waiting getUpdates ends this one with 409 Conflict, as telegram-bot-api does;
        # a bot killed in a long poll does not hold the next process's poll up.
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + timeout
        self._polling += 1
        self._cond.notify_all()
        try:
            while True:
                if self._stopping.is_set() or self._outage_active():
                    raise _DropConnection
                if generation != self._poll_generation:
                    raise _ApiError(409, ERR_CONFLICT_POLL)
                if self._webhook_url:
                    raise _ApiError(409, ERR_CONFLICT_WEBHOOK_SET)
                remaining = deadline - time.monotonic()
                if self._updates or remaining <= 0:
                    return
                self._cond.wait(remaining)
        finally:
            self._polling -= 1
            self._cond.notify_all()

    def _m_set_webhook(self, call: _Call) -> _WithDescription:
        url = call.params.get("url", "")
        with self._cond:
            same = url == self._webhook_url
            self._webhook_url = url
            self._cond.notify_all()  # a waiting getUpdates gets its Conflict
            if not url:
                return _WithDescription(True, "Webhook was deleted")
            return _WithDescription(True, "Webhook is already set" if same else "Webhook was set")

    def _m_delete_webhook(self, call: _Call) -> _WithDescription:
        with self._cond:
            had, self._webhook_url = self._webhook_url, ""
            if _bool_arg(call.params, "drop_pending_updates"):
                self._updates = []
            return _WithDescription(
                True, "Webhook was deleted" if had else "Webhook is already deleted"
            )

    def _m_set_my_commands(self, call: _Call) -> bool:
        commands = _json_arg(call.params, "commands", "Bad Request: can't parse commands JSON")
        cleaned = [(c["command"], c["description"]) for c in commands or []]
        # The length is checked by tdlib, the characters by Telegram's servers.
        if any(not re.fullmatch(r"[a-z0-9_]{1,32}", command) for command, _ in cleaned):
            raise _bad_request(ERR_BOT_COMMAND_INVALID)
        with self._cond:
            self._commands[call.params.get("language_code", "")] = cleaned
        return True

    def _m_send_message(self, call: _Call) -> dict[str, Any]:
        text = call.params.get("text") or None
        parse_mode = call.params.get("parse_mode") or None
        with self._cond:
            # In telegram-bot-api's order: the text, the markup, the chat, then what Telegram's
            # servers decide (blocked, flood control).
            if text is None:
                raise _bad_request(ERR_TEXT_EMPTY)
            plain, entities = self._format(text, parse_mode)
            buttons = self._buttons(call.params)
            chat = self._target_chat(call)
            self._admit(chat, call.method)
            message = SentMessage(
                chat_id=chat.id,
                message_id=self._new_message_id(chat),
                text=text,
                parse_mode=parse_mode,
                plain=plain,
                entities=entities,
                buttons=buttons,
                date=int(time.time()),
            )
            return self._sent(chat, message, "sendMessage", call.token)

    def _m_send_document(self, call: _Call) -> dict[str, Any]:
        with self._cond:
            upload = call.files.get("document")
            if upload is None:
                raise _bad_request(ERR_NO_DOCUMENT)  # the fake takes uploads, not file ids
            if not upload.content:
                raise _bad_request(ERR_FILE_EMPTY)
            chat = self._target_chat(call)
            self._admit(chat, call.method)
            message = SentMessage(
                chat_id=chat.id,
                message_id=self._new_message_id(chat),
                text=None,
                parse_mode=None,
                plain=None,
                entities=[],
                buttons=[],
                date=int(time.time()),
                document=SentDocument(upload.filename, upload.content_type, upload.content),
            )
            return self._sent(chat, message, "sendDocument", call.token)

    def _m_send_photo(self, call: _Call) -> dict[str, Any]:
        with self._cond:
            upload = call.files.get("photo")
            if upload is None:
                raise _bad_request(ERR_NO_PHOTO)  # uploads only, as for documents
            if not upload.content:
                raise _bad_request(ERR_FILE_EMPTY)
            caption = call.params.get("caption") or None
            chat = self._target_chat(call)
            self._admit(chat, call.method)
            message = SentMessage(
                chat_id=chat.id,
                message_id=self._new_message_id(chat),
                text=caption,
                parse_mode=None,
                plain=caption,
                entities=[],
                buttons=[],
                date=int(time.time()),
                photo=SentDocument(upload.filename, upload.content_type, upload.content),
            )
            return self._sent(chat, message, "sendPhoto", call.token)

    def _m_edit_message_text(self, call: _Call) -> dict[str, Any]:
        text = call.params.get("text") or None
        parse_mode = call.params.get("parse_mode") or None
        with self._cond:
            chat, message = self._find_for_edit(call)
            if text is None:
                raise _bad_request(ERR_TEXT_EMPTY)
            plain, entities = self._format(text, parse_mode)
            # Leaving out reply_markup takes the inline keyboard away: a classic surprise.
            buttons = self._buttons(call.params)
            if (plain, entities, buttons) == (message.plain, message.entities, message.buttons):
                raise _bad_request(ERR_NOT_MODIFIED)
            self._admit(chat, call.method)
            message.history.append(Version(message.plain, message.buttons))
            message.text, message.parse_mode = text, parse_mode
            message.plain, message.entities, message.buttons = plain, entities, buttons
            return self._sent(chat, message, "editMessageText", call.token)

    def _m_edit_message_reply_markup(self, call: _Call) -> dict[str, Any]:
        with self._cond:
            chat, message = self._find_for_edit(call)
            buttons = self._buttons(call.params)
            if buttons == message.buttons:
                raise _bad_request(ERR_NOT_MODIFIED)
            self._admit(chat, call.method)
            message.history.append(Version(message.plain, message.buttons))
            message.buttons = buttons
            return self._sent(chat, message, "editMessageReplyMarkup", call.token)

    def _m_answer_callback_query(self, call: _Call) -> bool:
        query_id = call.params.get("callback_query_id", "")
        with self._cond:
            if query_id not in self._callback_queries:
                raise _bad_request(ERR_QUERY_INVALID)
            self._callback_answers.append(
                CallbackAnswer(
                    callback_query_id=query_id,
                    data=self._callback_queries[query_id],
                    text=call.params.get("text") or None,
                    show_alert=_bool_arg(call.params, "show_alert"),
                )
            )
            self._cond.notify_all()
            return True

    def _m_send_chat_action(self, call: _Call) -> bool:
        with self._cond:
            chat = self._target_chat(call)
            action = call.params.get("action", "")
            if action not in CHAT_ACTIONS:
                raise _bad_request(ERR_BAD_ACTION)
            self._admit(chat, call.method)
            chat.actions.append(ChatAction(chat.id, action, time.monotonic()))
            self._cond.notify_all()
            return True

    # --- the person -----------------------------------------------------------------------------

    def deliver_raw(self, update: dict[str, Any]) -> int:
        """Telegram delivers this update exactly as given (an `update_id` is added), also one
        in a shape python-telegram-bot cannot read; the update_id."""
        return self._push_update(dict(update))

    def _push_update(self, update: dict[str, Any]) -> int:
        with self._cond:
            update_id = update["update_id"] = self._next_update_id
            self._next_update_id += 1
            self._updates.append(update)
            self._cond.notify_all()
            return update_id

    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        language_code: str | None = None,
        seconds_after: int | None = None,
    ) -> int:
        """The person writes (a /command gets its bot_command entity); the update_id. A new
        chat's person is called Test and has Telegram in Dutch. `seconds_after`: sent that
        many seconds after their previous message (a second thought), not a minute later."""
        with self._cond:
            chat = self._chat(chat_id)
            if language_code is not None:
                chat.user["language_code"] = language_code
            if seconds_after is not None:
                chat.last_date += seconds_after
                date = chat.last_date
            else:
                date = chat.person_date()
            message: dict[str, Any] = {
                "message_id": self._new_message_id(chat),
                "from": dict(chat.user),
                "chat": chat.chat_dict(),
                "date": date,
                "text": text,
            }
            entities = bot_command_entities(text)
            if entities:
                message["entities"] = entities
            chat.inbox.append(message)
            return self._push_update({"message": message})

    def press_button(self, chat_id: int, message_id: int, data: str, *, strict: bool = True) -> int:
        """The person taps an inline button: a callback_query update. With `strict` the message
        must show a button with this data now (a person cannot press what is not there)."""
        with self._cond:
            chat = self._chat(chat_id)
            message = chat.find_sent(message_id)
            shown = [d for row in message.buttons for _, d in row] if message else []
            if strict and data not in shown:
                raise ValueError(f"message {message_id} in chat {chat_id} shows no {data!r}")
            query_id = str(next(self._ids))
            self._callback_queries[query_id] = data
            query = {
                "id": query_id,
                "from": dict(chat.user),
                "chat_instance": str(chat_id),
                "data": data,
                "message": copy.deepcopy(message.raw) if message else None,
            }
            if message is None:  # Telegram's InaccessibleMessage
                query["message"] = {"chat": chat.chat_dict(), "message_id": message_id, "date": 0}
            return self._push_update({"callback_query": query})

    def press_label(self, chat_id: int, label: str) -> int:
        """Press the button with this label on the newest message that shows it."""
        with self._cond:
            for message in reversed(self._chat(chat_id).sent):
                for row in message.buttons:
                    for text, data in row:
                        if text == label and data is not None:
                            return self.press_button(chat_id, message.message_id, data)
            raise ValueError(f"no button labelled {label!r} in chat {chat_id}")

    def block(self, chat_id: int) -> None:
        """The person blocks the bot: what the bot sends to them gets 403."""
        with self._cond:
            self._chat(chat_id).blocked = True

    def unblock(self, chat_id: int) -> None:
        with self._cond:
            self._chat(chat_id).blocked = False

    # --- what happened --------------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[SentMessage]:
        """Copies of what the bot put in this chat, oldest first, as each looks now."""
        with self._cond:
            chat = self._chats.get(chat_id)
            return copy.deepcopy(chat.sent) if chat else []

    def texts(self, chat_id: int) -> list[str | None]:
        return [m.plain for m in self.messages(chat_id)]

    def last_message(self, chat_id: int) -> SentMessage | None:
        sent = self.messages(chat_id)
        return sent[-1] if sent else None

    def last_buttons(self, chat_id: int) -> Buttons:
        """The buttons of the newest message in this chat that shows any."""
        return next((m.buttons for m in reversed(self.messages(chat_id)) if m.buttons), [])

    def user_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """What the person wrote in this chat, as Message dicts, oldest first."""
        with self._cond:
            chat = self._chats.get(chat_id)
            return copy.deepcopy(chat.inbox) if chat else []

    def chat_actions(self, chat_id: int) -> list[ChatAction]:
        with self._cond:
            chat = self._chats.get(chat_id)
            return copy.deepcopy(chat.actions) if chat else []

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        with self._cond:
            return copy.deepcopy(self._callback_answers)

    @property
    def commands(self) -> dict[str, list[tuple[str, str]]]:
        """The command menus set, by language_code ("" for everyone else)."""
        with self._cond:
            return copy.deepcopy(self._commands)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every HTTP request, in the order they arrived."""
        with self._cond:
            return copy.deepcopy(self._requests)

    def calls(self, method: str) -> list[RequestRecord]:
        return [r for r in self.requests if (r.method or "").lower() == method.lower()]

    def sends(self, chat_id: int | None = None) -> list[SendRecord]:
        """Accepted sends and edits, with their times."""
        with self._cond:
            return [copy.copy(s) for s in self._sends if chat_id is None or s.chat_id == chat_id]

    @property
    def webhook_url(self) -> str:
        with self._cond:
            return self._webhook_url

    def is_confirmed(self, update_id: int) -> bool:
        """An offset past this update was sent: Telegram forgot it."""
        with self._cond:
            return update_id < self._next_update_id and all(
                u["update_id"] != update_id for u in self._updates
            )

    def was_delivered(self, update_id: int) -> bool:
        """getUpdates handed this update out at least once."""
        with self._cond:
            return update_id in self._delivered

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed (handed out or not)."""
        with self._cond:
            return copy.deepcopy(self._updates)

    @property
    def is_polling(self) -> bool:
        """A getUpdates long poll is waiting."""
        with self._cond:
            return self._polling > 0

    # --- waiting --------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], _T], timeout: float = 5.0, what: str = "") -> _T:
        """Block until `predicate()` is truthy and return it; TimeoutError with a report of the
        last requests otherwise. Not from the event loop the bot runs in: see wait_for_async."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self.report(f"{what or predicate!r}, after {timeout}s"))
                self._cond.wait(min(remaining, 0.1))  # also re-checks time-based predicates

    async def wait_for_async(
        self, predicate: Callable[[], _T], timeout: float = 5.0, what: str = ""
    ) -> _T:
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(self.report(f"{what or predicate!r}, after {timeout}s"))
            await asyncio.sleep(0.005)

    def report(self, what: str) -> str:
        """What the chats show and how the last requests were answered (no tokens)."""
        with self._cond:
            lines = [f"FakeBotAPI, waiting for {what}:"]
            for chat in self._chats.values():
                texts = [repr((m.plain or "")[:60]) for m in chat.sent[-5:]]
                lines.append(f"  chat {chat.id}: {len(chat.sent)} sent, last: {', '.join(texts)}")
            for record in self._requests[-10:]:
                lines.append(f"  {record.method} → {record.status} {record.description or ''}")
            return "\n".join(lines)

    # --- trouble --------------------------------------------------------------------------------

    def rate_limit_every(self, n: int | None, retry_after: int = 1) -> None:
        """Every n-th send gets 429 "Too Many Requests: retry after N" with
        `parameters.retry_after`. None or 0 switches it off."""
        with self._cond:
            self._rate_every = n or 0
            self._rate_retry_after = retry_after
            self._rate_counter = 0

    def enforce_chat_rate(self, max_per_second: float | None = 1.0, burst: int = 3) -> None:
        """Flood control per chat (a token bucket): a send beyond it gets 429 with the seconds
        until it would pass. None switches it off."""
        with self._cond:
            self._chat_rate = None if max_per_second is None else (max_per_second, burst)
            for chat in self._chats.values():
                chat.bucket = None

    def enforce_global_rate(self, max_per_second: float | None = 30.0, burst: int = 30) -> None:
        """Flood control over all chats (Telegram's ~30 messages a second)."""
        with self._cond:
            self._global_rate = None if max_per_second is None else (max_per_second, burst)
            self._global_bucket = None

    def fail_next(
        self,
        n: int = 1,
        status: int = 502,
        *,
        sends_only: bool = False,
        methods: Iterable[str] | None = None,
        html: bool = False,
    ) -> None:
        """The next n matching requests get HTTP `status` with Telegram's JSON body (`html`:
        nginx's error page). A polling bot calls getUpdates all the time: `sends_only` or
        `methods` aim at what you mean."""
        with self._cond:
            self._fail.append(_Fault(n, sends_only, _method_set(methods), status=status, html=html))

    def drop_connections(
        self, n: int = 1, *, sends_only: bool = False, methods: Iterable[str] | None = None
    ) -> None:
        """The next n matching requests are read, and the connection closed without an answer
        (the request did not take effect: the bot cannot know that)."""
        with self._cond:
            self._drop.append(_Fault(n, sends_only, _method_set(methods)))

    def delay_next(
        self,
        n: int = 1,
        seconds: float = 1.0,
        *,
        sends_only: bool = False,
        methods: Iterable[str] | None = None,
    ) -> None:
        """The next n matching requests are answered after `seconds` (longer than the bot's
        read timeout: TimedOut, while the request still takes effect)."""
        with self._cond:
            self._delay.append(_Fault(n, sends_only, _method_set(methods), seconds=seconds))

    def outage(self, seconds: float, *, mode: str = "drop") -> None:
        """Telegram unreachable for `seconds`: `drop` closes every request's connection without
        an answer; `refuse` closes the port (connections are refused) and opens it again."""
        if mode not in ("drop", "refuse"):
            raise ValueError("mode must be 'drop' or 'refuse'")
        with self._cond:
            self._outage_mode = mode
            self._outage_until = time.monotonic() + seconds
            if mode == "refuse":
                self._close_listening_socket()
            # Open connections die too (a waiting long poll as well); idle keep-alive
            # connections would otherwise get past a refused port.
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._cond.notify_all()

    def reset_faults(self) -> None:
        """All trouble off (blocks stay: unblock)."""
        with self._cond:
            self._fail.clear()
            self._drop.clear()
            self._delay.clear()
            self._outage_until = 0.0
            self._rate_every = 0
            self._chat_rate = None
            self._global_rate = None


def _method_set(methods: Iterable[str] | None) -> frozenset[str] | None:
    return None if methods is None else frozenset(m.lower() for m in methods)
