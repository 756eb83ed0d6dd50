"""The two-tier answer: when the crisis check is unsure, one gentle question first, and the right
path for each answer. The real engine, the real content and the real crisis check."""

from __future__ import annotations

from datetime import timedelta

from flows.state import State
from tests.conftest import MONDAY_EVENING
from tests.flows.conversation import Conversation

UNSURE = "Ik zie geen toekomst meer voor mezelf."  # the check's verdict: ask
SURE = "Ik wil er niet meer zijn."  # the check's verdict: crisis


def at_first_question(library) -> Conversation:
    """In exercise 1, at "Hoe geef jij…", the question that expects text."""
    talk = Conversation(library, MONDAY_EVENING, State(consent="given"))
    talk.start(flow="oefening-1")
    talk.press_option("_next")
    talk.press_option("partner")
    talk.press_option("_skip")  # how to call the other
    assert talk.position == ("oefening-1", "geven")
    return talk


def test_an_unsure_message_gets_one_gentle_question_with_the_helplines_in_a_line(library):
    talk = at_first_question(library)
    talk.say(UNSURE)
    assert talk.keys == ["common:crisis.question"]
    text = talk.texts[0]
    assert text.startswith("Ik lees iets wat zwaar klinkt.")
    assert "113" in text and "0800-0113" in text and "1813" in text and "112" in text
    assert [b.label for b in talk.buttons()] == ["Ja", "Nee, niet zo", "Liever niet zeggen"]
    assert talk.state.held_until is None, "check-ins are held only after a yes"


def test_a_sure_message_still_gets_help_first_without_the_question(library):
    talk = at_first_question(library)
    talk.say(SURE)
    assert talk.keys[0] == "common:crisis.help"
    assert "common:crisis.question" not in talk.keys


def test_yes_leads_to_help_first_and_holds_checkins(library):
    talk = at_first_question(library)
    talk.say(UNSURE)
    talk.press("Ja")
    assert talk.keys == ["common:crisis.help", "common:crisis.ask"]
    assert talk.state.held_until == MONDAY_EVENING + timedelta(days=1)
    talk.press("Verder gaan")
    assert talk.keys[0] == "common:crisis.continued"
    assert talk.position == ("oefening-1", "nemen"), "what they wrote stayed the answer"


def test_no_not_like_that_goes_on_where_they_were_with_what_they_wrote_kept(library):
    talk = at_first_question(library)
    talk.say(UNSURE)
    assert ("geven", UNSURE) in [(s.step, s.value) for s in talk.saved()]
    talk.press("Nee, niet zo")
    assert talk.keys[0] == "common:crisis.reply-no"
    assert talk.position == ("oefening-1", "nemen")
    assert "Hoe neem jij" in talk.texts[-1]
    assert talk.state.held_until is None


def test_rather_not_say_gives_the_helplines_gently_and_goes_on(library):
    talk = at_first_question(library)
    talk.say(UNSURE)
    talk.press("Liever niet zeggen")
    assert talk.keys[0] == "common:crisis.reply-rather-not"
    assert "113" in talk.texts[0] and "1813" in talk.texts[0]
    assert talk.position == ("oefening-1", "nemen")
    assert talk.state.held_until is None


def test_typing_the_answer_instead_of_pressing_it_works_too(library):
    talk = at_first_question(library)
    talk.say(UNSURE)
    talk.say("nee, niet zo")
    assert talk.keys[0] == "common:crisis.reply-no"
    assert talk.position == ("oefening-1", "nemen")


def test_an_unsure_edit_gets_the_question_and_is_not_stored_as_another_answer(library):
    from flows.events import TextEdited

    talk = at_first_question(library)
    talk.say("Ik luister veel naar hem.")
    before = talk.saved()
    talk.send(TextEdited(text=UNSURE, ref="m1"))
    assert talk.keys == ["common:crisis.question"]
    assert talk.saved() == before


def at_a_choice(library, consent: str | None = "given") -> Conversation:
    """In exercise 1, at "Kies een relatie…", a question with buttons."""
    talk = Conversation(library, MONDAY_EVENING, State(consent=consent))
    talk.start(flow="oefening-1")
    talk.press_option("_next")
    assert talk.position == ("oefening-1", "relatie")
    return talk


def test_words_at_a_choice_in_a_crisis_get_the_help_or_the_question_with_nothing_before_it(
    library,
):
    for text, first, opening in (
        (UNSURE, "common:crisis.question", "Ik lees iets wat zwaar klinkt."),
        (SURE, "common:crisis.help", "Wat je schrijft klinkt zwaar."),
    ):
        talk = at_a_choice(library)
        talk.say(text)
        assert talk.keys[0] == first, text
        assert talk.texts[0].startswith(opening), "nothing about the note before the help"
        assert "common:note.words-noted" not in talk.keys
        assert text in [s.value for s in talk.saved()], "what they wrote is kept all the same"


def test_without_consent_a_crisis_message_is_not_told_it_was_not_saved_before_the_help(library):
    for text, opening in (
        (UNSURE, "Ik lees iets wat zwaar klinkt."),
        (SURE, "Wat je schrijft klinkt zwaar."),
    ):
        talk = Conversation(library, MONDAY_EVENING, State())
        talk.start()  # the opening, before the question of consent
        talk.say(text)
        assert talk.texts[0].startswith(opening), text
        assert "common:note.not-kept" not in talk.keys
