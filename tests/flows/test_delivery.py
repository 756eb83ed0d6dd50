"""The one rule for whether a check-in may reach a person now."""

from __future__ import annotations

from datetime import timedelta

from flows.delivery import Availability, checkins_from, may_receive
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
