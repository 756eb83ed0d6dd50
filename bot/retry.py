"""Trying a call again: the pause before each next attempt (`Backoff`, the one rule every channel
pauses by), and the one loop that does it. Every channel's calls to its platform go through
`retrying` (Telegram's start-up calls, button answers and edits; the Signal channel's requests)
instead of a loop of their own."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Pauses between attempts: doubling from `initial` up to `maximum`.

    Each pause is drawn between half and all of the doubled value ("equal jitter"), so that
    processes which failed together do not all come back at the same moment."""

    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds before the next attempt, after `attempt` earlier pauses (0 for the first)."""
        ceiling = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return ceiling / 2 + rand() * ceiling / 2


PAUSES = Backoff(initial=1.5, maximum=80.0)  # about 1, 2, 4 … seconds, up to a minute on average


def backoff(failures: int) -> float:
    """Seconds before the next attempt after `failures` failures in a row (1 or more)."""
    return PAUSES.delay(max(failures - 1, 0))


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
