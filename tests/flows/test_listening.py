"""The coach answers like someone who listens: the other has a name, answers get a short varied
word, an exercise ends with what comes next, and the small things a person noticed are right."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flows.events import COMMAND_ALIASES, COMMANDS
from flows.messages import plain_words, spans_of
from flows.state import State
from flows.transcript import elapsed
from tests.conftest import MONDAY_EVENING
from tests.flows.conversation import Conversation

AMSTERDAM = "Europe/Amsterdam"


def consented(library, **state) -> Conversation:
    return Conversation(library, MONDAY_EVENING, State(consent="given", **state))


def said(talk: Conversation) -> str:
    return "\n".join(m.plain for m in talk.messages)


def text_of(messages, key: str) -> str:
    return next(m.plain for m in messages if m.key == key)


def to_the_name(talk: Conversation, flow: str = "oefening-1") -> None:
    talk.start(flow=flow)
    while talk.position and talk.position[1] != "relatie":
        talk.press_option("_next")
    talk.press_option("familielid")
    assert talk.position == (flow, "naam")


def walk_to(talk: Conversation, target: str, answers: dict[str, str] | None = None) -> None:
    """On through the exercise to step `target`: the given answers, else a plain one."""
    answers = answers or {}
    flow = talk.position[0]
    for _ in range(80):
        if talk.position is None or talk.position[1] == target:
            return
        step_id = talk.position[1]
        step = talk.library.flows[flow].steps[step_id]
        if step_id in answers:
            wanted = answers[step_id]
            tokens = [b.token.rsplit(":", 1)[1] for b in talk.buttons()]
            talk.press_option(wanted) if wanted in tokens else talk.say(wanted)
        elif step.expect == "text":
            talk.say("(antwoord)")
        elif step.expect == "entries":
            talk.say("Een situatie.")
            talk.press_option("_done")
        elif step.expect == "continue":
            talk.press_option("_next")
        elif step.expect == "when":
            talk.say("vrijdag om 19:00")
        elif step.expect == "scale":
            talk.press_option("geef-veel")
        else:
            talk.press_option(step.options[0].id if step.options else "_skip")
    raise AssertionError(f"never reached {target}")


# --- the relationship has a name -----------------------------------------------------------------


@pytest.mark.parametrize("flow", ["oefening-1", "oefening-2"])
def test_the_coach_asks_how_to_call_the_other_and_the_question_can_be_skipped(library, flow):
    talk = consented(library)
    to_the_name(talk, flow)
    assert "noemen" in talk.texts[-1]
    assert "_skip" in [b.token.rsplit(":", 1)[1] for b in talk.buttons()]
    talk.press_option("_skip")
    assert talk.position[1] != "naam"
    assert "de ander" in talk.texts[-1], "without a name the seed's words stay"


def test_the_name_comes_back_in_the_questions_the_reminder_and_the_evaluation(library):
    talk = consented(library)
    to_the_name(talk)
    talk.say("Marieke")
    assert talk.texts[-1].startswith("Dank je. Dan heb ik het vanaf nu over Marieke.\n\n")
    assert "Wat geef je aan Marieke" in talk.texts[-1]
    walk_to(talk, "evaluatie-moment", {"plan": "Ik zeg vaker nee.", "wanneer": "morgen"})
    talk.press_option("week")
    walk_to(talk, "kies", {"herhalen": "niet"})  # the menu after the exercise
    talk.wait(timedelta(days=1))
    (reminder,) = talk.deliver_due()
    assert "in je relatie met Marieke" in reminder[0].plain
    talk.wait(timedelta(days=6))
    (evaluation,) = talk.deliver_due()
    look_back = text_of(evaluation, "oefening-1:evaluatie.terugblik")
    assert "je relatie met Marieke" in look_back
    assert "(familielid)" not in look_back
    walk_to(talk, "reactie")
    assert "Hoe reageert Marieke op jouw acties?" in talk.texts[-1]


def test_a_crisis_sentence_typed_as_the_name_is_never_said_back_as_the_name(library):
    talk = consented(library)
    to_the_name(talk)
    heard = [*talk.say("Ik wil niet meer leven.")]
    assert "common:crisis.help" in talk.keys
    assert talk.state.run(talk.state.at.run).answers["naam"].crisis == (0,), "kept, marked"
    heard += talk.press_option("continue")
    assert talk.position == ("oefening-1", "geven")
    assert "Wat geef je aan de ander" in talk.texts[-1]
    heard += talk.say("Ik kook elke avond.")
    assert "de ander" in talk.texts[-1]
    assert not any("niet meer leven" in m.plain for m in heard), "never quoted back as the name"


def test_mijn_zus_is_je_zus_when_the_coach_says_it(library):
    talk = consented(library)
    to_the_name(talk)
    talk.say("mijn zus")
    assert "Wat geef je aan je zus" in talk.texts[-1]
    assert "mijn zus" not in talk.texts[-1]


def test_my_sister_is_your_sister_in_english(library):
    talk = consented(library, lang="en")
    to_the_name(talk)
    talk.say("My sister")
    assert "What do you give to your sister" in talk.texts[-1]


def test_a_name_typed_with_markup_comes_back_as_the_persons_literal_words(library):
    talk = consented(library)
    to_the_name(talk)
    talk.say("<b>Jan</b>")
    question = talk.last[-1]
    assert "Wat geef je aan <b>Jan</b>" in question.plain
    assert any(s.theirs and s.text == "<b>Jan</b>" for s in spans_of(question.paragraphs))


# --- a short, varied acknowledgement ------------------------------------------------------------


def test_each_written_answer_gets_a_short_word_and_never_the_same_twice_in_a_row(library):
    talk = consented(library)
    to_the_name(talk)
    talk.press_option("_skip")
    acks = []
    for answer in ("Ik kook.", "Ze luistert.", "Veel.", "Zwaar.", "Ongemakkelijk."):
        step = talk.library.flows["oefening-1"].steps[talk.position[1]]
        while step.expect != "text":  # on to the next written question
            talk.press_option({"continue": "_next", "scale": "geef-veel"}[step.expect])
            step = talk.library.flows["oefening-1"].steps[talk.position[1]]
        talk.say(answer)
        acks.append(acknowledgement(talk))
    assert all(a != b for a, b in zip(acks, acks[1:], strict=False)), acks
    assert not any(a.startswith("Goed") for a in acks)
    assert all(len(a) < 60 for a in acks), "short"


def acknowledgement(talk: Conversation) -> str:
    """The short word after the last answer: the first paragraph of the one message that
    carries it and the next question (a message of its own only before a new part)."""
    replies = [m for m in talk.last if "common:ack.text" in m.keys]
    assert len(replies) == 1, "one acknowledgement per written answer"
    assert replies[0].keys[0] == "common:ack.text", "said first"
    assert replies[0].lead or talk.last[1].plain.startswith("Stap "), "joined to the question"
    return plain_words(replies[0].paragraphs[:1])


def test_the_acknowledgement_and_the_next_question_come_as_one_message(library):
    talk = consented(library)
    to_the_name(talk)
    talk.say("mijn zus")
    [reply] = talk.last
    assert reply.keys == ("oefening-1:naam.ack", "oefening-1:geven")
    assert reply.plain.startswith("Dank je. Dan heb ik het vanaf nu over je zus.\n\nHoe geef jij")
    assert [b.label for b in talk.buttons()] == ["Overslaan"], "the question's buttons stay"
    talk.say("Ik kook voor haar.")
    [reply] = talk.last
    assert reply.plain.startswith(acknowledgement(talk) + "\n\nHoe neem jij")


def test_a_new_part_of_the_exercise_still_begins_a_message_of_its_own(library):
    """An acknowledgement before "Stap 2: …" stays apart: the part's title heads its message."""
    talk = consented(library)
    to_the_name(talk)
    talk.press_option("_skip")
    while talk.position != ("oefening-1", "toelichting"):
        step = talk.library.flows["oefening-1"].steps[talk.position[1]]
        if step.expect == "text":
            talk.say("Ik kook.")
        else:
            talk.press_option({"continue": "_next", "scale": "geef-veel"}[step.expect])
    talk.say("Het voelt zwaar.")
    assert [m.keys for m in talk.last] == [("common:ack.text",), ("oefening-1:voelen",)]
    assert talk.last[1].plain.startswith("Stap 2:")


def test_the_acknowledgement_never_repeats_what_was_written(library):
    talk = consented(library)
    to_the_name(talk)
    talk.press_option("_skip")
    talk.say("Ik doe alles voor haar en krijg niets terug.")
    reply = next(m for m in talk.last if "common:ack.text" in m.lead)
    assert not any(s.theirs for s in spans_of(reply.paragraphs[:1]))
    assert "niets" not in acknowledgement(talk) and "alles" not in acknowledgement(talk)


def test_the_same_journey_gets_the_same_acknowledgements(library):
    def journey() -> list[str]:
        talk = consented(library)
        to_the_name(talk)
        talk.say("Sam")
        talk.say("Ik kook.")
        talk.say("Ze luistert.")
        return [m.plain for m in talk.messages]

    assert journey() == journey()


def test_an_author_adds_an_acknowledgement_without_python(library):
    from flows.texts import Texts

    texts: Texts = library.texts
    assert len(texts.variants("nl", "common:ack.text")) >= 4
    assert texts.variants("nl", "common:ack.text") == tuple(
        k for k in texts.catalogs["nl"] if k.startswith("common:ack.text.")
    ), "every line under ack.text is one more"


def test_the_list_of_situations_does_not_say_the_same_line_after_every_entry(library):
    talk = consented(library)
    to_the_name(talk)
    walk_to(talk, "situaties")
    replies = []
    for entry in ("Op zondag.", "Op het werk.", "Met de feestdagen."):
        talk.say(entry)
        replies.append(talk.texts[-1])
    assert replies[0] == "Schrijf gerust nog iets, of druk op Klaar."
    assert len(set(replies)) == 3


def test_after_a_checkin_the_menu_comes_back_without_a_machine_line(library):
    talk = consented(library)
    to_the_name(talk)
    walk_to(talk, "wanneer")
    talk.press_option("morgen")
    walk_to(talk, "kies")
    talk.wait(timedelta(days=1))
    (reminder,) = talk.deliver_due()
    assert "common:back-where-you-were" not in [key for m in reminder for key in m.keys]
    assert reminder[-1].key == "menu:kies.vraag"


# --- an exercise ends with what comes next -----------------------------------------------------


def test_exercise_one_ends_saying_when_the_coach_comes_back(library):
    talk = consented(library)
    to_the_name(talk)
    walk_to(talk, "evaluatie-moment")  # the plan's moment: "vrijdag om 19:00"
    talk.press_option("week")
    talk.press_option("elke-maand")
    closing = next(m.plain for m in talk.last if m.key == "oefening-1:vervolg")
    assert closing == (
        "Op vrijdag 6 maart om 19:00 kom ik bij je terug met je plan; over een week kijken we "
        "samen terug. Daarna nodig ik je elke maand uit om de oefening te herhalen."
    )


def test_exercise_two_ends_saying_when_the_coach_comes_back(library):
    talk = consented(library)
    to_the_name(talk, "oefening-2")
    walk_to(talk, "evaluatie-moment")
    talk.press_option("maand")
    talk.press_option("niet")
    talk.press_option("_next")  # self-compassion
    closing = next(m.plain for m in talk.messages if m.key == "oefening-2:vervolg")
    assert closing == (
        "Op vrijdag 6 maart om 19:00 kom ik bij je terug met je stap; over een maand kijken we "
        "samen terug."
    )


def test_with_nothing_planned_the_end_says_so_and_where_to_find_the_exercise(library):
    talk = consented(library)
    to_the_name(talk)
    walk_to(talk, "wanneer")
    talk.press_option("_skip")
    walk_to(talk, "evaluatie-moment")
    talk.press_option("_skip")
    talk.press_option("niet")
    closing = next(m.plain for m in talk.last if m.key == "oefening-1:vervolg")
    assert closing == "Ik heb niets ingepland. Je vindt de oefening altijd in /menu."


@pytest.mark.parametrize("flow", ["oefening-1", "oefening-2"])
def test_after_the_evaluation_a_new_small_step_and_a_new_moment_are_offered(library, flow):
    talk = consented(library)
    to_the_name(talk, flow)
    talk.say("Sam")
    walk_to(talk, "evaluatie-moment")
    talk.press_option("week")
    walk_to(talk, "kies", {"herhalen": "niet"})
    talk.wait(timedelta(days=8))
    talk.deliver_due()
    walk_to(talk, "nieuwe-stap")
    talk.say("Ik vraag Sam om hulp bij de verhuizing.")
    assert talk.position == (flow, "nieuw-moment")
    talk.press_option("week")
    assert "Over een week kom ik bij je terug met je nieuwe stap." in said(talk)
    first_evaluation = dict(talk.state.run(talk.state.runs[-1].id).answers)
    talk.wait(timedelta(days=7))
    (again,) = talk.deliver_due()
    assert "Op 10 maart schreef je als nieuwe stap:" in again[0].plain
    assert "Ik vraag Sam om hulp bij de verhuizing." in again[0].plain
    assert "Sam" in again[-1].plain
    talk.say("Het ging goed.")
    answers = talk.state.run(talk.state.runs[-1].id).answers
    for step, answer in first_evaluation.items():
        assert answers[step] == answer, "the first evaluation's answers stay as written"


# --- "Stoppen voor nu" ---------------------------------------------------------------------------


def test_stopping_for_now_says_goodbye_and_how_to_come_back(library):
    talk = consented(library)
    to_the_name(talk)
    talk.command("menu")
    talk.press_option("stoppen")
    assert len(talk.last) == 1, "a goodbye, and no question after it"
    assert "Tot een volgende keer" in talk.texts[0] and "/start" in talk.texts[0]
    talk.start()
    assert talk.buttons()[0].token.endswith(":_resume"), "coming back: where they were, first"
    talk.press_option("_resume")
    assert talk.position == ("oefening-1", "naam")


# --- smaller defects ----------------------------------------------------------------------------


def command_names(library, lang: str) -> dict[str, str]:
    """Each command as typed in `lang` (Telegram's menu file), skip included."""
    texts = library.texts
    names = {}
    for command in COMMANDS:
        key = f"commands:{command}.command"
        assert texts.has(lang, key), f"{command} has a name in {lang}"
        names[command] = texts.plain(lang, key, None)
    return names


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_help_lists_every_command_by_its_name_in_that_language(library, lang):
    talk = consented(library, lang=lang)
    talk.command("help")
    help_text = talk.texts[0]
    lines = [line.split(" ")[0] for line in help_text.splitlines() if line.startswith("/")]
    names = command_names(library, lang)
    for name in names.values():
        assert f"/{name}" in lines, f"/{name} in the {lang} help"
    other = command_names(library, "en" if lang == "nl" else "nl")
    foreign = {f"/{n}" for n in other.values()} - {f"/{n}" for n in names.values()}
    assert not foreign & set(lines), "no command of the other language"
    assert ("/tijd uit" if lang == "nl" else "/time off") in help_text
    for name in names.values():
        assert COMMAND_ALIASES.get(name) is not None, f"/{name} is understood"


def test_skipping_consent_is_not_read_back_as_a_no(library):
    talk = Conversation(library, MONDAY_EVENING)
    talk.start(language="nl")
    talk.press_option("_next")
    talk.press_option("_skip")  # the consent question
    talk.start(flow="oefening-1")
    assert "Eerder koos je ervoor dat ik niets bewaar" not in said(talk)
    assert "Is het goed dat ik bewaar wat je schrijft?" in talk.texts[-1]


def test_saying_no_to_consent_is_read_back_as_a_no(library):
    talk = Conversation(library, MONDAY_EVENING, State(consent="declined"))
    talk.start(flow="oefening-1")
    assert "Eerder koos je ervoor dat ik niets bewaar" in talk.texts[-1]


def test_skipping_the_explanation_does_not_say_this_was_the_explanation(library):
    talk = consented(library)
    talk.start(flow="uitleg")
    talk.press_option("_skip")
    assert "Dit was de uitleg" not in said(talk)
    assert "We slaan de uitleg nu over." in said(talk)


def test_reading_the_explanation_to_the_end_says_this_was_the_explanation(library):
    talk = consented(library)
    talk.start(flow="uitleg")
    while talk.position and talk.position[0] == "uitleg":
        talk.press_option("_next")
    assert "Dit was de uitleg" in said(talk)


def test_start_right_after_the_welcome_does_not_say_where_we_were(library):
    talk = Conversation(library, MONDAY_EVENING)
    talk.start(language="nl")
    talk.wait(timedelta(seconds=1))
    talk.start(language="nl")
    assert "common:welcome-back" not in talk.keys
    assert talk.last[-1].buttons, "the question, again"


def test_start_after_a_day_away_says_where_we_were(library):
    talk = Conversation(library, MONDAY_EVENING)
    talk.start(language="nl")
    talk.wait(timedelta(days=1))
    talk.start(language="nl")
    assert talk.keys[0] == "common:welcome-back"


def test_after_the_explanation_the_menu_offers_exercise_one_first(library):
    talk = consented(library)
    talk.start(flow="uitleg")
    talk.press_option("_skip")
    assert talk.position == ("menu", "kies")
    assert talk.buttons()[0].token.endswith(":oefening-1")
    talk.say("1")  # the first button, as shown
    assert talk.position[0] == "oefening-1"


def test_after_exercise_one_the_menu_offers_what_is_not_yet_done_first(library):
    talk = consented(library)
    talk.start(flow="uitleg")
    talk.press_option("_skip")
    talk.press_option("oefening-1")
    talk.command("menu")
    assert talk.buttons()[1].token.endswith(":oefening-2")  # after "where I was"


@pytest.mark.parametrize(
    ("scale", "first", "second"),
    [
        ("geef-veel", "als je teveel geeft, stel grenzen", "als je te veel neemt"),
        ("neem-wat", "als je te veel neemt", "als je teveel geeft, stel grenzen"),
    ],
)
def test_step_four_invites_the_fitting_suggestion_first_and_keeps_the_other(
    library, scale, first, second
):
    talk = consented(library)
    to_the_name(talk)
    walk_to(talk, "plan", {"balans": scale})
    action = next(m.plain for m in talk.messages if m.key.startswith("oefening-1:actie."))
    assert first in action and second in action
    assert action.index(first) < action.index(second)
    assert "Stel dan grenzen" not in action and "Misschien" in action


def test_the_evaluation_and_the_reminder_quote_the_plan_with_the_same_date(library):
    talk = consented(library)
    to_the_name(talk)
    walk_to(talk, "plan")
    talk.wait(timedelta(days=9))  # came back to it on another day
    talk.say("Ik bel drie keer per week.")
    talk.press_option("morgen")
    walk_to(talk, "evaluatie-moment")
    talk.press_option("week")
    walk_to(talk, "kies", {"herhalen": "niet"})
    talk.wait(timedelta(days=2))
    (reminder,) = talk.deliver_due()
    talk.wait(timedelta(days=6))
    (evaluation,) = talk.deliver_due()
    look_back = text_of(evaluation, "oefening-1:evaluatie.terugblik")
    assert "Op 11 maart schreef je:" in text_of(reminder, "oefening-1:herinnering")
    assert "Op 11 maart schreef je als plan:" in look_back
    assert "Op 2 maart beschreef je de balans zo:" in look_back


@pytest.mark.parametrize(
    ("delta", "nl", "en"),
    [
        (timedelta(days=1), "1 dag later", "1 day later"),
        (timedelta(days=3), "3 dagen later", "3 days later"),
        (timedelta(hours=1), "1 uur later", "1 hour later"),
        (timedelta(minutes=10), "Even later", "A little later"),
        (timedelta(0), "Even later", "A little later"),
    ],
)
def test_the_transcript_says_how_much_later_in_words_a_person_would_use(library, delta, nl, en):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(AMSTERDAM)
    assert elapsed(library, delta, "nl", tz) == nl
    assert elapsed(library, delta, "en", tz) == en


def test_the_daily_question_is_saved_with_the_words_it_asked(library):
    talk = consented(library)
    talk.start(flow="dagelijks")
    talk.say("20:00")
    talk.wait(timedelta(days=1))
    talk.deliver_due()
    talk.press_option("gelijk")
    asked = talk.last[-1].key
    talk.say("Ik gaf veel.")
    saved = [e for e in talk.saved() if e.step == "vraag"]
    assert saved and saved[0].question == asked and saved[0].question != "dagelijks:vraag"


def test_a_step_naming_a_group_of_acknowledgements_that_does_not_exist_is_reported(library):
    from bot.content import read_sources
    from flows.loader import check_sources

    sources = read_sources()
    path = "flows/oefening-1.yaml"
    sources[path] = sources[path].replace("ack: naam.ack", "ack: naam.bedankt")
    problems = check_sources(sources)
    assert any(p.code == "KC050" and "naam.bedankt" in p.message for p in problems)


def test_ack_none_says_nothing_after_the_answer(library):
    from bot.content import read_sources
    from flows.loader import parse_library

    sources = read_sources()
    path = "flows/oefening-1.yaml"
    sources[path] = sources[path].replace("ack: naam.ack", "ack: none")
    talk = Conversation(parse_library(sources), MONDAY_EVENING, State(consent="given"))
    to_the_name(talk)
    talk.say("Marieke")
    assert [m.key for m in talk.last] == ["oefening-1:geven"]
