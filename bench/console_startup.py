"""Time from starting `kern-coach console` to its first message on the screen.

    .venv/bin/python bench/console_startup.py [--runs 7]

Measured on a new database (the migrations run) and on one that exists (the everyday case),
as the median of several runs, with the process's own Python (`python -m bot console`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def first_message_seconds(database: Path) -> float:
    env = {**os.environ, "KERN_COACH_DATABASE_URL": f"sqlite:///{database}"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("coach ›"):
            elapsed = time.perf_counter() - started
            break
    else:
        raise RuntimeError("the console printed no message")
    process.stdin.close()  # type: ignore[union-attr]
    process.wait(timeout=30)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        fresh = [first_message_seconds(Path(folder) / f"new-{i}.db") for i in range(args.runs)]
        existing_db = Path(folder) / "existing.db"
        first_message_seconds(existing_db)
        existing = [first_message_seconds(existing_db) for _ in range(args.runs)]
    for label, times in (("new database", fresh), ("existing database", existing)):
        print(
            f"{label:18s} median {statistics.median(times):.3f} s, "
            f"max {max(times):.3f} s over {len(times)} runs"
        )


if __name__ == "__main__":
    main()
