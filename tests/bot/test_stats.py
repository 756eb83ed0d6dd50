"""`kern-coach stats` and `/metrics`: counts an operator or author can act on, never what a
person wrote, and nothing about fewer than five people at one step."""

from __future__ import annotations

from datetime import timedelta

from bot import stats
from bot.metrics import exposition
from flows.events import TextReceived
from tests.bot.test_coach import CHANNEL, Person

WORDS = "Ik geef mijn zus elke week een middag."


def six_people_at_taking(coach) -> list[Person]:
    """Six people in exercise 1 who wrote what they give and now are asked what they take."""
    people = []
    for n in range(6):
        person = Person(coach, f"p{n}")
        person.agree()
        person.start(flow="oefening-1")
        person.press("_next")
        person.press("partner")
        person.press("_skip")  # how to call the other
        person.say(f"{WORDS} ({n})")
        people.append(person)
    return people


def test_flow_counts_show_where_people_stop_and_hide_groups_under_five(coach, library):
    people = six_people_at_taking(coach)
    for person in people[:5]:
        person.press("_skip")  # past "what do you take", without an answer

    rows = {(r.flow, r.step): r for r in stats.flow_steps(coach.store.engine, library)}
    relation = rows[("oefening-1", "relatie")]
    giving = rows[("oefening-1", "geven")]
    taking = rows[("oefening-1", "nemen")]
    balance = rows[("oefening-1", "balans")]
    later = rows[("oefening-1", "toelichting")]

    assert (relation.reached, relation.standing, relation.skipped) == (6, 0, 0)
    assert (giving.reached, giving.skipped) == (6, 0)
    assert (taking.reached, taking.skipped) == (6, 5)
    assert taking.standing is None  # one person stands there: not shown
    assert (balance.reached, balance.standing) == (5, 5)
    assert (later.reached, later.standing, later.skipped) == (0, 0, 0)
    assert rows[("oefening-1", "doel")].skipped == 0  # a step that asks nothing is not skipped

    printed = stats.render_flow_steps(list(rows.values()))
    assert "<5" in printed and WORDS not in printed and "p1" not in printed


def test_flow_counts_leave_out_the_coachs_own_dialogues(coach, library):
    six_people_at_taking(coach)
    shown = {r.flow for r in stats.flow_steps(coach.store.engine, library)}
    dialogues = {f.id for f in library.flows.values() if f.kind == "dialogue"}
    assert dialogues and not shown & dialogues
    assert "oefening-1" in shown


def test_counts_cover_people_runs_checkins_and_the_outbox(coach, clock):
    people = six_people_at_taking(coach)
    people[0].command("time", "20:00")  # a daily check-in for one person
    people[2].command("time", "20:00")  # and one for somebody who then pauses
    people[2].command("pause")
    coach.outbox(CHANNEL).unreachable("p5")
    coach.handle(CHANNEL, "p1", TextReceived(text="nog iets"))  # replies left in the outbox
    # Tuesday 21:00 in Amsterdam: the daily check-in of 20:00 is an hour late (before the quiet
    # hours begin at 22:00).
    clock.advance(timedelta(days=1, hours=1))

    found = stats.counts(coach.store.engine, clock.now())
    assert found.people == {CHANNEL: 6}
    assert found.unreachable == 1
    assert found.active_runs.get("oefening-1") == 6
    assert (found.checkins_due, found.checkins_late, found.checkins_held) == (1, 1, 1)
    assert found.outbox_backlog >= 1
    assert found.oldest_unsent_seconds is not None and found.oldest_unsent_seconds >= 3600

    while coach.deliver_due():
        pass
    after = stats.counts(coach.store.engine, clock.now())
    assert (after.checkins_due, after.checkins_late, after.checkins_held) == (0, 0, 1)
    assert after.checkins_done_last_day == 1

    printed = stats.render_counts(after)
    assert "people: 6 (test 6)" in printed and WORDS not in printed


def test_metrics_are_prometheus_text_with_the_same_counts(coach, clock):
    six_people_at_taking(coach)
    text = exposition(coach.store.engine, clock.now).decode()
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(text)}
    people = {s.labels["channel"]: s.value for s in families["kern_coach_people"].samples}
    assert people == {CHANNEL: 6.0}
    runs = {s.labels["flow"]: s.value for s in families["kern_coach_active_runs"].samples}
    assert runs["oefening-1"] == 6.0
    assert "kern_coach_turn_seconds" in families and "kern_coach_send_seconds" in families
    assert "kern_coach_outbox_backlog" in families
    assert WORDS not in text


def test_the_stats_command_prints_counts_from_the_database_it_is_given(
    monkeypatch, database_url, library, clock, capsys
):
    from bot.cli import main
    from bot.coach import Coach
    from bot.storage import db
    from bot.storage.migrations import upgrade_engine
    from bot.storage.store import Store

    url = database_url
    engine = db.make_engine(url)
    upgrade_engine(engine)
    six_people_at_taking(Coach(library, Store(engine), clock))
    engine.dispose()
    monkeypatch.setenv("KERN_COACH_DATABASE_URL", url)

    assert main(["stats"]) == 0
    counts = capsys.readouterr().out
    assert main(["stats", "--flows"]) == 0
    steps = capsys.readouterr().out
    assert "people: 6 (test 6)" in counts and "outbox backlog: 0" in counts
    assert "oefening-1" in steps and WORDS not in counts + steps


def test_json_logs_are_one_object_per_line_without_the_exceptions_text(capsys):
    import json
    import logging

    from bot.app import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        configure_logging("INFO", "json")
        logging.getLogger("bot.test").info("turn person=%s", 7)
        try:
            raise ValueError(WORDS)
        except ValueError:
            logging.getLogger("bot.test").exception("failed")
    finally:
        root.handlers, level = saved
        root.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(r["level"], r["logger"], r["message"]) for r in lines] == [
        ("INFO", "bot.test", "turn person=7"),
        ("ERROR", "bot.test", "failed"),
    ]
    assert lines[1]["exception"] == "ValueError"
    assert all("time" in r for r in lines)


def test_counts_and_metrics_are_read_while_a_turn_holds_the_sqlite_write_lock(
    tmp_path, clock, library
):
    import sqlite3

    from bot.coach import Coach
    from bot.storage import db
    from bot.storage.migrations import upgrade_engine
    from bot.storage.store import Store

    path = tmp_path / "kern-coach.db"
    engine = db.make_engine(f"sqlite:///{path}")
    upgrade_engine(engine)
    Person(Coach(library, Store(engine), clock), "1").agree()
    turn = sqlite3.connect(path, isolation_level=None)
    turn.execute("BEGIN IMMEDIATE")  # a turn in progress, holding the write lock
    turn.execute("UPDATE person SET paused = 1")
    try:
        found = stats.counts(engine, clock.now())
        text = exposition(engine, clock.now).decode()
    finally:
        turn.execute("ROLLBACK")
        turn.close()
        engine.dispose()
    assert found.people == {CHANNEL: 1}  # what was committed before the turn began
    assert f'kern_coach_people{{channel="{CHANNEL}"}} 1.0' in text
