"""The balance over time in /mijn: drawn from stored answers as a PNG for Telegram (sent as a
photo with a one-line caption) and as rows of dots in the terminal."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import views
from bot.balance_chart import HEIGHT_PX, WIDTH_PX, render_png
from bot.channels.plain_text import render_balance as render_text
from bot.storage.models import Person as PersonRow
from flows import balance
from tests.bot.test_coach import Person, go_to
from tests.bot.test_telegram_harness import Harness
from tests.fakes.telegram_api import FakeBotAPI

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header chunk, after checking the chunk's checksum."""
    assert data.startswith(PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    header = data[16 : 16 + length]
    (checksum,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(kind + header) == checksum
    width, height = struct.unpack(">II", header[:8])
    assert data.endswith(b"IEND\xaeB`\x82")
    return width, height


def exercise_evaluation_and_two_days(coach, clock) -> Person:
    """Exercise 1 (a bit more giving), its evaluation a week later (in balance), then two daily
    check-ins (a bit more taking; much more giving)."""
    person = Person(coach)
    person.agree()
    person.start(flow="oefening-1")
    person.press("_next")
    person.press("partner")
    person.press("_skip")  # how to call the other
    person.say("Ik geef tijd.")
    person.say("Ik neem rust.")
    person.press("geef-wat")
    go_to(person, "oefening-1:evaluatie-moment.vraag")
    person.press("week")
    clock.advance(timedelta(days=8))
    while coach.deliver_due():
        pass
    person.take()
    person.press("gelijk")
    person.command("time", "20:00")
    for option in ("neem-wat", "geef-veel"):
        clock.advance(timedelta(days=1))
        while coach.deliver_due():
            pass
        person.take()
        person.press(option)
    return person


def chart_of(coach, library, lang: str = "nl") -> dict:
    with coach.store.transaction() as session:
        row = session.get(PersonRow, 1)
        payloads = views.balance_chart(session, row, library, lang)
    assert len(payloads) == 1
    return payloads[0].as_json()


def test_every_scale_answer_is_a_point_with_exercises_and_evaluations_marked(coach, clock, library):
    exercise_evaluation_and_two_days(coach, clock)
    with coach.store.transaction() as session:
        chart = views.balance_chart(session, session.get(PersonRow, 1), library, "nl")
    found = chart[0].points
    assert [(p["position"], p["kind"]) for p in found] == [
        (-1, "exercise"),
        (0, "evaluation"),
        (1, "daily"),
        (-2, "daily"),
    ]


def test_the_picture_is_a_png_the_size_of_a_phone_screen_that_changes_with_the_answers(
    coach, clock, library
):
    person = exercise_evaluation_and_two_days(coach, clock)
    before = render_png(chart_of(coach, library))
    assert png_size(before) == (WIDTH_PX, HEIGHT_PX)
    assert render_png(chart_of(coach, library)) == before  # the same answers, the same picture

    clock.advance(timedelta(days=1))
    while coach.deliver_due():
        pass
    person.take()
    person.press("neem-veel")
    after = render_png(chart_of(coach, library))
    assert png_size(after) == (WIDTH_PX, HEIGHT_PX)
    assert after != before


def test_the_terminal_shows_the_same_as_rows_of_dots_between_giving_and_taking(
    coach, clock, library
):
    exercise_evaluation_and_two_days(coach, clock)
    lines = render_text(chart_of(coach, library)).splitlines()
    caption, give, more_giving, balanced, more_taking, take, dates, legend = lines
    assert caption == library.texts.plain("nl", "common:mine.balance.caption", AMSTERDAM).strip()
    assert give.startswith("geven") and give.endswith("···●")
    assert more_giving.endswith("◆···")
    assert balanced.startswith("in balans") and balanced.endswith("·■··")
    assert more_taking.endswith("··●·")
    assert take.startswith("nemen") and take.endswith("····")
    assert "2 maart" in dates
    assert legend == "● dagelijks   ◆ oefening   ■ evaluatie"


def test_the_wording_holds_no_score_and_no_judgement(library):
    for lang in ("nl", "en"):
        for name in balance.TEXTS:
            text = library.texts.plain(lang, balance.TEXT_KEY.format(name), AMSTERDAM)
            assert text.strip() and "!" not in text
            assert not any(ch.isdigit() for ch in text)
            for word in ("goed", "slecht", "score", "good", "bad", "better", "beter", "%"):
                assert word not in text.lower().split()


def test_mine_without_a_scale_answer_has_no_picture(coach, library):
    person = Person(coach)
    person.agree()
    person.command("mine")
    with coach.store.transaction() as session:
        assert views.balance_chart(session, session.get(PersonRow, 1), library, "nl") == []


def test_the_points_and_their_words_come_from_plain_records_without_a_database(library):
    from datetime import UTC, datetime

    start = datetime(2027, 3, 1, 19, tzinfo=UTC)
    answers = [
        balance.ScaleAnswer("r1", "oefening-1", "geef-wat", start),
        balance.ScaleAnswer("r1", "oefening-1", "gelijk", start + timedelta(days=8)),
        balance.ScaleAnswer("d1", "dagelijks", "neem-veel", start + timedelta(days=9)),
        balance.ScaleAnswer("r1", "oefening-1", "niet-meer-op-de-schaal", start),
    ]
    evaluated = {"r1": start + timedelta(days=7)}
    (chart,) = balance.for_mine(answers, evaluated, library, "en", AMSTERDAM)
    shown = chart["balance"]
    assert [(p["position"], p["kind"]) for p in shown["points"]] == [
        (-1, "exercise"),
        (0, "evaluation"),
        (2, "daily"),
    ]
    assert set(shown["texts"]) == set(balance.TEXTS)
    assert shown["points"][0]["date"].startswith("1 March")
    assert balance.for_mine([], {}, library, "nl", AMSTERDAM) == []


@pytest.fixture
def fake():
    with FakeBotAPI() as server:
        yield server


@pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning")
async def test_on_telegram_mine_sends_the_picture_as_a_photo_with_a_one_line_caption(
    tmp_path, fake, library
):
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(8)
        await person.says("/start")
        await person.chooses("_next")
        await person.chooses("ja")
        await person.says("/menu")
        await person.chooses("oefening-1")
        await person.chooses("_next")
        await person.chooses("familielid")
        await person.chooses("_skip")  # how to call the other
        await person.says("Ik geef aandacht.")
        await person.says("Ik neem advies aan.")
        await person.chooses("neem-wat")
        shown = await person.says("/mijn")

    photos = [m for m in shown if m.photo is not None]
    assert len(photos) == 1
    caption = library.texts.plain("nl", "common:mine.balance.caption", AMSTERDAM).strip()
    assert photos[0].plain == caption and "\n" not in caption
    assert png_size(photos[0].photo.content) == (WIDTH_PX, HEIGHT_PX)
    quoted = max(i for i, m in enumerate(shown) if "Ik geef aandacht." in (m.plain or ""))
    assert shown.index(photos[0]) > quoted  # after the answers themselves


def test_matplotlib_is_loaded_only_when_a_picture_is_drawn():
    import subprocess
    import sys

    probe = (
        "import sys, bot.coach, bot.channels.console, bot.channels.telegram; "
        "print('matplotlib' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning")
async def test_a_chart_that_cannot_be_drawn_is_left_out_and_the_chat_goes_on(
    tmp_path, fake, library, caplog
):
    from bot.storage import store

    async with Harness(tmp_path, fake) as harness:
        person = harness.person(9)
        await person.says("/start")
        # A chart from another version that cannot be drawn, waiting to be sent.
        broken = {"texts": {"caption": "Je balans."}, "points": [{"at": "kapot"}]}
        with harness.coach.store.transaction() as session:
            store.add_outgoing(
                session,
                person_id=harness.person_row(9).id,
                channel="telegram",
                address="9",
                payloads=[{"key": "common:mine.balance", "balance": broken}],
                now=harness.coach.clock.now(),
            )
        shown = await person.chooses("_next")

    assert [m.plain for m in shown][0] == "Je balans."  # the caption, without the picture
    assert len(shown) > 1  # and what the person asked for after it
    assert not any(m.photo is not None for m in shown)
    assert any("could not be drawn (ValueError)" in r.getMessage() for r in caplog.records)
