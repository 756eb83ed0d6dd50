"""What `/mijn` and `/export` say, made from stored answers handed in as plain records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flows import defaults, overview
from flows.messages import Quote
from flows.overview import AnswerRecord, CheckinRecord, RunRecord

AMSTERDAM = ZoneInfo(defaults.TIMEZONE)
MONDAY = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


def run(key: str, days: int = 0) -> RunRecord:
    return RunRecord(run=key, flow="oefening-1", started_at=MONDAY + timedelta(days=days))


def answer(run_key: str, step: str, kind: str, value: object, question: str = "") -> AnswerRecord:
    return AnswerRecord(
        run=run_key,
        flow="oefening-1",
        step=step,
        kind=kind,
        question=question or f"oefening-1:{step}",
        value=value,
        answered_at=MONDAY + timedelta(minutes=5),
    )


def test_mine_with_nothing_stored_says_so(library):
    messages = overview.mine(library, "nl", AMSTERDAM, [run("r1")], [])
    assert [m.key for m in messages] == ["common:mine.empty"]


def test_mine_quotes_the_persons_words_under_the_question(library):
    answers = [
        answer("r1", "relatie", "choice", "collega", "oefening-1:relatie.vraag"),
        answer("r1", "geven", "text", "Ik neem <b>zijn</b> diensten over."),
    ]
    header, shown = overview.mine(library, "nl", AMSTERDAM, [run("r1")], answers)
    assert header.plain == "Dit schreef je:"
    lines = shown.plain.splitlines()
    assert lines[0] == "Oefening 1: de balans tussen geven en nemen, 2 maart"
    assert "Collega" in lines, "a choice is shown by its label"
    assert "Ik neem <b>zijn</b> diensten over." in lines, "words come back as written"
    quoted = [p for paragraph in shown.paragraphs for p in paragraph if isinstance(p, Quote)]
    assert [s.text for q in quoted for s in q.spans if s.theirs] == [
        "Ik neem <b>zijn</b> diensten over."
    ]
    assert shown.quotes


def test_mine_shows_the_newest_runs_and_says_how_many_more_export_has(library):
    runs = [run(f"r{i}", days=i) for i in range(10)]
    answers = [answer(r.run, "geven", "text", f"antwoord {r.run}") for r in runs]
    messages = overview.mine(library, "nl", AMSTERDAM, runs, answers)
    shown = [m for m in messages if m.key == "common:mine.run"]
    assert len(shown) == overview.OVERVIEW_RUNS
    assert "antwoord r9" in shown[0].plain and "antwoord r2" in shown[-1].plain
    assert messages[-1].plain.startswith("Er zijn nog 2 eerdere keren.")


def test_an_option_that_no_longer_exists_shows_what_was_stored(library):
    answers = [answer("r1", "relatie", "choice", "buurman", "oefening-1:relatie.vraag")]
    _, shown = overview.mine(library, "nl", AMSTERDAM, [run("r1")], answers)
    assert "buurman" in shown.plain.splitlines()


def test_export_lists_each_question_its_answer_and_the_checkins(library):
    answers = [
        answer("r1", "situaties", "entries", "Zondag bij mijn ouders"),
        answer("r1", "situaties", "entries", "Op het werk"),
    ]
    checkins = [CheckinRecord(kind="daily", flow="dagelijks", due_at=MONDAY, status="scheduled")]
    text = overview.export_text(library, "nl", AMSTERDAM, [run("r1")], answers, checkins)
    lines = text.splitlines()
    assert lines[0].startswith("Tot de kern in jezelf")
    assert "== Oefening 1: de balans tussen geven en nemen, 2 maart 2026 ==" in lines
    assert "• Zondag bij mijn ouders" in lines and "• Op het werk" in lines
    assert lines[-2:] == ["Check-ins:", "- daily (dagelijks): maandag 2 maart om 20:00 [scheduled]"]


def test_a_long_question_is_shortened_to_one_line(library):
    line = overview.question_line(library, "nl", AMSTERDAM, "oefening-1:relatie.vraag")
    assert line.startswith("Kies een relatie die belangrijk voor je is.")
    assert len(line) == overview.QUESTION_CHARS and line.endswith("…")
