"""A message about suicide or acute danger: help first, keep what was written when it answers
the question, hold check-ins a day, and ask whether to pause or go on."""

from __future__ import annotations

from datetime import timedelta

from flows.state import Prompt
from flows.system import CRISIS, CRISIS_CONTINUE, CRISIS_PAUSE
from flows.turn import answers, navigation
from flows.turn.context import Turn

# After a message about suicide or acute danger, check-ins wait this long.
CRISIS_HOLD = timedelta(days=1)

TEXT_KEYS = (
    "common:crisis.help",
    "common:crisis.ask",
    "common:crisis.pause",
    "common:crisis.continue",
    "common:crisis.paused",
    "common:crisis.continued",
)


def on_crisis(turn: Turn, text: str, *, keep: bool = True) -> None:
    """Help first. Keep what they wrote when it answers a question; hold check-ins a day."""
    answered = False
    current = turn.current() if keep else None
    if current is not None and current[1].expect == "text":
        answers.record(turn, *current, text, "text")
        answered = True
    elif current is not None and current[1].expect == "entries":
        answers.add_entry(turn, *current, text, reply=False)
    until = turn.now + CRISIS_HOLD
    turn.update(held_until=until, prompt=Prompt(kind=CRISIS, answered=answered))
    turn.say("common:crisis.help")
    turn.say(
        "common:crisis.ask",
        (
            navigation.prompt_button(turn, "common:crisis.pause", CRISIS, CRISIS_PAUSE),
            navigation.prompt_button(turn, "common:crisis.continue", CRISIS, CRISIS_CONTINUE),
        ),
    )


def on_answer(turn: Turn, prompt: Prompt, option: str) -> None:
    """Pause (check-ins stay held) or go on where we were."""
    if option == CRISIS_CONTINUE:
        turn.update(held_until=None)
        turn.say("common:crisis.continued")
        current = turn.current()
        if prompt.answered and current is not None and current[1].expect == "text":
            navigation.follow(turn, *current, None)
        else:
            navigation.reask(turn)
    else:
        turn.say("common:crisis.paused")
