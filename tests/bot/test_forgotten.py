"""The deletion list: someone who used /vergeet stays deleted when an older backup is restored,
with a real SQLite backup and restore; the list holds no words and no platform id."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.app import build_coach
from bot.config import Config
from bot.forgotten import KEEP, DeletionList
from tests.bot.test_coach import Person

WORDS = "Mijn broer weet niet wat ik voor hem doe."


def start(path) -> tuple:
    """The coach as `kern-coach` starts it on this file (migrations, then the deletion list)."""
    coach = build_coach(Config(database_url=f"sqlite:///{path}"))
    return coach, coach.store.engine


def addresses(engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(r[0] for r in connection.execute(sa.text("SELECT address FROM person")))


def words_stored(engine) -> bool:
    with engine.connect() as connection:
        values = connection.execute(sa.text("SELECT value FROM answer")).scalars().all()
    return any(WORDS in v for v in values)


def in_exercise(coach, address: str, words: str) -> Person:
    person = Person(coach, address)
    person.agree()
    person.start(flow="oefening-1")
    person.press("_next")
    person.press("partner")
    person.press("_skip")  # how to call the other
    person.say(words)
    return person


def test_someone_forgotten_after_a_backup_stays_forgotten_when_it_is_restored(tmp_path):
    database = tmp_path / "kern-coach.db"
    backup = tmp_path / "backup" / "kern-coach.db"
    backup.parent.mkdir()
    coach, engine = start(database)
    leaving = in_exercise(coach, "1001", WORDS)
    in_exercise(coach, "1002", "Ik blijf.")

    # The backup the operator makes while the coach runs (sqlite3's .backup).
    live, copy = sqlite3.connect(database), sqlite3.connect(backup)
    live.backup(copy)
    live.close()
    copy.close()

    leaving.command("forget")
    leaving.press("ja")
    assert addresses(engine) == ["1002"]
    engine.dispose()

    # Restore: the backup's file replaces the database (and its write-ahead log goes).
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    shutil.copy(backup, database)
    restored = sqlite3.connect(database)
    assert restored.execute("SELECT count(*) FROM person").fetchone()[0] == 2  # both are back
    restored.close()

    coach, engine = start(database)
    assert addresses(engine) == ["1002"]
    assert not words_stored(engine)

    # They come back of their own accord later: a new start, which the list leaves alone.
    in_exercise(coach, "1001", "Ik ben er weer.")
    engine.dispose()
    coach, engine = start(database)
    assert addresses(engine) == ["1001", "1002"]
    engine.dispose()


def test_the_list_holds_neither_words_nor_platform_ids_and_only_the_coach_reads_it(tmp_path):
    database = tmp_path / "kern-coach.db"
    coach, engine = start(database)
    leaving = in_exercise(coach, "777000555", WORDS)
    leaving.command("forget")
    leaving.press("ja")
    engine.dispose()

    listed = tmp_path / "kern-coach.db.forgotten"
    key = tmp_path / "kern-coach.db.forgotten.key"
    text = listed.read_text()
    assert len(text.splitlines()) == 1
    assert "777000555" not in text and "Mijn broer" not in text and "telegram" not in text
    for path in (listed, key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_lines_older_than_the_keeping_time_are_dropped_at_start_up(tmp_path):
    forgotten = DeletionList(tmp_path / "list", key=b"k" * 32)
    now = datetime(2027, 6, 1, tzinfo=UTC)
    forgotten.add("telegram", "1", now - KEEP - timedelta(days=1))
    forgotten.add("telegram", "2", now - timedelta(days=3))
    from bot.storage import db
    from bot.storage.migrations import upgrade_engine

    engine = db.make_engine(f"sqlite:///{tmp_path / 'coach.db'}")
    upgrade_engine(engine)
    forgotten.apply(engine, now)
    engine.dispose()
    assert [e.digest for e in forgotten.entries()] == [forgotten.digest("telegram", "2")]
