"""The Signal channel's parts without a process: how a message looks on Signal (text styles in
UTF-16 units, numbered options, no control characters), what a person's message means (the
terminal's rule for numbers and labels), and what is kept of it before and after it is handled
(on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.console import ConsoleChannel
from bot.channels.signal.receiving import event_of
from bot.channels.signal.render import render
from bot.inbox import KEEP_KEYS, Inbox
from flows.events import (
    ChoiceMade,
    CommandGiven,
    MediaReceived,
    Started,
    TextEdited,
    TextReceived,
)
from flows.messages import Button, Message, Quote, Span

KLAAR = Button(label="Klaar", token="r1:situaties:_done")
SKIP = Button(label="Overslaan", token="r1:situaties:_skip")


def test_strong_words_are_bold_and_quotes_italic_counted_in_utf16_units():
    message = Message(
        key="k",
        paragraphs=(
            (Span(text="Je schreef 😊 "), Span(text="dit", strong=True)),
            (Quote(spans=(Span(text="mijn plan", theirs=True),)), Span(text="Klopt dat?")),
        ),
    )
    shown = render(message)
    assert shown.text == "Je schreef 😊 dit\n\nmijn plan\nKlopt dat?"
    # The emoji is two UTF-16 units: "dit" starts at 14, as Signal counts.
    assert [str(style) for style in shown.styles] == ["14:3:BOLD", "19:9:ITALIC"]


def test_options_are_numbered_lines_and_control_characters_are_dropped():
    message = Message(
        key="k",
        paragraphs=((Span(text="Nog iets?\x1b[2J"),),),
        buttons=((KLAAR,), (SKIP,)),
    )
    assert render(message).text == "Nog iets?[2J\n\n1. Klaar\n2. Overslaan"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1", ChoiceMade(token=KLAAR.token)),  # under a list too: "1" ends it, is no entry
        (" klaar ", ChoiceMade(token=KLAAR.token)),
        ("2", ChoiceMade(token=SKIP.token)),
        ("3", None),  # no such option: their words
    ],
)
def test_a_number_or_a_label_picks_an_option_as_in_the_terminal(library, typed, expected):
    signal_event = event_of({"text": typed}, 1_700_000_000_000, [KLAAR, SKIP])
    terminal = ConsoleChannel.__new__(ConsoleChannel)  # only its reading of a line, no terminal
    terminal.buttons = [KLAAR, SKIP]
    assert terminal.event_for(typed) == (expected or TextReceived(text=typed))
    if expected is None:
        at = datetime.fromtimestamp(1_700_000_000, UTC)
        expected = TextReceived(text=typed, ref="1700000000000", at=at)
    assert signal_event == expected


def test_commands_edits_and_attachments_become_their_events():
    stamp = 1_700_000_000_000
    assert event_of({"text": "/start"}, stamp, []) == Started()
    assert event_of({"text": "/start oefening-2"}, stamp, []) == Started(flow="oefening-2")
    assert event_of({"text": "/pauze"}, stamp, []) == CommandGiven(name="pause")
    edited = event_of({"text": "anders", "edit_of": stamp - 5}, stamp, [KLAAR])
    assert edited == TextEdited(text="anders", ref=str(stamp - 5))
    assert event_of({"attachments": ["audio"]}, stamp, []) == MediaReceived(kind="voice")
    assert event_of({"attachments": ["image"]}, stamp, []) == MediaReceived(kind="photo")
    with_words = event_of({"text": "kijk", "attachments": ["image"]}, stamp, [])
    assert isinstance(with_words, TextReceived) and with_words.text == "kijk"


def test_a_message_is_kept_until_handled_then_only_its_key_and_ids_never_repeat(database, clock):
    from bot.storage.store import Store

    inbox = Inbox(Store(database), clock, "signal")
    first = inbox.keep("person-a", 1000, {"text": "mijn antwoord"})
    assert first is not None
    assert inbox.keep("person-a", 1000, {"text": "mijn antwoord"}) == first  # not handled yet
    assert [(r.id, r.content) for r in inbox.waiting()] == [(first, {"text": "mijn antwoord"})]
    inbox.handled(first)
    assert inbox.waiting() == []
    assert inbox.keep("person-a", 1000, {"text": "mijn antwoord"}) is None  # delivered again
    with database.connect() as connection:
        rows = connection.exec_driver_sql("SELECT content FROM received_message").all()
    assert rows == [(None,)]  # the words are gone from here once handled

    clock.advance(KEEP_KEYS + timedelta(minutes=1))
    assert inbox.prune() == 1
    second = inbox.keep("person-b", 2000, {"text": "iets anders"})
    assert second is not None and second > first  # a pruned id is never handed out again


def test_no_channel_imports_storage():
    """Channels reach storage only through the objects they are given (`bot.outbox`,
    `bot.inbox`): nothing under bot/channels/ imports `bot.storage`."""
    import ast
    from pathlib import Path

    channels = Path(__file__).resolve().parents[2] / "bot" / "channels"
    found = []
    for path in sorted(channels.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            found += [f"{path.name}: {n}" for n in names if n.startswith("bot.storage")]
    assert len(list(channels.rglob("*.py"))) > 10  # the walk found the channels
    assert found == []
