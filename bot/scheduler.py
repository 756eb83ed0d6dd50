"""The alarm clock: APScheduler wakes the dispatcher when the next check-in falls due, and every
minute as a safety net. The database is the truth; nothing about a check-in lives only here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.coach import Coach

log = logging.getLogger(__name__)

SAFETY_NET_SECONDS = 60
WAKE_JOB = "next-checkin"
MIN_WAIT = timedelta(seconds=1)


class CheckinScheduler:
    """Delivers due check-ins through the coach, then calls `on_delivered` (the channel's
    sender, so the messages go out at once)."""

    def __init__(self, coach: Coach, on_delivered: Callable[[], Awaitable[None]]):
        self.coach = coach
        self.on_delivered = on_delivered
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._lock = asyncio.Lock()
        self.last_run: datetime | None = None
        self._stopping = False

    def start(self) -> None:
        self.scheduler.add_job(
            self.dispatch,
            IntervalTrigger(seconds=SAFETY_NET_SECONDS),
            id="safety-net",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.start()
        self.scheduler.add_job(self.dispatch, id="at-start")  # what fell due while we were down

    async def stop(self) -> None:
        """No new alarms; a delivery under way finishes first (its turn commits whole)."""
        self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        async with self._lock:
            pass

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    async def dispatch(self) -> None:
        """Deliver everything due now, then set the alarm for the next one."""
        try:
            await self._dispatch()
        except asyncio.CancelledError:
            # The process is ending; a turn under way finished in its thread or never began.
            log.debug("check-in delivery stopped at shutdown")

    async def _dispatch(self) -> None:
        if self._stopping:
            return
        async with self._lock:
            while True:
                delivered = await asyncio.to_thread(self.coach.deliver_due)
                if delivered:
                    log.info("delivered %d check-in(s)", delivered)
                    await self.on_delivered()
                if delivered == 0:
                    break
            self.last_run = self.coach.clock.now()
            await self.rearm()

    async def rearm(self) -> None:
        """Set the alarm for the earliest pending check-in (call after scheduling new ones)."""
        due = await asyncio.to_thread(self.coach.next_due_at)
        if due is None:
            return
        # The coach's clock may run ahead of the wall clock (KERN_COACH_CLOCK_OFFSET). A
        # check-in another process is busy with is past due but not ours: look again in a second.
        clock = self.coach.clock
        wall = max(due, clock.now() + MIN_WAIT) - clock.offset
        self.scheduler.add_job(
            self.dispatch,
            DateTrigger(run_date=wall),
            id=WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
        )
