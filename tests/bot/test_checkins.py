"""Check-ins in storage, on a real SQLite file and PostgreSQL: kept as planned, delivered when
the person may receive them."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.storage import store
from bot.storage.models import checkin_of
from flows import defaults
from flows.checkin import Checkin
from tests.conftest import MONDAY_EVENING


def _person(session) -> int:
    person = store.lock_person(session, "test", "p1", MONDAY_EVENING)
    assert person.id is not None
    return person.id


def test_a_checkin_comes_back_from_storage_as_it_was_planned(coach):
    local = MONDAY_EVENING.astimezone(ZoneInfo(defaults.TIMEZONE))
    planned = [
        Checkin(
            id="c1",
            kind="evaluation",
            flow="oefening-1",
            step="evaluatie",
            run="r1",
            due_at=local + timedelta(days=7),
        ),
        Checkin(
            id="c2",
            kind="repeat",
            flow="oefening-1",
            step="start",
            run=None,
            due_at=MONDAY_EVENING + timedelta(days=14),
            every="14d",
        ),
    ]
    with coach.store.transaction() as session:
        person_id = _person(session)
        for checkin in planned:
            store.schedule_checkin(session, person_id, checkin, MONDAY_EVENING)
    with coach.store.transaction() as session:
        back = [checkin_of(row) for row in store.checkins_of(session, person_id)]
    assert back == planned
