"""Long texts are cut into messages Telegram takes: at paragraphs, then lines, then anywhere;
never inside a tag or an entity; each part valid HTML on its own; nothing lost or restyled."""

from __future__ import annotations

import html

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from telegram import Bot

from bot.channels.telegram import parts_of
from bot.channels.telegram.html import split_html
from bot.outbox import item_of
from tests.fakes.recording_request import RecordingRequest
from tests.fakes.telegram_html import parse as parse_html

TAGS = [
    ("<b>", "</b>"),
    ("<i>", "</i>"),
    ("<u>", "</u>"),
    ("<s>", "</s>"),
    ("<code>", "</code>"),
    ("<blockquote>", "</blockquote>"),
    ('<a href="https://113.nl">', "</a>"),
    ('<span class="tg-spoiler">', "</span>"),
    ("<tg-spoiler>", "</tg-spoiler>"),
    ("<blockquote expandable>", "</blockquote>"),
]

words = st.text(
    alphabet=st.sampled_from(list("abcdeéëxyz<>&\"'; 0123") + ["😊", "\t"]), min_size=1, max_size=30
).map(lambda t: html.escape(t, quote=False))


@st.composite
def telegram_html(draw, depth: int = 0) -> str:
    pieces = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["text", "text", "tag", "break"] if depth < 3 else ["text"]))
        if kind == "tag":
            start, end = draw(st.sampled_from(TAGS))
            pieces.append(start + draw(telegram_html(depth + 1)) + end)
        elif kind == "break":
            pieces.append(draw(st.sampled_from(["\n\n", "\n", " ", "\n\n\n"])))
        else:
            pieces.append(draw(words))
    return "".join(pieces)


def styled(part: str) -> list[tuple[str, frozenset[str]]]:
    """Every visible non-space character with the styles on it, as Telegram would show it."""
    plain, entities = parse_html(part)
    out = []
    offset = 0  # in UTF-16 units, like Telegram's entity offsets
    for char in plain:
        styles = frozenset(
            e["type"] for e in entities if e["offset"] <= offset < e["offset"] + e["length"]
        )
        if not char.isspace():
            out.append((char, styles))
        offset += len(char.encode("utf-16-le")) // 2
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(telegram_html(), min_size=1, max_size=8).map("\n\n".join),
    st.integers(min_value=8, max_value=200),
)
def test_every_part_is_valid_fits_and_together_they_say_everything(text, limit):
    assume(parse_html(text)[0].strip())  # the coach never says nothing
    parts = split_html(text, limit=limit)
    for part in parts:
        plain, _ = parse_html(part)  # raises if Telegram would refuse the HTML
        assert len(plain.strip(" \t\r\n")) <= limit
        assert plain.strip(" \t\r\n"), "an empty message"
    whole = styled(text)
    assert [c for part in parts for c in styled(part)] == whole


def test_a_long_text_is_cut_at_paragraphs_first():
    second = " ".join(["Tweede"] * 10)
    text = f"Eerste alinea.\n\n{second}\nmet een regel erbij.\n\nDerde alinea."
    assert split_html(text, limit=110) == [
        f"Eerste alinea.\n\n{second}\nmet een regel erbij.",
        "Derde alinea.",
    ]
    assert split_html(text, limit=80) == [
        "Eerste alinea.",
        second,
        "met een regel erbij.\n\nDerde alinea.",
    ]


def test_without_paragraphs_at_lines_then_spaces_then_anywhere():
    assert split_html("een twee\ndrie vier", limit=12) == ["een twee", "drie vier"]
    assert split_html("een twee drie vier", limit=12) == ["een twee", "drie vier"]
    assert split_html("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]


def test_a_quote_cut_in_two_stays_a_quote_on_both_sides():
    text = "Je schreef:\n<blockquote><b>" + "&lt;geven&gt; " * 20 + "</b></blockquote>"
    parts = split_html(text, limit=100)
    assert len(parts) == 3
    assert parts[1].startswith("<blockquote><b>") and parts[1].endswith("</b></blockquote>")
    assert all("&lt;" in p or "Je schreef" in p for p in parts)


def test_a_twenty_thousand_character_quote_fits_in_messages_of_4096():
    answer = html.escape("Ik geef & ik neem <soms>. " * 800, quote=False)
    parts = split_html(f"Je schreef:\n\n<blockquote>{answer}</blockquote>")
    assert len(parts) >= 5
    for part in parts:
        plain, _ = parse_html(part)
        assert len(plain) <= 4096


@pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning")
@pytest.mark.parametrize("length", [100, 9000])
async def test_buttons_stay_under_the_last_part(length):
    recorder = RecordingRequest()
    payload = item_of(
        {
            "key": "k",
            "text": "woord " * (length // 6),
            "buttons": [[{"label": "Verder", "token": "r1:stap:_next"}]],
        }
    )
    async with Bot("123:TEST", request=recorder, get_updates_request=recorder) as bot:
        parts = parts_of(bot, 1, payload)
        for part in parts:
            await part.call()
    [*before, last] = recorder.messages(1)
    assert all(m.buttons == [] for m in before)
    assert last.buttons == [[("Verder", "r1:stap:_next")]]
    assert all(m.parse_mode == "HTML" for m in recorder.messages(1))
    assert len(before) == (0 if length < 4096 else 2)
    assert [p.long for p in parts][-1] == (length > 300)  # announced with "typing…"
