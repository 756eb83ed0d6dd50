"""What can happen to a person's conversation: the engine's inputs.

A channel turns a platform update into one of these; the scheduler turns a due check-in into
`CheckinDue`. Each is a small frozen record that round-trips through JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flows.checkin import Checkin
from flows.registry import Record

MEDIA_KINDS = ("sticker", "photo", "voice", "audio", "video", "location", "document", "other")

# Commands a person can type. The channel maps Dutch and English spellings to these names.
COMMANDS = (
    "start",
    "menu",
    "help",
    "skip",
    "back",
    "pause",
    "resume",
    "time",
    "language",
    "mine",
    "export",
    "forget",
)

COMMAND_ALIASES = {
    "start": "start",
    "menu": "menu",
    "help": "help",
    "hulp": "help",
    "overslaan": "skip",
    "skip": "skip",
    "terug": "back",
    "back": "back",
    "pauze": "pause",
    "pause": "pause",
    "hervat": "resume",
    "resume": "resume",
    "tijd": "time",
    "time": "time",
    "taal": "language",
    "language": "language",
    "mijn": "mine",
    "mine": "mine",
    "export": "export",
    "vergeet": "forget",
    "forget": "forget",
}


class Event(Record):
    """Something that happened: a message, a button, a command, a check-in falling due."""


@dataclass(frozen=True, kw_only=True)
class Started(Event, type_name="started"):
    """The person opened the chat (`/start`); `language` is the platform's hint, if any, and
    `flow` a flow to begin with (a link such as `t.me/bot?start=oefening-2`)."""

    language: str | None = None
    flow: str | None = None


@dataclass(frozen=True, kw_only=True)
class TextReceived(Event, type_name="text_received"):
    """The person wrote a message; `ref` is the platform's id for it, so an edit can find it,
    and `at` when they sent it, where the platform says (a second message shortly after an
    answer belongs to that answer: `flows.turn.answers.DOUBLE_TEXT_WINDOW`)."""

    text: str
    ref: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class TextEdited(Event, type_name="text_edited"):
    """The person edited a message they sent earlier (`ref` names it)."""

    text: str
    ref: str


@dataclass(frozen=True, kw_only=True)
class ChoiceMade(Event, type_name="choice_made"):
    """The person pressed a button; the token names the run, the step and the option."""

    token: str


@dataclass(frozen=True, kw_only=True)
class MediaReceived(Event, type_name="media_received"):
    """The person sent something that is not text: a sticker, photo, voice note, …"""

    kind: str

    def __post_init__(self) -> None:
        if self.kind not in MEDIA_KINDS:
            raise ValueError(f"unknown media kind {self.kind!r}")


@dataclass(frozen=True, kw_only=True)
class CommandGiven(Event, type_name="command_given"):
    """The person typed a command such as `/pauze`; `argument` is what followed it."""

    name: str
    argument: str = ""

    def __post_init__(self) -> None:
        if self.name not in COMMANDS:
            raise ValueError(f"unknown command {self.name!r}")


@dataclass(frozen=True, kw_only=True)
class CheckinDue(Event, type_name="checkin_due"):
    """A scheduled check-in has come: the coach enters its flow at its step."""

    checkin: Checkin


@dataclass(frozen=True, kw_only=True)
class CheckinsDue(Event, type_name="checkins_due"):
    """Several check-ins of one person have come at once (after downtime, a pause, the night):
    the engine makes one calm conversation of them (`flows.delivery.together`)."""

    checkins: tuple[Checkin, ...]


def parse_command(text: str) -> CommandGiven | None:
    """`/pauze`, `/tijd 20:00` or `/start@kern_bot` → a command; anything else → None."""
    if not text.startswith("/"):
        return None
    head, _, argument = text[1:].partition(" ")
    name = COMMAND_ALIASES.get(head.split("@", 1)[0].lower())
    if name is None:
        return None
    return CommandGiven(name=name, argument=argument.strip())
