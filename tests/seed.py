"""Many people at once, each with a daily check-in, written straight into a migrated database
(the tests of several processes and the figures in bench/ need thousands; going through the coach
a thousand times would take minutes). The rows are what the coach itself stores for someone who
gave consent and set a daily time; `delivery.checkins_from` says they may receive check-ins."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import sqlalchemy as sa

from flows import defaults, delivery

CHANNEL = "telegram"
BATCH = 10_000
# The engine's id counter after the daily check-in "c1" was planned.
STATE = json.dumps({"consent": "given", "checkin_time": "20:00", "counter": 1})


def seed_checkins(
    engine: sa.Engine,
    count: int,
    now: datetime,
    *,
    due_now: int | None = None,
    first_address: int = 1,
) -> None:
    """`count` people, each with one pending daily check-in: the first `due_now` of them (all by
    default) due a minute ago, the rest spread over the next twenty hours. Times are naive UTC,
    as the coach stores them."""
    due_now = count if due_now is None else due_now
    free = delivery.Availability(paused=False, unreachable=False, held_until=None)
    start = delivery.checkins_from(free)
    assert start is not None
    naive = now.replace(tzinfo=None)
    metadata = sa.MetaData()
    person = sa.Table("person", metadata, autoload_with=engine)
    checkin = sa.Table("checkin", metadata, autoload_with=engine)
    for low in range(0, count, BATCH):
        numbers = range(low, min(low + BATCH, count))
        with engine.begin() as connection:
            ids = connection.execute(
                sa.insert(person).returning(person.c.id),
                [
                    {
                        "channel": CHANNEL,
                        "address": str(first_address + i),
                        "lang": "nl",
                        "timezone": defaults.TIMEZONE,
                        "consent": "given",
                        "checkin_time": "20:00",
                        "paused": False,
                        "unreachable": False,
                        "checkins_from": start.replace(tzinfo=None),
                        "state": STATE,
                        "created_at": naive,
                        "updated_at": naive,
                    }
                    for i in numbers
                ],
            )
            person_ids = [row[0] for row in ids]
            connection.execute(
                sa.insert(checkin),
                [
                    {
                        "person_id": person_id,
                        "key": "c1",
                        "kind": "daily",
                        "flow": "dagelijks",
                        "step": "checkin",
                        "run_key": None,
                        "every": "1d",
                        "due_at": naive - timedelta(minutes=1)
                        if i < due_now
                        else naive + timedelta(hours=1 + i % 20),
                        "status": "pending",
                        "attempts": 0,
                        # The person set the daily time: it arrives then, quiet hours or not
                        # (so the figures do not depend on the hour they are measured at).
                        "chosen": True,
                        "created_at": naive,
                    }
                    for person_id, i in zip(person_ids, numbers, strict=True)
                ],
            )
