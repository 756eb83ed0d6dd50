"""Memory and start-up of a running coach with 1,000 and with 1,000,000 check-ins scheduled in
its database; APScheduler's in-memory job store holding 100,000 jobs, in the same run, for
comparison.

    .venv/bin/python bench/checkin_memory.py [--sizes 1000 1000000]

For each size: a new SQLite database gets that many people, each with one daily check-in
(`tests/seed.py`, the rows the coach itself writes), DUE_NOW of them due now, so the dispatcher
really works at start-up, and the rest spread over the next twenty hours. The same number is due
at every size, so the sizes differ only in what waits. Then the real `kern-coach console` process
starts on it: start-up is the time from starting it to its first message on the screen; resident
memory (VmRSS) is read once it has delivered what was due and settled. The database holds the
check-ins; the process should not.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/seed.py

from tests.seed import seed_checkins  # noqa: E402

DUE_NOW = 100
APSCHEDULER_JOBS = 100_000


def fill(database: Path, count: int) -> float:
    """The seconds it took."""
    started = time.monotonic()
    env = {**os.environ, "KERN_COACH_DATABASE_URL": f"sqlite:///{database}"}
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    engine = sa.create_engine(f"sqlite:///{database}")
    seed_checkins(engine, count, datetime.now(UTC), due_now=DUE_NOW)
    engine.dispose()
    return time.monotonic() - started


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def measure(database: Path) -> tuple[int, float, int, float]:
    """(RSS KiB, seconds to the first message, check-ins delivered, seconds to deliver them)."""
    env = {**os.environ, "KERN_COACH_DATABASE_URL": f"sqlite:///{database}"}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    first_message = float("nan")
    for line in process.stdout:
        if line.startswith("coach ›"):
            first_message = time.monotonic() - started
            break
    delivered = 0
    while time.monotonic() - started < 300:
        with sqlite3.connect(database) as db:
            query = "SELECT count(*) FROM checkin WHERE key = 'c1' AND status = 'done'"
            delivered = db.execute(query).fetchone()[0]
        if delivered >= DUE_NOW:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    time.sleep(2)  # let it settle after delivering
    rss = rss_kib(process.pid)
    process.stdin.close()
    process.stdout.close()
    process.wait(timeout=60)
    return rss, first_message, delivered, elapsed


APSCHEDULER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.date import DateTrigger

    def rss():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    def checkin(person):
        pass

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    before = rss()
    now = datetime.now(UTC)
    started = time.monotonic()
    for i in range(int(sys.argv[1])):
        scheduler.add_job(
            checkin, DateTrigger(run_date=now + timedelta(hours=1 + i % 20)), args=[i], id=str(i)
        )
    print(before, rss(), time.monotonic() - started)
    scheduler.shutdown(wait=False)
    """
)


def apscheduler(jobs: int) -> tuple[int, int, float]:
    """(RSS KiB with no job, RSS KiB with `jobs` jobs, seconds to add them)."""
    out = subprocess.run(
        [sys.executable, "-c", APSCHEDULER, str(jobs)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[0]), int(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    args = parser.parse_args()
    results: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in args.sizes:
            database = Path(folder) / f"checkins-{count}.db"
            filled = fill(database, count)
            rss, first, delivered, elapsed = measure(database)
            results[count] = rss
            print(
                f"{count:>9,} check-ins scheduled: RSS {rss / 1024:.1f} MiB, first message after "
                f"{first:.2f} s ({delivered} due ones delivered {elapsed:.1f} s after start; "
                f"database filled in {filled:.0f} s)",
                flush=True,
            )
    smallest, largest = min(results), max(results)
    print(f"ratio {largest:,} / {smallest:,}: {results[largest] / results[smallest]:.3f}")
    empty, full, seconds = apscheduler(APSCHEDULER_JOBS)
    print(
        f"APScheduler MemoryJobStore, {APSCHEDULER_JOBS:,} jobs: RSS {empty / 1024:.1f} MiB "
        f"without, {full / 1024:.1f} MiB with them (+{(full - empty) / 1024:.1f} MiB; "
        f"added in {seconds:.1f} s)"
    )


if __name__ == "__main__":
    main()
