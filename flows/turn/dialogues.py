"""The engine's own questions, outside any flow: consent before a flow that keeps answers,
forgetting everything (/vergeet), the language (/taal) and the daily check-in's time (/tijd).
A question is open while `state.prompt` names it and is answered only right away."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flows import moments
from flows.effects import CancelCheckins, DeletionRequested
from flows.state import Prompt, State
from flows.system import (
    CONSENT,
    CRISIS,
    DAILY,
    DAILY_KIND,
    DEFAULT_DAILY_TIME,
    FORGET,
    LANGUAGE,
    MENU,
    NO,
    OFF_WORDS,
    TIME,
    YES,
)
from flows.texts import LANGUAGES
from flows.turn import crisis, navigation
from flows.turn.checkins import schedule_daily
from flows.turn.context import Turn

TEXT_KEYS = (
    "common:no-consent.stored-nothing",
    "common:forget.ask",
    "common:forget.yes",
    "common:forget.no",
    "common:forget.cancelled",
    "common:forget.done",
    "common:language.ask",
    "common:language.set",
    *(f"common:language.{code}" for code in LANGUAGES),
    "common:time.ask",
    "common:time.set",
    "common:time.off",
    "common:time.invalid",
    "common:time.timezone-set",
    "common:time.timezone-invalid",
)


def on_answer(turn: Turn, prompt: Prompt, option: str) -> None:
    """A button (or its label, typed) answering the open question."""
    turn.update(prompt=None)
    if prompt.kind == FORGET:
        if option == YES:
            turn.effects.append(DeletionRequested())
            lang = turn.state.lang
            turn.state = State(lang=lang, consent="unknown", counter=turn.state.counter)
            turn.say("common:forget.done")
        else:
            turn.say("common:forget.cancelled")
            navigation.reask(turn)
    elif prompt.kind == LANGUAGE and option in LANGUAGES:
        turn.update(lang=option)
        turn.say("common:language.set")
        navigation.reask(turn)
    elif prompt.kind == CONSENT:
        if option == YES:
            turn.update(consent="given")
            navigation.enter_flow(turn, prompt.flow or MENU)
        else:
            turn.say("common:no-consent.stored-nothing")
            navigation.reask(turn)
    elif prompt.kind == CRISIS:
        crisis.on_answer(turn, prompt, option)
    else:
        navigation.stale(turn)


def on_text(turn: Turn, prompt: Prompt, text: str) -> bool:
    """Text while a question is open: whether it answered it (else the question lapses)."""
    if prompt.kind == TIME:
        on_time_text(turn, text)
        return True
    option = match_text(turn, prompt, text)
    if option is not None:
        on_answer(turn, prompt, option)
        return True
    turn.update(prompt=None)
    return False


def match_text(turn: Turn, prompt: Prompt, text: str) -> str | None:
    """Someone typed a button's label (or its id) instead of pressing it."""
    wanted = text.strip().casefold()
    options = LANGUAGES if prompt.kind == LANGUAGE else (YES, NO)
    for option in options:
        label_key = (
            f"common:language.{option}" if prompt.kind == LANGUAGE else f"common:buttons.{option}"
        )
        if wanted in (option, turn.label(label_key).casefold()):
            return option
    return None


# --- forget --------------------------------------------------------------------------------------


def ask_forget(turn: Turn) -> None:
    turn.update(prompt=Prompt(kind=FORGET))
    turn.say("common:forget.ask", navigation.yes_no(turn, FORGET))


# --- language ------------------------------------------------------------------------------------


def on_language_command(turn: Turn, argument: str) -> None:
    """/taal en sets it at once; /taal alone asks."""
    lang = argument.strip().lower()[:2]
    if lang in LANGUAGES:
        turn.update(lang=lang)
        turn.say("common:language.set")
        navigation.reask(turn)
        return
    turn.update(prompt=Prompt(kind=LANGUAGE))
    rows = tuple(
        navigation.prompt_button(turn, f"common:language.{code}", LANGUAGE, code)
        for code in LANGUAGES
    )
    turn.say("common:language.ask", rows)


# --- time ----------------------------------------------------------------------------------------


def on_time_command(turn: Turn, argument: str) -> None:
    """/tijd 20:00 sets it at once; /tijd alone says what it is and asks."""
    if not argument.split():
        turn.update(prompt=Prompt(kind=TIME))
        turn.say(
            "common:time.ask", time=turn.state.checkin_time or "", timezone=turn.state.timezone
        )
        return
    on_time_text(turn, argument)


def on_time_text(turn: Turn, text: str) -> None:
    """`20:00` sets the daily check-in, `uit`/`off` stops it, a zone name changes the zone."""
    turn.update(prompt=None)
    words = text.split()
    zone = next((w for w in words if "/" in w), None)
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            turn.say("common:time.timezone-invalid")
            return
        turn.update(timezone=zone)
        turn.say("common:time.timezone-set", timezone=zone)
        if turn.state.checkin_time:
            schedule_daily(turn, moments.parse_clock(turn.state.checkin_time) or DEFAULT_DAILY_TIME)
        return
    if text.strip().casefold() in OFF_WORDS:
        turn.update(checkin_time=None)
        turn.effects.append(CancelCheckins(kinds=(DAILY_KIND,)))
        turn.say("common:time.off")
        return
    clock = moments.parse_clock(text)
    if clock is None:
        turn.say("common:time.invalid")
        return
    if turn.state.consent != "given":
        navigation.ask_consent(turn, DAILY)
        return
    turn.update(checkin_time=moments.format_clock(clock))
    schedule_daily(turn, clock)
    turn.say("common:time.set", time=turn.state.checkin_time, timezone=turn.state.timezone)
