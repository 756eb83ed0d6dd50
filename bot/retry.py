"""Trying a call again: the pause before each next attempt, and the one loop that does it. Every
channel's calls to its platform go through `retrying` (Telegram's start-up calls, button answers
and edits; the Signal channel's requests) instead of a loop of their own."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

FIRST, MOST = 1.0, 60.0  # seconds: the first pause after a failure, and the longest


def backoff(attempt: int, first: float = FIRST, most: float = MOST) -> float:
    """Seconds before attempt number `attempt + 1`: 1, 2, 4 … up to a minute, with jitter (so
    that processes which failed together do not all come back at the same moment)."""
    delay = min(most, first * 2 ** max(attempt - 1, 0))
    return delay * random.uniform(0.8, 1.2)


async def retrying(
    call: Callable[[], Awaitable[T]],
    wait: Callable[[Exception, int], float | None],
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    attempts: int | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> T | None:
    """`call()` until it returns its result. After a failure, `wait(error, failures)` says how
    many seconds to pause before the next attempt, or None to give up (the result is then None);
    it raises to end the whole thing (a refused token, a bug). At most `attempts` attempts; no
    new one once `stopped()` (`sleep` is the caller's, so a stop can cut a pause short)."""
    failures = 0
    while not stopped():
        try:
            return await call()
        except Exception as error:
            failures += 1
            delay = wait(error, failures)
            if delay is None or (attempts is not None and failures >= attempts):
                return None
            if delay > 0:
                await sleep(delay)
    return None
