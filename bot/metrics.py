"""Prometheus metrics at `/metrics`: the counts of `kern-coach stats` (read from the database at
each scrape, so every process sharing the database reports the same), and this process's turn
and send latencies as histograms. Counts and durations only; no label carries a person's id or
anything they wrote."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from bot import stats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# This process's own measurements: one registry for the process (tests start several channels
# in one process; their observations add up, as they would in one coach).
PROCESS = CollectorRegistry()
ProcessCollector(registry=PROCESS)
TURN_SECONDS = Histogram(
    "kern_coach_turn_seconds",
    "From an update taken in to its turn committed (engine, storage, waiting for the database).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=PROCESS,
)
SEND_SECONDS = Histogram(
    "kern_coach_send_seconds",
    "One Bot API call that sends a message or a part of it (pacing not included).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=PROCESS,
)
SEND_FAILURES = Counter(
    "kern_coach_send_failures",
    "Bot API send calls that failed and are tried again (network, time-outs, 5xx).",
    registry=PROCESS,
)


class CountsCollector(Collector):
    """`stats.counts` as gauges, read when Prometheus asks."""

    def __init__(self, engine: sa.Engine, now: Callable[[], datetime]):
        self.engine = engine
        self.now = now

    def collect(self) -> Iterator[Metric]:
        found = stats.counts(self.engine, self.now())
        people = GaugeMetricFamily("kern_coach_people", "People, by channel.", labels=["channel"])
        for channel, count in sorted(found.people.items()):
            people.add_metric([channel], count)
        yield people
        runs = GaugeMetricFamily(
            "kern_coach_active_runs", "Runs started and not finished, by flow.", labels=["flow"]
        )
        for flow, count in sorted(found.active_runs.items()):
            runs.add_metric([flow], count)
        yield runs
        checkins = GaugeMetricFamily(
            "kern_coach_checkins",
            "Check-ins: due now, late (due over 15 minutes), held (paused, on hold, unreachable), "
            "and done or failed among those due in the last day.",
            labels=["state"],
        )
        for state, count in (
            ("due", found.checkins_due),
            ("late", found.checkins_late),
            ("held", found.checkins_held),
            ("done_last_day", found.checkins_done_last_day),
            ("failed_last_day", found.checkins_failed_last_day),
        ):
            checkins.add_metric([state], count)
        yield checkins
        yield GaugeMetricFamily(
            "kern_coach_unreachable_people", "People who blocked the bot.", value=found.unreachable
        )
        yield GaugeMetricFamily(
            "kern_coach_outbox_backlog",
            "Messages committed and not yet sent.",
            value=found.outbox_backlog,
        )
        yield GaugeMetricFamily(
            "kern_coach_oldest_unsent_seconds",
            "How long the oldest unsent message has waited (0 when none waits).",
            value=found.oldest_unsent_seconds or 0.0,
        )


def exposition(engine: sa.Engine, now: Callable[[], datetime]) -> bytes:
    """The text Prometheus reads: this process's metrics, then the database's counts."""
    counts = CollectorRegistry()
    counts.register(CountsCollector(engine, now))
    return generate_latest(PROCESS) + generate_latest(counts)
