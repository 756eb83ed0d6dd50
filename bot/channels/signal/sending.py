"""From the outbox to signal-cli: one send at a time per person, in order, nothing lost.

The outbox (an object with the operations below; the channel never touches storage) hands out
what is ready, the first waiting item per person, leased to this process. Each is sent and
acknowledged once signal-cli confirms it; anything else leaves it in the outbox:

* rate limits (JSON-RPC -5, or a recipient's RATE_LIMIT_FAILURE with ``retryAfterSeconds``):
  retried through the outbox after the wait Signal names (or a growing pause), never at once;
  when Signal wants a captcha (a proof token), the operator gets one log line;
* ``UNREGISTERED_FAILURE``: the person cannot be reached: their check-ins are held and what
  waited for them is dropped (a new message from them makes them reachable again);
* untrusted identity (-4) and captcha rejected (-6): one log line for the operator, and the item
  waits (retried after a long pause) until the operator fixes it;
* the daemon away (not connected, connection lost, no answer): retried with growing pauses.
  A send whose answer was lost may have been delivered: it goes again (at least once).

A message longer than ``TYPING_AFTER`` characters is announced by the typing indicator first;
``/export`` files go as attachments and the balance chart as an image, both as data URIs, so the
daemon needs no access to the coach's files. Logs hold ids, keys, kinds and codes, never text.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
from collections.abc import Callable, Collection, MutableMapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.channels import numbered
from bot.outbox import Chart, Document, Outgoing, kind_of
from bot.retry import Backoff
from flows.messages import Button, Message

from .errors import (
    CaptchaRejected,
    DaemonUnavailable,
    InvalidRequest,
    NotConnected,
    ProofRequired,
    RateLimited,
    SignalCliError,
    Unregistered,
    UntrustedIdentity,
)
from .jsonrpc import SignalCliClient
from .receiving import GROUP_PREFIX
from .render import render

log = logging.getLogger(__name__)

TYPING_AFTER = 300  # characters; a shorter message arrives before anyone would see "typing…"
TYPING_PAUSE = 1.0  # seconds the indicator shows before a long message
RETRY = Backoff(initial=2.0, maximum=600.0)  # passing trouble: 1-2 s, 2-4 s, … up to 10 min
OPERATOR_WAIT = timedelta(minutes=10)  # what waits for the operator is looked at again so often


class ClaimLapsed(Exception):
    """This process's hold on the outbox lapsed: what it took may be sent by another."""


class Outbox(Protocol):
    """What the channel uses of `bot.outbox.Outbox` (bound to the Signal channel)."""

    def take(
        self, limit: int, exclude: Collection[str] = (), *, sent: Collection[int] = ()
    ) -> list[Outgoing]: ...
    def sent(self, ids: Collection[int]) -> None: ...
    def retry_later(self, outgoing_id: int, at: datetime) -> bool: ...
    def unreachable(self, address: str) -> int: ...
    def close(self) -> None: ...
    def holds(self, claim: int | None = None) -> bool: ...


def data_uri(data: bytes, mime: str, filename: str) -> str:
    """An attachment as signal-cli takes it without a file: data:<MIME>;filename=…;base64,…"""
    return f"data:{mime};filename={filename};base64,{base64.b64encode(data).decode('ascii')}"


class Sender:
    BATCH = 50
    IDLE = 1.0  # seconds between looks at the outbox when nobody woke us
    SHUTDOWN_GRACE = 5.0

    def __init__(
        self,
        client: SignalCliClient,
        outbox: Outbox,
        now: Callable[[], datetime],
        shown: MutableMapping[str, Sequence[Button]],
    ) -> None:
        self.client = client
        self.outbox = outbox
        self.now = now
        self.shown = shown  # what each person saw last: their typed "1" picks from it
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._done: list[int] = []  # sent, not yet acknowledged to the outbox
        self._stopping = False
        self.sent_count = 0

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        try:
            while not self._stopping:
                self._wake.clear()
                busy = [a for a, task in self._in_flight.items() if not task.done()]
                self._in_flight = {a: self._in_flight[a] for a in busy}
                done, self._done = self._done, []
                try:  # what was sent is acknowledged in the transaction that takes what is next
                    items = await asyncio.to_thread(
                        functools.partial(self.outbox.take, self.BATCH, busy, sent=done)
                    )
                except Exception as error:  # the database is away: wait, look again
                    self._done = done + self._done
                    log.warning("cannot read the outbox (%s); trying again", type(error).__name__)
                    items = []
                for item in items:
                    self._in_flight[item.address] = asyncio.create_task(
                        self._deliver(item), name=f"signal-send-{item.id}"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.IDLE)
        finally:
            await self._finish()

    async def _finish(self) -> None:
        """Deliveries talking to signal-cli get a few seconds to hear the answer; the outbox
        keeps the rest (leased: another process, or the next start, takes them after)."""
        tasks = [t for t in self._in_flight.values() if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.SHUTDOWN_GRACE)
            for task in pending:
                task.cancel()
        await self._acknowledge()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.outbox.close)  # what we took and did not send is free

    async def _acknowledge(self) -> None:
        done, self._done = self._done, []
        if not done:
            return
        try:
            await asyncio.to_thread(self.outbox.sent, done)
        except Exception as error:
            self._done = done + self._done
            log.warning(
                "%d sent item(s) not acknowledged yet (%s)", len(done), type(error).__name__
            )

    def _still_mine(self, claim: int | None) -> None:
        """Asked right before each call to signal-cli: other processes may think the claim the
        item was taken under (`claim`) dead and send the item themselves. Not connected, the
        call would wait up to a minute for the connection after this check, long enough for the
        claim to lapse meanwhile: it is tried again later instead (nothing was sent)."""
        if not self.client.connected:
            raise NotConnected("send")
        if not self.outbox.holds(claim):
            raise ClaimLapsed

    async def _deliver(self, item: Outgoing) -> None:
        try:
            await self._send(item)
        except asyncio.CancelledError:
            raise
        except ClaimLapsed:  # left to the others, or taken again under this process's new claim
            log.warning("outbox claim lapsed; item %d not sent now", item.id)
            await asyncio.sleep(self.IDLE)  # its chat stays busy a moment: no tight loop
        except SignalCliError as error:
            await self._failed(item, error)
        except Exception as error:  # a bug here must not stop everyone else's messages
            log.error(  # no address: a phone number is a person's
                "item %d (%s) could not be sent (%s); tried again later",
                item.id,
                kind_of(item.item),
                type(error).__name__,
            )
            await self._later(item, RETRY.delay(item.attempts))
        else:
            self._done.append(item.id)
            self.sent_count += 1
        finally:
            self._wake.set()

    async def _send(self, item: Outgoing) -> None:
        address = item.address
        if address.startswith(GROUP_PREFIX):
            words = item.item.plain if isinstance(item.item, Message) else ""
            self._still_mine(item.claim)
            await self.client.send_to_group(address.removeprefix(GROUP_PREFIX), words)
            return
        if isinstance(item.item, Message):
            rendered = render(item.item)
            if len(rendered.text) > TYPING_AFTER:
                await self._typing(address)
            self._still_mine(item.claim)
            await self.client.send(address, rendered.text, text_styles=rendered.styles)
            self.shown[address] = numbered.flat(item.item.buttons)
        elif isinstance(item.item, Document):
            document = item.item
            attachment = data_uri(
                document.content.encode("utf-8"), document.mime, document.filename
            )
            self._still_mine(item.claim)
            await self.client.send(address, "", attachments=[attachment])
        elif isinstance(item.item, Chart):
            await self._chart(address, item.item, item.claim)

    async def _chart(self, address: str, chart: Chart, claim: int | None) -> None:
        from bot.balance_chart import drawn  # matplotlib: only when someone asks for /mijn

        png = await asyncio.to_thread(drawn, chart.as_json())
        if png is None:  # the caption alone: the chat goes on (drawn() logged why)
            self._still_mine(claim)
            await self.client.send(address, chart.caption)
            return
        image = data_uri(png, "image/png", "balans.png")
        self._still_mine(claim)
        await self.client.send(address, chart.caption, attachments=[image])

    async def _typing(self, address: str) -> None:
        """Best effort: the send itself says what is wrong, if anything."""
        with contextlib.suppress(SignalCliError):
            await self.client.send_typing(address)
            await asyncio.sleep(TYPING_PAUSE)

    async def _failed(self, item: Outgoing, error: SignalCliError) -> None:
        code = getattr(error, "code", None)
        if isinstance(error, Unregistered):
            log.warning("item %d: no Signal account (any more), check-ins held", item.id)
            await asyncio.to_thread(self.outbox.unreachable, item.address)
        elif isinstance(error, ProofRequired):
            log.warning(
                "Signal wants a captcha before sending more (rate limit with a proof token): "
                "the operator solves it (docs/operating.md, Signal); item %d waits",
                item.id,
            )
            await self._later(item, OPERATOR_WAIT.total_seconds())
        elif isinstance(error, RateLimited):
            wait = error.retry_after_seconds
            delay = float(wait) if wait else RETRY.delay(item.attempts)
            log.info("rate limited sending item %d; again in %.0fs", item.id, delay)
            await self._later(item, delay)
        elif isinstance(error, UntrustedIdentity):
            log.warning(
                "the safety number of person %s changed (signal-cli error %s): the operator "
                "trusts it again (docs/operating.md, Signal); item %d waits",
                item.person_id,
                code,
                item.id,
            )
            await self._later(item, OPERATOR_WAIT.total_seconds())
        elif isinstance(error, CaptchaRejected):
            log.warning(
                "Signal rejected the captcha (signal-cli error %s): the operator solves a new "
                "one (docs/operating.md, Signal); item %d waits",
                code,
                item.id,
            )
            await self._later(item, OPERATOR_WAIT.total_seconds())
        elif isinstance(error, InvalidRequest):
            # Our bug, not Signal's trouble: it would fail the same way every time.
            log.error("signal-cli refused item %d (error %s); dropped", item.id, code)
            self._done.append(item.id)
        else:  # the daemon away, a network failure at Signal, an I/O error
            delay = RETRY.delay(item.attempts)
            kind = type(error).__name__
            if not isinstance(error, DaemonUnavailable):
                kind += f" {code}"
            log.warning(
                "item %d not sent (%s, attempt %d); again in %.0fs",
                item.id,
                kind,
                item.attempts + 1,
                delay,
            )
            await self._later(item, delay)

    async def _later(self, item: Outgoing, seconds: float) -> None:
        at = self.now() + timedelta(seconds=max(1.0, seconds))
        try:
            await asyncio.to_thread(self.outbox.retry_later, item.id, at)
        except Exception as error:  # the lease runs out and it is taken again then
            log.warning("item %d: retry not recorded (%s)", item.id, type(error).__name__)
