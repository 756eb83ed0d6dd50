"""The pure engine, as a person meets it: no network, no database, no clock."""

from __future__ import annotations

import ast
import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import pytest

from flows import tokens
from flows.effects import (
    CancelCheckins,
    DeletionRequested,
    ExportRequested,
    RunStarted,
    SaveAnswer,
    ScheduleCheckin,
    ShowAnswers,
)
from flows.events import ChoiceMade
from flows.messages import spans_of
from flows.state import State
from flows.tokens import option_of
from tests.conftest import MONDAY_EVENING
from tests.flows.conversation import Conversation

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT.parent / "shared" / "seed" / "stap-4-balans-geven-en-nemen.txt"


def consented(library, **state) -> Conversation:
    return Conversation(library, MONDAY_EVENING, State(consent="given", **state))


def seed_poem() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    start = text.index("Elke relatie danst")
    end = text.index("in een zachte cirkel van wij.") + len("in een zachte cirkel van wij.")
    return [line.strip() for line in text[start:end].splitlines() if line.strip()]


def test_first_start_asks_consent_and_says_it_is_not_therapy(library):
    talk = Conversation(library, MONDAY_EVENING)
    talk.start(language="nl")
    talk.press_option("_next")
    said = " ".join(m.plain for m in talk.messages).lower()
    assert "therapie" in said
    assert {option_of(b.token) for b in talk.buttons()} >= {"ja", "nee"}
    assert talk.position == ("opening", "toestemming")


@pytest.mark.skipif(not SEED.exists(), reason="the seed lies outside the repository")
def test_the_poem_is_the_seeds_poem_line_for_line(library):
    talk = Conversation(library, MONDAY_EVENING)
    talk.start(language="nl")
    talk.press_option("_next")
    talk.press_option("ja")
    poem = [m for m in talk.messages if m.key == "opening:gedicht"]
    assert len(poem) == 1, "the poem is its own message"
    lines = [line.strip() for line in poem[0].plain.splitlines() if line.strip()]
    assert lines == seed_poem()


def test_saying_no_stores_nothing_but_still_shows_poem_and_explanation(library):
    talk = Conversation(library, MONDAY_EVENING)
    talk.start(language="nl")
    talk.press_option("_next")
    talk.press_option("nee")
    assert talk.state.consent == "declined"
    assert any(m.key == "opening:gedicht" for m in talk.messages)
    talk.press_option("_next")
    assert talk.position[0] == "uitleg"
    talk.start(flow="oefening-1")
    assert "common:consent.needed" in talk.keys
    assert not [e for e in talk.effects if isinstance(e, SaveAnswer | RunStarted)]


def test_english_speakers_get_english_from_the_first_message(library):
    talk = Conversation(library, MONDAY_EVENING)
    talk.start(language="en-GB")
    assert talk.state.lang == "en"
    assert (
        "therapy" in " ".join(talk.texts).lower()
        or "therapy" in " ".join(m.plain for m in talk.messages).lower()
    )


def to_first_question(talk: Conversation) -> None:
    """Into exercise 1, past its introduction, the relationship chosen: at "Hoe geef jij…"."""
    talk.start(flow="oefening-1")
    talk.press_option("_next")
    talk.press_option("partner")
    talk.press_option("_skip")  # how to call the other
    assert talk.position == ("oefening-1", "geven")


def walk_exercise_one(talk: Conversation, plan: str = "Zondag bel ik mijn zus.") -> None:
    talk.start(flow="oefening-1")
    talk.press_option("_next")  # doel
    talk.press_option("familielid")
    talk.press_option("_skip")  # how to call the other
    talk.say("Ik luister veel en help met boodschappen.")
    talk.say("Ze belt me als ik ziek ben.")
    talk.press_option("geef-veel")
    while talk.position and talk.position[1] != "plan":
        step = talk.library.flows["oefening-1"].steps[talk.position[1]]
        if step.expect == "entries":
            talk.say("Toen ik de verhuizing alleen regelde.")
            talk.press_option("_done")
        elif step.expect == "text":
            talk.say("(antwoord)")
        else:
            talk.press_option("_next" if step.expect == "continue" else "_skip")
    talk.say(plan)


def test_answers_are_saved_with_the_question_they_answer(library):
    talk = consented(library)
    walk_exercise_one(talk)
    saved = {(e.step, e.item): e for e in talk.saved()}
    assert saved[("relatie", 0)].value == "familielid"
    assert saved[("geven", 0)].value == "Ik luister veel en help met boodschappen."
    assert saved[("balans", 0)].value == "geef-veel"
    assert saved[("plan", 0)].value == "Zondag bel ik mijn zus."
    assert all(e.question for e in saved.values())
    assert any(isinstance(e, RunStarted) for e in talk.effects)


def test_giving_too_much_leads_to_the_advice_on_boundaries(library):
    talk = consented(library)
    walk_exercise_one(talk)
    visited = {key for m in talk.messages for key in m.keys}
    assert "oefening-1:actie.geven" in visited
    assert "oefening-1:actie.nemen" not in visited


def test_week_evaluation_quotes_the_plan_with_its_date(library):
    talk = consented(library)
    walk_exercise_one(talk, plan="Ik zeg <nee> & meen het")
    while talk.position and talk.position[1] != "evaluatie-moment":
        talk.press_option("morgen" if talk.position[1] == "wanneer" else "_skip")
    talk.press_option("week")
    evaluation = [c for c in talk.pending if c.kind == "evaluation"]
    assert len(evaluation) == 1
    assert evaluation[0].due_at == MONDAY_EVENING + timedelta(days=7)
    talk.wait(timedelta(days=8))
    delivered = talk.deliver_due()
    said = "\n".join(m.plain for batch in delivered for m in batch)
    assert "Ik zeg <nee> & meen het" in said
    assert "2 maart" in said  # the day the plan was written
    theirs = [s.text for b in delivered for m in b for s in spans_of(m.paragraphs) if s.theirs]
    assert "Ik zeg <nee> & meen het" in theirs, "the plan comes back as the person's own words"


def test_the_plan_reminder_comes_on_the_chosen_day(library):
    talk = consented(library)
    walk_exercise_one(talk)
    talk.say("vrijdag om 20:00")
    reminder = [c for c in talk.pending if c.kind == "reminder"]
    assert len(reminder) == 1
    assert reminder[0].due_at.isoformat() == "2026-03-06T19:00:00+00:00"


def test_every_question_of_an_exercise_can_be_skipped(library):
    for flow_id in ("oefening-1", "oefening-2"):
        talk = consented(library)
        talk.start(flow=flow_id)
        for _ in range(80):
            if talk.position is None or talk.position[0] != flow_id:
                break
            step = library.flows[flow_id].steps[talk.position[1]]
            options = [option_of(b.token) for b in talk.buttons()]
            assert "_skip" in options or step.expect == "continue", (flow_id, step.id)
            talk.press_option("_skip" if "_skip" in options else "_next")
        assert talk.position is None or talk.position[0] != flow_id, "the exercise ended"
        assert not talk.saved()


def test_back_goes_to_the_previous_question_and_keeps_the_answer(library):
    talk = consented(library)
    to_first_question(talk)
    talk.say("Ik kook elke dag.")
    assert talk.position == ("oefening-1", "nemen")
    talk.command("back")
    assert talk.position == ("oefening-1", "geven")
    talk.command("back")
    assert talk.position == ("oefening-1", "naam")
    talk.command("back")
    assert talk.position == ("oefening-1", "relatie")
    assert talk.state.run(talk.state.at.run).answers["geven"].value == "Ik kook elke dag."


def test_an_old_button_pressed_again_changes_nothing(library):
    talk = consented(library)
    talk.start(flow="oefening-1")
    talk.press_option("_next")
    old_relation_buttons = talk.buttons()
    talk.press_option("partner")
    before = talk.state
    talk.send(ChoiceMade(token=old_relation_buttons[2].token))
    assert talk.keys[0] == "common:stale-button"
    assert talk.position == ("oefening-1", "naam")
    assert talk.state.run(before.at.run).answers == before.run(before.at.run).answers


def test_a_made_up_token_is_answered_kindly(library):
    talk = consented(library)
    talk.start(flow="oefening-1")
    for token in ("", ":", "x:forget:ja", "r1:doel:_next:extra", "rzz:relatie:partner"):
        talk.send(ChoiceMade(token=token))
        assert talk.keys[0] == "common:stale-button"
    assert not any(isinstance(e, DeletionRequested) for e in talk.effects)


def test_a_sticker_gets_a_kind_answer_and_the_question_again(library):
    talk = consented(library)
    talk.start(flow="oefening-1")
    talk.press_option("_next")
    talk.media("sticker")
    assert talk.keys[0] == "common:media.sticker"
    assert talk.last[-1].buttons, "the question is asked again, with its buttons"
    assert talk.position == ("oefening-1", "relatie")


def test_text_where_a_choice_was_expected_is_matched_to_a_button(library):
    talk = consented(library)
    talk.start(flow="oefening-1")
    talk.press_option("_next")
    talk.say("Partner")
    assert talk.position == ("oefening-1", "naam")
    talk.command("back")
    talk.say("2")
    assert talk.state.run(talk.state.at.run).answers["relatie"].value == "vriend"
    talk.command("back")
    talk.say("mijn buurvrouw")
    assert talk.texts[0].startswith("Je woorden heb ik als notitie bij deze vraag bewaard.")
    assert talk.position == ("oefening-1", "relatie"), "the choice is offered once more"
    assert "Partner" in [b.label for b in talk.buttons()]
    note = talk.saved()[-1]
    assert (note.kind, note.step, note.value) == ("note", "relatie", "mijn buurvrouw")


def test_a_checkin_in_the_middle_of_an_exercise_returns_to_where_you_were(library):
    talk = consented(library)
    walk_exercise_one(talk)
    talk.press_option("morgen")  # the plan reminder, tomorrow
    at = talk.position
    talk.wait(timedelta(days=1))
    talk.deliver_due()
    keys = [key for m in talk.messages[-6:] for key in m.keys]
    assert "oefening-1:herinnering" in keys
    assert "common:back-where-you-were" in keys
    assert talk.position == at


def test_a_checkin_much_later_than_planned_says_so_kindly(library):
    talk = consented(library)
    walk_exercise_one(talk)
    talk.press_option("morgen")
    talk.wait(timedelta(days=3))
    delivered = talk.deliver_due()
    assert delivered[0][0].keys[0] == "common:late", "said first"


def test_daily_checkin_at_eight_follows_the_clock_across_daylight_saving(library):
    talk = consented(library)
    talk.command("time", "20:00")
    daily = [c for c in talk.pending if c.kind == "daily"]
    # Monday 20:00 in Amsterdam has just begun, so the first is Tuesday at 20:00 (19:00 UTC).
    assert daily[0].due_at.isoformat() == "2026-03-03T19:00:00+00:00"
    talk.wait(timedelta(days=26, hours=1))  # Saturday 28 March, 21:00; summer time starts Sunday
    talk.deliver_due()
    nxt = [c for c in talk.pending if c.kind == "daily"]
    assert nxt[0].due_at.isoformat() == "2026-03-29T18:00:00+00:00"
    assert talk.position is None  # 26 days late, the day it asked about is long gone: let go
    talk.now = nxt[0].due_at
    talk.deliver_due()
    assert talk.position[0] == "dagelijks"


def test_time_off_cancels_the_daily_checkin(library):
    talk = consented(library)
    talk.command("time", "20:00")
    talk.command("time", "uit")
    assert isinstance(talk.effects[-1], CancelCheckins)
    assert talk.state.checkin_time is None


def test_pause_and_resume(library):
    talk = consented(library)
    talk.command("pause")
    assert talk.state.paused and talk.keys == ["common:paused"]
    talk.command("pause")
    assert talk.keys == ["common:already-paused"]
    talk.command("resume")
    assert not talk.state.paused and talk.keys == ["common:resumed"]


def test_forget_asks_first_and_deletes_only_after_yes(library):
    talk = consented(library)
    walk_exercise_one(talk)
    talk.command("forget")
    assert not any(isinstance(e, DeletionRequested) for e in talk.effects)
    talk.press_option("nee")
    assert talk.state.consent == "given"
    talk.command("forget")
    talk.press_option("ja")
    assert isinstance(talk.effects[-1], DeletionRequested)
    assert talk.state.runs == () and talk.state.at is None


def test_mine_and_export_ask_the_shell_and_then_continue(library):
    talk = consented(library)
    talk.start(flow="oefening-1")
    talk.command("mine")
    assert isinstance(talk.effects[-1], ShowAnswers)
    assert talk.last[-1].buttons, "the current question comes again"
    talk.command("export")
    assert isinstance(talk.effects[-1], ExportRequested)


def test_a_crisis_message_gets_help_first_and_holds_checkins(library):
    talk = consented(library)
    walk_exercise_one(talk)
    talk.say("Ik wil er niet meer zijn.")
    assert talk.keys[0] == "common:crisis.help"
    assert "113" in talk.texts[0] and "0800-0113" in talk.texts[0] and "112" in talk.texts[0]
    assert talk.state.held_until == MONDAY_EVENING + timedelta(days=1)
    talk.press_option("continue")
    assert talk.keys[0] == "common:crisis.continued"


@pytest.mark.parametrize(("lang", "reply"), [("nl", "ja"), ("nl", "Nee"), ("en", "Yes.")])
def test_a_typed_yes_or_no_after_crisis_help_pauses_and_answers_no_exercise_question(
    library, lang, reply
):
    talk = consented(library, lang=lang)
    to_first_question(talk)
    talk.say("Ik wil niet meer leven.")
    assert talk.keys[0] == "common:crisis.help"
    saved = len(talk.saved())
    talk.say(reply)
    assert talk.keys == ["common:crisis.paused"]
    assert len(talk.saved()) == saved, "the typed reply is no answer to the exercise's question"
    assert talk.position == ("oefening-1", "geven"), "the exercise waits where the person was"


def test_ordinary_sadness_gets_no_helplines(library):
    talk = consented(library)
    to_first_question(talk)
    talk.say("Ik schaam me dood als ik eraan denk, en ik ben doodmoe.")
    assert "common:crisis.help" not in talk.keys


def test_language_can_change_midway(library):
    talk = consented(library)
    talk.start(flow="oefening-1")
    talk.command("language")
    talk.press_option("en")
    assert talk.state.lang == "en"
    assert talk.last[-1].buttons[0][0].label == "Continue" or talk.last[-1].buttons


def test_every_button_token_fits_telegram(library):
    talk = consented(library)
    walk_exercise_one(talk)
    for message in talk.messages:
        for row in message.buttons:
            for button in row:
                assert len(button.token.encode()) <= tokens.LIMIT


def test_someone_on_a_removed_step_is_moved_where_the_flow_says(library):
    flows = dict(library.flows)
    old = flows["oefening-1"]
    steps = {k: v for k, v in old.steps.items() if k != "nemen"}
    flows["oefening-1"] = dataclasses.replace(
        old, steps=steps, version=2, moved={"nemen": "balans"}
    )
    changed = dataclasses.replace(library, flows=flows)
    talk = consented(library)
    to_first_question(talk)
    talk.say("Veel.")
    assert talk.position == ("oefening-1", "nemen")
    later = Conversation(changed, talk.now, talk.state)
    later.start()
    assert later.position == ("oefening-1", "balans")


def test_repeat_checkins_come_back_at_the_chosen_cadence(library):
    talk = consented(library)
    walk_exercise_one(talk)
    for _ in range(60):
        if talk.position is None or talk.position[1] == "herhalen":
            break
        talk.press_option(
            "morgen"
            if talk.position[1] == "wanneer"
            else "week"
            if talk.position[1] == "evaluatie-moment"
            else "_skip"
        )
    talk.press_option("elke-twee-weken")
    repeat = [c for c in talk.pending if c.kind == "repeat"]
    assert len(repeat) == 1 and repeat[0].every == "14d" and repeat[0].run is None
    scheduled = [e for e in talk.effects if isinstance(e, ScheduleCheckin)]
    assert {e.checkin.kind for e in scheduled} >= {"reminder", "evaluation", "repeat"}


def test_flows_imports_no_io_and_reads_no_clock():
    forbidden = {
        "bot",
        "telegram",
        "sqlmodel",
        "sqlalchemy",
        "apscheduler",
        "asyncio",
        "httpx",
        "socket",
        "urllib",
        "requests",
        "os",
        "subprocess",
        "time",
    }
    for path in (ROOT / "flows").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
        source = path.read_text(encoding="utf-8")
        assert not re.search(
            r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time)\(", source
        ), f"{path.name} reads the clock"
        assert "open(" not in source, f"{path.name} opens a file"


def test_editing_the_latest_answer_updates_it(library):
    from flows.events import TextEdited, TextReceived

    talk = consented(library)
    to_first_question(talk)
    talk.send(TextReceived(text="Ik kook elk dga.", ref="m41"))
    talk.send(TextEdited(text="Ik kook elke dag.", ref="m41"))
    assert talk.keys == ["common:edit.saved"]
    saved = [e for e in talk.saved() if e.step == "geven"]
    assert [e.value for e in saved] == ["Ik kook elk dga.", "Ik kook elke dag."]
    assert saved[0].item == saved[1].item, "the edit replaces the same answer"
    assert talk.state.run(talk.state.at.run).answers["geven"].value == "Ik kook elke dag."
    talk.send(TextReceived(text="Hij luistert.", ref="m42"))
    talk.send(TextEdited(text="Iets anders", ref="m41"))
    assert talk.keys == ["common:edit.not-latest"]
    assert talk.state.run(talk.state.at.run).answers["geven"].value == "Ik kook elke dag."


def test_an_unanswered_daily_checkin_is_replaced_by_the_next_not_stacked(library):
    talk = consented(library)
    talk.command("time", "20:00")
    talk.wait(timedelta(days=1, hours=1))
    talk.deliver_due()
    assert talk.position == ("dagelijks", "checkin")
    talk.wait(timedelta(days=1))
    talk.deliver_due()
    assert talk.position == ("dagelijks", "checkin")
    assert talk.state.suspended == ()


def test_a_forget_question_left_unanswered_never_deletes_later(library):
    talk = consented(library)
    walk_exercise_one(talk)
    talk.command("forget")
    talk.command("pause")  # changed their mind and did something else
    talk.say("ja")  # …later, "ja" as an answer to some question
    assert not any(isinstance(e, DeletionRequested) for e in talk.effects)


def go_to_step(talk: Conversation, step_id: str) -> None:
    for _ in range(80):
        if talk.position and talk.position[1] == step_id:
            return
        options = [option_of(b.token) for b in talk.buttons()]
        talk.press_option(
            "morgen" if "morgen" in options else "_skip" if "_skip" in options else "_next"
        )
    raise AssertionError(f"never reached {step_id}")


def test_changing_the_evaluation_moment_after_going_back_leaves_one_evaluation(library):
    talk = consented(library)
    walk_exercise_one(talk)
    go_to_step(talk, "evaluatie-moment")
    talk.press_option("week")
    talk.command("back")
    talk.press_option("maand")
    evaluations = [c for c in talk.pending if c.kind == "evaluation"]
    assert len(evaluations) == 1
    assert evaluations[0].due_at.date().isoformat() == "2026-04-01"


def test_back_within_an_evaluation_stays_within_it(library):
    talk = consented(library)
    walk_exercise_one(talk)
    go_to_step(talk, "evaluatie-moment")
    talk.press_option("week")
    go_to_step(talk, "herhalen")
    talk.press_option("niet")
    talk.wait(timedelta(days=8))
    talk.deliver_due()
    talk.deliver_due()
    assert talk.position == ("oefening-1", "balans-nu")
    talk.command("back")
    assert talk.keys[0] == "common:nothing-to-go-back-to"
    assert talk.position == ("oefening-1", "balans-nu")


def test_writing_a_shorter_list_after_going_back_drops_the_old_items(library):
    from flows.effects import ForgetAnswer

    talk = consented(library)
    walk_exercise_one(talk)
    talk.command("back")  # back from wanneer… to plan, situaties is further back
    go_back_to = "situaties"
    for _ in range(10):
        if talk.position[1] == go_back_to:
            break
        talk.command("back")
    assert talk.position[1] == go_back_to
    talk.say("Alleen deze nog.")
    talk.press_option("_done")
    forget = [e for e in talk.effects if isinstance(e, ForgetAnswer)]
    assert forget and forget[-1].from_item == 1 and forget[-1].step == "situaties"
    assert talk.state.run(talk.state.at.run).answers["situaties"].value == ["Alleen deze nog."]


def test_skipping_a_question_answered_before_takes_the_answer_back(library):
    from flows.effects import ForgetAnswer

    talk = consented(library)
    to_first_question(talk)
    talk.say("Iets wat ik liever niet had geschreven.")
    talk.command("back")
    talk.press_option("_skip")
    assert "geven" not in talk.state.run(talk.state.at.run).answers
    assert any(isinstance(e, ForgetAnswer) and e.step == "geven" for e in talk.effects)


def test_crisis_words_in_an_edit_get_help_and_replace_the_answer_marked(library):
    from flows.events import TextEdited, TextReceived

    talk = consented(library)
    to_first_question(talk)
    talk.send(TextReceived(text="Ik geef veel.", ref="m1"))
    before = len(talk.saved())
    talk.send(TextEdited(text="Ik wil niet meer leven.", ref="m1"))
    assert talk.keys[0] == "common:crisis.help"
    assert "common:edit.saved" not in talk.keys, "help first, no talk of answers"
    assert len(talk.saved()) == before + 1
    edit = talk.saved()[-1]
    assert (edit.step, edit.value, edit.crisis) == ("geven", "Ik wil niet meer leven.", True)
    assert talk.state.run(talk.state.at.run).answers["geven"].crisis == (0,)


def test_reading_the_poem_mid_exercise_leads_back_to_the_exercise(library):
    talk = consented(library)
    to_first_question(talk)
    talk.command("menu")
    talk.press_option("gedicht")
    assert "opening:gedicht" in talk.keys
    assert "common:back-where-you-were" in talk.keys
    assert talk.position == ("oefening-1", "geven")
