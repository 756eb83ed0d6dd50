"""The one rule for "may a check-in reach this person now": paused, cannot be reached, held.

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

from dataclasses import dataclass
from datetime import UTC, datetime

# "Nothing holds check-ins back": earlier than every due moment, so any due check-in may go.
AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class Availability:
    """What the rule looks at: the person's choices (state) and what the channel found out."""

    paused: bool  # /pauze, until /hervat
    unreachable: bool  # the person blocked the bot, until they write again
    held_until: datetime | None  # after a crisis message, check-ins wait a while


def checkins_from(availability: Availability) -> datetime | None:
    """From when check-ins may reach the person: None while they paused them or cannot be
    reached (that lasts until something changes it), the end of a hold, or AT_ONCE."""
    if availability.paused or availability.unreachable:
        return None
    return availability.held_until or AT_ONCE


def may_receive(availability: Availability, now: datetime) -> bool:
    """Whether a check-in that is due may be delivered to the person at `now`."""
    start = checkins_from(availability)
    return start is not None and start <= now
