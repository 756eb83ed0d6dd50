"""Commands: /start, /menu, /help, /overslaan, /terug, /pauze, /hervat, /tijd, /taal, /mijn,
/export, /vergeet, typed or chosen from the menu."""

from __future__ import annotations

from datetime import timedelta

from flows import defaults, moments
from flows.effects import ExportRequested, ShowAnswers
from flows.errors import UnknownCommand
from flows.events import COMMANDS
from flows.system import MENU, OPENING
from flows.texts import LANGUAGES
from flows.turn import dialogues, navigation
from flows.turn.context import Turn

# /start within this long of the last message is someone still in the conversation (a double
# tap, a link opened again): the question again, without "this is where we were".
STILL_HERE = timedelta(minutes=10)

TEXT_KEYS = (
    "common:help",
    "common:welcome-back",
    "common:unknown-command",
    "common:paused",
    "common:paused-until",
    "common:pause-length-unknown",
    "common:resumed",
    "common:already-paused",
    "common:not-paused",
)


def on_start(turn: Turn, language: str | None, flow: str | None = None) -> None:
    """/start (or a first message): the opening for someone new, else where they were."""
    first_contact = turn.state.consent == "unknown" and turn.state.at is None
    target = turn.library.flows.get(flow or "")
    if target is not None and target.kind != "dialogue" and not first_contact:
        # (A dialogue is the engine's own question; a link cannot open one.)
        if turn.state.at is not None:
            turn.update(suspended=(*turn.state.suspended, turn.state.at), at=None)
        navigation.enter_flow(turn, target.id)
    elif first_contact:
        if language:
            lang = language.split("-")[0].lower()
            if lang in LANGUAGES:
                turn.update(lang=lang)
        navigation.enter_flow(turn, OPENING)
    elif turn.state.at is not None:
        last = turn.state.last_event_at
        if last is None or turn.now - last > STILL_HERE:
            turn.say("common:welcome-back", leads=True)
        navigation.present(turn, again=True)
    else:
        navigation.enter_flow(turn, MENU)


def on_command(turn: Turn, name: str, argument: str, *, from_menu: bool = False) -> None:
    """`from_menu`: chosen as a menu option, which carries on by itself afterwards."""
    if name not in COMMANDS:
        raise UnknownCommand(f"unknown command {name!r}")
    if name == "skip" and turn.state.prompt is not None:
        navigation.skip(turn)  # skips the engine's own question (the time), not the step
        return
    # A question of the engine's own (confirm /vergeet, …) is only answered right away.
    turn.update(prompt=None)
    if name == "start":
        on_start(turn, None, argument or None)
    elif name == "menu":
        navigation.open_menu(turn)
    elif name == "help":
        turn.say("common:help")
        if not from_menu:
            navigation.reask(turn)
    elif name == "skip":
        navigation.skip(turn)
    elif name == "back":
        navigation.back(turn)
    elif name == "pause":
        on_pause(turn, argument)
    elif name == "resume":
        turn.say("common:resumed" if turn.state.paused else "common:not-paused")
        turn.update(paused=False, paused_until=None, held_until=None)
    elif name == "time":
        dialogues.on_time_command(turn, argument)
    elif name == "language":
        dialogues.on_language_command(turn, argument)
    elif name in ("mine", "export"):
        # The shell reads storage and sends what it finds before this turn's messages.
        turn.effects.append(ShowAnswers() if name == "mine" else ExportRequested())
        if not from_menu:
            navigation.reask(turn)
    elif name == "forget":
        dialogues.ask_forget(turn)


def on_pause(turn: Turn, argument: str) -> None:
    """/pauze: until /hervat; /pauze 1 week, /pauze tot maandag: until then (the morning of that
    day), when check-ins resume by themselves. A length that cannot be read still pauses (the
    person asked for quiet) and says how to give one."""
    if not argument.split():
        turn.say("common:already-paused" if turn.state.paused else "common:paused")
        if not turn.state.paused:
            turn.update(paused=True, paused_until=None)
        return
    until = moments.parse_until(
        argument, turn.state.lang, turn.now, turn.tz, defaults.PAUSE_ENDS_AT
    )
    if until is None:
        turn.say("common:pause-length-unknown")
        turn.update(paused=True, paused_until=None)
        return
    turn.update(paused=True, paused_until=until)
    turn.say("common:paused-until", until=moments.format_moment(until, turn.state.lang, turn.tz))


def end_of_pause(turn: Turn) -> None:
    """A pause with an end is over once that moment has passed: check-ins resume by themselves
    (the delivery rule already lets them through; this makes the state say so)."""
    until = turn.state.paused_until
    if turn.state.paused and until is not None and until <= turn.now:
        turn.update(paused=False, paused_until=None)
