"""The turn: one event's work in progress. The state as it evolves, the messages and effects
gathered so far, and the small helpers every part uses to speak (say, render, label)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flows.effects import Effect
from flows.messages import Button, Message, Paragraph, Span
from flows.model import Flow, Library, StepSpec
from flows.state import Position, Run, State, evolve
from flows.texts import Texts

Buttons = tuple[tuple[Button, ...], ...]


class Turn:
    """Accumulates messages and effects while the state evolves; every part of `flows.turn`
    works on one of these."""

    def __init__(self, library: Library, state: State, now: datetime):
        self.library = library
        self.state = state
        self.now = now
        self.messages: list[Message] = []
        self.effects: list[Effect] = []
        self.late = False  # this turn delivers a check-in much later than planned
        self.ref: str | None = None  # the platform's id of the message being handled
        self.sent_at: datetime | None = None  # when the person sent it, where the channel says
        self.presented = 0  # steps presented in this turn, to catch flows that never wait
        self.leading: list[Message] = []  # said as the opening of the message after it

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.state.timezone)  # ZoneInfo keeps one instance per key

    @property
    def texts(self) -> Texts:
        texts: Texts = self.library.texts
        return texts

    def update(self, **changes: Any) -> None:
        self.state = evolve(self.state, **changes)

    def new_id(self, prefix: str) -> str:
        counter = self.state.counter + 1
        self.update(counter=counter)
        return prefix + _base36(counter)

    def render(self, key: str, **context: Any) -> tuple[Paragraph, ...]:
        return self.texts.render(self.state.lang, key, self.tz, **context)

    def label(self, key: str) -> str:
        return self.texts.label(self.state.lang, key, self.tz)

    def say(self, key: str, buttons: Buttons = (), leads: bool = False, **context: Any) -> None:
        """Say the text `key`; `leads`: see `lead`."""
        message = Message(key=key, paragraphs=self.render(key, **context), buttons=buttons)
        self.messages.append(message)
        if leads:
            self.lead(message)

    def say_variant(
        self, group: str, turn: int, buttons: Buttons = (), leads: bool = False, **context: Any
    ) -> None:
        """One text of a group of variants (`Texts.variant`); the message is known by the
        group's key, whichever variant it says. `leads`: see `lead`."""
        key = self.texts.variant(self.state.lang, group, turn)
        message = Message(key=group, paragraphs=self.render(key, **context), buttons=buttons)
        self.messages.append(message)
        if leads:
            self.lead(message)

    def lead(self, message: Message) -> None:
        """Say `message` (a short word with no buttons, such as an acknowledgement) as the first
        paragraph of whatever the turn says next, in one chat message: two messages where one
        reads as well cost the person a second notification, and the coach a second send."""
        self.leading.append(message)

    def composed(self) -> tuple[Message, ...]:
        """The turn's messages as they are sent: each leading message joined to the next."""
        out: list[Message] = []
        pending: Message | None = None
        for message in self.messages:
            leads = not message.buttons and any(message is m for m in self.leading)
            if pending is not None:
                if stands_apart(message):
                    out.append(pending)
                else:
                    message = message.after(pending)
                pending = None
            if leads:
                pending = message
            else:
                out.append(message)
        if pending is not None:  # nothing came after it: it stands alone
            out.append(pending)
        return tuple(out)

    def flow(self, flow_id: str) -> Flow:
        return self.library.flows[flow_id]

    def current(self) -> tuple[Flow, StepSpec] | None:
        at = self.state.at
        if at is None:
            return None
        flow = self.flow(at.flow)
        return flow, flow.steps[at.step]

    def position(self) -> Position:
        """Where the person is; only asked where the caller knows they are in a flow."""
        at = self.state.at
        assert at is not None
        return at

    def run(self) -> Run:
        at = self.position()
        run = self.state.run(at.run)
        if run is None:  # the state lost it (an old state); carry on with an empty one
            run = Run(
                id=at.run, flow=at.flow, version=self.flow(at.flow).version, started_at=self.now
            )
            self.state = self.state.with_run(run)
        return run

    def later(self, moment: datetime, delta: timedelta) -> datetime:
        """`delta` after `moment` on the person's wall clock: "in a week" at 20:00 stays 20:00
        when summer time begins in between."""
        return (moment.astimezone(self.tz) + delta).astimezone(UTC)

    def keeps_answers(self, flow: Flow) -> bool:
        return flow.needs_consent and self.state.consent == "given"


# Texts that begin a message of their own whatever came before: the help in a crisis and the
# gentle question are the first thing read (nothing else is said in front of them: see
# `answers.own_words` and `keep_note`), and the poem is read as a poem.
STANDS_APART = ("common:crisis.help", "common:crisis.question", "opening:gedicht")


def stands_apart(message: Message) -> bool:
    """Whether nothing is joined before the message: help in a crisis, the poem, and a message
    that begins with a title of its own ("Stap 2: …", in bold): a new part of an exercise reads
    best at the top of a message, where it is found again when scrolling back."""
    if message.key in STANDS_APART:
        return True
    first = message.paragraphs[0] if message.paragraphs else ()
    return bool(first) and all(isinstance(p, Span) and p.strong for p in first)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out
