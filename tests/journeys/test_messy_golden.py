"""Golden "messy" journeys, one per exercise, in Dutch, read as prose: a person who double-texts,
pastes, types words where a choice was asked and writes a crisis sentence in a list, through the
real coach on a real database, with the daily check-in, quiet nights, a pause of a week and the
coach down for a week (tests/journeys/messy.py). Rewritten by `UPDATE_GOLDEN=1`; read the diff
like a conversation before committing it."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from bot.clock import FixedClock
from bot.coach import Coach
from bot.storage import db, migrations
from bot.storage.store import Store
from tests.journeys.messy import Journey

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CRISIS = {
    "oefening-1": "Soms wil ik nooit meer wakker worden.",
    "oefening-2": "Ik zie het soms niet meer zitten en wil er niet meer zijn.",
}
NAME = {"oefening-1": "Marieke", "oefening-2": "Sam"}


def play(library, database_url: str, flow: str) -> str:
    scenario = yaml.safe_load((GOLDEN / f"messy-{flow}.yaml").read_text(encoding="utf-8"))
    engine = db.make_engine(database_url)
    try:
        migrations.upgrade_engine(engine)
        clock = FixedClock(datetime.fromisoformat(scenario["start"]))
        return Journey(library, Coach(library, Store(engine), clock), clock, scenario).play()
    finally:
        engine.dispose()


def conversations(text: str) -> list[str]:
    """The journey cut where time passes: each part is one conversation."""
    return re.split(r"\n── .* ──\n", text)


@pytest.mark.parametrize("flow", ["oefening-1", "oefening-2"])
def test_the_messy_journey_reads_as_the_golden_file(library, database_url, flow):
    got = play(library, database_url, flow)
    path = GOLDEN / f"messy-{flow}.nl.txt"
    if os.environ.get("UPDATE_GOLDEN") and database_url.startswith("sqlite"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file yet: run with UPDATE_GOLDEN=1 to write {path.name}"
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("flow", ["oefening-1", "oefening-2"])
def test_the_messy_journey_listens_as_a_person_would_notice(flow):
    text = (GOLDEN / f"messy-{flow}.nl.txt").read_text(encoding="utf-8")
    coach_lines = [line for line in text.splitlines() if line.startswith("coach:")]
    # The crisis sentence is never said back, not in the evaluation nor anywhere else.
    assert not any(CRISIS[flow] in line for line in coach_lines)
    # However many check-ins were due at once, "later than planned" is said at most once each
    # time the coach comes back.
    assert all(part.count("later dan gepland") <= 1 for part in conversations(text))
    # The evaluation calls the other person by the name given at step 1.
    evaluation = text[text.index("Tijd om terug te kijken") :]
    assert NAME[flow] in evaluation.splitlines()[0]
    # A second message right after an answer was kept with it and quoted back with it.
    assert "Dit heb ik bij je vorige antwoord gezet." in text
    # Nothing arrives between 22:00 and 08:00: every time the coach came back by itself
    # (a header with what it said after it) is in the day.
    for hour, said in re.findall(r"\n── .* om (\d\d):\d\d.* ──\n\n(coach:)?", text):
        assert not said or 8 <= int(hour) < 22


def test_after_a_week_down_the_coach_waits_for_the_morning_and_then_speaks_once():
    text = (GOLDEN / "messy-oefening-1.nl.txt").read_text(encoding="utf-8")
    restart = text.rindex("\n", 0, text.index("(de coach lag een week stil en draait weer)"))
    after = conversations(text[restart:])[1:]
    assert after[0].strip() == ""  # at 03:00 it says nothing
    morning = after[1]
    assert morning.count("later dan gepland") == 1
    assert "wilde ik je al aan je plan herinneren" in morning  # the reminder, one line
    assert "Hoe was de balans tussen geven en nemen" not in morning  # the old daily: let go


def test_a_pause_of_a_week_says_when_it_ends_and_the_night_is_waited_out():
    text = (GOLDEN / "messy-oefening-2.nl.txt").read_text(encoding="utf-8")
    assert "De check-ins staan op pauze tot maandag 9 maart om 08:00." in text
    assert "── 6 dagen later: maandag 9 maart om 08:00 ──" in text  # the pause ended by itself
    # The evaluation fell due late on Monday evening, in the quiet hours: it came at 08:00,
    # not late.
    morning = text.index("\n── 9 uur later: dinsdag 10 maart om 08:00 ──")
    evaluation = conversations(text[morning:])[1]
    assert evaluation.startswith("\ncoach: Tijd om terug te kijken")
    assert "later dan gepland" not in evaluation
