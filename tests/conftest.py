"""Shared fixtures: the real flows and texts, loaded once, and a fixed starting moment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.content import load_library
from flows.model import Library

# A Monday evening in Amsterdam, in winter (UTC+1).
MONDAY_EVENING = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def library() -> Library:
    return load_library()
