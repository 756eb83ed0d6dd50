"""The turn: one event's work in progress. The state as it evolves, the messages and effects
gathered so far, and the small helpers every part uses to speak (say, render, label)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flows.effects import Effect
from flows.messages import Button, Message, Paragraph
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

    def say(self, key: str, buttons: Buttons = (), **context: Any) -> None:
        self.messages.append(
            Message(key=key, paragraphs=self.render(key, **context), buttons=buttons)
        )

    def say_variant(self, group: str, turn: int, buttons: Buttons = (), **context: Any) -> None:
        """One text of a group of variants (`Texts.variant`); the message is known by the
        group's key, whichever variant it says."""
        key = self.texts.variant(self.state.lang, group, turn)
        self.messages.append(
            Message(key=group, paragraphs=self.render(key, **context), buttons=buttons)
        )

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


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out
