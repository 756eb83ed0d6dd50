"""A message about suicide or acute danger: help first, keep what was written when it answers
the question, hold check-ins a day, and ask whether to pause or go on (the dialogue flow that
serves `crisis`, flows/crisis.yaml). When the crisis check is unsure, one gentle question first
(its step `vraag`): "yes" leads to help first, "no, not like that" goes on where the person
was, "rather not say" gives the helplines gently and goes on."""

from __future__ import annotations

from datetime import timedelta

from flows.state import Prompt
from flows.system import CRISIS, CRISIS_QUESTION
from flows.turn import answers, navigation
from flows.turn.context import Turn

# After a message about suicide or acute danger, check-ins wait this long.
CRISIS_HOLD = timedelta(days=1)


def on_crisis(turn: Turn, text: str, *, keep: bool = True) -> None:
    """Help first. Keep what they wrote when it answers a question; hold check-ins a day."""
    answered = _keep(turn, text) if keep else False
    turn.update(held_until=turn.now + CRISIS_HOLD)
    navigation.ask(turn, Prompt(kind=CRISIS, answered=answered))


def on_uncertain(turn: Turn, text: str, *, keep: bool = True) -> None:
    """The gentle question. What they wrote is kept as for a crisis, so that "no, not like that"
    goes on from it; check-ins are held only when they answer "yes"."""
    answered = _keep(turn, text) if keep else False
    navigation.ask(turn, Prompt(kind=CRISIS, step=CRISIS_QUESTION, answered=answered))


def _keep(turn: Turn, text: str) -> bool:
    """Keep the message when it answers the current step; whether it was kept as the answer."""
    current = turn.current()
    if current is not None and current[1].expect == "text":
        answers.record(turn, *current, text, "text")
        return True
    if current is not None and current[1].expect == "entries":
        answers.add_entry(turn, *current, text, reply=False)
    return False
