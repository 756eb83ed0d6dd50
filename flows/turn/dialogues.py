"""The engine's own questions, outside any flow: consent before a flow that keeps answers,
forgetting everything (/vergeet), the language (/taal), the daily check-in's time (/tijd), the
question after a crisis message. What each asks and replies is a dialogue flow
(flows/*.yaml with `kind: dialogue`); what choosing an option does (`do:`) is here. A question
is open while `state.prompt` names it, and is answered only right away."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flows import defaults, delivery, moments
from flows.effects import CancelCheckins, DeletionRequested
from flows.model import BACK, END, Flow, Rule, StepSpec
from flows.state import Prompt, State, evolve
from flows.system import (
    DAILY,
    DAILY_KIND,
    FORGET,
    FORGET_EVERYTHING,
    GIVE_CONSENT,
    HOLD_CHECKINS,
    LANGUAGE,
    LIFT_HOLD,
    MENU,
    OFF_WORDS,
    QUIET_WORDS,
    SET_LANGUAGE,
    SET_TIME,
    TIME,
)
from flows.texts import LANGUAGES
from flows.turn import navigation
from flows.turn.checkins import schedule_daily
from flows.turn.context import Turn
from flows.turn.crisis import CRISIS_HOLD

# What the time dialogue says back; the rest of what dialogues say is in their flow files.
TEXT_KEYS = (
    "common:time.set",
    "common:time.off",
    "common:time.invalid",
    "common:time.timezone-set",
    "common:time.timezone-invalid",
    "common:time.quiet-set",
    "common:time.quiet-off",
    "common:time.quiet-invalid",
)


def open_step(turn: Turn, prompt: Prompt) -> tuple[Flow, StepSpec]:
    dialogue = turn.library.dialogue(prompt.kind)
    return dialogue, dialogue.steps[prompt.step or dialogue.start]


def on_answer(turn: Turn, prompt: Prompt, option_id: str) -> None:
    """A button (or its label, typed) answering the open question."""
    turn.update(prompt=None)
    dialogue, step = open_step(turn, prompt)
    option = step.option(option_id)
    if option is None:
        navigation.stale(turn)
        return
    if option.do is not None:
        OPTION_ACTIONS[option.do](turn, prompt, option_id)
    carry_on(turn, dialogue, prompt, _target(option.next or step.next))


def carry_on(turn: Turn, dialogue: Flow, prompt: Prompt, goto: str) -> None:
    """Say the dialogue's replies up to its end, its next question, or back to the flow."""
    while goto not in (END, BACK):
        step = dialogue.steps[goto]
        if step.waits:  # a further question of the same dialogue
            navigation.ask(turn, evolve(prompt, step=step.id))
            return
        navigation.say_dialogue_step(turn, dialogue, step)
        goto = _target(step.next)
    if goto == BACK:
        current = turn.current()
        if prompt.answered and current is not None and current[1].expect == "text":
            navigation.follow(turn, *current, None)  # the message that led here was the answer
        else:
            navigation.reask(turn)


def _target(rules: tuple[Rule, ...] | None) -> str:
    return next((r.goto for r in rules or () if r.answer is None), END)


def on_text(turn: Turn, prompt: Prompt, text: str) -> bool:
    """Text while a question is open: whether it answered it (else the question lapses)."""
    _, step = open_step(turn, prompt)
    if step.expect == "text" and step.do is not None:
        STEP_ACTIONS[step.do](turn, text)
        return True
    option = match_text(turn, prompt, text)
    if option is not None:
        on_answer(turn, prompt, option)
        return True
    turn.update(prompt=None)
    return False


def match_text(turn: Turn, prompt: Prompt, text: str) -> str | None:
    """Someone typed a button's label (or its id, or one of its `typed` words) instead of pressing
    it. Words typed alone only: "ja" after "Wil je even pauzeren?" is a choice, "ja, maar..." is
    not."""
    dialogue, step = open_step(turn, prompt)
    wanted = " ".join(text.strip().strip(".!?").casefold().split())
    for option in step.options:
        label = turn.label(option.label or f"{dialogue.id}:{step.id}.{option.id}")
        if wanted in (option.id, label.casefold()) or wanted in _typed_words(turn, option.typed):
            return option.id
    return None


def _typed_words(turn: Turn, key: str | None) -> set[str]:
    """An option's `typed` words, in every language: a Dutch "ja" in an English chat is a yes."""
    if key is None:
        return set()
    return {
        word.strip()
        for lang in LANGUAGES
        for word in turn.texts.label(lang, key, turn.tz).casefold().split(",")
    }


# --- what the options do -------------------------------------------------------------------------


def _give_consent(turn: Turn, prompt: Prompt, option: str) -> None:
    turn.update(consent="given")
    navigation.enter_flow(turn, prompt.flow or MENU)


def _forget_everything(turn: Turn, prompt: Prompt, option: str) -> None:
    turn.effects.append(DeletionRequested())
    turn.state = State(lang=turn.state.lang, consent="unknown", counter=turn.state.counter)


def _set_language(turn: Turn, prompt: Prompt, option: str) -> None:
    if option in LANGUAGES:
        turn.update(lang=option)


def _lift_hold(turn: Turn, prompt: Prompt, option: str) -> None:
    turn.update(held_until=None)


def _hold_checkins(turn: Turn, prompt: Prompt, option: str) -> None:
    turn.update(held_until=turn.now + CRISIS_HOLD)


OPTION_ACTIONS: dict[str, Callable[[Turn, Prompt, str], None]] = {
    GIVE_CONSENT: _give_consent,
    FORGET_EVERYTHING: _forget_everything,
    SET_LANGUAGE: _set_language,
    LIFT_HOLD: _lift_hold,
    HOLD_CHECKINS: _hold_checkins,
}


# --- the commands that open a dialogue -----------------------------------------------------------


def ask_forget(turn: Turn) -> None:
    navigation.ask(turn, Prompt(kind=FORGET))


def on_language_command(turn: Turn, argument: str) -> None:
    """/taal en sets it at once; /taal alone asks."""
    lang = argument.strip().lower()[:2]
    if lang not in LANGUAGES:
        navigation.ask(turn, Prompt(kind=LANGUAGE))
        return
    dialogue = turn.library.dialogue(LANGUAGE)
    step = dialogue.steps[dialogue.start]
    option = step.option(lang)
    _set_language(turn, Prompt(kind=LANGUAGE), lang)
    carry_on(turn, dialogue, Prompt(kind=LANGUAGE), _target(option.next if option else step.next))


def on_time_command(turn: Turn, argument: str) -> None:
    """/tijd 20:00 sets it at once; /tijd alone says what it is and asks."""
    if not argument.split():
        context = {
            "time": turn.state.checkin_time or "",
            "timezone": turn.state.timezone,
            "quiet": _quiet_words(turn),
        }
        navigation.ask(turn, Prompt(kind=TIME), **context)
        return
    on_time_text(turn, argument)


def on_time_text(turn: Turn, text: str) -> None:
    """`20:00` sets the daily check-in, `uit`/`off` stops it, a zone name changes the zone.
    What cannot be read is asked again (until it can, or is skipped); what can, goes back to
    the question the person was on."""
    turn.update(prompt=None)
    words = text.split()
    zone = next((w for w in words if "/" in w), None)
    if words and words[0].casefold() in QUIET_WORDS:
        if not _set_quiet(turn, " ".join(words[1:])):
            turn.update(prompt=Prompt(kind=TIME))
            return
    elif zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            turn.say("common:time.timezone-invalid")
            turn.update(prompt=Prompt(kind=TIME))
            return
        turn.update(timezone=zone)
        turn.say("common:time.timezone-set", timezone=zone)
        if turn.state.checkin_time:
            schedule_daily(
                turn, moments.parse_clock(turn.state.checkin_time) or defaults.DAILY_TIME
            )
    elif text.strip().casefold() in OFF_WORDS:
        turn.update(checkin_time=None)
        turn.effects.append(CancelCheckins(kinds=(DAILY_KIND,)))
        turn.say("common:time.off")
    else:
        clock = moments.parse_clock(text)
        if clock is None:
            turn.say("common:time.invalid")
            turn.update(prompt=Prompt(kind=TIME))
            return
        if turn.state.consent != "given":
            navigation.ask_consent(turn, DAILY)
            return
        turn.update(checkin_time=moments.format_clock(clock))
        schedule_daily(turn, clock)
        turn.say("common:time.set", time=turn.state.checkin_time, timezone=turn.state.timezone)
    if turn.state.at is not None:
        navigation.present(turn, again=True)


def _set_quiet(turn: Turn, rest: str) -> bool:
    """`stil 23:00-07:00` sets the quiet hours, `stil uit` turns them off; False when the hours
    cannot be read (asked again)."""
    if rest.strip().casefold() in OFF_WORDS:
        turn.update(quiet=None)
        turn.say("common:time.quiet-off")
        return True
    quiet = delivery.QuietHours.parse(rest)
    if quiet is None:
        turn.say("common:time.quiet-invalid")
        return False
    turn.update(quiet=str(quiet))
    clocks = _quiet_clocks(quiet)
    turn.say("common:time.quiet-set", start=clocks["start"], end=clocks["end"])
    return True


def _quiet_clocks(quiet: delivery.QuietHours) -> dict[str, str]:
    return {"start": moments.format_clock(quiet.start), "end": moments.format_clock(quiet.end)}


def _quiet_words(turn: Turn) -> dict[str, str] | None:
    quiet = delivery.QuietHours.parse(turn.state.quiet)
    return _quiet_clocks(quiet) if quiet is not None else None


STEP_ACTIONS: dict[str, Callable[[Turn, str], None]] = {SET_TIME: on_time_text}
