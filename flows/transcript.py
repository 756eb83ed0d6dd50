"""A whole journey through one flow, played against the engine and written out as a conversation.

The author reads it to see what a person will see, check-ins included, with the time that passes
between them. The golden transcripts in `tests/golden/` are made by this, so what the tests check
is what the author reads. No clock: the journey starts at a fixed moment and time only moves
when a check-in is due.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flows import defaults, moments
from flows.checkin import Checkin
from flows.effects import still_scheduled
from flows.engine import Engine
from flows.events import CheckinDue, ChoiceMade, Event, Started, TextReceived
from flows.messages import Message
from flows.model import Library, StepSpec
from flows.state import State
from flows.texts import Texts
from flows.tokens import DONE, NEXT, SKIP, option_of

# A journey starts on a Monday evening in winter (in the default zone), the same every time.
JOURNEY_START = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
MAX_EVENTS = 400

# The author's words around the conversation, from locales/<lang>/common.yaml.
TEXT_KEYS = (
    "common:transcript.coach",
    "common:transcript.you",
    "common:transcript.days-later",
    "common:transcript.hours-later",
    "common:transcript.moments-later",
)


@dataclass
class Journey:
    """The conversation so far, as lines, and what was scheduled along the way."""

    lines: list[str] = field(default_factory=list)
    coach: str = "coach:"  # the speakers' names, from locales/<lang>/common.yaml
    you: str = "jij:"
    pending: list[Checkin] = field(default_factory=list)
    delivered: set[tuple[str, str]] = field(default_factory=set)


def render_transcript(
    library: Library,
    flow_id: str,
    lang: str = "nl",
    answers: Mapping[str, Any] | None = None,
    start: datetime = JOURNEY_START,
) -> str:
    """The journey through `flow_id`: the coach's messages, the replies from `answers` (keyed by
    step id; a default reply otherwise) and each check-in that falls due, in time order."""
    engine = Engine(library)
    answers = dict(answers or {})
    tz = ZoneInfo(defaults.TIMEZONE)
    label = library.texts.label
    journey = Journey(
        coach=label(lang, "common:transcript.coach", tz) + ":",
        you=label(lang, "common:transcript.you", tz) + ":",
    )
    state = State(lang=lang, consent="given")
    now = start
    journey.lines.append(f"# {flow_id} ({lang})")
    journey.lines.append(f"── {moments.format_moment(now, lang, tz)} ──")
    event: Event | None = Started(flow=flow_id)
    used: dict[str, int] = {}
    for _ in range(MAX_EVENTS):
        if event is None:
            break
        step = engine.advance(state, event, now)
        state = step.state
        _write_messages(journey, step.messages)
        journey.pending = still_scheduled(journey.pending, step.effects)
        event = _reply(library, state, step.messages, answers, used, journey)
        if event is None:
            event, now = _next_checkin(library, journey, flow_id, now, lang, tz)
    return "\n".join(journey.lines) + "\n"


def render_dialogue(library: Library, flow_id: str, lang: str, scenario: Mapping[str, Any]) -> str:
    """Every way through one of the engine's own questions (a dialogue flow), each from the same
    situation: `scenario` names the flow the person is in (`flow`), their `consent`, the replies
    that bring them to the moment (`before`, not written out), what opens the dialogue (`open`, a
    command, a message or a button's id) and one reply per way through it (`ways`). `more` lists
    further situations of the same dialogue (its own `open` and `ways`, the rest as above), for a
    dialogue the engine also opens at another step (the crisis check's gentle question)."""
    engine = Engine(library)
    tz = ZoneInfo(defaults.TIMEZONE)
    label = library.texts.label
    journey = Journey(
        coach=label(lang, "common:transcript.coach", tz) + ":",
        you=label(lang, "common:transcript.you", tz) + ":",
    )
    journey.lines.append(f"# {flow_id} ({lang})")
    for situation in (scenario, *({**scenario, **more} for more in scenario.get("more", ()))):
        for way in situation["ways"]:
            journey.lines += ["", f"## {way}"]
            state = State(lang=lang, consent=situation.get("consent", "given"))
            hidden = Journey()  # the way to the moment is not written out
            step = engine.advance(state, Started(flow=situation["flow"]), JOURNEY_START)
            for reply in situation.get("before", ()):
                event = _press_or_say(hidden, step.messages, str(reply))
                step = engine.advance(step.state, event, JOURNEY_START)
            for reply in (situation["open"], way):
                event = _press_or_say(journey, step.messages, str(reply))
                step = engine.advance(step.state, event, JOURNEY_START)
                _write_messages(journey, step.messages)
    return "\n".join(journey.lines) + "\n"


def _press_or_say(journey: Journey, messages: tuple[Message, ...], wanted: str) -> Event:
    """A button whose option is `wanted` when the last messages show one, else a message."""
    buttons = {option_of(b.token): b for m in messages for row in m.buttons for b in row}
    if wanted in buttons:
        journey.lines.append("")
        journey.lines.append(f"{journey.you:6} [{buttons[wanted].label}]")
        return ChoiceMade(token=buttons[wanted].token)
    return _say(journey, wanted)


def _write_messages(journey: Journey, messages: tuple[Message, ...]) -> None:
    for message in messages:
        journey.lines.append("")
        for line in message.plain.splitlines():
            journey.lines.append(f"{journey.coach:6} {line}".rstrip())
        for row in message.buttons:
            journey.lines.append("       " + "  ".join(f"[{b.label}]" for b in row))


def _reply(
    library: Library,
    state: State,
    messages: tuple[Message, ...],
    answers: dict[str, Any],
    used: dict[str, int],
    journey: Journey,
) -> Event | None:
    """What the person says next: the answer for this step, or a plain default."""
    at = state.at
    if at is None or library.flows[at.flow].kind == "menu":
        return None
    step = library.flows[at.flow].steps[at.step]
    if at.entries == 0:  # entries of a list are one visit
        used[at.step] = used.get(at.step, 0) + 1
    if used[at.step] > 3:  # the journey came round again (a repeat): let it rest here
        return None
    wanted = answers.get(f"{at.flow}.{at.step}", answers.get(at.step))
    if wanted is None:
        wanted = _default_reply(step)
    if isinstance(wanted, list):  # entries: one message each, then "Klaar"
        if at.entries < len(wanted):
            return _say(journey, str(wanted[at.entries]))
        wanted = DONE
    buttons = {option_of(b.token): b for m in messages for row in m.buttons for b in row}
    if wanted in buttons:
        journey.lines.append(f"{journey.you:6} [{buttons[wanted].label}]")
        return ChoiceMade(token=buttons[wanted].token)
    return _say(journey, str(wanted))


def _default_reply(step: StepSpec) -> Any:
    return {
        "continue": NEXT,
        "text": "(…)",
        "entries": ["(…)"],
        "choice": step.options[0].id if step.options else SKIP,
        "scale": "gelijk",
        "when": "morgen",
        "clock": "20:00",
    }.get(step.expect or "", SKIP)


def _say(journey: Journey, text: str) -> Event:
    journey.lines.append("")
    journey.lines.append(f"{journey.you:6} {text}")
    return TextReceived(text=text)


def _next_checkin(
    library: Library, journey: Journey, flow_id: str, now: datetime, lang: str, tz: ZoneInfo
) -> tuple[Event | None, datetime]:
    due = sorted(
        (
            c
            for c in journey.pending
            if c.flow == flow_id and (c.kind, c.step) not in journey.delivered
        ),
        key=lambda c: c.due_at,
    )
    if not due:
        return None, now
    checkin = due[0]
    journey.pending.remove(checkin)
    journey.delivered.add((checkin.kind, checkin.step))
    later = max(checkin.due_at, now)
    journey.lines.append("")
    passed = elapsed(library, later - now, lang, tz)
    journey.lines.append(
        f"── {passed}: {moments.format_moment(later, lang, tz)} ({checkin.kind}) ──"
    )
    return CheckinDue(checkin=checkin), later


def elapsed(library: Library, delta: timedelta, lang: str, tz: ZoneInfo) -> str:
    texts: Texts = library.texts
    days = round(delta / timedelta(days=1))
    if days >= 1:
        return texts.plain(lang, "common:transcript.days-later", tz, count=days)
    hours = round(delta / timedelta(hours=1))
    if hours < 1:  # never "0 hours later"
        return texts.plain(lang, "common:transcript.moments-later", tz)
    return texts.plain(lang, "common:transcript.hours-later", tz, count=hours)
