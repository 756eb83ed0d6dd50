"""Memory of a running coach with 1,000 and with 100,000 check-ins scheduled in its database.

    .venv/bin/python bench/checkin_memory.py

For each size: a new SQLite database gets that many people, each with one daily check-in in the
future (and 1% of them due now, so the dispatcher really works at start-up); then the real
`kern-coach console` process starts on it, delivers what is due, and its resident memory (VmRSS)
is read once it has settled. The database holds the check-ins; the process should not.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flows import defaults, delivery

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1_000, 100_000)
DUE_NOW_SHARE = 0.01


def fill(database: Path, count: int) -> None:
    env = {**os.environ, "KERN_COACH_DATABASE_URL": f"sqlite:///{database}"}
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    # The counter says which ids the engine has used: the check-in below is "c1".
    state = json.dumps({"consent": "given", "checkin_time": "20:00", "counter": 1})
    free = delivery.Availability(paused=False, unreachable=False, held_until=None)
    checkins_from = delivery.checkins_from(free)
    assert checkins_from is not None
    row = (defaults.TIMEZONE, checkins_from.replace(tzinfo=None), state, now, now)
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO person (id, channel, address, lang, timezone, consent, checkin_time, "
            "paused, unreachable, checkins_from, state, created_at, updated_at) "
            "VALUES (?, 'bench', ?, 'nl', ?, 'given', '20:00', 0, 0, ?, ?, ?, ?)",
            ((i, str(i), *row) for i in range(1, count + 1)),
        )
        due_now = int(count * DUE_NOW_SHARE)
        db.executemany(
            "INSERT INTO checkin (person_id, key, kind, flow, step, run_key, every, due_at, "
            "status, created_at) VALUES (?, 'c1', 'daily', 'dagelijks', 'checkin', NULL, '1d', "
            "?, 'pending', ?)",
            (
                (
                    i,
                    now - timedelta(minutes=5)
                    if i <= due_now
                    else now + timedelta(hours=1 + i % 20),
                    now,
                )
                for i in range(1, count + 1)
            ),
        )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def measure(database: Path, count: int) -> tuple[int, int, float]:
    env = {**os.environ, "KERN_COACH_DATABASE_URL": f"sqlite:///{database}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    started = time.monotonic()
    expected = int(count * DUE_NOW_SHARE)
    delivered = 0
    while time.monotonic() - started < 300:
        time.sleep(1)
        with sqlite3.connect(database) as db:
            query = "SELECT count(*) FROM checkin WHERE status = 'done'"
            delivered = db.execute(query).fetchone()[0]
        if delivered >= expected:
            break
    elapsed = time.monotonic() - started
    time.sleep(2)  # let it settle after delivering
    rss = rss_kib(process.pid)
    process.stdin.close()  # type: ignore[union-attr]
    process.wait(timeout=60)
    return rss, delivered, elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for count in SIZES:
            database = Path(folder) / f"checkins-{count}.db"
            fill(database, count)
            rss, delivered, elapsed = measure(database, count)
            print(
                f"{count:>7,} check-ins scheduled: RSS {rss / 1024:.1f} MiB "
                f"({delivered} due ones delivered in {elapsed:.1f} s)"
            )


if __name__ == "__main__":
    main()
