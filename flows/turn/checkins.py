"""Check-ins arrive: of several due at once one is delivered (`flows.delivery.together`), the
person is taken to the step it names (what they were doing waits), and a repeating check-in
plans its next time. Also the daily check-in's planning."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time, timedelta

from flows import delivery, moments
from flows.checkin import Checkin
from flows.effects import CancelCheckins, CheckinsSettled, ScheduleCheckin
from flows.state import evolve
from flows.system import DAILY, DAILY_EVERY, DAILY_KIND, DAILY_STEP
from flows.turn import navigation
from flows.turn.context import Turn

# A check-in that comes this much later than planned says so, kindly.
LATE_AFTER = timedelta(hours=6)
# How many interrupted places are remembered; older ones are let go.
MAX_SUSPENDED = 3

TEXT_KEYS = ("common:late", "common:folded-reminder")


def on_due(turn: Turn, due: Sequence[Checkin]) -> None:
    """Check-ins due at once: one calm conversation. The one delivered speaks; a reminder folded
    into its evaluation is one line in it; the rest are let go or wait (`CheckinsSettled`)."""
    if turn.state.consent != "given":
        return  # consent was withdrawn: each is let go, nothing to say
    settled = delivery.together(due, turn.now, turn.tz)
    # This time is let go, the series goes on: once per series, also when a stored state held
    # two of one (the one delivered plans its own next).
    going_on = {_series(settled.deliver)} if settled.deliver and settled.deliver.every else set()
    for checkin in (*settled.dropped, *settled.folded):
        if checkin.every and _series(checkin) not in going_on:
            going_on.add(_series(checkin))
            schedule_next(turn, checkin)
    waiting = tuple(c.waits(turn.now + delivery.APART) for c in settled.waiting)
    if settled.folded or settled.dropped or settled.ended or waiting:
        turn.effects.append(
            CheckinsSettled(
                folded=tuple(c.id for c in settled.folded),
                dropped=tuple(c.id for c in (*settled.dropped, *settled.ended)),
                waiting=waiting,
            )
        )
    if settled.deliver is not None:
        on_checkin(turn, settled.deliver, folded=settled.folded)


def on_checkin(turn: Turn, due: Checkin, folded: Sequence[Checkin] = ()) -> None:
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
    # Late against the moment the person could expect it: one that waited out the night is not
    # late. Only the check-in delivered says it, so "later than planned" is said once however
    # many were due; a daily check-in read the morning after says so in its own greeting.
    expected = delivery.expected_at(due, turn.tz, delivery.QuietHours.parse(turn.state.quiet))
    if turn.now - expected > LATE_AFTER and not _for_an_earlier_day(turn, due):
        turn.late = True
        turn.say("common:late", leads=True)
    for reminder in folded:  # its plan is looked back on now, in the evaluation
        when = moments.format_moment(reminder.meant_for, turn.state.lang, turn.tz)
        turn.say("common:folded-reminder", moment=when)
    run = turn.state.run(due.run) if due.run else None
    if run is not None:  # /terug within the check-in stops where the check-in began
        turn.state = turn.state.with_run(evolve(run, history=()))
    navigation.enter_flow(turn, due.flow, step=due.step, run_id=due.run, meant_for=due.meant_for)


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
        chosen=True,
    )
    turn.effects.append(ScheduleCheckin(checkin=checkin))


def _for_an_earlier_day(turn: Turn, due: Checkin) -> bool:
    if due.kind != DAILY_KIND:
        return False
    return due.meant_for.astimezone(turn.tz).date() < turn.now.astimezone(turn.tz).date()


def _series(checkin: Checkin) -> tuple[str, str, str]:
    return (checkin.kind, checkin.flow, checkin.step)
