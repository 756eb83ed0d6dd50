"""The rules for when check-ins reach a person: may one reach them now, does it wait out the
night, and which of several due at once speaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flows.checkin import Checkin
from flows.delivery import (
    Availability,
    QuietHours,
    checkins_from,
    may_receive,
    quiet_until,
    together,
)
from tests.conftest import MONDAY_EVENING

NOW = MONDAY_EVENING
FREE = Availability(paused=False, unreachable=False, held_until=None)


def test_someone_who_paused_or_cannot_be_reached_gets_no_checkin_until_that_changes():
    for availability in (
        Availability(paused=True, unreachable=False, held_until=None),
        Availability(paused=False, unreachable=True, held_until=None),
        Availability(paused=True, unreachable=True, held_until=NOW - timedelta(days=1)),
    ):
        assert checkins_from(availability) is None
        assert not may_receive(availability, NOW + timedelta(days=365))


def test_a_hold_after_a_crisis_message_lets_checkins_wait_until_it_ends():
    held = Availability(paused=False, unreachable=False, held_until=NOW + timedelta(days=1))
    assert checkins_from(held) == NOW + timedelta(days=1)
    assert not may_receive(held, NOW)
    assert not may_receive(held, NOW + timedelta(hours=23))
    assert may_receive(held, NOW + timedelta(days=1))


def test_a_hold_that_has_ended_holds_nothing():
    ended = Availability(paused=False, unreachable=False, held_until=NOW - timedelta(minutes=1))
    assert may_receive(ended, NOW)


def test_someone_free_may_receive_any_checkin_that_is_due():
    assert may_receive(FREE, NOW)
    assert checkins_from(FREE) <= NOW - timedelta(days=365 * 50)


# --- a pause with an end -----------------------------------------------------------------------


def test_a_pause_with_an_end_lets_checkins_through_from_that_moment_on():
    ends = NOW + timedelta(days=7)
    paused = Availability(paused=True, unreachable=False, held_until=None, paused_until=ends)
    assert checkins_from(paused) == ends
    assert not may_receive(paused, NOW + timedelta(days=6))
    assert may_receive(paused, ends)
    # A hold after a crisis message that ends later still holds.
    held = Availability(paused=True, unreachable=False, held_until=ends + DAY, paused_until=ends)
    assert checkins_from(held) == ends + DAY


# --- quiet hours -------------------------------------------------------------------------------

TZ = ZoneInfo("Europe/Amsterdam")
DAY = timedelta(days=1)
NIGHTS = QuietHours.parse("22:00-08:00")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=TZ)


def checkin(kind: str, due: datetime, **fields) -> Checkin:
    step = {"evaluation": "evaluatie", "reminder": "herinnering", "repeat": "herhaling"}
    return Checkin(
        id=fields.pop("id", f"{kind}-{due:%d%H}"),
        kind=kind,
        flow=fields.pop("flow", "dagelijks" if kind == "daily" else "oefening-1"),
        step=fields.pop("step", step.get(kind, "checkin")),
        run=fields.pop("run", None if kind in ("daily", "repeat") else "r1"),
        due_at=due.astimezone(UTC),
        **fields,
    )


def test_quiet_hours_are_read_as_a_person_types_them():
    assert str(QuietHours.parse("23:00-07:00")) == "23:00-07:00"
    assert str(QuietHours.parse("23 tot 7")) == "23:00-07:00"
    assert str(QuietHours.parse("22:30 – 6:45")) == "22:30-06:45"
    assert QuietHours.parse("ergens") is None and QuietHours.parse("22:00-22:00") is None


def test_a_checkin_falling_due_at_night_waits_for_the_morning():
    evaluation = checkin("evaluation", local(9, 23, 30))
    assert quiet_until(evaluation, local(9, 23, 30), TZ, NIGHTS) == local(10, 8)
    assert quiet_until(evaluation, local(10, 8), TZ, NIGHTS) is None
    assert quiet_until(evaluation, local(9, 23, 30), TZ, None) is None  # quiet hours turned off


def test_a_time_the_person_chose_at_night_arrives_then_but_not_hours_later_after_downtime():
    daily = checkin("daily", local(9, 23), chosen=True, every="1d")
    assert quiet_until(daily, local(9, 23), TZ, NIGHTS) is None
    assert quiet_until(daily, local(10, 3), TZ, NIGHTS) == local(10, 8)


# --- several due at once -----------------------------------------------------------------------


def test_after_a_week_of_downtime_the_evaluation_speaks_and_the_rest_fold_or_go():
    reminder = checkin("reminder", local(6, 19), chosen=True)
    evaluation = checkin("evaluation", local(9, 20))
    daily = checkin("daily", local(3, 20), chosen=True, every="1d")
    repeat = checkin("repeat", local(9, 20), every="7d")
    got = together([daily, repeat, reminder, evaluation], local(10, 9), TZ)
    assert got.deliver == evaluation
    assert got.folded == (reminder,)  # a line in the evaluation of its own plan
    assert set(got.dropped) == {daily, repeat}
    assert got.ended == () and got.waiting == ()


def test_the_order_is_evaluation_then_reminder_then_repeat_then_daily():
    reminder = checkin("reminder", local(9, 19), run="r2")
    repeat = checkin("repeat", local(9, 19), every="7d")
    daily = checkin("daily", local(9, 20), every="1d")
    assert together([daily, repeat, reminder], local(9, 21), TZ).deliver == reminder
    assert together([daily, repeat], local(9, 21), TZ).deliver == repeat
    assert together([daily], local(9, 21), TZ).deliver == daily


def test_a_daily_checkin_read_the_morning_after_is_delivered_and_by_the_afternoon_let_go():
    daily = checkin("daily", local(9, 20), every="1d")
    assert together([daily], local(10, 7, 55), TZ).deliver == daily
    late = together([daily], local(10, 13), TZ)
    assert late.deliver is None and late.dropped == (daily,)


def test_two_series_of_the_same_repeat_become_one():
    first = checkin("repeat", local(9, 19), id="c1", every="7d")
    second = checkin("repeat", local(9, 19, 5), id="c2", every="7d")
    got = together([second, first], local(9, 19, 10), TZ)
    assert got.deliver == first and got.ended == (second,)


def test_another_exercises_evaluation_waits_its_turn_instead_of_interrupting():
    one = checkin("evaluation", local(9, 20), run="r1", id="c1")
    two = checkin("evaluation", local(9, 20), run="r2", id="c2", flow="oefening-2")
    other_reminder = checkin("reminder", local(9, 19), run="r3", flow="oefening-2")
    got = together([two, one, other_reminder], local(10, 9), TZ)
    assert got.deliver == one
    assert set(got.waiting) == {two, other_reminder} and got.folded == ()
