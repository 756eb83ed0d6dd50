"""The Signal channel: signal-cli's envelopes in, the outbox out, check-ins on time.

One process holds one connection to the daemon (`jsonrpc.SignalCliClient`: manual receive mode,
subscribed after every reconnect, so what arrives while the coach is away waits on Signal's
side), a `receiving.Receiver` that keeps and handles each message, a `sending.Sender` that
delivers the outbox, and the check-in scheduler. At start, what was kept but not handled before
the last stop is handled first; a sweep every minute takes what a fault left behind. With a
health port, `/healthz` says whether the database, the scheduler and the daemon's connection hold
(`bot.health`), and `/metrics` gives the counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

from bot.coach import Coach
from bot.health import ChannelHealth, HealthRoutes
from bot.inbox import Inbox
from bot.scheduler import CheckinScheduler
from bot.web import Request, Response, WebServer
from flows.messages import Button

from .jsonrpc import SignalCliClient
from .receiving import CHANNEL, Receiver
from .sending import Sender

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0


class SignalChannel:
    def __init__(
        self,
        coach: Coach,
        url: str,
        account: str | None,
        *,
        health_port: int | None = None,
        health_host: str = "0.0.0.0",
    ) -> None:
        self.coach = coach
        shown: dict[str, Sequence[Button]] = {}
        self.inbox = Inbox(coach.store, coach.clock, CHANNEL)
        self.receiver = Receiver(
            coach, self.inbox, account=account, shown=shown, on_turn=self._after_turn
        )
        self.client = SignalCliClient(url, self.receiver.on_envelope)
        self.sender = Sender(self.client, coach.outbox(CHANNEL), coach.clock.now, shown)
        self.scheduler = CheckinScheduler(coach, on_delivered=self._delivered)
        self.health = HealthRoutes(coach, lambda: self.scheduler.running, self._link_health)
        self.health_server = (
            WebServer(self._http, health_host, health_port) if health_port is not None else None
        )
        self._stop = asyncio.Event()
        self._rearm: asyncio.Task[None] | None = None

    def stop(self) -> None:
        self._stop.set()

    def _after_turn(self, plans_changed: bool) -> None:
        self.sender.wake()
        # Only a turn that scheduled, cancelled or paused check-ins moves the next one due: the
        # re-arm query is skipped after the others (most turns), as the Telegram channel does.
        if plans_changed and (self._rearm is None or self._rearm.done()):
            self._rearm = asyncio.get_running_loop().create_task(self.scheduler.rearm())

    async def _delivered(self) -> None:
        self.sender.wake()

    def _link_health(self) -> ChannelHealth:
        """Signal's part of /healthz: connected and subscribed to the daemon."""
        connected = self.client.connected
        return ChannelHealth(
            connected,
            {
                "signal_cli": "connected" if connected else "unreachable",
                "messages_sent": self.sender.sent_count,  # since this process started
            },
        )

    async def _http(self, request: Request) -> Response:
        answer = await self.health.handle(request)
        return answer if answer is not None else Response(404, b"not found\n")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.stop)
        if self.health_server is not None:
            await self.health_server.start()  # a port taken ends the start, as on Telegram
            log.info("health check on port %d", self.health_server.port)
        sending = asyncio.create_task(self.sender.run(), name="signal-sender")
        pruned = await asyncio.to_thread(self.inbox.prune)
        if pruned:
            log.info("%d old received-message key(s) pruned", pruned)
        await self.receiver.sweep()  # what was kept before the last stop goes first
        handling = asyncio.create_task(self.receiver.run(), name="signal-handler")
        self.scheduler.start()
        self.client.start()
        log.info("signal channel started")
        try:
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), SWEEP_SECONDS)
                if not self._stop.is_set():
                    await self.receiver.sweep()
        finally:
            await self.scheduler.stop()
            # Sends under way hear their answer before the connection goes (an answer lost on
            # the way would send the message again after the restart); then receiving stops,
            # and what was received is handled and kept, its replies waiting in the outbox.
            await self.sender.stop()
            await sending
            await self.client.aclose()
            handling.cancel()  # what was kept and not yet handled waits for the next start
            with contextlib.suppress(asyncio.CancelledError):
                await handling
            if self.health_server is not None:
                await self.health_server.stop()
        log.info("signal channel stopped")
        return 0
