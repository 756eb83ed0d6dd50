"""The coach's voice, read from `locales/` itself: warm, calm, "je", nothing that makes guilt."""

from __future__ import annotations

import re

import pytest

from flows import defaults
from flows.texts import LANGUAGES

# Words that count days, keep score or tell someone they fell short.
STREAK_WORDS = {
    "nl": r"\b(streak|reeks|op rij|gemist|mist(e)? je|score|punten|achterstand|vergeten te)\b",
    "en": r"\b(streak|in a row|missed|you forgot|score|points|behind on)\b",
}


def texts(library, lang):
    return {key: source.source for key, source in library.texts.catalogs[lang].items()}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_text_has_an_exclamation_mark(library, lang):
    shouting = [key for key, text in texts(library, lang).items() if "!" in text]
    assert shouting == []


def test_dutch_texts_say_je_never_u(library):
    formal = [
        key
        for key, text in texts(library, "nl").items()
        if re.search(r"\b(u|uw|U|Uw)\b", re.sub(r"<[^>]+>|\{[^}]*\}", "", text))
    ]
    assert formal == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_streaks_scores_or_missed_days(library, lang):
    pattern = re.compile(STREAK_WORDS[lang], re.IGNORECASE)
    guilt = {
        key: pattern.search(text).group(0)
        for key, text in texts(library, lang).items()
        if pattern.search(text)
    }
    assert guilt == {}


def test_both_languages_have_exactly_the_same_texts(library):
    assert set(library.texts.catalogs["nl"]) == set(library.texts.catalogs["en"])


def test_the_crisis_help_names_every_number_exactly(library):
    from zoneinfo import ZoneInfo

    for lang in LANGUAGES:
        text = library.texts.plain(lang, "common:crisis.help", ZoneInfo(defaults.TIMEZONE))
        for number in ("113", "0800-0113", "113.nl", "1813", "112"):
            assert number in text, (lang, number)
