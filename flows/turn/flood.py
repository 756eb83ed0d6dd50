"""Many messages faster than anyone reads a reply (thirty in two seconds): every one is handled
and kept as usual, but the coach answers the flood once, calmly, and then waits."""

from __future__ import annotations

from datetime import datetime, timedelta

from flows.turn.context import Turn

TEXT_KEYS = ("common:flood",)

# Messages this close together were not written after reading the coach's reply: reading a
# reply takes longer. Telegram dates messages in whole seconds, so 0 or 1 second apart.
FLOOD_GAP = timedelta(seconds=2)
# The first messages of a quick run are answered as usual (a double text is not a flood); the
# next gets the one calm answer, the rest no answer until the person pauses.
FLOOD_AFTER = 2
# A message about suicide or acute danger is always answered, flood or not.
NEVER_QUIET = ("common:crisis.help",)


def count(turn: Turn, sent_at: datetime | None) -> int:
    """How many messages in a row, this one included after the first, came too fast to read
    replies; it is kept in the state for the next message."""
    last = turn.state.last_sent_at
    if sent_at is None:
        return 0
    fast = last is not None and timedelta(0) <= sent_at - last < FLOOD_GAP
    burst = turn.state.burst + 1 if fast else 0
    turn.update(last_sent_at=sent_at, burst=burst)
    return burst


def quiet(turn: Turn, burst: int) -> None:
    """Within a flood, the turn's replies become the one calm answer, then nothing."""
    if burst < FLOOD_AFTER or any(m.key in NEVER_QUIET for m in turn.messages):
        return
    turn.messages.clear()
    if burst == FLOOD_AFTER:
        turn.say("common:flood")
