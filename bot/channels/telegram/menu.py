"""The command menu Telegram shows beside the text field: per language, from
`locales/<lang>/commands.yaml`."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from telegram import BotCommand

from flows import defaults
from flows.texts import LANGUAGES, SOURCE_LANGUAGE

MENU_TZ = ZoneInfo(defaults.TIMEZONE)  # the menu texts name no time; a zone is required


def command_menus(library: Any) -> dict[str, list[BotCommand]]:
    """`locales/<lang>/commands.yaml`: per command, how it is spelled in that language and
    what the menu says about it; in the order of the Dutch file."""
    texts = library.texts
    names = [
        key.removeprefix("commands:").removesuffix(".command")
        for key in texts.catalogs.get(SOURCE_LANGUAGE, {})
        if key.startswith("commands:") and key.endswith(".command")
    ]
    menus: dict[str, list[BotCommand]] = {}
    for lang in LANGUAGES:
        commands = []
        for name in names:
            command_key = f"commands:{name}.command"
            description_key = f"commands:{name}.description"
            if not (texts.has(lang, command_key) and texts.has(lang, description_key)):
                continue
            command = texts.plain(lang, command_key, MENU_TZ).strip().lstrip("/")
            description = texts.plain(lang, description_key, MENU_TZ).strip()
            commands.append(BotCommand(command, description))
        menus[lang] = commands
    return menus
