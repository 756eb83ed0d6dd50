"""The check-in dispatcher alone in a process of its own, as `kern-coach telegram` runs it (the
same `CheckinScheduler` on the coach built from the environment), with nothing sent on: for the
tests of several processes sharing one PostgreSQL, which look at what it commits.

    KERN_COACH_DATABASE_URL=… python -m tests.dispatcher_process

It runs until SIGTERM, or for MAX_SECONDS at most (a test that forgets it cannot leave it behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from bot.app import build_coach, configure_logging
from bot.config import Config
from bot.scheduler import CheckinScheduler

MAX_SECONDS = 120.0


async def serve() -> None:
    config = Config.from_environment()
    configure_logging(config.log_level, config.log_format)
    coach = build_coach(config)

    async def nothing_to_send() -> None:
        return None

    scheduler = CheckinScheduler(coach, nothing_to_send)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    scheduler.start()
    print("dispatcher running", flush=True)
    with contextlib.suppress(TimeoutError):  # MAX_SECONDS passed: end as at SIGTERM
        await asyncio.wait_for(stop.wait(), MAX_SECONDS)
    await scheduler.stop()
    coach.store.engine.dispose()


if __name__ == "__main__":
    asyncio.run(serve())
