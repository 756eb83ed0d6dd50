"""Configuration from the environment: one place, read once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"
DEFAULT_SIGNAL_CLI_URL = "tcp://127.0.0.1:7583"

# Telegram's limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
# about one message a second in one chat, short bursts allowed, and about 30 a second overall.
CHAT_RATE, CHAT_BURST = 1.0, 3
SEND_RATE = 30.0


class Rate(NamedTuple):
    """A limit on sending: `per_second` messages a second, `burst` of them at once."""

    per_second: float
    burst: int


@dataclass(frozen=True, kw_only=True)
class Config:
    database_url: str
    log_level: str = "INFO"
    log_format: str = "plain"  # or "json": one JSON object per line
    telegram_token: str | None = None
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    telegram_webhook_secret: str | None = None
    health_port: int | None = None
    # The Signal coach's own (KERN_COACH_SIGNAL_HEALTH_PORT): it often runs beside the Telegram
    # coach on one host, from one environment file, and one port cannot serve both.
    signal_health_port: int | None = None
    # The signal-cli daemon (JSON-RPC over TCP) and the coach's own Signal number on it.
    signal_cli_url: str = DEFAULT_SIGNAL_CLI_URL
    signal_account: str | None = None
    # The deletion list (bot/forgotten.py): where, and its key; by default beside the database.
    forgotten_file: str | None = None
    forgotten_key: str | None = None
    # Moves the coach's clock forward; for demos and tests of check-ins weeks ahead.
    clock_offset: timedelta = timedelta(0)
    # How fast a channel sends, per chat and overall; None: no limit (tests, benchmarks).
    chat_rate: Rate | None = Rate(CHAT_RATE, CHAT_BURST)
    send_rate: Rate | None = Rate(SEND_RATE, int(SEND_RATE))

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        health = env.get("KERN_COACH_HEALTH_PORT")
        signal_health = env.get("KERN_COACH_SIGNAL_HEALTH_PORT")
        return cls(
            database_url=env.get("KERN_COACH_DATABASE_URL") or default_database_url(),
            log_level=env.get("KERN_COACH_LOG_LEVEL", "INFO").upper(),
            log_format=log_format(env.get("KERN_COACH_LOG_FORMAT", "")),
            telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_api_url=env.get("TELEGRAM_API_URL") or DEFAULT_TELEGRAM_API_URL,
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            health_port=int(health) if health else None,
            signal_health_port=int(signal_health) if signal_health else None,
            signal_cli_url=env.get("SIGNAL_CLI_URL") or DEFAULT_SIGNAL_CLI_URL,
            signal_account=env.get("SIGNAL_ACCOUNT") or None,
            forgotten_file=env.get("KERN_COACH_FORGOTTEN_FILE") or None,
            forgotten_key=env.get("KERN_COACH_FORGOTTEN_KEY") or None,
            clock_offset=_duration(env.get("KERN_COACH_CLOCK_OFFSET", "")),
            chat_rate=rate(
                "KERN_COACH_CHAT_RATE", env.get("KERN_COACH_CHAT_RATE", ""), CHAT_RATE, CHAT_BURST
            ),
            send_rate=rate("KERN_COACH_SEND_RATE", env.get("KERN_COACH_SEND_RATE", ""), SEND_RATE),
        )


def log_format(text: str) -> str:
    value = text.strip().lower() or "plain"
    if value not in ("plain", "json"):
        raise ValueError(f"KERN_COACH_LOG_FORMAT must be plain or json, not {text!r}")
    return value


def rate(name: str, text: str, default: float, burst: int | None = None) -> Rate | None:
    """Messages a second (`0.5`, `30`), or `off`; empty: the default. The burst is `burst`, or
    one second's worth (at least one)."""
    value = text.strip().lower()
    if value == "off":
        return None
    try:
        per_second = float(value) if value else default
    except ValueError:
        raise ValueError(f"{name} must be messages a second or off, not {text!r}") from None
    if not per_second > 0:
        raise ValueError(f"{name} must be more than 0 (or off), not {text!r}")
    return Rate(per_second, burst if burst is not None else max(1, int(per_second)))


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'kern-coach.db'}"


def _duration(text: str) -> timedelta:
    if not text:
        return timedelta(0)
    from flows.moments import parse_duration

    return parse_duration(text)
