"""10,000 check-ins due at the same moment, with the coach's overall send rate set to 200 a
second, against the fake Bot API on 127.0.0.1: the rate it achieves, and that nobody's check-in
is lost or doubled.

    .venv/bin/python bench/checkin_burst.py [--people 10000] [--rate 200] [--database-url URL]
        [--processes N]

The database (a new SQLite file unless a URL is given; give a PostgreSQL URL of an empty schema
for PostgreSQL) gets that many people with a daily check-in due a minute ago (`tests/seed.py`).
Then `--processes` real Telegram channels start, each in a process of its own, and their
dispatchers deliver the check-ins at once. One process on SQLite polls the fake and paces its
overall rate itself; on PostgreSQL every process takes a webhook port of its own (as behind a
proxy) and they pace themselves together through the shared send budget (`bot/send_budget.py`),
as `kern-coach telegram` does there. The overall limit is `--rate` with a burst of one (the rate
itself is measured); the per-chat limit is production's. Achieved rate: messages the fake
accepted, divided by the time from the first to the last. Lost: a check-in not done, a message
left in the outbox, a person who got fewer messages than the others; doubled: a person who got
more. Several processes need PostgreSQL: one SQLite file is for one process.

`--outbox-only`: the check-ins are done already and their two messages each wait in the outbox
(as the dispatcher leaves them), so the rate is the sender's alone, without the dispatcher's
engine turns beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/seed.py, tests/fakes

from tests.fakes.telegram_api import FakeBotAPI  # noqa: E402
from tests.seed import seed_checkins  # noqa: E402

TOKEN = "123:BENCH"
LIMIT_SECONDS = 600.0


def serve(database_url: str, api_url: str, rate: float, folder: str, port: int) -> None:
    """The child: the Telegram channel with its pacer's overall limit at `rate`; `port`: its
    webhook's (0: it polls)."""
    from bot.app import build_coach, configure_logging
    from bot.channels.telegram import Pacer, TelegramChannel, build_application, quiet_libraries
    from bot.config import Config
    from bot.send_budget import SharedBudget
    from bot.storage import db

    configure_logging("WARNING")
    quiet_libraries()
    config = Config(database_url=database_url, forgotten_file=str(Path(folder) / "forgotten"))
    coach = build_coach(config)
    # No burst: the rate itself is measured. PostgreSQL: one budget for all processes.
    overall = (
        (rate, 1)
        if db.is_sqlite(coach.store.engine)
        else SharedBudget(coach.store, f"telegram:{TOKEN.split(':')[0]}", rate, 1)
    )
    webhook = {}
    if port:
        webhook = {
            "webhook_url": "https://coach.example/telegram",
            "webhook_port": port,
            "webhook_host": "127.0.0.1",
            "webhook_secret": "bench",
        }
    channel = TelegramChannel(
        coach,
        build_application(TOKEN, api_url),
        pacer=Pacer(overall=overall),
        poll_timeout=1,
        **webhook,  # type: ignore[arg-type]
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, channel.stop)
        await channel.run()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fill_outbox(engine: sa.Engine, people: int) -> None:
    """Every check-in done, its two messages waiting for the person (what a dispatch leaves)."""
    from bot.outbox import encode
    from flows.messages import Message, Span

    now = datetime.now(UTC).replace(tzinfo=None)
    insert = sa.text(
        "INSERT INTO outbox (person_id, channel, address, payload, attempts, next_attempt_at, "
        "created_at) VALUES (NULL, 'telegram', :address, :payload, 0, :at, :at)"
    )
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE checkin SET status = 'done'"))
        for n in range(2):
            rows = [
                {
                    "address": str(1 + i),
                    "payload": json.dumps(
                        encode(Message(key="bench", paragraphs=((Span(text=f"{i}-{n}"),),)))
                    ),
                    "at": now,
                }
                for i in range(people)
            ]
            connection.execute(insert, rows)


def count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text(sql)).scalar() or 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--outbox-only", action="store_true")
    parser.add_argument(
        "--serve", nargs=4, metavar=("DB", "API", "FOLDER", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], args.rate, args.serve[2], int(args.serve[3]))
        return
    if args.processes > 1 and not (args.database_url or "").startswith("postgresql"):
        parser.error("several processes need PostgreSQL (--database-url postgresql+psycopg://…)")

    with tempfile.TemporaryDirectory() as folder, FakeBotAPI() as fake:
        url = args.database_url or f"sqlite:///{Path(folder) / 'burst.db'}"
        env = {**os.environ, "KERN_COACH_DATABASE_URL": url}
        subprocess.run(
            [sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, check=True
        )
        engine = sa.create_engine(url)
        seed_checkins(engine, args.people, datetime.now(UTC))
        if args.outbox_only:
            fill_outbox(engine, args.people)
        polling = sa.make_url(url).get_backend_name() == "sqlite"
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--rate",
                    str(args.rate),
                    "--serve",
                    url,
                    fake.base_url,
                    folder,
                    "0" if polling else str(free_port()),
                ],
                cwd=ROOT,
            )
            for _ in range(args.processes)
        ]
        started = time.monotonic()
        done = "SELECT count(*) FROM checkin WHERE key = 'c1' AND status = 'done'"
        try:
            while time.monotonic() - started < LIMIT_SECONDS:
                time.sleep(1)
                if (
                    count(engine, done) == args.people
                    and count(engine, "SELECT count(*) FROM outbox") == 0
                ):
                    break
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                child.wait(timeout=60)
        sends = fake.sends()
        per_chat = Counter(s.chat_id for s in sends)
        each = Counter(per_chat.values())
        usual = each.most_common(1)[0][0] if each else 0
        lost = args.people - count(engine, done) + count(engine, "SELECT count(*) FROM outbox")
        lost += sum(usual - n for n in per_chat.values() if n < usual)
        lost += (args.people - len(per_chat)) * usual
        doubled = sum(n - usual for n in per_chat.values() if n > usual)
        # The counts per chat miss a message sent twice in place of the next: with the outbox
        # filled here every text is known, so each chat's texts are checked, in order.
        wrong = ""
        if args.outbox_only:
            astray = sum(
                [m.text for m in fake.messages(1 + i)] != [f"{i}-0", f"{i}-1"]
                for i in range(args.people)
            )
            wrong = f", chats not given exactly their two texts in order {astray}"
        span = sends[-1].at - sends[0].at if len(sends) > 1 else float("nan")
        achieved = (len(sends) - 1) / span
        peak = max(Counter(int(s.at - sends[0].at) for s in sends).values(), default=0)
        print(
            f"{args.people:,} check-ins due at once, {len(sends):,} messages "
            f"({usual} per person) in {span:.1f} s: {achieved:.1f} messages/s against a limit "
            f"of {args.rate:.0f} ({achieved / args.rate:.3f}x), most in one second {peak}; "
            f"lost {lost}, doubled {doubled}{wrong}; "
            f"database {sa.make_url(url).get_backend_name()}, "
            f"{args.processes} process(es){', outbox only' if args.outbox_only else ''}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
