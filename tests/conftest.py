"""Shared fixtures: the real flows and texts, loaded once, and a fixed starting moment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.content import load_library
from flows.model import Library
from tests import databases

# A Monday evening in Amsterdam, in winter (UTC+1).
MONDAY_EVENING = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def library() -> Library:
    return load_library()


@pytest.fixture(params=databases.KINDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file, and a PostgreSQL schema (skipped where
    KERN_COACH_TEST_DATABASE_URL is not set). For tests whose coach builds its own engine or
    runs in a process of its own."""
    with databases.database_url(request.param, tmp_path) as url:
        yield url
