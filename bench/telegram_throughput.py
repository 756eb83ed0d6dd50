"""How many updates a second the Telegram channel answers, and how fast, next to the simplest
python-telegram-bot echo bot on the same fake Bot API in the same run.

    .venv/bin/python bench/telegram_throughput.py [--chats 100] [--messages 10] [--paced]
        [--database-url URL] [--whole-reply]

Many chats write at once; each sends its next message as soon as the first reply to the last one
arrives (a person who answers at once). Measured per update: the time from Telegram having it to
the first reply. Reported for both bots: updates/second and p50/p99 latency, and the ratios.

Each bot runs in a process of its own, as in production; this process plays Telegram (the fake
Bot API on 127.0.0.1) and the people. The coach does far more per update than an echo (a
database transaction with the engine's turn, the outbox, deleting the sent row); it answers
each of these messages with one message (its note joined to the question asked again), the
/start with two. For a fair comparison its pacing is switched off here,
since the echo bot has none; `--paced` adds a run with Telegram's limits enforced by the fake and
the coach pacing itself (no echo bot there: without a rate limiter it would lose replies to 429s).

`--database-url` runs the coach on that database (an empty PostgreSQL schema, say) instead of
a new SQLite file. `--webhooks N` runs N coach processes in webhook mode
(`kern-coach telegram --webhook-url …` as an operator runs several behind a proxy) on that
database: this process plays Telegram's webhook delivery and the proxy at once, posting each
update to the next process in turn (round-robin per update, as a proxy does), on up to 40
connections at once (Telegram's default `max_connections`); the echo bot still polls.
`--whole-reply` measures only the coach, with Telegram's limits (as
`--paced`): each person writes again only once the whole reply is there (its last message, the
one with buttons), and the time to the first reply is measured.

It stops by itself: a fixed number of messages, and a time limit per bot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import FakeBotAPI  # noqa: E402

TIME_LIMIT = 180.0  # seconds per bot, whatever happens


class Load:
    """Drives the chats from inside the fake: when a chat gets its first reply to a message,
    the latency is noted and its next message goes in."""

    def __init__(
        self,
        fake: FakeBotAPI,
        chats: int,
        messages: int,
        first_chat: int = 10_000,
        *,
        whole_reply: bool = False,
    ):
        self.fake = fake
        self.whole_reply = whole_reply  # write again only after the message with buttons
        self.chats = list(range(first_chat, first_chat + chats))
        self.messages = messages
        self.sent: dict[int, int] = {}  # chat → messages it sent
        self.pending: dict[int, float] = {}  # chat → when its unanswered message went in
        self.answered: dict[int, bool] = {}  # chat → its message got its first reply
        self.latencies: list[float] = []
        self.replies = 0
        self.done = threading.Event()
        self.started = self.finished = 0.0
        self.lock = threading.Lock()

    def text(self, chat: int) -> str:
        return "/start" if self.sent[chat] == 0 else f"Bericht {self.sent[chat]} uit chat {chat}"

    def push(self, chat: int) -> None:
        text = self.text(chat)
        self.sent[chat] += 1
        self.pending[chat] = time.perf_counter()
        self.fake.send_text(chat, text)

    def start(self) -> None:
        with self.lock:
            self.started = time.perf_counter()
            for chat in self.chats:
                self.sent[chat] = 0
            for chat in self.chats:
                self.push(chat)

    def on_send(self, chat: int, method: str, last: bool = True) -> None:
        if method != "sendMessage":
            return
        with self.lock:
            self.replies += 1
            began = self.pending.pop(chat, None)
            if began is not None:
                self.latencies.append(time.perf_counter() - began)
                self.answered[chat] = True
            if self.whole_reply and not last:
                return  # the rest of the reply is still coming
            if not self.answered.pop(chat, False):
                return  # a second reply to the same message
            if self.sent[chat] < self.messages:
                self.push(chat)
            elif not self.pending and all(n >= self.messages for n in self.sent.values()):
                self.finished = time.perf_counter()
                self.done.set()

    def figures(self) -> dict[str, Any]:
        elapsed = (self.finished or time.perf_counter()) - self.started
        ordered = sorted(self.latencies)
        return {
            "updates": len(ordered),
            "seconds": elapsed,
            "per_second": len(ordered) / elapsed if elapsed else 0.0,
            "p50_ms": 1000 * statistics.median(ordered) if ordered else float("nan"),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            if ordered
            else float("nan"),
            "complete": self.done.is_set(),
        }


class WatchedFake(FakeBotAPI):
    """The fake Bot API, telling the load about every message a bot puts in a chat; with a
    `proxy`, updates are posted to webhooks instead of waiting for getUpdates."""

    load: Load | None = None
    proxy: Proxy | None = None

    def _record_send(self, chat: Any, message: Any, method: str) -> None:
        super()._record_send(chat, message, method)
        if self.load is not None:
            self.load.on_send(chat.id, method, last=bool(getattr(message, "buttons", None)))

    def _push_update(self, update: dict[str, Any]) -> int:
        if self.proxy is None:
            return super()._push_update(update)
        with self._cond:
            update_id = update["update_id"] = self._next_update_id
            self._next_update_id += 1
        self.proxy.post(update)
        return update_id


WEBHOOK_SECRET = "bench-secret"
MAX_CONNECTIONS = 40  # Telegram's default for a webhook


class Proxy:
    """Telegram's webhook delivery and a round-robin proxy in one: each update is POSTed to the
    next process in turn, on at most MAX_CONNECTIONS connections at once."""

    def __init__(self, ports: list[int]):
        from concurrent.futures import ThreadPoolExecutor

        self.ports = ports
        self.next = 0
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(MAX_CONNECTIONS, thread_name_prefix="webhook")
        self.failed = 0

    def post(self, update: dict[str, Any]) -> None:
        with self.lock:
            port = self.ports[self.next % len(self.ports)]
            self.next += 1
        self.pool.submit(self._post, port, json.dumps(update).encode())

    def _post(self, port: int, body: bytes) -> None:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/telegram",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                ok = response.status == 200
        except (urllib.error.URLError, OSError):
            ok = False
        if not ok:
            with self.lock:
                self.failed += 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the bots, each in a process of its own ------------------------------------------------------


def serve_echo(api: str) -> None:
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Say it back."""
        await update.effective_message.reply_text(update.effective_message.text)

    application = Application.builder().token("123:ECHO").base_url(api).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.run_polling(poll_interval=0.0, timeout=10, stop_signals=(signal.SIGTERM,))


def serve_coach(api: str, database: str, paced: bool, port: int | None = None) -> None:
    from bot.channels.telegram import Pacer, TelegramChannel, build_application
    from bot.clock import Clock
    from bot.coach import Coach
    from bot.content import load_library
    from bot.storage import db
    from bot.storage.migrations import upgrade_engine
    from bot.storage.store import Store

    engine = db.make_engine(database)
    upgrade_engine(engine)
    library = load_library()
    library.safety.warm()  # as bot.app.build_coach does: before anyone is served
    coach = Coach(library, Store(engine), Clock())
    pacer = Pacer() if paced else Pacer(chat=None, overall=None)
    webhook: dict[str, Any] = {}
    if port is not None:
        webhook = {
            "webhook_url": "https://coach.example/telegram",
            "webhook_port": port,
            "webhook_secret": WEBHOOK_SECRET,
            "webhook_host": "127.0.0.1",
        }
    channel = TelegramChannel(
        coach, build_application("123:TEST", api), poll_timeout=10, pacer=pacer, **webhook
    )

    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, channel.stop)
        await channel.run()

    asyncio.run(main())


def measure(
    which: str,
    chats: int,
    messages: int,
    *,
    paced: bool = False,
    database_url: str | None = None,
    whole_reply: bool = False,
    webhooks: int = 0,
) -> dict[str, Any]:
    """Start the bot (`webhooks` coach processes in webhook mode, else one polling), let the
    people write, stop the bot; the figures."""
    with tempfile.TemporaryDirectory() as directory, WatchedFake() as fake:
        database = database_url or f"sqlite:///{Path(directory) / 'coach.db'}"
        if database_url and which == "coach":
            clear(database_url)
            if webhooks:  # migrated once here, not raced by the processes starting
                from bot.storage import migrations

                migrations.upgrade(database_url)
        if paced:
            fake.enforce_chat_rate(1.0, burst=3)
            fake.enforce_global_rate(30.0, burst=30)
        command = [
            sys.executable,
            __file__,
            "--serve",
            which,
            "--api",
            fake.base_url,
            "--database",
            database,
        ] + (["--paced"] if paced else [])
        ports = [free_port() for _ in range(webhooks)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        bots = [
            subprocess.Popen(command + ["--port", str(port)], cwd=ROOT, env=env) for port in ports
        ] or [subprocess.Popen(command, cwd=ROOT, env=env)]
        try:
            if ports:
                fake.wait_for(
                    lambda: len(fake.calls("setWebhook")) >= len(ports), 120, "every webhook set"
                )
                fake.proxy = Proxy(ports)
            else:
                fake.wait_for(lambda: fake.is_polling, 60, "a waiting getUpdates")
            load = fake.load = Load(fake, chats, messages, whole_reply=whole_reply)
            load.start()
            load.done.wait(TIME_LIMIT)
            figures = load.figures()
            if which == "coach":  # every message out (the second replies to the last round)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and waiting(database):
                    time.sleep(0.1)
                figures["left_in_outbox"] = waiting(database)
            figures["replies"] = load.replies
            figures["refused_429"] = sum(1 for r in fake.requests if r.status == 429)
            figures["webhook_failures"] = fake.proxy.failed if fake.proxy else 0
        finally:
            if fake.proxy is not None:
                fake.proxy.close()
            for bot in bots:
                bot.send_signal(signal.SIGTERM)
            for bot in bots:
                try:
                    bot.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    bot.kill()
                    bot.wait()
    return figures


def waiting(database: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(database, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT count(*) FROM outbox")).scalar() or 0)
    finally:
        engine.dispose()


def clear(database: str) -> None:
    """An earlier run's rows out of a given database (its schema stays)."""
    import sqlalchemy as sa

    engine = sa.create_engine(database, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            if sa.inspect(connection).has_table("outbox"):
                for table in ("outbox", "answer", "run", "checkin", "processed_update", "person"):
                    connection.execute(sa.text(f"DELETE FROM {table}"))
    finally:
        engine.dispose()


def show(name: str, f: dict[str, Any]) -> None:
    state = "" if f["complete"] else "  (TIME LIMIT HIT: incomplete)"
    print(
        f"{name:<20} {f['updates']:>6.0f} updates in {f['seconds']:6.2f}s = "
        f"{f['per_second']:7.1f}/s   p50 {f['p50_ms']:7.1f} ms   p99 {f['p99_ms']:7.1f} ms   "
        f"({f['replies']:.0f} messages sent){state}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10, help="per chat, /start included")
    parser.add_argument(
        "--paced", action="store_true", help="also run the coach within Telegram's limits"
    )
    parser.add_argument("--database-url", help="the coach's database (default: a new SQLite file)")
    parser.add_argument(
        "--whole-reply",
        action="store_true",
        help="only the coach, paced: each person waits for the whole reply before writing again",
    )
    parser.add_argument(
        "--webhooks",
        type=int,
        default=0,
        help="this many coach processes in webhook mode, round-robin (needs --database-url)",
    )
    parser.add_argument("--serve", choices=["echo", "coach"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.serve == "echo":
        serve_echo(args.api)
        return 0
    if args.serve == "coach":
        serve_coach(args.api, args.database, args.paced, args.port)
        return 0
    if args.webhooks and not args.database_url:
        parser.error("--webhooks needs --database-url: several processes share one PostgreSQL")

    print(
        f"{args.chats} chats x {args.messages} messages, closed loop; fake Bot API on "
        f"127.0.0.1, each bot in its own process; load average {os.getloadavg()[0]:.1f}\n",
        flush=True,
    )
    if args.whole_reply:
        whole = measure(
            "coach",
            args.chats,
            args.messages,
            paced=True,
            database_url=args.database_url,
            whole_reply=True,
            webhooks=args.webhooks,
        )
        show("kern-coach, paced, whole reply", whole)
        print(f"{'':<20} 429 answers from the fake: {whole['refused_429']}")
        return 0 if whole["complete"] and not whole["left_in_outbox"] else 1
    echo = measure("echo", args.chats, args.messages)
    show("echo bot (PTB)", echo)
    coach = measure(
        "coach",
        args.chats,
        args.messages,
        database_url=args.database_url,
        webhooks=args.webhooks,
    )
    show(f"kern-coach ({args.webhooks} webhooks)" if args.webhooks else "kern-coach", coach)
    if coach["webhook_failures"]:
        print(f"{coach['webhook_failures']} webhook post(s) not answered 200")
    throughput = coach["per_second"] / echo["per_second"]
    p99 = coach["p99_ms"] / echo["p99_ms"]
    print(
        f"\ncoach / echo: throughput {throughput:.2f}x (goal >= 0.8), "
        f"p99 latency {p99:.2f}x (goal <= 1.5)"
    )
    if coach["left_in_outbox"]:
        print(f"the coach left {coach['left_in_outbox']} message(s) unsent")
    if args.paced:
        paced = measure(
            "coach", args.chats, args.messages, paced=True, database_url=args.database_url
        )
        print()
        show("kern-coach, paced", paced)
        print(f"{'':<20} 429 answers from the fake: {paced['refused_429']}")
    return 0 if echo["complete"] and coach["complete"] and not coach["left_in_outbox"] else 1


if __name__ == "__main__":
    sys.exit(main())
