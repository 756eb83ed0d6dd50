"""The one place that reads the wall clock. Everything else is handed the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """The current moment in UTC, optionally moved on by a fixed offset."""

    def __init__(self, offset: timedelta = timedelta(0)):
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def real(self) -> datetime:
        """The wall clock itself, never moved: for what concerns processes rather than people
        (whether another process still lives), which several processes must read alike."""
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that stands still until a test moves it."""

    def __init__(self, moment: datetime):
        super().__init__()
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta
