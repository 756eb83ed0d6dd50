"""Check-ins an answer asks for (a step's or an option's `schedule:`), and taking them back when
the step is answered again or skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flows import defaults, moments
from flows.checkin import Checkin
from flows.effects import CancelCheckins, ScheduleCheckin
from flows.model import Schedule
from flows.state import evolve
from flows.system import DAILY_EVERY, DAILY_KIND, REPEAT_KIND
from flows.turn.context import Turn


def plan(turn: Turn, spec: Schedule, value: Any) -> None:
    """Schedule what `spec` says, for the answer `value` of the current step."""
    if turn.state.consent != "given":
        return  # nothing is kept for someone who said no, check-ins included
    at = turn.position()
    if spec.kind == DAILY_KIND:
        clock = moments.parse_clock(str(value)) or defaults.DAILY_TIME
        turn.effects.append(CancelCheckins(kinds=(DAILY_KIND,)))
        due = moments.next_daily(clock, turn.tz, turn.now)
        every: str | None = DAILY_EVERY
    elif spec.at_answer:
        due = datetime.fromisoformat(str(value)).astimezone(UTC)
        every = spec.every
    else:
        assert spec.after is not None  # the loader gives every schedule `after` or `at`
        due = turn.later(turn.now, spec.after)
        every = spec.every
    if spec.kind == REPEAT_KIND:
        # One series per repeat: choosing "elke week" in a second run of the exercise replaces
        # the first run's series instead of sending two identical invitations.
        turn.effects.append(CancelCheckins(kinds=(REPEAT_KIND,), flow=spec.flow))
    checkin = Checkin(
        id=turn.new_id("c"),
        kind=spec.kind,
        flow=spec.flow,
        step=spec.step,
        run=None if spec.new_run else at.run,
        due_at=due,
        every=every,
        # The person named the moment (the daily time, the moment of a plan): it arrives then,
        # even within their quiet hours.
        chosen=spec.kind == DAILY_KIND or spec.at_answer,
    )
    run = turn.run()
    ids = (*run.scheduled.get(at.step, ()), checkin.id)
    turn.state = turn.state.with_run(evolve(run, scheduled={**run.scheduled, at.step: ids}))
    turn.effects.append(ScheduleCheckin(checkin=checkin))


def unplan(turn: Turn, step_id: str) -> None:
    """Cancel the check-ins an earlier answer to this step of this run asked for."""
    run = turn.run()
    earlier = run.scheduled.get(step_id)
    if earlier:
        turn.effects.append(CancelCheckins(checkins=earlier))
        scheduled = {k: v for k, v in run.scheduled.items() if k != step_id}
        turn.state = turn.state.with_run(evolve(run, scheduled=scheduled))
