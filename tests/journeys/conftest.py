"""What the journey tests share: the processes a test starts, and a reader of their database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.databases import reader
from tests.journeys.processes import CoachProcess


@pytest.fixture
def processes() -> Iterator[list[CoachProcess]]:
    """What a test starts; whatever still runs at its end is killed."""
    started: list[CoachProcess] = []
    yield started
    for process in started:
        if process.alive():
            process.kill()


@pytest.fixture
def database(database_url) -> Iterator[sa.Engine]:
    """The coach's database, for the test to see what it committed."""
    engine = reader(database_url)
    yield engine
    engine.dispose()
