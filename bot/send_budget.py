"""A send budget shared by every process of one bot, kept in the database.

Telegram's limits are per bot: about 30 messages a second overall. Each process pacing itself
at 30 lets three processes send 90. So the overall limit is one token bucket in one row
(`send_budget`), and every process takes its tokens from it: a process with a backlog may use
the whole budget while the others are idle, and a process that joins or dies changes nothing.
Why this and not each process taking a share (limit / processes): a share needs every process
to know how many others are alive, and wastes the budget of idle ones; see docs/operating.md.

A process takes a few tokens at a time (`block`, about 50 ms of the rate), so at 200 a second
the row is written 20 times a second, not 200, and at 30 a second one token at a time. Tokens
taken and not used within the time they took to refill are dropped, so that a process holding
some cannot add them to a bucket that has refilled meanwhile: together the processes never
exceed the burst by more than one block each.

The bucket's clock is the database's on PostgreSQL (processes on several machines agree on it)
and the machine's on SQLite (whose processes share one machine by nature): `store.take_tokens`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.storage import store

T = TypeVar("T")
Runner = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Grant:
    tokens: int  # how many were granted (0 when the bucket is empty)
    wait: float  # seconds until the next token, when none was granted


class SharedBudget:
    """`await budget.turn()` before each message: returns when this process may send one."""

    def __init__(
        self,
        store_: store.Store,
        name: str,
        rate: float,
        burst: int,
        *,
        run: Runner | None = None,
    ):
        if rate <= 0 or burst < 1:
            raise ValueError("a send budget needs a positive rate and a burst of at least 1")
        self.store = store_
        self.name = name
        self.rate = rate
        self.burst = burst
        self.block = max(1, min(burst, round(rate * 0.05)))
        self._run = run or _in_thread  # how the database call leaves the event loop
        self._stock = 0
        self._stock_until = 0.0
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        async with self._lock:  # one look at the database at a time; the others wait for it
            while True:
                now = time.monotonic()
                if self._stock and now < self._stock_until:
                    self._stock -= 1
                    return
                grant: Grant = await self._run(self.take, self.block)
                if grant.tokens:
                    self._stock = grant.tokens - 1
                    self._stock_until = time.monotonic() + grant.tokens / self.rate
                    return
                self._stock = 0
                await asyncio.sleep(grant.wait)

    def take(self, wanted: int) -> Grant:
        """Up to `wanted` tokens from the bucket, in one transaction (the row locked)."""
        with self.store.transaction() as session:
            granted, left = store.take_tokens(session, self.name, wanted, self.rate, self.burst)
        wait = 0.0 if granted else (1.0 - left) / self.rate
        return Grant(tokens=granted, wait=wait)


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(function, *args)
