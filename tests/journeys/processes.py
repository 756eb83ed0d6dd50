"""Real coach processes for the journey tests: `python -m bot …` started with its own database and
deletion list, its output in a file, killed with SIGKILL or stopped with SIGTERM, and whatever a
test started killed when it ends (the `processes` fixture in `tests/journeys/conftest.py`).

One class for every channel, so that the Telegram, Signal and several-process tests start, kill
and read a process the same way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STOP_WAIT = 90.0  # seconds for a killed or stopped process to end; generous on two busy cores
WAIT = 60.0  # seconds, by default, for anything a test waits for


class CoachProcess:
    """`python -m <args>` on `database_url`, its output in a file of `directory`.

    The test's own environment is the base, less what would make the process unlike the one
    the test means (a health port or a clock offset set for the test run itself); `env` is laid
    over it."""

    def __init__(
        self,
        args: list[str],
        database_url: str,
        directory: Path,
        *,
        log_level: str = "DEBUG",
        **env: str,
    ):
        self.log_path = directory / f"process-{time.monotonic_ns()}.log"
        environment = {
            key: value
            for key, value in os.environ.items()
            if key
            not in (
                "KERN_COACH_HEALTH_PORT",
                "KERN_COACH_SIGNAL_HEALTH_PORT",
                "KERN_COACH_CLOCK_OFFSET",
            )
        }
        environment.update(
            KERN_COACH_DATABASE_URL=database_url,
            KERN_COACH_FORGOTTEN_FILE=str(directory / "kern-coach.forgotten"),
            KERN_COACH_LOG_LEVEL=log_level,
            PYTHONUNBUFFERED="1",
            **env,
        )
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_WAIT)
        self.log.close()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=STOP_WAIT)
        self.log.close()
        return code


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """`predicate`'s first true result, asked every 50 ms; an AssertionError naming `what` if
    none comes within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
