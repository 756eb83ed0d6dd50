"""Nothing a person writes is dropped or misused: double texts, words where nothing asks for
words, words where a choice was asked, and sentences that set off the crisis check."""

from __future__ import annotations

from datetime import timedelta

from flows.events import TextReceived
from flows.overview import AnswerRecord, RunRecord, export_text, mine
from flows.state import State
from flows.turn.answers import DOUBLE_TEXT_WINDOW
from tests.conftest import MONDAY_EVENING
from tests.flows.conversation import Conversation

CRISIS_ENTRY = "Soms wil ik gewoon nooit meer wakker worden."


def consented(library) -> Conversation:
    return Conversation(library, MONDAY_EVENING, State(consent="given"))


def sent(talk: Conversation, text: str, after: timedelta, ref: str) -> None:
    """The person sends `text`, `after` the previous message (the channel says when)."""
    talk.wait(after)
    talk.send(TextReceived(text=text, ref=ref, at=talk.now))


def at_first_question(talk: Conversation) -> None:
    talk.start(flow="oefening-1")
    talk.press_option("_next")
    talk.press_option("partner")
    talk.press_option("_skip")  # how to call the other
    assert talk.position == ("oefening-1", "geven")


def test_a_second_message_seconds_after_an_answer_joins_that_answer(library):
    talk = consented(library)
    at_first_question(talk)
    sent(talk, "Ik kook elke avond.", timedelta(minutes=2), "m1")
    assert talk.position == ("oefening-1", "nemen")
    sent(talk, "En ik doe de was, eigenlijk altijd.", timedelta(seconds=6), "m2")
    assert talk.texts[0] == "Dit heb ik bij je vorige antwoord gezet."
    assert talk.position == ("oefening-1", "nemen"), "the second thought answers nothing new"
    assert "Hoe neem jij" in talk.texts[-1], "the question it landed on is asked again"
    saved = talk.saved()[-1]
    assert (saved.step, saved.item) == ("geven", 0)
    assert saved.value == "Ik kook elke avond.\n\nEn ik doe de was, eigenlijk altijd."
    answers = talk.state.run(talk.state.at.run).answers
    assert answers["geven"].value == saved.value
    assert "nemen" not in answers


def test_a_message_after_the_window_answers_the_next_question(library):
    talk = consented(library)
    at_first_question(talk)
    sent(talk, "Ik kook elke avond.", timedelta(minutes=2), "m1")
    sent(talk, "Ze luistert naar me.", DOUBLE_TEXT_WINDOW + timedelta(seconds=1), "m2")
    assert talk.position == ("oefening-1", "balans")
    answers = talk.state.run(talk.state.at.run).answers
    assert answers["nemen"].value == "Ze luistert naar me."


def test_a_quick_second_message_on_a_verder_step_is_not_taken_as_verder(library):
    talk = consented(library)
    at_first_question(talk)
    talk.say("Ik kook.")
    talk.say("Ze luistert.")
    talk.press_option("geef-veel")
    sent(talk, "Het voelt zwaar.", timedelta(minutes=1), "m1")
    assert talk.position == ("oefening-1", "voelen")
    sent(talk, "Vooral in het weekend.", timedelta(seconds=3), "m2")
    assert talk.position == ("oefening-1", "voelen"), "a message never advances by itself"
    assert talk.texts[0] == "Dit heb ik bij je vorige antwoord gezet."
    assert talk.saved()[-1].value == "Het voelt zwaar.\n\nVooral in het weekend."
    assert [b.label for b in talk.buttons()] == ["Verder"]


def test_words_on_a_verder_step_are_kept_as_a_note_and_the_step_waits(library):
    talk = consented(library)
    at_first_question(talk)
    talk.say("Ik kook.")
    talk.say("Ze luistert.")
    talk.press_option("geef-veel")
    talk.say("Het voelt zwaar.")
    assert talk.position == ("oefening-1", "voelen")
    talk.wait(timedelta(minutes=5))
    talk.say("Ik merk dat mijn schouders gespannen zijn.")
    assert talk.position == ("oefening-1", "voelen")
    assert (
        talk.texts[0] == "Dit heb ik als notitie bij deze stap bewaard. Met /mijn zie je het terug."
    )
    note = talk.saved()[-1]
    assert (note.kind, note.step, note.value) == (
        "note",
        "voelen",
        "Ik merk dat mijn schouders gespannen zijn.",
    )
    assert note.item < 0, "a note never replaces the step's own answer"
    talk.say("Verder")
    assert talk.position == ("oefening-1", "visualiseren"), "typing Verder is pressing it"


def test_without_consent_words_on_a_verder_step_are_not_kept_and_the_coach_says_so(library):
    talk = Conversation(library, MONDAY_EVENING)
    talk.start(language="nl")
    assert talk.buttons() and talk.buttons()[0].label == "Verder"
    where = talk.position
    talk.say("hallo?")
    assert talk.texts[0].startswith(
        "Ik bewaar nu niets van wat je schrijft, dus dit heb ik niet opgeslagen.\n\n"
    ), "said first, above the question asked again"
    assert not talk.saved()
    assert talk.position == where, "the step waits as it did"
    assert [b.label for b in talk.buttons()] == ["Verder"]


def test_words_at_the_balance_scale_become_its_own_words_answer_and_the_scale_is_asked_again(
    library,
):
    talk = consented(library)
    at_first_question(talk)
    talk.say("Ik kook.")
    talk.say("Ze luistert.")
    assert talk.position == ("oefening-1", "balans")
    talk.say("Ik geef meer, maar ik krijg ook veel warmte terug.")
    assert talk.texts[0].startswith(
        "Je woorden heb ik bewaard als je beschrijving in eigen woorden."
    )
    assert "Kies een van de knoppen" not in " ".join(talk.texts)
    assert talk.position == ("oefening-1", "balans"), "the choice is offered once more"
    assert "Ik geef wat meer" in [b.label for b in talk.buttons()]
    words = talk.saved()[-1]
    assert (words.step, words.kind, words.value) == (
        "toelichting",
        "text",
        "Ik geef meer, maar ik krijg ook veel warmte terug.",
    )
    talk.say("2")
    assert talk.position == ("oefening-1", "voelen"), "the own-words question is answered already"
    answers = talk.state.run(talk.state.at.run).answers
    assert answers["balans"].value == "geef-wat"
    assert answers["toelichting"].value == "Ik geef meer, maar ik krijg ook veel warmte terug."


def test_only_spaces_or_invisible_characters_are_no_answer_but_an_emoji_is(library):
    talk = consented(library)
    at_first_question(talk)
    talk.say("   \u200b\u2060 ")
    assert talk.position == ("oefening-1", "geven")
    assert talk.texts[0].startswith(
        "Ik zie alleen lege ruimte. Schrijf gerust in woorden wat je wilt zeggen.\n\n"
    ), "said first, above the question asked again"
    assert not [e for e in talk.saved() if e.step == "geven"]
    talk.say("❤️")
    assert talk.position == ("oefening-1", "nemen")
    assert talk.saved()[-1].value == "❤️"


def test_a_crisis_sentence_in_a_list_is_kept_marked_and_never_quoted_in_the_evaluation(library):
    talk = consented(library)
    talk.start(flow="oefening-1")
    talk.press_option("_next")
    talk.press_option("familielid")
    while talk.position and talk.position[1] != "situaties":
        step = talk.library.flows["oefening-1"].steps[talk.position[1]]
        if step.expect == "text":
            talk.say("(antwoord)")
        else:
            talk.press_option("_next" if step.expect == "continue" else "_skip")
    talk.say("Toen ik de verhuizing alleen regelde.")
    talk.say(CRISIS_ENTRY)
    assert "common:crisis.help" in talk.keys
    talk.press_option("continue")
    talk.press_option("_done")
    while talk.position and talk.position[1] != "evaluatie-moment":
        step = talk.library.flows["oefening-1"].steps[talk.position[1]]
        if step.expect == "text":
            talk.say("(antwoord)")
        else:
            talk.press_option("morgen" if step.expect == "when" else "_skip")
    talk.press_option("week")
    marked = [e for e in talk.saved() if e.step == "situaties"]
    assert [(e.value, e.crisis) for e in marked] == [
        ("Toen ik de verhuizing alleen regelde.", False),
        (CRISIS_ENTRY, True),
    ]
    talk.wait(timedelta(days=8))
    delivered = "\n".join(m.plain for batch in talk.deliver_due() for m in batch)
    assert "De situaties die je noteerde" in delivered
    assert "Toen ik de verhuizing alleen regelde." in delivered
    assert "wakker worden" not in delivered, "a crisis sentence is never quoted back"


def test_a_crisis_sentence_as_the_only_answer_leaves_the_quote_out(library):
    talk = consented(library)
    at_first_question(talk)
    talk.say("Ik wil niet meer leven.")
    assert "common:crisis.help" in talk.keys
    assert talk.state.run(talk.state.at.run).answers["geven"].crisis == (0,)
    assert talk.saved()[-1].crisis


def test_mine_and_export_show_notes_with_their_date_and_crisis_words_marked(library):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/Amsterdam")
    runs = [RunRecord(run="r1", flow="oefening-1", started_at=MONDAY_EVENING)]

    def record(step: str, kind: str, value: str, item: int, crisis: bool = False) -> AnswerRecord:
        return AnswerRecord(
            run="r1",
            flow="oefening-1",
            step=step,
            kind=kind,
            question=f"oefening-1:{step}",
            value=value,
            answered_at=MONDAY_EVENING + timedelta(days=1),
            item=item,
            crisis=crisis,
        )

    answers = [
        record("situaties", "entries", "Toen ik verhuisde.", 0),
        record("situaties", "entries", CRISIS_ENTRY, 1, crisis=True),
        record("voelen", "note", "Mijn schouders zijn gespannen.", -3),
    ]
    shown = "\n".join(m.plain for m in mine(library, "nl", tz, runs, answers))
    assert CRISIS_ENTRY in shown, "it stays the person's"
    assert "Dit schreef je op een zwaar moment" in shown
    assert "Notitie bij:" in shown and "(3 maart)" in shown
    assert "Mijn schouders zijn gespannen." in shown
    text = export_text(library, "nl", tz, runs, answers, [])
    assert CRISIS_ENTRY in text and "Dit schreef je op een zwaar moment" in text
    assert "Notitie bij:" in text and "Mijn schouders zijn gespannen." in text


def test_thirty_messages_in_two_seconds_get_one_calm_answer_and_all_are_kept(library):
    talk = consented(library)
    at_first_question(talk)
    talk.wait(timedelta(minutes=1))
    replies = []
    for i in range(30):
        if i % 15 == 0 and i:
            talk.wait(timedelta(seconds=1))
        replies += talk.send(TextReceived(text=f"bericht {i}", ref=f"m{i}", at=talk.now))
    calm = [m for m in replies if m.key == "common:flood"]
    assert len(calm) == 1
    assert len(replies) <= 6, [m.key for m in replies]
    assert "Kies een van de knoppen" not in " ".join(m.plain for m in replies)
    kept = talk.state.run(talk.state.at.run).answers["geven"].value
    assert all(f"bericht {i}" in kept for i in range(30)), "every message is still kept"
    talk.wait(timedelta(minutes=2))
    talk.send(TextReceived(text="Sorry, mijn telefoon deed raar.", ref="m99", at=talk.now))
    assert "common:flood" not in talk.keys and talk.texts, "after a pause, the usual answer"


def test_a_crisis_sentence_in_a_flood_still_gets_help(library):
    talk = consented(library)
    at_first_question(talk)
    for i in range(5):
        talk.send(TextReceived(text=f"bericht {i}", ref=f"m{i}", at=talk.now))
    talk.send(TextReceived(text="Ik wil niet meer leven.", ref="m9", at=talk.now))
    assert "common:crisis.help" in talk.keys


def test_a_second_tap_on_a_handled_button_gets_a_neutral_acknowledgement(library):
    from flows.events import ChoiceMade

    talk = consented(library)
    talk.start(flow="oefening-1")
    token = talk.button("Verder").token
    talk.send(ChoiceMade(token=token))
    assert talk.position == ("oefening-1", "relatie")
    partner = talk.button("Partner").token
    talk.send(ChoiceMade(token=token))
    assert talk.texts == ["Die keuze had ik al genoteerd."]
    assert "Er is niets veranderd" not in " ".join(talk.texts)
    assert talk.position == ("oefening-1", "relatie")
    talk.send(ChoiceMade(token=partner))
    talk.send(ChoiceMade(token=token))  # much later, an old button: the usual kind answer
    assert talk.keys[0] == "common:stale-button"


def test_an_unreadable_time_is_asked_again_until_valid_then_the_question_returns(library):
    talk = consented(library)
    at_first_question(talk)
    talk.say("/tijd 25:99")
    assert talk.keys == ["common:time.invalid"]
    talk.say("Mars/Olympus")
    assert talk.keys == ["common:time.timezone-invalid"]
    talk.say("20:00")
    assert talk.state.checkin_time == "20:00", "the time dialogue read it, not the question"
    assert "Hoe geef jij" in talk.texts[-1], "then the question the person was on, again"
    talk.say("/tijd Mars/Olympus")
    talk.say("Europe/Brussels")
    assert talk.state.timezone == "Europe/Brussels"
    assert "Hoe geef jij" in talk.texts[-1]
    assert not [e for e in talk.saved() if e.step == "geven"]
    talk.say("/tijd 7:99")
    talk.command("skip")
    assert "Hoe geef jij" in talk.texts[-1]
    talk.say("Ik kook.")
    assert talk.saved()[-1].value == "Ik kook."


def test_an_audio_file_is_not_called_a_voice_message(library):
    talk = consented(library)
    at_first_question(talk)
    talk.media("audio")
    assert talk.texts[0].startswith("Een geluidsbestand kan ik niet beluisteren.")


def test_editing_a_message_after_a_second_thought_joined_it_loses_neither(library):
    from flows.events import TextEdited

    talk = consented(library)
    at_first_question(talk)
    sent(talk, "Ik kook elke avond.", timedelta(minutes=2), "m1")
    sent(talk, "En ik doe de was.", timedelta(seconds=4), "m2")
    talk.send(TextEdited(text="Ik kook bijna elke avond.", ref="m1"))
    assert talk.keys == ["common:edit.not-latest"]
    answers = talk.state.run(talk.state.at.run).answers
    assert answers["geven"].value == "Ik kook elke avond.\n\nEn ik doe de was."
