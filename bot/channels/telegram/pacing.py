"""Sending within Telegram's limits: per chat and overall (`KERN_COACH_CHAT_RATE`,
`KERN_COACH_SEND_RATE`), Telegram's 429s honoured, and as many calls at once as the round trip
needs. The overall limit is an object (`Limiter`), so a budget shared by several processes can
take the bucket's place."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

from telegram.error import RetryAfter

from bot.config import CHAT_BURST, CHAT_RATE, SEND_RATE, Rate

NOTICEABLE = 0.3  # a message waiting this many seconds for its turn is announced with "typing…"
# (a message clears the typing status, so one that goes out at once would only cost a request)

# Telegram: about 30 messages a second overall, about one a second per chat with short bursts
# (the defaults of KERN_COACH_CHAT_RATE and KERN_COACH_SEND_RATE).
CHAT = Rate(CHAT_RATE, CHAT_BURST)
OVERALL = Rate(SEND_RATE, int(SEND_RATE))
# A 429 heard from this many chats within a second means the bot as a whole is too fast.
FLOOD_CHATS = 3


class Limiter(Protocol):
    """What the pacer asks of a limit over all chats; a budget shared by several processes can
    stand in for the bucket."""

    def reserve(self, now: float) -> float:
        """Take one message's place; the seconds to wait before sending it."""
        ...

    def empty_until(self, moment: float) -> None:
        """Telegram said 429 for the bot as a whole: nothing goes out until `moment`."""
        ...

    def reserve_at_hand(self, now: float) -> float | None:
        """`reserve` when that needs neither the database nor a wait for another thread; None
        otherwise (then `reserve` is called from a thread of the pacer's own)."""
        ...


class _Bucket:
    """A token bucket that hands out reservations: `reserve()` says how long to wait."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int, now: float):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def reserve(self, now: float) -> float:
        self.refill(now)
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def reserve_at_hand(self, now: float) -> float:
        return self.reserve(now)  # in memory: always at hand

    def empty_until(self, moment: float) -> None:
        """After a 429: nothing is left until `moment`."""
        self.tokens = min(self.tokens, 0.0)
        self.stamp = max(self.stamp, moment)

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.burst


class Pacer:
    """Keeps sending within Telegram's limits, per chat and overall, and honours 429s.

    `None` for a rate switches that limit off (the benchmark measures the rest of the path);
    `overall` may also be a `Limiter` of its own (a budget shared by several processes)."""

    MARGIN = 0.02  # seconds added to every wait, so we are never a hair too early

    def __init__(
        self,
        chat: tuple[float, int] | None = CHAT,
        overall: tuple[float, int] | Limiter | None = OVERALL,
    ):
        self.chat_limit = chat
        # Messages a second over all chats, where known (a Limiter may say it as `rate`): how
        # much the sender takes ahead of sending depends on it.
        self.rate: float | None = (
            overall[0] if isinstance(overall, tuple) else getattr(overall, "rate", None)
        )
        self.overall: Limiter | None = (
            _Bucket(overall[0], overall[1], time.monotonic())
            if isinstance(overall, tuple)
            else overall
        )
        # A limiter that asks the database does so from one thread of its own: never on the
        # event loop, and never in the queue of the default threads the dispatcher runs on.
        self._asking: ThreadPoolExecutor | None = None
        self.chats: dict[int, _Bucket] = {}
        self.chat_paused: dict[int, float] = {}
        self.paused_until = 0.0
        self.floods: deque[tuple[float, int]] = deque()

    async def turn(
        self,
        chat_id: int,
        while_waiting: Callable[[], Awaitable[None]] | None = None,
        *,
        overall: bool = True,
    ) -> None:
        """Wait until a message to this chat may go out; `while_waiting` is called first when
        that takes a noticeable while (to show "typing…" meanwhile). `overall=False`: the limit
        over all chats is left to `overall_turn`, for a caller that takes it later."""
        announced = while_waiting is None
        while True:
            now = time.monotonic()
            wait = max(self.paused_until, self.chat_paused.get(chat_id, 0.0)) - now
            if wait <= 0:
                break
            if not announced and wait >= NOTICEABLE:
                announced = True
                await while_waiting()  # type: ignore[misc]
            await asyncio.sleep(wait + self.MARGIN)
        self.chat_paused.pop(chat_id, None)
        if self.chat_limit is not None:
            wait = self._chat(chat_id, now).reserve(now)
            if wait > 0:
                if not announced and wait >= NOTICEABLE:
                    await while_waiting()  # type: ignore[misc]
                await asyncio.sleep(wait + self.MARGIN)
        if overall:
            await self.overall_turn()

    async def overall_turn(self) -> None:
        """Wait for this message's moment within the limit over all chats. Taken right before
        the call (with a place among the calls under way): a moment taken earlier, while calls
        were slow, would have passed by the time the message got its place, and the messages
        so delayed would go out together, above the rate."""
        if self.overall is not None:
            now = time.monotonic()
            at_hand = self.overall.reserve_at_hand(now)
            wait = at_hand if at_hand is not None else await self._ask(now)
            if wait > 0:
                await asyncio.sleep(wait + self.MARGIN)

    async def _ask(self, now: float) -> float:
        assert self.overall is not None
        if self._asking is None:
            self._asking = ThreadPoolExecutor(1, thread_name_prefix="kern-coach-budget")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._asking, self.overall.reserve, now)

    def close(self) -> None:
        """The sender stopped: the thread that asks the shared budget ends (a pacer used again
        starts a new one)."""
        asking, self._asking = self._asking, None
        if asking is not None:
            asking.shutdown(wait=True)

    def _chat(self, chat_id: int, now: float) -> _Bucket:
        bucket = self.chats.get(chat_id)
        if bucket is None:
            assert self.chat_limit is not None
            if len(self.chats) > 10_000:  # forget chats that have been quiet long enough
                self.chats = {c: b for c, b in self.chats.items() if not b.full(now)}
            bucket = self.chats[chat_id] = _Bucket(*self.chat_limit, now)
        return bucket

    def flood(self, chat_id: int, seconds: float) -> None:
        """Telegram said 429 for this chat: it waits `seconds`; when several chats hear it at
        about the same time, the bot as a whole is too fast and everyone waits."""
        now = time.monotonic()
        until = now + seconds
        self.chat_paused[chat_id] = max(self.chat_paused.get(chat_id, 0.0), until)
        if self.chat_limit is not None:
            self._chat(chat_id, now).empty_until(until)
        self.floods.append((now, chat_id))
        while self.floods and self.floods[0][0] < now - 1.0:
            self.floods.popleft()
        if len({chat for _, chat in self.floods}) >= FLOOD_CHATS:
            self.paused_until = max(self.paused_until, until)
            if self.overall is not None:
                self.overall.empty_until(until)


class _Timing:
    """When a call began, for the round trip: a caller that waits for something else first,
    holding its place, says when the call itself begins (`begin`)."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = time.monotonic()

    def begin(self) -> None:
        self.started = time.monotonic()


class CallLimit:
    """How many Bot API calls may be under way at once: as many as it takes to send Telegram's
    30 messages a second at the round-trip time we measure, and no more: every open connection
    costs the HTTP client work on each request (on loopback one at a time is fastest; to
    Telegram, a 100 ms round trip, four).

    Callers wait in line, first come first served, and a finished call hands its place to the
    first of them only: with thousands of chats waiting, waking them all at every finished call
    (a condition's `notify_all`) made each message cost work in proportion to the backlog."""

    def __init__(
        self, rate: float = SEND_RATE, least: int = 1, most: int = 16, round_trip: float = 0.1
    ):
        self.rate, self.least, self.most = rate, least, most
        self.round_trip = round_trip  # seconds, a moving average
        self.active = 0
        self._line: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        return max(self.least, min(self.most, math.ceil(self.rate * self.round_trip) + 1))

    @property
    def waiting(self) -> int:
        """Callers in line for a place."""
        return sum(1 for f in self._line if not f.done())

    @contextlib.asynccontextmanager
    async def call(self) -> AsyncIterator[_Timing]:
        if self.active < self.limit and not self._line:
            self.active += 1
        else:
            place = asyncio.get_running_loop().create_future()
            self._line.append(place)
            try:
                await place
            except asyncio.CancelledError:
                if place.done() and not place.cancelled():  # handed a place, then cancelled
                    self._release()
                raise
        timing = _Timing()
        try:
            yield timing
        finally:
            self.round_trip += 0.1 * (time.monotonic() - timing.started - self.round_trip)
            self._release()

    def _release(self) -> None:
        """A call ended: its place goes to the first in line (the limit may have moved with
        the round trip, so as many as fit now)."""
        self.active -= 1
        while self._line and self.active < self.limit:
            place = self._line.popleft()
            if not place.done():  # a cancelled waiter left its future behind
                self.active += 1
                place.set_result(None)


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns about the int/timedelta migration
        warnings.simplefilter("ignore")
        value: Any = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
