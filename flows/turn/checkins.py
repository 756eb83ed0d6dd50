"""A check-in arrives: the person is taken to the step it names (what they were doing waits),
and a repeating check-in plans its next time. Also the daily check-in's planning."""

from __future__ import annotations

from datetime import time, timedelta

from flows import moments
from flows.checkin import Checkin
from flows.effects import CancelCheckins, ScheduleCheckin
from flows.state import evolve
from flows.system import DAILY, DAILY_EVERY, DAILY_KIND, DAILY_STEP
from flows.turn import navigation
from flows.turn.context import Turn

# A check-in that comes this much later than planned says so, kindly.
LATE_AFTER = timedelta(hours=6)
# How many interrupted places are remembered; older ones are let go.
MAX_SUSPENDED = 3

TEXT_KEYS = ("common:late",)


def on_checkin(turn: Turn, due: Checkin) -> None:
    flow = turn.library.flows.get(due.flow)
    if flow is None or due.step not in flow.steps or turn.state.consent != "given":
        return  # the flow changed or consent was withdrawn: nothing to say
    if due.every:
        schedule_next(turn, due)
    at = turn.state.at
    if at is not None and not (at.flow == due.flow and flow.kind == "checkin"):
        # The check-in comes first; afterwards the person is brought back here. (Yesterday's
        # unanswered daily check-in is simply let go: today's takes its place.)
        suspended = (*turn.state.suspended, at)[-MAX_SUSPENDED:]
        turn.update(suspended=suspended)
    turn.update(at=None, prompt=None)
    if turn.now - due.due_at > LATE_AFTER:
        turn.late = True
        turn.say("common:late")
    run = turn.state.run(due.run) if due.run else None
    if run is not None:  # /terug within the check-in stops where the check-in began
        turn.state = turn.state.with_run(evolve(run, history=()))
    navigation.enter_flow(turn, due.flow, step=due.step, run_id=due.run)


def schedule_next(turn: Turn, due: Checkin) -> None:
    """A repeating check-in plans the next one as it arrives."""
    if due.kind == DAILY_KIND:
        clock = moments.parse_clock(turn.state.checkin_time or "")
        if clock is None:
            return  # the person turned the daily check-in off
        next_due = moments.next_daily(clock, turn.tz, turn.now)
    else:
        every = moments.parse_duration(due.every or "")
        next_due = turn.later(due.due_at, every)
        while next_due <= turn.now:
            next_due = turn.later(next_due, every)
    turn.effects.append(ScheduleCheckin(checkin=due.again(id=turn.new_id("c"), due_at=next_due)))


def schedule_daily(turn: Turn, clock: time) -> None:
    """The daily check-in at `clock`, in place of the one planned before."""
    turn.effects.append(CancelCheckins(kinds=(DAILY_KIND,)))
    checkin = Checkin(
        id=turn.new_id("c"),
        kind=DAILY_KIND,
        flow=DAILY,
        step=DAILY_STEP,
        run=None,
        due_at=moments.next_daily(clock, turn.tz, turn.now),
        every=DAILY_EVERY,
    )
    turn.effects.append(ScheduleCheckin(checkin=checkin))
