"""Databases for the shell's tests: a real SQLite file, and PostgreSQL where CI provides one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.clock import FixedClock
from bot.coach import Coach
from bot.storage import db
from bot.storage.migrations import upgrade_engine
from bot.storage.store import Store
from tests.conftest import MONDAY_EVENING
from tests.databases import postgres_schema


def _postgres_engine() -> Iterator[sa.Engine]:
    """A fresh schema of its own in the test database, dropped afterwards."""
    with postgres_schema() as url:
        engine = sa.create_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Iterator[sa.Engine]:
    """The same test on a SQLite file and on PostgreSQL, each migrated to the newest schema."""
    if request.param == "sqlite":
        engine = db.make_engine(f"sqlite:///{tmp_path / 'coach.db'}")
        upgrade_engine(engine)
        yield engine
        engine.dispose()
    else:
        for engine in _postgres_engine():
            upgrade_engine(engine)
            yield engine


@pytest.fixture
def sqlite_path(tmp_path):
    return tmp_path / "coach.db"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY_EVENING)


@pytest.fixture
def coach(database, library, clock) -> Coach:
    return Coach(library, Store(database), clock)
