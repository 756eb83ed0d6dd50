"""The composition root: the configuration read, logging set up, the coach built (database,
migrations, content, clock, the deletion list), and each channel started on it (`run_console`,
`run_telegram`). `bot/cli.py` only parses arguments and calls these."""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime

from bot.clock import Clock
from bot.coach import Coach
from bot.config import Config, Rate, log_format
from bot.content import load_library
from bot.forgotten import DeletionList
from bot.send_budget import SharedBudget
from bot.storage import db
from bot.storage.migrations import upgrade_engine
from bot.storage.store import Store

log = logging.getLogger(__name__)


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


# --- the channels' entry points (`kern-coach console`, `telegram`, `signal`) ---------------------


def run_console(lang: str | None = None) -> int:
    """`kern-coach console`: one local person in this terminal, until end of input or Ctrl-C."""
    import asyncio
    import os

    from bot.channels.console import ConsoleChannel

    config = Config.from_environment()
    # The terminal is the conversation: only warnings go to stderr unless asked for more.
    configure_logging(
        os.environ.get("KERN_COACH_LOG_LEVEL", "WARNING").upper(),
        log_format(os.environ.get("KERN_COACH_LOG_FORMAT", "")),
    )
    coach = build_coach(config, defer_safety=True)
    try:
        asyncio.run(ConsoleChannel(coach, lang=lang).run())
    except KeyboardInterrupt:
        # Every turn was committed before its reply was shown: nothing is lost.
        sys.stdout.write("\n")
    return 0


def overall_limit(config: Config, coach: Coach) -> Rate | SharedBudget | None:
    """The bot's overall send rate. On PostgreSQL, where several processes may send for one bot
    (docs/operating.md), it is one budget in the database that all of them draw on: Telegram's
    limit is per bot, not per process. On SQLite (one process) the pacer keeps it in memory."""
    if config.send_rate is None or db.is_sqlite(coach.store.engine):
        return config.send_rate
    # Per bot: the token's first part is the bot's id (two bots on one database, two budgets).
    bot_id = (config.telegram_token or "").split(":", 1)[0]
    return SharedBudget(
        coach.store, f"telegram:{bot_id}", config.send_rate.per_second, config.send_rate.burst
    )


def run_telegram(webhook_url: str | None = None, port: int = 8443, host: str = "0.0.0.0") -> int:
    """`kern-coach telegram`: serve until SIGTERM/SIGINT; the exit code."""
    import asyncio
    import signal
    import time

    from bot.channels.telegram import Pacer, TelegramChannel, build_application, quiet_libraries

    config = Config.from_environment()
    configure_logging(config.log_level, config.log_format)
    quiet_libraries()
    if not config.telegram_token:
        log.critical("TELEGRAM_BOT_TOKEN is not set")
        return 2
    if webhook_url and not config.telegram_webhook_secret:
        log.critical(
            "webhook mode needs TELEGRAM_WEBHOOK_SECRET (Telegram sends it with every "
            "update, so nobody else can post updates)"
        )
        return 2
    coach = build_coach(config)
    channel = TelegramChannel(
        coach,
        build_application(config.telegram_token, config.telegram_api_url),
        webhook_url=webhook_url,
        webhook_port=port,
        webhook_host=host,
        webhook_secret=config.telegram_webhook_secret,
        health_port=config.health_port,
        pacer=Pacer(config.chat_rate, overall_limit(config, coach)),
    )

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, channel.stop)
        return await channel.run()

    started = time.monotonic()
    code = asyncio.run(main())
    log.info("ran %.0fs, exit code %d", time.monotonic() - started, code)
    return code


def run_signal(health_port: int | None = None) -> int:
    """`kern-coach signal`: the coach on Signal, through a signal-cli daemon (SIGNAL_CLI_URL).
    `health_port` (else KERN_COACH_SIGNAL_HEALTH_PORT) serves /healthz and /metrics."""
    import asyncio

    from bot.channels.signal.channel import SignalChannel

    config = Config.from_environment()
    configure_logging(config.log_level, config.log_format)
    coach = build_coach(config)
    channel = SignalChannel(
        coach,
        config.signal_cli_url,
        config.signal_account,
        health_port=health_port if health_port is not None else config.signal_health_port,
    )
    return asyncio.run(channel.run())
