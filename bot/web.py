"""The coach's HTTP server: the Telegram webhook, `/healthz` and `/metrics`, on Tornado.

What faces the internet is parsed by a maintained HTTP/1.1 implementation, not by us. Tornado
comes with python-telegram-bot's own webhook support, runs on the asyncio loop the channel
already uses, and bounds what a client can make it hold: the header block (size, and the time
to send it), the body (size and time), how long an idle connection stays open, and (below) how
many connections are open at once. A malformed request gets a 400 from Tornado and is logged at
most as one line, without a traceback; whatever the handler raises becomes a 500 with its type
name in the log, never its text.

The routes themselves are one function, `Handler`: a `Request` in, a `Response` out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream, StreamClosedError
from tornado.netutil import bind_sockets
from tornado.web import Application, ErrorHandler, HTTPError, RequestHandler

log = logging.getLogger(__name__)
REFUSALS_LOGGED_EVERY = 60.0  # seconds: a flood of refused connections is one line a minute


@dataclass(frozen=True)
class Limits:
    """What one client may make the server hold. Telegram's updates are a few kilobytes and its
    headers a few hundred bytes; Telegram opens at most 40 webhook connections (setWebhook's
    default), and a health checker or Prometheus one each."""

    body_bytes: int = 1 << 20
    header_bytes: int = 16 << 10
    header_seconds: float = 10.0  # the whole header block; also how long an idle keep-alive waits
    body_seconds: float = 10.0
    connections: int = 100
    # A request whose handler takes longer is answered 503 (Telegram sends the update again);
    # the handler still runs to its end, so a turn is never cut in half.
    handler_seconds: float = 50.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any) -> Response:
        return cls(status, json.dumps(data).encode(), "application/json")


Handler = Callable[[Request], Awaitable[Response]]

BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
    b"Retry-After: 1\r\n\r\n"
)


class _Route(RequestHandler):
    """Every path and method Tornado accepts goes to the one handler; others get Tornado's 405."""

    SUPPORTED_METHODS = ("GET", "POST")

    def initialize(self, server: WebServer) -> None:
        self.server = server

    def set_default_headers(self) -> None:
        self.clear_header("Server")

    async def get(self, *_: str) -> None:
        await self._serve()

    async def post(self, *_: str) -> None:
        await self._serve()

    async def _serve(self) -> None:
        request = Request(
            method=self.request.method or "GET",
            path=self.request.path,
            headers={name.lower(): value for name, value in self.request.headers.get_all()},
            body=self.request.body,
        )
        response = await self.server.respond(request)
        self.set_status(response.status)
        self.set_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.set_header(name, value)
        self.finish(response.body)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # Tornado would log the traceback, and an exception's text may quote the request.
        if isinstance(value, HTTPError):  # a 405 and the like: the client's mistake
            log.debug("HTTP %d", value.status_code)
            return
        log.error("HTTP request failed (%s)", typ.__name__ if typ else "unknown")


class _BoundedHTTPServer(HTTPServer):
    """Tornado's server with a limit on open connections: past it a new connection gets a 503 and
    is closed, so slow clients cannot take every file descriptor."""

    def initialize(self, *args: Any, max_connections: int = 100, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self.open_connections = 0
        self.refused = 0  # since the last log line about them
        self._refusals_logged: float | None = None

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        if self.open_connections >= self.max_connections:
            self._count_refusal()
            _refuse(stream)
            return
        self.open_connections += 1
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        self.open_connections -= 1
        super().on_close(server_conn)

    def _count_refusal(self) -> None:
        """One log line for the first refusal and then at most one per interval, with the count:
        a line per refused connection would let a flood fill the disk."""
        self.refused += 1
        now = time.monotonic()
        if self._refusals_logged is None or now - self._refusals_logged >= REFUSALS_LOGGED_EVERY:
            log.warning(
                "HTTP connections refused: %d (limit of %d open reached)",
                self.refused,
                self.max_connections,
            )
            self.refused = 0
            self._refusals_logged = now


class _NotFound(ErrorHandler):
    """What matches no route (`OPTIONS *`, for one): a 404 that, like every answer here, does not
    name the server."""

    def set_default_headers(self) -> None:
        self.clear_header("Server")


def _refuse(stream: IOStream) -> None:
    def close(written: asyncio.Future[None]) -> None:
        if not written.cancelled():
            written.exception()  # a client that went away already: nothing to do
        stream.close()

    try:
        stream.write(BUSY).add_done_callback(close)
    except StreamClosedError:
        stream.close()


class WebServer:
    """Serves `handler` on host:port until `stop()`. Port 0 takes a free port (see `.port`)."""

    def __init__(self, handler: Handler, host: str, port: int, limits: Limits | None = None):
        self.handler = handler
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self._server: _BoundedHTTPServer | None = None
        self._late: set[asyncio.Task[Response]] = set()

    async def start(self) -> None:
        # Tornado logs each request at INFO and each malformed one as a line: under a flood that
        # is noise, and a path is whatever the client made up.
        logging.getLogger("tornado.access").setLevel(logging.WARNING)
        logging.getLogger("tornado.general").setLevel(logging.WARNING)
        limits = self.limits
        application = Application(
            [(r"/.*", _Route, {"server": self})],
            log_function=lambda handler: None,
            compress_response=False,
            default_handler_class=_NotFound,
            default_handler_args={"status_code": 404},
        )
        server = _BoundedHTTPServer(
            application,
            max_connections=limits.connections,
            max_header_size=limits.header_bytes,
            max_body_size=limits.body_bytes,
            max_buffer_size=limits.body_bytes + limits.header_bytes,
            idle_connection_timeout=limits.header_seconds,
            body_timeout=limits.body_seconds,
        )
        sockets = bind_sockets(self.port, self.host)
        server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        self._server = server

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.close_all_connections(), 5)
        self._server = None
        if self._late:
            await asyncio.wait(list(self._late), timeout=30)

    @property
    def open_connections(self) -> int:
        return self._server.open_connections if self._server is not None else 0

    async def respond(self, request: Request) -> Response:
        """The handler's response; a 500 when it raises, a 503 when it takes too long."""
        task = asyncio.ensure_future(self.handler(request))
        done, _ = await asyncio.wait([task], timeout=self.limits.handler_seconds)
        if not done:
            log.warning("HTTP %s %s took too long; answered 503", request.method, _route(request))
            self._late.add(task)
            task.add_done_callback(self._finished_late)
            return Response(503, b"busy, try again\n", headers={"Retry-After": "5"})
        try:
            return task.result()
        except Exception as error:  # never the request's content in the log
            log.error("HTTP handler failed (%s)", type(error).__name__)
            return Response(500, b"error\n")

    def _finished_late(self, task: asyncio.Task[Response]) -> None:
        self._late.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("HTTP handler failed late (%s)", type(task.exception()).__name__)


def _route(request: Request) -> str:
    """The path for a log line, only if it is one of ours (a client can send any path)."""
    known = ("/healthz", "/metrics")
    return request.path if request.path in known else "(webhook or other path)"


async def database_ok(check: Callable[[], object], timeout: float = 5.0) -> bool:
    """Run a small query in a thread; False when it fails or hangs."""
    try:
        await asyncio.wait_for(asyncio.to_thread(check), timeout)
    except Exception:
        return False
    return True
