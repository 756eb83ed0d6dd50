"""The database: one URL, SQLite by default, PostgreSQL when it grows.

SQLite runs in WAL mode with a busy timeout and `secure_delete`, so deleted rows are overwritten
rather than left readable in the file. Each transaction that writes takes the write lock at its
start (`BEGIN IMMEDIATE`), so two turns never interleave; a `reading` session (counts, metrics)
begins deferred instead, so it neither waits for a turn nor holds one up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

log = logging.getLogger(__name__)
CHECKPOINT_TRIES = 5
READ_ONLY = "kern_coach_read_only"  # an execution option: this transaction only reads


def make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        _create_private(sa.engine.make_url(url).database)
        engine = sa.create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True
        )
        _configure_sqlite(engine)
        return engine
    # hide_parameters: an error message must never carry what a person wrote.
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True
    )


def _create_private(path: str | None) -> None:
    """A new SQLite file is readable by its owner only (0600): it holds what people wrote.
    SQLite gives its -wal and -shm files the same permissions. An existing file is left as is."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below decide when a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        # A reader's snapshot starts at its first read (WAL): no write lock to wait for.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def reading(engine: sa.Engine) -> Session:
    """A session that only reads: on SQLite its transactions begin deferred (see on_begin)."""
    return Session(engine.execution_options(**{READ_ONLY: True}))


def is_sqlite(engine: sa.Engine | sa.Connection) -> bool:
    return engine.dialect.name == "sqlite"


def checkpoint(engine: sa.Engine) -> None:
    """Fold the write-ahead log into the database file and empty it, so old page images of
    deleted rows are not left in `-wal`."""
    if not is_sqlite(engine):
        return
    # Outside any transaction: the raw connection is in autocommit mode (see on_connect).
    # Another connection reading at this moment keeps the log from being emptied ("busy"):
    # try a few times, and say so if it stays busy (the next checkpoint will empty it).
    connection = engine.raw_connection()
    try:
        for attempt in range(CHECKPOINT_TRIES):
            busy = connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return
            time.sleep(0.05 * (attempt + 1))
        log.warning(
            "the write-ahead log could not be emptied after a deletion; it will be "
            "at the next checkpoint"
        )
    finally:
        connection.close()
