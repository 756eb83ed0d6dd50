"""The rules for when check-ins reach a person: may one reach them now (paused, cannot be
reached, held), does it wait out the night (quiet hours), and which of several due at once is
delivered (`together`).

Written once, here, as a pure function; nothing else spells it out. The shell keeps its result
with the person (`checkins_from`, saved with the state in the same transaction), so the
dispatcher's query only compares two moments (the check-in's and the person's) and never
repeats the rule in SQL; the dispatcher applies `may_receive` once more after locking the person,
for the case that they changed between query and delivery. (A second copy in SQL was the
alternative, and two copies drift apart; a query that fetched every due row and filtered here
would let paused people's rows crowd out everyone else's and wake the scheduler without end.)

Consent is not part of this rule on purpose: a check-in for someone who no longer consents does
not wait, it is let go when it falls due, and the engine decides that (`on_checkin`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from flows import moments
from flows.checkin import Checkin

# "Nothing holds check-ins back": earlier than every due moment, so any due check-in may go.
AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)

# Which check-in speaks when several are due at once: looking back on a plan matters most, then
# the plan itself, then the invitation to do an exercise again, then the question of the day.
IMPORTANCE = ("evaluation", "reminder", "repeat", "daily")
# A daily check-in asks about one day. The morning after, it can still ask about "gisteren";
# by the afternoon the next one is near, and the old one is let go.
DAILY_KEPT = timedelta(hours=16)
# A moment the person chose inside their quiet hours (a daily check-in at 23:00) still arrives,
# but only near that moment: after downtime it waits for the morning like any other.
CHOSEN_SLACK = timedelta(hours=1)
# Check-ins that can neither fold into the one delivered nor be let go (the evaluation of
# another exercise) wait this long, so each arrives in a conversation of its own.
APART = timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class Availability:
    """What the rule looks at: the person's choices (state) and what the channel found out."""

    paused: bool  # /pauze, until /hervat or `paused_until`
    unreachable: bool  # the person blocked the bot, until they write again
    held_until: datetime | None  # after a crisis message, check-ins wait a while
    paused_until: datetime | None = None  # /pauze 1 week: the pause ends by itself then


def checkins_from(availability: Availability) -> datetime | None:
    """From when check-ins may reach the person: None while they cannot be reached or paused
    them without an end (that lasts until something changes it), else the later of the end of
    their pause and of a hold, or AT_ONCE."""
    if availability.unreachable or (availability.paused and availability.paused_until is None):
        return None
    pause_ends = availability.paused_until if availability.paused else None
    return max(pause_ends or AT_ONCE, availability.held_until or AT_ONCE)


def may_receive(availability: Availability, now: datetime) -> bool:
    """Whether a check-in that is due may be delivered to the person at `now`."""
    start = checkins_from(availability)
    return start is not None and start <= now


# --- quiet hours ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    """From `start` to `end` on the person's wall clock (over midnight when end < start)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str | None) -> QuietHours | None:
        """ "22:00-08:00" (as stored, or typed: "23-7", "23:00 tot 07:00"); None: not a range."""
        if not text:
            return None
        for separator in ("-", "–", " tot ", " to ", " until "):
            if separator in text:
                first, _, second = text.partition(separator)
                start, end = _clock(first), _clock(second)
                if start is not None and end is not None and start != end:
                    return cls(start=start, end=end)
        return None

    def __str__(self) -> str:
        return f"{moments.format_clock(self.start)}-{moments.format_clock(self.end)}"

    def holds(self, clock: time) -> bool:
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end


def _clock(text: str) -> time | None:
    """A clock time, or a bare hour ("23 tot 7")."""
    text = text.strip()
    if text.isdigit() and int(text) < 24:
        return time(int(text))
    return moments.parse_clock(text)


def quiet_until(
    checkin: Checkin, now: datetime, tz: tzinfo, quiet: QuietHours | None
) -> datetime | None:
    """When a due check-in may go, if it must wait out the quiet hours (the morning, UTC); None
    when it may go now. A moment the person chose goes at that moment, night or not."""
    if quiet is None or not quiet.holds(now.astimezone(tz).time()):
        return None
    if checkin.chosen and now - checkin.meant_for < CHOSEN_SLACK:
        return None
    return moments.next_daily(quiet.end, tz, now)


def expected_at(checkin: Checkin, tz: tzinfo, quiet: QuietHours | None) -> datetime:
    """When the person could expect the check-in: the moment it was meant for, or the end of
    the quiet hours it fell in. Later than that (downtime, a pause, its turn) is late."""
    meant_for = checkin.meant_for
    if quiet is None or not quiet.holds(meant_for.astimezone(tz).time()) or checkin.chosen:
        return meant_for
    return moments.next_daily(quiet.end, tz, meant_for)


# --- several due at once --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Together:
    """What becomes of check-ins due at once: one delivered, the rest folded into it, let go or
    waiting; each one is in exactly one of these."""

    deliver: Checkin | None
    folded: tuple[Checkin, ...] = ()  # the reminder of the plan the evaluation looks back on
    dropped: tuple[Checkin, ...] = ()  # let go; a repeating one plans its next time
    ended: tuple[Checkin, ...] = ()  # a second series of the same repeat: let go for good
    waiting: tuple[Checkin, ...] = ()  # another exercise's: comes APART later, on its own


def together(due: Sequence[Checkin], now: datetime, tz: tzinfo) -> Together:
    """One calm conversation out of the check-ins due at once for one person (after downtime,
    a pause, a hold): the most important is delivered; a daily check-in whose day has passed,
    or that something more important replaces, is let go; a reminder becomes a line in the
    evaluation of its run; a repeat of the same exercise twice is one series; what belongs to
    another exercise waits its turn."""
    ordered = sorted(due, key=lambda c: (IMPORTANCE.index(c.kind), c.meant_for, c.id))
    seen_repeats: set[tuple[str, str]] = set()
    ended: list[Checkin] = []
    dropped: list[Checkin] = []
    candidates: list[Checkin] = []
    for checkin in ordered:
        if checkin.kind == "repeat":
            series = (checkin.flow, checkin.step)
            if series in seen_repeats:
                ended.append(checkin)
                continue
            seen_repeats.add(series)
        if checkin.kind == "daily" and now - checkin.meant_for > DAILY_KEPT:
            dropped.append(checkin)
            continue
        candidates.append(checkin)
    if not candidates:
        return Together(deliver=None, dropped=tuple(dropped), ended=tuple(ended))
    deliver, rest = candidates[0], candidates[1:]
    folded: list[Checkin] = []
    waiting: list[Checkin] = []
    for checkin in rest:
        if (
            checkin.kind == "reminder"
            and deliver.kind == "evaluation"
            and _same_run(checkin, deliver)
        ):
            folded.append(checkin)
        elif checkin.kind in ("daily", "repeat"):
            dropped.append(checkin)  # today's place is taken; the series goes on
        else:
            waiting.append(checkin)
    return Together(
        deliver=deliver,
        folded=tuple(folded),
        dropped=tuple(dropped),
        ended=tuple(ended),
        waiting=tuple(waiting),
    )


def _same_run(a: Checkin, b: Checkin) -> bool:
    return a.run is not None and a.run == b.run
