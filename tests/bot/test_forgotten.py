"""The deletion list: someone who used /vergeet stays deleted when an older backup is restored,
with a real SQLite backup and restore; the list holds no words and no platform id."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.app import build_coach
from bot.config import Config
from bot.forgotten import KEEP, DeletionList, DeletionListError
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
    fingerprint, *lines = text.splitlines()
    assert fingerprint.startswith("# ") and len(lines) == 1
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


def backup_of(database, backup) -> None:
    backup.parent.mkdir(exist_ok=True)
    live, copy = sqlite3.connect(database), sqlite3.connect(backup)
    live.backup(copy)
    live.close()
    copy.close()


def restore(backup, database) -> None:
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    shutil.copy(backup, database)


def forgotten_then_restored(tmp_path):
    """Someone used /vergeet after the backup, and the backup is put back."""
    database = tmp_path / "kern-coach.db"
    backup = tmp_path / "backup" / "kern-coach.db"
    coach, engine = start(database)
    leaving = in_exercise(coach, "1001", WORDS)
    backup_of(database, backup)
    leaving.command("forget")
    leaving.press("ja")
    engine.dispose()
    restore(backup, database)
    return database


def console(database, **env: str) -> subprocess.CompletedProcess[str]:
    """`kern-coach console` started as an operator would, its input closed at once."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        cwd=database.parent,
        env={**os.environ, "KERN_COACH_DATABASE_URL": f"sqlite:///{database}", **env},
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_lost_key_stops_the_coach_instead_of_bringing_forgotten_people_back(tmp_path):
    database = forgotten_then_restored(tmp_path)
    key = tmp_path / "kern-coach.db.forgotten.key"
    kept = key.read_bytes()  # the operator's backup of the key
    key.unlink()

    started = console(database)

    assert started.returncode == 1
    assert "does not start" in started.stderr and str(key) in started.stderr
    assert "Traceback" not in started.stderr
    assert not key.exists()  # no new key was made in its place

    # With the key put back, the coach starts and deletes the person again.
    key.write_bytes(kept)
    coach, engine = start(database)
    assert addresses(engine) == []
    engine.dispose()


def test_a_changed_key_stops_the_coach_instead_of_bringing_forgotten_people_back(tmp_path):
    database = forgotten_then_restored(tmp_path)

    started = console(database, KERN_COACH_FORGOTTEN_KEY="a key set later")

    assert started.returncode == 1
    assert "another key" in started.stderr and "KERN_COACH_FORGOTTEN_KEY" in started.stderr
    assert "Traceback" not in started.stderr
    with pytest.raises(DeletionListError):
        build_coach(Config(database_url=f"sqlite:///{database}", forgotten_key="another"))

    # With the key it was written with, the person is deleted again.
    coach, engine = start(database)
    assert addresses(engine) == []
    engine.dispose()


def test_a_deletion_list_that_cannot_be_created_stops_the_coach_at_start_up(tmp_path):
    database = tmp_path / "kern-coach.db"

    started = console(database, KERN_COACH_FORGOTTEN_FILE="/proc/nope/list")

    assert started.returncode == 1
    assert "/proc/nope/list" in started.stderr and "cannot be created" in started.stderr
    assert "Traceback" not in started.stderr


def test_vergeet_still_deletes_when_the_list_cannot_be_written_and_the_log_says_so(
    tmp_path, caplog
):
    database = tmp_path / "kern-coach.db"
    coach, engine = start(database)
    leaving = in_exercise(coach, "1001", WORDS)
    listed = tmp_path / "kern-coach.db.forgotten"
    listed.unlink()
    listed.mkdir()  # the list's path can no longer be written

    with caplog.at_level(logging.ERROR, logger="bot.forgotten"):
        leaving.command("forget")
        leaving.press("ja")

    assert addresses(engine) == []
    assert not words_stored(engine)
    assert any("cannot be written" in r.getMessage() for r in caplog.records)
    assert not any("1001" in r.getMessage() or "broer" in r.getMessage() for r in caplog.records)
    engine.dispose()


ADD_ONE = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from bot.forgotten import DeletionList
DeletionList(Path(sys.argv[1]), key=b"k" * 32).add("telegram", "2", datetime.now(UTC))
"""


def test_a_line_another_process_adds_while_the_list_is_rewritten_is_kept(tmp_path):
    listed = tmp_path / "list"
    forgotten = DeletionList(listed, key=b"k" * 32)
    forgotten.open()
    forgotten.add("telegram", "1", datetime.now(UTC))
    lock = os.open(tmp_path / "list.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # this process rewrites the list, as apply() does
    try:
        read = forgotten.entries()
        adding = subprocess.Popen([sys.executable, "-c", ADD_ONE, str(listed)])
        time.sleep(1)  # room for the other process to append, were it not waiting
        forgotten._write(read)
    finally:
        os.close(lock)
    assert adding.wait(timeout=60) == 0
    assert sorted(e.digest for e in forgotten.entries()) == sorted(
        [forgotten.digest("telegram", "1"), forgotten.digest("telegram", "2")]
    )


def test_a_list_without_lines_yet_starts_with_a_new_key_when_its_key_is_gone(tmp_path):
    """Nobody to bring back: the coach starts, and the list is named by the new key."""
    forgotten = DeletionList(tmp_path / "list")
    forgotten.open()
    (tmp_path / "list.key").unlink()
    again = DeletionList(tmp_path / "list")
    again.open()
    again.add("telegram", "1", datetime.now(UTC))
    DeletionList(tmp_path / "list").open()  # the list and the new key belong together
    assert len(DeletionList(tmp_path / "list").entries()) == 1
