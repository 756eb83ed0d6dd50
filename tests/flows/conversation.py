"""A person talking to the pure engine, for tests: press buttons by label, type, let time pass."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flows.checkin import Checkin
from flows.effects import Effect, SaveAnswer, still_scheduled
from flows.engine import Engine
from flows.events import (
    CheckinDue,
    CheckinsDue,
    ChoiceMade,
    CommandGiven,
    Event,
    MediaReceived,
    Started,
    TextReceived,
)
from flows.messages import Button, Message
from flows.model import Library
from flows.state import State
from flows.tokens import option_of


class Conversation:
    def __init__(self, library: Library, now: datetime, state: State | None = None):
        self.engine = Engine(library)
        self.library = library
        self.now = now
        self.state = state or State()
        self.messages: list[Message] = []  # everything the coach said, in order
        self.effects: list[Effect] = []
        self.last: tuple[Message, ...] = ()  # what the last event produced
        self.pending: list[Checkin] = []

    def send(self, event: Event) -> tuple[Message, ...]:
        step = self.engine.advance(self.state, event, self.now)
        # The state always survives a trip through JSON (it is stored that way), and so do the
        # event and the effects (records found again by their `type`).
        assert State.from_json(step.state.to_json()) == step.state
        assert Event.from_json(json.loads(json.dumps(event.to_json()))) == event
        for effect in step.effects:
            assert Effect.from_json(json.loads(json.dumps(effect.to_json()))) == effect
        self.state = step.state
        self.messages += step.messages
        self.effects += step.effects
        self.last = step.messages
        self.pending = still_scheduled(self.pending, step.effects)
        return step.messages

    # what a person does
    def start(self, language: str | None = None, flow: str | None = None) -> tuple[Message, ...]:
        return self.send(Started(language=language, flow=flow))

    def say(self, text: str) -> tuple[Message, ...]:
        return self.send(TextReceived(text=text))

    def command(self, name: str, argument: str = "") -> tuple[Message, ...]:
        return self.send(CommandGiven(name=name, argument=argument))

    def media(self, kind: str) -> tuple[Message, ...]:
        return self.send(MediaReceived(kind=kind))

    def buttons(self) -> list[Button]:
        for message in reversed(self.last):
            if message.buttons:
                return [b for row in message.buttons for b in row]
        return []

    def button(self, label: str) -> Button:
        found = [b for b in self.buttons() if b.label == label]
        assert found, f"no button {label!r} in {[b.label for b in self.buttons()]}"
        return found[0]

    def press(self, label: str) -> tuple[Message, ...]:
        return self.send(ChoiceMade(token=self.button(label).token))

    def press_option(self, option: str) -> tuple[Message, ...]:
        """Press the button whose token ends in this option id (labels vary per language)."""
        found = [b for b in self.buttons() if option_of(b.token) == option]
        assert found, f"no option {option!r} in {[b.token for b in self.buttons()]}"
        return self.send(ChoiceMade(token=found[0].token))

    def wait(self, delta: timedelta) -> None:
        self.now += delta

    def deliver_due(self) -> list[tuple[Message, ...]]:
        """The scheduled check-ins due by now, together, as the dispatcher hands them in: one
        event for one, `CheckinsDue` for several (what waits stays pending)."""
        due = sorted((c for c in self.pending if c.due_at <= self.now), key=lambda c: c.due_at)
        if not due:
            return []
        for checkin in due:
            self.pending.remove(checkin)
        if len(due) == 1:
            return [self.send(CheckinDue(checkin=due[0]))]
        return [self.send(CheckinsDue(checkins=tuple(due)))]

    # what a test looks at
    @property
    def texts(self) -> list[str]:
        return [m.plain for m in self.last]

    @property
    def keys(self) -> list[str]:
        return [key for m in self.last for key in m.keys]

    @property
    def position(self) -> tuple[str, str] | None:
        at = self.state.at
        return (at.flow, at.step) if at else None

    def saved(self) -> list[SaveAnswer]:
        return [e for e in self.effects if isinstance(e, SaveAnswer)]
