"""Check-ins in storage, on a real SQLite file and PostgreSQL: kept as planned, delivered when
the person may receive them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot import stats
from bot.coach import Coach
from bot.storage import db, migrations, store
from bot.storage.models import checkin_of
from bot.storage.store import Store
from flows import defaults
from flows.checkin import Checkin
from tests.bot.conftest import _postgres_engine
from tests.bot.test_coach import Person
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


def test_a_checkin_waits_out_the_hold_after_a_crisis_message_and_then_arrives(coach, clock):
    person = Person(coach)
    person.agree()
    person.command("time", "20:00")  # the first is tomorrow at 20:00 in Amsterdam
    clock.advance(timedelta(hours=1))
    person.say("Ik wil er niet meer zijn.")  # check-ins wait a day
    hold_ends = MONDAY_EVENING + timedelta(hours=1, days=1)
    clock.advance(timedelta(hours=23, minutes=30))
    assert coach.deliver_due() == 0
    assert coach.next_due_at() == hold_ends
    clock.moment = hold_ends
    assert coach.deliver_due() == 1


# --- a database written by the version before the rule moved ----------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request, tmp_path) -> Iterator[sa.Engine]:
    """A database at revision 0002, the schema before `person.checkins_from`."""

    def at_0002(engine: sa.Engine) -> sa.Engine:
        from alembic import command

        with engine.begin() as connection:
            command.upgrade(migrations._alembic_config(connection), "0002")
        return engine

    if request.param == "sqlite":
        engine = db.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield at_0002(engine)
        engine.dispose()
    else:
        for engine in _postgres_engine():
            yield at_0002(engine)


def test_pauses_blocks_and_holds_stored_before_the_upgrade_still_hold_after_it(
    old_database, library, clock
):
    now = MONDAY_EVENING.replace(tzinfo=None)  # the old rows, as the old version wrote them
    people = {  # address: (paused, unreachable, held_until)
        "free": (False, False, None),
        "hold-over": (False, False, now - timedelta(hours=1)),
        "held": (False, False, now + timedelta(hours=2)),
        "paused": (True, False, None),
        "blocked": (False, True, None),
    }
    with old_database.begin() as connection:
        person = sa.Table("person", sa.MetaData(), autoload_with=connection)
        checkin = sa.Table("checkin", sa.MetaData(), autoload_with=connection)
        for number, (address, (paused, unreachable, held_until)) in enumerate(people.items(), 1):
            state = {"consent": "given", "checkin_time": "20:00", "counter": 1, "paused": paused}
            if held_until is not None:
                state["held_until"] = held_until.replace(tzinfo=UTC).isoformat()
            connection.execute(
                person.insert().values(
                    id=number,
                    channel="test",
                    address=address,
                    lang="nl",
                    timezone=defaults.TIMEZONE,
                    consent="given",
                    checkin_time="20:00",
                    paused=paused,
                    unreachable=unreachable,
                    held_until=held_until,
                    state=json.dumps(state),
                    created_at=now,
                    updated_at=now,
                )
            )
            connection.execute(
                checkin.insert().values(
                    person_id=number,
                    key="c1",
                    kind="daily",
                    flow="dagelijks",
                    step="checkin",
                    every="1d",
                    due_at=now - timedelta(minutes=5),
                    status="pending",
                    attempts=0,
                    created_at=now,
                )
            )
    migrations.upgrade_engine(old_database)
    coach = Coach(library, Store(old_database), clock)
    assert coach.deliver_due() == 2
    with old_database.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT p.address, c.status FROM checkin c JOIN person p ON p.id = c.person_id"
                " WHERE c.key = 'c1'"
            )
        )
        status = dict(rows.all())
    assert status == {
        "free": "done",
        "hold-over": "done",
        "held": "pending",
        "paused": "pending",
        "blocked": "pending",
    }
    assert coach.next_due_at() == MONDAY_EVENING + timedelta(hours=2)  # the end of the hold


# --- one calm conversation -----------------------------------------------------------------------

TZ = ZoneInfo(defaults.TIMEZONE)


def _plan(coach, person_id: int, *checkins: Checkin) -> None:
    with coach.store.transaction() as session:
        for checkin in checkins:
            store.schedule_checkin(session, person_id, checkin, coach.clock.now())


def _statuses(coach, person_id: int) -> dict[str, str]:
    with coach.store.transaction() as session:
        return {row.key: row.status for row in store.checkins_of(session, person_id)}


def _said(person: Person) -> str:
    return "\n".join(m.plain for m in person.take())


def _agreed(coach) -> tuple[Person, int]:
    person = Person(coach)
    person.agree()
    with coach.store.transaction() as session:
        found = store.find_person(session, "test", "p1")
        assert found is not None and found.id is not None
        return person, found.id


def _checkin(key: str, kind: str, due, **fields) -> Checkin:
    flow = "dagelijks" if kind == "daily" else "oefening-1"
    step = {"daily": "checkin", "evaluation": "evaluatie", "reminder": "herinnering"}
    return Checkin(
        id=key,
        kind=kind,
        flow=flow,
        step=step.get(kind, "herhaling"),
        run=fields.pop("run", None),
        due_at=due,
        **fields,
    )


def test_after_downtime_one_checkin_speaks_and_the_operator_sees_what_became_of_the_rest(
    coach, clock
):
    person, person_id = _agreed(coach)
    person.command("time", "20:00")  # their daily check-in, first due this evening
    start = clock.now()
    _plan(
        coach,
        person_id,
        _checkin("x2", "reminder", start + timedelta(days=4), run="r1", chosen=True),
        _checkin("x3", "evaluation", start + timedelta(days=7), run="r1"),
        _checkin("x4", "repeat", start + timedelta(days=7), every="7d"),
    )
    (daily,) = [k for k, _ in _statuses(coach, person_id).items() if k not in ("x2", "x3", "x4")]
    clock.advance(timedelta(days=8, hours=14))  # the coach was down; the next morning, 10:00
    assert coach.deliver_due() == 1
    said = _said(person)
    assert said.count("later dan gepland") == 1
    assert "wilde ik je al aan je plan herinneren" in said
    assert "Hoe was de balans tussen geven en nemen" not in said  # the old daily: let go
    statuses = _statuses(coach, person_id)
    assert (statuses[daily], statuses["x2"], statuses["x3"], statuses["x4"]) == (
        "dropped",
        "folded",
        "done",
        "dropped",
    )
    assert sorted(s for k, s in statuses.items() if k not in (daily, "x2", "x3", "x4")) == [
        "pending",
        "pending",
    ]  # the daily check-in and the repeat go on, each at its next time
    assert coach.deliver_due() == 0
    assert coach.next_due_at() > clock.now()
    found = stats.counts(coach.store.engine, clock.now())
    assert (found.checkins_folded, found.checkins_dropped) == (1, 2)
    printed = stats.render_counts(found)
    assert "folded into another (due together): 1" in printed


def test_a_checkin_falling_due_at_night_waits_for_the_morning_and_is_not_late(coach, clock):
    person, person_id = _agreed(coach)
    night = datetime(2026, 3, 3, 23, 30, tzinfo=TZ)
    _plan(coach, person_id, _checkin("x1", "evaluation", night, run="r1"))
    clock.moment = night.astimezone(UTC)
    assert coach.deliver_due() == 0
    morning = datetime(2026, 3, 4, 8, 0, tzinfo=TZ)
    assert coach.next_due_at() == morning
    assert _said(person) == ""
    clock.moment = morning.astimezone(UTC)
    assert coach.deliver_due() == 1
    said = _said(person)
    assert "Tijd om terug te kijken" in said and "later dan gepland" not in said


def test_a_time_the_person_chose_at_night_still_arrives_at_that_time(coach, clock):
    person, _ = _agreed(coach)
    person.command("time", "23:00")
    clock.moment = datetime(2026, 3, 2, 23, 0, tzinfo=TZ).astimezone(UTC)  # that same night
    assert coach.deliver_due() == 1
    assert "Hoe was de balans tussen geven en nemen vandaag?" in _said(person)


def test_quiet_hours_the_person_changed_hold_a_checkin_at_seven(coach, clock):
    person, person_id = _agreed(coach)
    person.command("time", "stil 22:00-09:00")
    seven = datetime(2026, 3, 4, 7, 0, tzinfo=TZ)
    _plan(coach, person_id, _checkin("x1", "evaluation", seven, run="r1"))
    clock.moment = seven.astimezone(UTC)
    assert coach.deliver_due() == 0
    assert coach.next_due_at() == datetime(2026, 3, 4, 9, 0, tzinfo=TZ)


def test_a_pause_of_a_week_holds_checkins_and_then_they_come_by_themselves(coach, clock):
    person, person_id = _agreed(coach)
    person.command("pause", "1 week")
    ends = datetime(2026, 3, 9, 8, 0, tzinfo=TZ)
    _plan(coach, person_id, _checkin("x1", "evaluation", clock.now() + timedelta(days=2)))
    clock.advance(timedelta(days=3))
    assert coach.deliver_due() == 0
    assert coach.next_due_at() == ends
    clock.moment = ends.astimezone(UTC)
    assert coach.deliver_due() == 1  # no /hervat needed
    assert "Tijd om terug te kijken" in _said(person)
    with coach.store.transaction() as session:
        found = store.find_person(session, "test", "p1")
        assert found is not None and not found.paused and found.paused_until is None
