"""What each channel makes of one message of the coach: Telegram HTML, plain text."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.channels import plain_text
from bot.channels.telegram import html as telegram_html
from bot.outbox import encode, item_of
from flows import defaults
from flows.answer_words import NO_ANSWERS
from flows.messages import Message, Theirs

AMSTERDAM = ZoneInfo(defaults.TIMEZONE)


def answer_message(library, answer: str) -> Message:
    paragraphs = library.texts.render(
        "nl", "common:mine.answer", AMSTERDAM, question="Wat ga je doen?", answer=Theirs(answer)
    )
    return Message(key="common:mine.answer", paragraphs=paragraphs)


def test_telegram_gets_the_coachs_markup_as_tags_and_the_persons_words_escaped(library):
    message = answer_message(library, "<b>Mijn moeder</b> & ik")
    assert telegram_html.render(message) == (
        "<i>Wat ga je doen?</i>\n<blockquote>&lt;b&gt;Mijn moeder&lt;/b&gt; &amp; ik</blockquote>"
    )


def test_the_terminal_shows_the_words_without_markup(library):
    message = answer_message(library, "<b>Mijn moeder</b> & ik")
    assert plain_text.render(message) == "Wat ga je doen?\n\n<b>Mijn moeder</b> & ik"


def test_the_terminal_does_not_obey_control_codes_in_a_persons_words(library):
    written = "\x1b[2J\x1b]0;titel\x07Mijn\tmoeder\r\x9b31m\x00 en\nik\x7f"
    shown = plain_text.render(answer_message(library, written))
    assert shown == "Wat ga je doen?\n\n[2J]0;titelMijn\tmoeder31m en\nik"


def test_a_stored_message_is_sent_to_telegram_as_it_was_rendered(library):
    texts = library.texts
    paragraphs = texts.render("nl", "oefening-1:doel", AMSTERDAM, answers=NO_ANSWERS)
    payload = encode(Message(key="oefening-1:doel", paragraphs=paragraphs))
    html = telegram_html.render(item_of(payload))
    assert html.startswith("<b>Oefening: Herkennen en herstellen")
    assert "\n\n<b>Doel:</b> Deze oefening" in html
