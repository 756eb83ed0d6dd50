"""`kern-coach db copy`: a real SQLite file to the test PostgreSQL and back, everything arrives,
and the coach carries on in the copy."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.cli import main
from bot.coach import Coach
from bot.storage import db
from bot.storage.copy import tables
from bot.storage.migrations import upgrade_engine
from bot.storage.store import Store
from flows.events import TextReceived
from tests.bot.test_coach import CHANNEL, Person, go_to
from tests.databases import postgres_schema


@pytest.fixture
def postgres_url():
    """A URL for a fresh, empty schema of the test PostgreSQL (dropped afterwards)."""
    with postgres_schema() as url:
        yield url


def everything(url: str) -> dict[str, list[tuple]]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                t.name: sorted(tuple(row) for row in connection.execute(sa.select(t)))
                for t in tables()
            }
    finally:
        engine.dispose()


def a_coach_with_history(url: str, library, clock) -> None:
    engine = db.make_engine(url)
    upgrade_engine(engine)
    coach = Coach(library, Store(engine), clock)
    for address in ("p1", "p2"):
        person = Person(coach, address)
        person.agree()
        person.start(flow="oefening-1")
        person.press("_next")
        person.press("partner")
        person.press("_skip")  # how to call the other
        person.say(f"Ik geef {address} mijn tijd.")
        go_to(person, "oefening-1:balans")
        person.command("time", "20:00")
    coach.handle(CHANNEL, "p2", TextReceived(text="nog niet gelezen"), update_id=31)  # outbox
    engine.dispose()


def test_db_copy_moves_everything_to_postgresql_and_back(
    tmp_path, postgres_url, library, clock, capsys
):
    first = f"sqlite:///{tmp_path / 'first.db'}"
    back = f"sqlite:///{tmp_path / 'back.db'}"
    a_coach_with_history(first, library, clock)
    original = everything(first)
    assert all(original[name] for name in ("person", "run", "answer", "checkin", "outbox"))

    assert main(["db", "copy", first, postgres_url]) == 0
    there = capsys.readouterr().out
    assert main(["db", "copy", postgres_url, back]) == 0
    assert everything(back) == original
    assert everything(postgres_url) == original
    assert "the counts agree" in there and f"answer: {len(original['answer'])} →" in there

    # The coach carries on in the copy: new rows get new ids (the sequences were moved on).
    engine = db.make_engine(postgres_url)
    coach = Coach(library, Store(engine), clock)
    clock.advance(timedelta(minutes=5))
    newcomer = Person(coach, "p3")
    newcomer.agree()
    newcomer.start(flow="oefening-1")
    newcomer.press("_next")
    newcomer.press("partner")
    newcomer.press("_skip")  # how to call the other
    newcomer.say("Ik ben nieuw.")
    engine.dispose()
    after = everything(postgres_url)
    assert len(after["person"]) == 3 and len(after["answer"]) > len(original["answer"])


def test_db_copy_refuses_a_target_that_holds_data(tmp_path, library, clock, capsys):
    first = f"sqlite:///{tmp_path / 'first.db'}"
    second = f"sqlite:///{tmp_path / 'second.db'}"
    a_coach_with_history(first, library, clock)
    a_coach_with_history(second, library, clock)
    before = everything(second)
    assert main(["db", "copy", first, second]) == 1
    assert "not empty" in capsys.readouterr().err
    assert everything(second) == before


def test_db_copy_whose_counts_differ_leaves_the_target_empty(tmp_path, library, clock, capsys):
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    a_coach_with_history(source, library, clock)
    engine = db.make_engine(target)
    upgrade_engine(engine)
    with engine.begin() as connection:  # a target that loses the answers it is given
        connection.exec_driver_sql(
            "CREATE TRIGGER lose AFTER INSERT ON answer BEGIN DELETE FROM answer; END"
        )
    engine.dispose()

    assert main(["db", "copy", source, target]) == 1
    assert "counts differ" in capsys.readouterr().err
    assert all(rows == [] for name, rows in everything(target).items() if name != "alembic_version")


def test_db_copy_takes_its_urls_from_the_environment_so_no_password_is_on_the_command_line(
    tmp_path, library, clock, capsys, monkeypatch
):
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    a_coach_with_history(source, library, clock)
    monkeypatch.delenv("KERN_COACH_COPY_TO", raising=False)
    monkeypatch.setenv("KERN_COACH_COPY_FROM", source)
    assert main(["db", "copy"]) == 2
    assert "KERN_COACH_COPY_TO" in capsys.readouterr().err

    monkeypatch.setenv("KERN_COACH_COPY_TO", target)
    assert main(["db", "copy"]) == 0
    assert "the counts agree" in capsys.readouterr().out
    assert everything(target) == everything(source)
