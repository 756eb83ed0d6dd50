"""Time from starting `kern-coach console` to its first message on the screen.

    .venv/bin/python bench/console_startup.py [--runs 7]

Measured on a new database (the migrations run) and on one that exists (the everyday case),
as the median of several runs, with the process's own Python (`python -m bot console`). Also the
time to the first reply, with "1" typed the moment the first message shows: the crisis check
(rules, model, examples) gets ready in between, and the first reply waits for it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def console(database: Path) -> subprocess.Popen[str]:
    """`python -m bot console` on `database`, its input and output piped to this script."""
    env = {**os.environ, "KERN_COACH_DATABASE_URL": f"sqlite:///{database}"}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def console_seconds(database: Path, opening: int = 2) -> tuple[float, float]:
    """(first message, first reply) in seconds from the start of the process.

    `opening` is how many messages the coach shows by itself at start; the one after them is the
    reply to the "1" typed the moment the first message shows.
    """
    started = time.perf_counter()
    process = console(database)
    assert process.stdout is not None and process.stdin is not None
    seen: list[float] = []
    for line in process.stdout:
        if line.startswith("coach ›"):
            seen.append(time.perf_counter() - started)
            if len(seen) == 1:
                process.stdin.write("1\n")  # the first button, at once
                process.stdin.flush()
            if len(seen) == opening + 1:
                break
    if len(seen) < opening + 1:
        raise RuntimeError("the console printed no reply")
    process.stdin.close()
    process.wait(timeout=30)
    return seen[0], seen[opening]


def opening_messages(database: Path) -> int:
    """How many messages the coach shows by itself when started on this database (nothing typed).

    It is asked once, on a copy, so that the timed runs know which message is the reply.
    """
    process = console(database)
    time.sleep(15)  # long enough for every opening message, even on a busy machine
    output, _ = process.communicate(timeout=30)  # closes stdin: Ctrl-D, the console stops
    return sum(line.startswith("coach ›") for line in output.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        fresh = [console_seconds(Path(folder) / f"new-{i}.db") for i in range(args.runs)]
        # The everyday case: someone who stopped at the consent question comes back. Each run
        # starts from a copy of that same database, so each types "1" at the same question.
        saved = Path(folder) / "saved.db"
        console_seconds(saved)
        probe = Path(folder) / "probe.db"
        shutil.copy(saved, probe)
        opening = opening_messages(probe)
        existing = []
        for i in range(args.runs):
            run = Path(folder) / f"existing-{i}.db"
            shutil.copy(saved, run)
            existing.append(console_seconds(run, opening))
    for label, runs in (("new database", fresh), ("existing database", existing)):
        for what, times in (
            ("first message", [r[0] for r in runs]),
            ("first reply", [r[1] for r in runs]),
        ):
            print(
                f"{label:18s} {what:14s} median {statistics.median(times):.3f} s, "
                f"max {max(times):.3f} s over {len(times)} runs"
            )


if __name__ == "__main__":
    main()
