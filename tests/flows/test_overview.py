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
    checkins = [CheckinRecord(kind="reminder", flow="oefening-1", due_at=MONDAY, status="pending")]
    text = overview.export_text(library, "nl", AMSTERDAM, [run("r1")], answers, checkins)
    lines = text.splitlines()
    assert lines[0].startswith("Tot de kern in jezelf")
    assert "== Oefening 1: de balans tussen geven en nemen, 2 maart 2026 ==" in lines
    assert "• Zondag bij mijn ouders" in lines and "• Op het werk" in lines
    assert lines[-2:] == [
        "Check-ins:",
        "- herinnering, Oefening 1: de balans tussen geven en nemen: maandag 2 maart om 20:00 "
        "(gepland)",
    ]


def test_a_long_question_is_kept_whole(library):
    line = overview.question_line(library, "nl", AMSTERDAM, "oefening-1:relatie.vraag")
    assert line == (
        "Kies een relatie die belangrijk voor je is. Dit kan een partner, vriend, familielid of "
        "collega zijn."
    )


def test_the_english_export_names_checkins_in_english_and_the_dutch_in_dutch(library):
    checkins = [
        CheckinRecord(kind=kind, flow="oefening-1", due_at=MONDAY, status=status)
        for kind, status in (("evaluation", "pending"), ("repeat", "done"), ("daily", "cancelled"))
    ]
    dutch = overview.export_text(library, "nl", AMSTERDAM, [], [], checkins)
    english = overview.export_text(library, "en", AMSTERDAM, [], [], checkins)
    for word in ("evaluatie", "herhaling", "dagelijkse check-in", "gepland", "geweest"):
        assert word in dutch
    for word in ("evaluation", "repeat", "pending", "reminder", "daily ("):
        assert word not in dutch
    assert "evaluation" in english and "planned" in english


def test_the_daily_question_shows_its_words_never_its_key(library):
    for key in ("dagelijks:vraag", "dagelijks:vragen.schuld"):
        answers = [
            AnswerRecord(
                run="r1",
                flow="dagelijks",
                step="vraag",
                kind="text",
                question=key,
                value="Ik voelde me schuldig.",
                answered_at=MONDAY,
            )
        ]
        runs = [RunRecord(run="r1", flow="dagelijks", started_at=MONDAY)]
        shown = overview.mine(library, "nl", AMSTERDAM, runs, answers)[1].plain
        exported = overview.export_text(library, "nl", AMSTERDAM, runs, answers, [])
        for text in (shown, exported):
            assert key not in text
            assert "dagelijks:" not in text


def test_a_question_longer_than_ninety_characters_is_whole_in_mine_and_both_exports(library):
    key = "oefening-1:ontvangen-voelen"
    whole = overview.question_line(library, "nl", AMSTERDAM, key)
    assert len(whole) > 90 and whole.endswith("?")
    answers = [answer("r1", "ontvangen-voelen", "text", "Ongemakkelijk.", key)]
    _, shown = overview.mine(library, "nl", AMSTERDAM, [run("r1")], answers)
    assert whole in shown.plain
    assert whole in overview.export_text(library, "nl", AMSTERDAM, [run("r1")], answers, [])


def test_an_evaluation_written_a_week_later_is_filed_under_its_own_date(library):
    later = AnswerRecord(
        run="r1",
        flow="oefening-1",
        step="balans-nu",
        kind="scale",
        question="oefening-1:balans-nu",
        value="gelijk",
        answered_at=MONDAY + timedelta(days=7),
    )
    answers = [answer("r1", "geven", "text", "Ik kook."), later]
    _, shown = overview.mine(library, "nl", AMSTERDAM, [run("r1")], answers)
    lines = shown.plain.splitlines()
    title = "Oefening 1: de balans tussen geven en nemen"
    assert lines.index(f"{title}, 9 maart") > lines.index("Ik kook.")
    assert lines.index(f"{title}, 9 maart") < lines.index("In balans")
    text = overview.export_text(library, "nl", AMSTERDAM, [run("r1")], answers, []).splitlines()
    assert text.index(f"== {title}, 9 maart 2026 ==") < text.index("In balans")
