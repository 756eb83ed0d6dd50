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


def on_crisis(turn: Turn, text: str, *, edit: str | None = None) -> None:
    """Help first. Keep what they wrote, marked, and hold check-ins a day. `edit`: the message
    it edits."""
    answered = _keep(turn, text, edit)
    turn.update(held_until=turn.now + CRISIS_HOLD)
    navigation.ask(turn, Prompt(kind=CRISIS, answered=answered))


def on_uncertain(turn: Turn, text: str, *, edit: str | None = None) -> None:
    """The gentle question. What they wrote is kept (and marked) as for a crisis, so that "no,
    not like that" goes on from it; check-ins are held only when they answer "yes"."""
    answered = _keep(turn, text, edit)
    navigation.ask(turn, Prompt(kind=CRISIS, step=CRISIS_QUESTION, answered=answered))


def _keep(turn: Turn, text: str, edit: str | None) -> bool:
    """Keep what they wrote, marked so that it stays theirs but is never quoted back: the answer
    of the question, an entry, the edit of an answer, their own words at a choice, else a note.
    Whether it answered the current question."""
    current = turn.current()
    if edit is not None:
        answers.on_edit(turn, text, edit, crisis=True)
    elif current is not None and current[1].expect == "text":
        answers.record(turn, *current, text, "text", crisis=True)
        return True
    elif current is not None and current[1].expect == "entries":
        answers.add_entry(turn, *current, text, reply=False, crisis=True)
    elif current is not None and current[1].expect in ("choice", "scale"):
        answers.own_words(turn, *current, text, crisis=True)
    elif current is not None:
        answers.keep_note(turn, *current, text, crisis=True)
    return False
