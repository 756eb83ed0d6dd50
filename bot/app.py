"""Builds the coach from the configuration: logging, database, migrations, content, clock."""

from __future__ import annotations

import logging
import sys

from bot.clock import Clock
from bot.coach import Coach
from bot.config import Config
from bot.content import load_library
from bot.storage import db
from bot.storage.migrations import upgrade_engine
from bot.storage.store import Store


def configure_logging(level: str) -> None:
    """Logs say what happened (ids, counts, kinds), never what a person wrote."""
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request URL at INFO, and the URL holds the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # At INFO and below SQLAlchemy logs every statement with its parameters: people's answers.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)


def build_coach(config: Config, *, defer_safety: bool = False) -> Coach:
    """`defer_safety`: compile the crisis rules after start-up (the console shows its first
    message sooner; it then calls `library.safety.get()` before reading the first answer)."""
    engine = db.make_engine(config.database_url)
    upgrade_engine(engine)
    library = load_library(defer_safety=defer_safety)
    return Coach(library, Store(engine), Clock(config.clock_offset))
