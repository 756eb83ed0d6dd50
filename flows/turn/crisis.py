"""A message about suicide or acute danger: help first, keep what was written when it answers
the question, hold check-ins a day, and ask whether to pause or go on (the dialogue flow that
serves `crisis`, flows/crisis.yaml)."""

from __future__ import annotations

from datetime import timedelta

from flows.state import Prompt
from flows.system import CRISIS
from flows.turn import answers, navigation
from flows.turn.context import Turn

# After a message about suicide or acute danger, check-ins wait this long.
CRISIS_HOLD = timedelta(days=1)


def on_crisis(turn: Turn, text: str, *, keep: bool = True) -> None:
    """Help first. Keep what they wrote when it answers a question; hold check-ins a day."""
    answered = False
    current = turn.current() if keep else None
    if current is not None and current[1].expect == "text":
        answers.record(turn, *current, text, "text")
        answered = True
    elif current is not None and current[1].expect == "entries":
        answers.add_entry(turn, *current, text, reply=False)
    turn.update(held_until=turn.now + CRISIS_HOLD)
    navigation.ask(turn, Prompt(kind=CRISIS, answered=answered))
