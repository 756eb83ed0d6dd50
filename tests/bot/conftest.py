"""Databases for the shell's tests: a real SQLite file, and PostgreSQL where CI provides one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.clock import FixedClock
from bot.coach import Coach
from bot.storage import db
from bot.storage.migrations import upgrade_engine
from bot.storage.store import Store
from tests.conftest import MONDAY_EVENING

POSTGRES_URL = os.environ.get("KERN_COACH_TEST_DATABASE_URL")


def _postgres_engine() -> Iterator[sa.Engine]:
    """A fresh schema of its own in the test database, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("KERN_COACH_TEST_DATABASE_URL is not set (CI sets it to a PostgreSQL)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = sa.create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


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
