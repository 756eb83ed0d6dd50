"""`GET /healthz` and `GET /metrics` on the health port, the same for every channel.

`/healthz` answers 200 when the process can do its work (the database answers, the check-in
scheduler runs, and the channel's own link to its platform holds), 503 otherwise, each time with a
small JSON report an operator can read; what a channel adds to it (its mode, when it last heard
its platform) comes in as `ChannelHealth`. `/metrics` is the Prometheus exposition of
`bot.metrics`. Neither ever says anything a person wrote. Keep the health port off the internet
(docs/operating.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot import metrics
from bot.coach import Coach
from bot.web import Request, Response, database_ok


@dataclass(frozen=True)
class ChannelHealth:
    """The channel's own part of the report: whether its link holds, and what to say of it."""

    healthy: bool
    report: dict[str, Any] = field(default_factory=dict)


class HealthRoutes:
    """The health port's routes for one channel: `handle` is a `bot.web.Handler`."""

    def __init__(
        self,
        coach: Coach,
        scheduler_running: Callable[[], bool],
        channel: Callable[[], ChannelHealth],
    ):
        self.coach = coach
        self.scheduler_running = scheduler_running
        self.channel = channel

    async def handle(self, request: Request) -> Response | None:
        """The answer to a health or metrics request; None for any other request."""
        if request.method != "GET":
            return None
        if request.path == "/healthz":
            return await self.healthz()
        if request.path == "/metrics":
            # In a thread of its own: a scrape does not take a turn's place in the queue.
            text = await asyncio.to_thread(
                metrics.exposition, self.coach.store.engine, self.coach.clock.now
            )
            return Response(200, text, metrics.CONTENT_TYPE)
        return None

    async def healthz(self) -> Response:
        database = await database_ok(self.coach.store.ping)
        scheduler = self.scheduler_running()
        channel = self.channel()
        report: dict[str, Any] = {
            "database": "ok" if database else "unreachable",
            "scheduler": "running" if scheduler else "stopped",
            **channel.report,
        }
        healthy = database and scheduler and channel.healthy
        report["status"] = "ok" if healthy else "unhealthy"
        return Response.json(200 if healthy else 503, report)
