"""A send budget shared by every process of one bot, kept in the database.

Telegram's limits are per bot: about 30 messages a second overall. Each process pacing itself
at 30 lets three processes send 90. So the overall limit is one token bucket in one row
(`send_budget`), and every process reserves its messages' places in it: a process with a
backlog may use the whole budget while the others are idle, and a process that joins or dies
changes nothing. Why this and not each process taking a share (limit / processes): a share needs
every process to know how many others are alive, and wastes the budget of idle ones; see
docs/operating.md.

`SharedBudget` is a `Limiter` for the Telegram channel's pacer: `reserve(now)` takes one
message's place and says how long to wait for it, `empty_until(moment)` holds everyone back
after a 429. A process reserves a few places at a time (`block`, about 50 ms of the rate, whatever
the burst), so at 200 a second the row is written 20 times a second, not 200, and at 30 a second
every other message. The places of a block are handed out on the event loop
(`reserve_at_hand`); only an empty hand asks the database.
The bucket may go into debt: places reserved ahead lie in the future, and whoever reserves next,
in any process, waits behind them. Places a process reserved and did not use by their time are
dropped, so together the processes never exceed the rate and burst by more than a block each.

The bucket's clock is the database's on PostgreSQL (processes on several machines agree on it)
and the machine's on SQLite (whose processes share one machine): `store.reserve_tokens`.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from bot.storage import store


class SharedBudget:
    """The overall send limit of one bot, shared through the database (a pacer's `Limiter`).

    `reserve` calls the database about once per block, from the caller's thread: a short
    transaction on one row."""

    def __init__(self, store_: store.Store, name: str, rate: float, burst: int):
        if rate <= 0 or burst < 1:
            raise ValueError("a send budget needs a positive rate and a burst of at least 1")
        self.store = store_
        self.name = name
        self.rate = rate
        self.burst = burst
        # About 50 ms of the rate, whatever the burst: the places of a block are spaced at the
        # rate all the same (the bucket goes into debt), so a burst of one does not need one
        # look at the database per message, which at 200 a second with three processes on
        # one row held them to about 23 a second together (docs/performance.md).
        self.block = max(1, round(rate * 0.05))
        self._places: deque[float] = deque()  # reserved places, as time.monotonic() moments
        self._hold_until = 0.0  # monotonic: a 429 for the bot, to pass on with the next look
        self._lock = threading.Lock()

    def reserve(self, now: float) -> float:
        """One message's place; the seconds (from `now`, time.monotonic()) to wait for it."""
        with self._lock:
            self._drop_late(now)
            if not self._places:
                self._reserve_block()
            return max(0.0, self._places.popleft() - now)

    def reserve_at_hand(self, now: float) -> float | None:
        """A place already reserved, without asking the database or waiting for another
        thread that does: the seconds to wait for it, or None when there is none at hand (then
        `reserve`, from a thread that may wait). Most messages take this way, on the event loop:
        at 200 a second a thread's hop per message, queued with everyone else's work for the
        default threads, kept the dispatcher waiting behind hundreds of them."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            self._drop_late(now)
            return max(0.0, self._places.popleft() - now) if self._places else None
        finally:
            self._lock.release()

    def _drop_late(self, now: float) -> None:
        late = now - 1.0 / self.rate  # a place not used by its time is gone
        while self._places and self._places[0] < late:
            self._places.popleft()

    def empty_until(self, moment: float) -> None:
        """Telegram said 429 for the bot as a whole: nothing goes out before `moment`
        (time.monotonic()), in any process."""
        with self._lock:
            self._places.clear()
            self._hold_until = max(self._hold_until, moment)

    def _reserve_block(self) -> None:
        held = self._hold_until - time.monotonic()
        with self.store.transaction() as session:
            epoch, tokens = store.reserve_tokens(
                session,
                self.name,
                self.block,
                self.rate,
                self.burst,
                until=time.time() + held if held > 0 else 0.0,
            )
        # The database's moments to this process's monotonic clock, through the wall clock
        # (on PostgreSQL the database's and the machine's agree to within NTP's skew).
        offset = time.monotonic() - time.time()
        for i in range(self.block):
            free = epoch + max(0.0, (i + 1 - tokens) / self.rate)
            self._places.append(free + offset)
