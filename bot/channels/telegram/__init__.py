"""Telegram: the channel as python-telegram-bot's `Application` and the Bot API see it.

| module | what it does |
| --- | --- |
| `channel.py` | `TelegramChannel`: runs it all (polling, the webhook, button presses, health) |
| `updates.py` | an update → what it means for the coach (`incoming`) |
| `sending.py` | an outbox item → Bot API calls; `OutboxSender` drains the outbox |
| `pacing.py` | within Telegram's limits (`Pacer`, `Limiter`, `CallLimit`) |
| `html.py` | a message as Telegram HTML, and long texts cut |
| `menu.py` | the command menu per language |
"""

from bot.channels.telegram.channel import TelegramChannel, build_application, quiet_libraries
from bot.channels.telegram.pacing import Pacer
from bot.channels.telegram.sending import CHANNEL, OutboxSender, parts_of

__all__ = [
    "CHANNEL",
    "OutboxSender",
    "Pacer",
    "TelegramChannel",
    "build_application",
    "parts_of",
    "quiet_libraries",
]
