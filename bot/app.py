"""Builds the coach from the configuration: logging, database, migrations, content, clock."""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime

from bot.clock import Clock
from bot.coach import Coach
from bot.config import Config
from bot.content import load_library
from bot.forgotten import DeletionList
from bot.storage import db
from bot.storage.migrations import upgrade_engine
from bot.storage.store import Store


def configure_logging(level: str, fmt: str = "plain") -> None:
    """Logs say what happened (ids, counts, kinds), never what a person wrote. `fmt`: "plain"
    lines, or "json" lines (one object per record) for a log collector."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, level, logging.INFO), handlers=[handler])
    # httpx logs every request URL at INFO, and the URL holds the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # At INFO and below SQLAlchemy logs every statement with its parameters: people's answers.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)


class JsonLines(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and the exception's
    type when there is one (never its text or traceback, which may quote a person)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def build_coach(config: Config, *, defer_safety: bool = False) -> Coach:
    """`defer_safety`: compile the crisis rules after start-up (the console shows its first
    message sooner; it then calls `library.safety.warm()` before reading the first answer)."""
    engine = db.make_engine(config.database_url)
    upgrade_engine(engine)
    clock = Clock(config.clock_offset)
    forgotten = deletion_list(config)
    forgotten.open()  # refuses to start if the list cannot be trusted or written
    forgotten.apply(engine, clock.now())  # a restored backup may hold people who left since
    library = load_library(defer_safety=defer_safety)
    if not defer_safety:
        # The model loaded and the examples embedded right away, beside the start-up, rather
        # than in the first typed message's turn: there it took 1 s (4 s under load) on the
        # database thread, which every other chat's turn waits for. A text that comes sooner
        # waits for the rest of it, so that it meets the whole crisis check.
        threading.Thread(target=library.safety.warm, name="kern-coach-warm", daemon=True).start()
    return Coach(library, Store(engine), clock, forgotten)


def deletion_list(config: Config) -> DeletionList:
    return DeletionList.beside(config.database_url, config.forgotten_file, config.forgotten_key)
