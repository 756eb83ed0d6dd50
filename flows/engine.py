"""The coaching engine: one person's state and one event in, the next state and what to do out.

`Engine(library).advance(state, event, now)` reads no clock, opens nothing and knows no channel.
It returns a `Step`: the new state, the messages to send and the effects (save an answer, schedule
a check-in, …) that the shell carries out in one transaction.

This module only routes an event to the part of `flows.turn` that owns it (see that package's
docstring for the parts). A person's odd input (a sticker, an old button, text where a choice was
expected) is an ordinary event with a kind answer; a caller's mistake raises one of
`flows.errors`; a broken flow is caught by `flows check` before it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flows import safety
from flows.effects import Effect
from flows.errors import NaiveTime, UnknownEvent
from flows.events import (
    CheckinDue,
    CheckinsDue,
    ChoiceMade,
    CommandGiven,
    Event,
    MediaReceived,
    Started,
    TextEdited,
    TextReceived,
    parse_command,
)
from flows.messages import Message
from flows.model import Library
from flows.state import Position, State, evolve
from flows.tokens import PROMPT_RUN, Token
from flows.turn import answers, checkins, commands, crisis, dialogues, flood, navigation
from flows.turn.answers import OptionCommand
from flows.turn.context import Turn

__all__ = [
    "ENGINE_TEXT_KEYS",
    "Engine",
    "Step",
    "crisis_checked",
]

MEDIA_KINDS = ("sticker", "photo", "voice", "audio", "video", "location", "document", "other")
# What a second tap on a button the first tap already handled gets.
ALREADY_CHOSEN = "common:choice.already"

# Every common text the engine asks for, gathered from the parts that ask; `flows check` makes
# sure they exist in every language.
ENGINE_TEXT_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *navigation.TEXT_KEYS,
            *answers.TEXT_KEYS,
            *checkins.TEXT_KEYS,
            *dialogues.TEXT_KEYS,
            *commands.TEXT_KEYS,
            *flood.TEXT_KEYS,
            ALREADY_CHOSEN,
            *(f"common:media.{kind}" for kind in MEDIA_KINDS),
        )
    )
)


@dataclass(frozen=True, kw_only=True)
class Step:
    """What one event led to."""

    state: State
    messages: tuple[Message, ...]
    effects: tuple[Effect, ...]


class Engine:
    def __init__(self, library: Library):
        self.library = library

    def advance(self, state: State, event: Event, now: datetime) -> Step:
        if now.utcoffset() is None:
            raise NaiveTime("now must carry its time zone")
        turn = Turn(self.library, _normalise(state, self.library), now.astimezone(UTC))
        commands.end_of_pause(turn)
        if not isinstance(event, ChoiceMade) and turn.state.last_choice is not None:
            turn.update(last_choice=None)  # something happened since that button
        _dispatch(turn, event)
        final = evolve(turn.state, last_event_at=turn.now)
        return Step(state=final, messages=turn.composed(), effects=tuple(turn.effects))


def _dispatch(turn: Turn, event: Event) -> None:
    if isinstance(event, Started):
        commands.on_start(turn, event.language, event.flow)
    elif isinstance(event, TextReceived):
        turn.ref, turn.sent_at = event.ref, event.at
        burst = flood.count(turn, event.at)
        _on_text(turn, event.text)
        flood.quiet(turn, burst)
    elif isinstance(event, TextEdited):
        verdict = safety.assess(event.text, turn.library.safety).verdict
        if verdict == safety.CRISIS:
            crisis.on_crisis(turn, event.text, edit=event.ref)  # help first; the edit kept marked
        elif verdict == safety.ASK:
            crisis.on_uncertain(turn, event.text, edit=event.ref)
        else:
            answers.on_edit(turn, event.text, event.ref)
    elif isinstance(event, ChoiceMade):
        _on_choice(turn, event.token)
    elif isinstance(event, MediaReceived):
        turn.say(f"common:media.{event.kind}", leads=True)
        navigation.reask(turn)
    elif isinstance(event, CommandGiven):
        commands.on_command(turn, event.name, event.argument)
    elif isinstance(event, CheckinDue):
        checkins.on_due(turn, (event.checkin,))
    elif isinstance(event, CheckinsDue):
        checkins.on_due(turn, event.checkins)
    else:  # a programming error, not a person's odd input
        raise UnknownEvent(f"unknown event {event!r}")


def crisis_checked(event: Event) -> str | None:
    """The text the turn of `event` puts through the crisis check, if any (`_on_text` and the
    edit branch of `_dispatch`): a shell may check it ahead, outside its transaction, since the
    check is pure and remembers what it found."""
    if isinstance(event, TextEdited):
        return event.text
    if isinstance(event, TextReceived):
        text = event.text
        if not text.startswith("/") and not answers.is_blank(text):
            return text
    return None


def _on_text(turn: Turn, text: str) -> None:
    """A command, a crisis, the answer to the engine's own question, or to the step."""
    if text.startswith("/"):
        command = parse_command(text)
        if command is None:
            turn.say("common:unknown-command", leads=True)
            navigation.reask(turn)
        else:
            commands.on_command(turn, command.name, command.argument)
        return
    if answers.is_blank(text):  # only spaces or invisible characters: nothing was said
        turn.say("common:blank", leads=True)
        navigation.reask(turn)
        return
    verdict = safety.assess(text, turn.library.safety).verdict
    if verdict == safety.CRISIS:
        crisis.on_crisis(turn, text)
        return
    if verdict == safety.ASK:
        crisis.on_uncertain(turn, text)
        return
    prompt = turn.state.prompt
    if prompt is not None and dialogues.on_text(turn, prompt, text):
        return
    if answers.belongs_to_last(turn, text):  # a second message right after an answer
        navigation.reask(turn)
        return
    current = turn.current()
    if current is None:
        if turn.state.consent == "unknown":
            commands.on_start(turn, None)
        else:
            turn.say("common:idle")
        return
    _run_option_command(turn, answers.on_text(turn, *current, text))


def _on_choice(turn: Turn, data: str) -> None:
    """A button: a second tap of the one just handled, of the engine's own question, of the
    step the person is at, or stale."""
    if data == turn.state.last_choice:
        turn.say(ALREADY_CHOSEN)  # the first tap did it; nothing is wrong and nothing changes
        return
    _on_new_choice(turn, data)
    if all(m.key != navigation.STALE_BUTTON for m in turn.messages):
        turn.update(last_choice=data)


def _on_new_choice(turn: Turn, data: str) -> None:
    token = Token.parse(data)
    if token is None:
        navigation.stale(turn)
        return
    run_id, step_id, option = token.run, token.step, token.option
    prompt = turn.state.prompt
    if run_id == PROMPT_RUN:
        if prompt is not None and prompt.kind == step_id:
            dialogues.on_answer(turn, prompt, option)
        else:
            navigation.stale(turn)
        return
    at = turn.state.at
    current = turn.current()
    if at is None or current is None or at.run != run_id or at.step != step_id:
        navigation.stale(turn)
        return
    turn.update(prompt=None)
    _run_option_command(turn, answers.on_button(turn, *current, option))


def _run_option_command(turn: Turn, pending: OptionCommand | None) -> None:
    """An option that runs a command (the menu's "what I wrote"): run it, then carry on."""
    if pending is not None:
        commands.on_command(turn, pending.command, "", from_menu=True)
        answers.carry_on(turn, pending)


class _NoFlow:
    steps: dict[str, Any] = {}


_NO_FLOW = _NoFlow()


def _normalise(state: State, library: Library) -> State:
    """Positions on steps a newer flow revision removed move where the flow's `moved:` says."""

    def fix(position: Position | None) -> Position | None:
        if position is None:
            return None
        flow = library.flows.get(position.flow)
        if flow is None:
            return None
        if position.step in flow.steps:
            return position
        step = flow.moved.get(position.step, flow.start)
        moved: Position = evolve(position, step=step, entries=0)
        return moved

    positions = (state.at, *state.suspended)
    if all(p is None or p.step in library.flows.get(p.flow, _NO_FLOW).steps for p in positions):
        return state  # the usual case: every position still exists
    suspended = tuple(p for p in (fix(p) for p in state.suspended) if p is not None)
    normalised: State = evolve(state, at=fix(state.at), suspended=suspended)
    return normalised
