"""One participant does exercise 1 from start to end on Telegram, and a week later the
evaluation quotes what they wrote. The real channel, over HTTP, against the fake Bot API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from flows.tokens import Token, option_of
from tests.bot.test_telegram_harness import Harness, Person, original
from tests.fakes.telegram_api import FakeBotAPI

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = yaml.safe_load((ROOT / "tests/golden/answers-oefening-1.yaml").read_text("utf-8"))


# The channel calls `Bot.do_api_request` where it reads only part of Telegram's answer; pytest
# shows PTB's hint about the typed methods again in every test (the module filters it once).
pytestmark = pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning")


@pytest.fixture
def fake():
    with FakeBotAPI() as server:
        yield server


def current_step(person: Person) -> tuple[str, list[str]]:
    """The step the coach waits at, and the options its buttons offer, read from the tokens."""
    tokens = [data for _, data in person.buttons()]
    assert tokens, f"no buttons after {person.seen[-1]!r}"
    step = Token.parse(tokens[0]).step
    return step, [option_of(t) for t in tokens]


async def do_exercise(person: Person, answers: dict, until_step: str) -> None:
    """Answer as the golden transcript does: a button where one is named, text where text is
    asked, Verder to read on, and skip the rest; until the coach waits at `until_step`."""
    for _ in range(60):
        step, options = current_step(person)
        if step == until_step:
            return
        answer = answers.get(step)
        if isinstance(answer, list):  # one situation per message, then Klaar
            for item in answer:
                await person.says(item)
            await person.chooses("_done")
        elif answer in options:
            await person.chooses(answer)
        elif answer is not None:
            await person.says(str(answer))
        elif "_next" in options:
            await person.chooses("_next")
        else:
            await person.chooses("_skip")
    raise AssertionError("the exercise did not end")


async def test_a_whole_exercise_and_the_week_evaluation_quoting_it(
    tmp_path, database_url, fake, library
):
    async with Harness(tmp_path, fake, url=database_url) as harness:
        person = harness.person(77)
        await person.says("/start")
        await person.chooses("_next")
        await person.chooses("ja")
        await person.says("/menu")
        await person.chooses("oefening-1")
        await do_exercise(person, ANSWERS, until_step="kies")  # back at the menu
        stored = harness.answers(77)
        checkins = harness.rows("SELECT kind, status FROM checkin ORDER BY due_at")

        # Eight days later the reminder and the week evaluation fall due.
        before = len(person.messages)
        harness.coach.clock.offset += timedelta(days=8)
        await harness.channel.scheduler.dispatch()
        await harness.settled(77)
        later = [original(m) for m in person.messages[before:]]

    for step in ("geven", "nemen", "toelichting", "geven-voelen", "plan", "hoe"):
        assert stored[step] == ANSWERS[step], step
    assert stored["relatie"] == "familielid" and stored["balans"] == "geef-veel"
    assert [stored["situaties"], stored["situaties.1"]] == ANSWERS["situaties"]
    assert ("evaluation", "pending") in [tuple(c) for c in checkins]

    evaluation = "\n".join(later)
    assert ANSWERS["plan"] in evaluation
    assert ANSWERS["toelichting"] in evaluation
    assert "Toen ik niet durfde te zeggen dat ik moe was." in evaluation
    step, _ = current_step(person)
    assert step == "balans-nu"  # and the evaluation asks its questions
    assert all(len(m.plain or "") <= 4096 for m in person.messages)


async def to_the_first_question(person: Person) -> None:
    await person.says("/start")
    await person.chooses("_next")
    await person.chooses("ja")
    await person.says("/start oefening-1")
    await person.chooses("_next")
    await person.chooses("partner")
    await person.chooses("_skip")  # how to call the other
    assert current_step(person)[0] == "geven"


async def test_the_gentle_question_on_telegram_and_each_answer(tmp_path, fake, library):
    unsure = "Ik zie geen toekomst meer voor mezelf."
    async with Harness(tmp_path, fake) as harness:
        asked = {}
        for chat, option in ((81, "in-danger"), (82, "not-like-that"), (83, "rather-not")):
            person = harness.person(chat)
            await to_the_first_question(person)
            question = [original(m) for m in await person.says(unsure)]
            labels = [label for label, _ in person.buttons()]
            reply = [original(m) for m in await person.chooses(option)]
            asked[option] = (question, labels, reply, current_step(person))
        kept = harness.answers(82)

    question, labels, reply, _ = asked["in-danger"]
    assert "Ik lees iets wat zwaar klinkt." in question[-1] and "1813" in question[-1]
    assert labels == ["Ja", "Nee, niet zo", "Liever niet zeggen"]
    assert "Zelfmoordpreventie" in reply[0] and "0800-0113" in reply[0]
    assert asked["in-danger"][3][1] == ["pause", "continue"]  # help first, then pause or go on

    _, _, reply, (step, _) = asked["not-like-that"]
    assert "We gaan verder waar je was." in reply[0] and step == "nemen"
    assert kept["geven"] == unsure, "what they wrote is kept as the answer"

    _, _, reply, (step, _) = asked["rather-not"]
    assert "113" in reply[0] and "1813" in reply[0] and step == "nemen"
