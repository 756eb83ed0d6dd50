"""The shell's shape: the channels stand on the seam (`bot/outbox.py`, `bot.coach`) and never
reach into storage, and no module of `bot/` grows past what one concern needs."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_no_channel_imports_storage():
    channels = sorted((BOT / "channels").rglob("*.py"))
    assert len(channels) > 5, "the scan found the channels"
    for path in channels:
        reaching = {m for m in imported(path) if m == "bot.storage" or m.startswith("bot.storage.")}
        assert not reaching, f"{path.relative_to(BOT.parent)} imports {sorted(reaching)}"


def test_no_module_of_the_shell_is_near_the_size_of_the_old_telegram_channel():
    for path in sorted(BOT.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 900, f"{path.relative_to(BOT.parent)}: {lines} lines; split it by concern"
