"""Whatever a person does, in whatever order, the engine answers and its state stays valid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import tokens
from flows.engine import Engine
from flows.events import (
    COMMANDS,
    MEDIA_KINDS,
    CheckinDue,
    ChoiceMade,
    CommandGiven,
    MediaReceived,
    Started,
    TextReceived,
)
from flows.messages import Message
from flows.state import State

FLOWS = ["opening", "uitleg", "oefening-1", "oefening-2", "dagelijks", "menu", "gedicht", None]
ODD_TEXTS = [
    "",
    " ",
    "1",
    "99",
    "ja",
    "Partner",
    "vrijdag om 20:00",
    "20:00",
    "/onbekend",
    "<b>vet</b> & 'quote'",
    "x" * 5000,
    "\x00\x1b[31m",
    "ik wil er niet meer zijn",
    "Ik schaam me dood",
    "/tijd Mars/Olympus",
    "/tijd 25:99",
    "/taal fr",
]

events = st.one_of(
    st.builds(
        Started,
        language=st.sampled_from([None, "nl", "en", "de", "en-US"]),
        flow=st.sampled_from(FLOWS),
    ),
    st.builds(TextReceived, text=st.one_of(st.sampled_from(ODD_TEXTS), st.text(max_size=80))),
    st.builds(MediaReceived, kind=st.sampled_from(MEDIA_KINDS)),
    st.builds(
        CommandGiven,
        name=st.sampled_from(COMMANDS),
        argument=st.sampled_from(["", "20:00", "uit", "en", "nl", "oefening-2"]),
    ),
    st.just("press-current"),  # a button of the last message: the usual thing to do
    st.just("press-stale"),  # a button of some earlier message
    st.builds(ChoiceMade, token=st.text(max_size=70)),
    st.just("checkin"),  # whichever check-in was scheduled, early or very late
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(events, max_size=40), hours=st.lists(st.integers(0, 24 * 40), max_size=40))
def test_random_conversations_never_break_the_engine(library, script, hours):
    engine = Engine(library)
    state = State()
    now = datetime(2026, 10, 20, 18, 0, tzinfo=UTC)
    seen_buttons = []
    last_buttons = []
    scheduled = []
    for i, item in enumerate(script):
        now += timedelta(hours=hours[i] if i < len(hours) else 1)
        if item == "press-current":
            if not last_buttons:
                continue
            event = ChoiceMade(token=last_buttons[i % len(last_buttons)].token)
        elif item == "press-stale":
            if not seen_buttons:
                continue
            event = ChoiceMade(token=seen_buttons[i % len(seen_buttons)].token)
        elif item == "checkin":
            if not scheduled:
                continue
            c = scheduled.pop(0)
            event = CheckinDue(checkin=c.checkin)
        else:
            event = item
        step = engine.advance(state, event, now)
        assert State.from_json(step.state.to_json()) == step.state
        state = step.state
        assert step.messages or step.effects or isinstance(event, CheckinDue), event
        if state.at is not None:
            flow = library.flows[state.at.flow]
            assert state.at.step in flow.steps
            assert state.run(state.at.run) is not None
        for message in step.messages:
            assert message.plain.strip()
            assert Message.from_json(message.to_json()) == message
            for row in message.buttons:
                for button in row:
                    assert len(button.token.encode()) <= tokens.LIMIT
                    seen_buttons.append(button)
        buttons = [b for m in step.messages for row in m.buttons for b in row]
        if step.messages:
            last_buttons = buttons
        scheduled += [e for e in step.effects if e.type_name == "schedule_checkin"]
