"""Reads the author's files from disk and hands them to the pure loader."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from bot.safety_model import ENCODER
from flows import balance
from flows.loader import check_sources, parse_library
from flows.model import Library
from flows.safety import SafetyCheck, parse_safety_rules
from flows.safety_semantic import SemanticLayer, parse_examples

# Where flows/ sits: next to bot/, in a checkout and once installed alike.
ROOT = Path(__file__).resolve().parent.parent
# Texts the shell asks for by key (`flows check` makes sure every language has them).
SHELL_TEXT_KEYS = (
    "common:console.how",  # bot/channels/console.py: what typing does
    "common:console.how-to-leave",  # bot/channels/console.py: how to leave the terminal
    "common:console.export-saved",  # bot/channels/console.py: where /export put its files
    "common:group-chat",  # bot/channels/telegram.py: the one line in a group chat
)


def locales_folder(root: Path) -> Path:
    """locales/ next to flows/ in a checkout (and an author's --root); installed, the package
    carries it inside flows/ (pyproject's package-dir), so nothing lands loose in site-packages."""
    beside = root / "locales"
    return beside if beside.is_dir() else root / "flows" / "locales"


def read_sources(root: Path = ROOT) -> dict[str, str]:
    """Every flow, safety and locale file, keyed by its path as in a checkout ("flows/…",
    "locales/<lang>/…"), which is how the loader names them in its messages."""
    locales = locales_folder(root)
    found = {
        path.relative_to(root).as_posix(): path
        for path in (
            *sorted((root / "flows").glob("*.yaml")),
            *sorted((root / "flows" / "safety").glob("*.yaml")),
            *sorted((root / "flows" / "safety" / "semantic").glob("*.yaml")),
        )
    }
    for path in sorted(locales.glob("*/*.yaml")):
        found["locales/" + path.relative_to(locales).as_posix()] = path
    return {name: path.read_text(encoding="utf-8") for name, path in found.items()}


@lru_cache(maxsize=4)
def load_library(root: Path = ROOT, *, defer_safety: bool = False) -> Library:
    """The library, its crisis check with the semantic layer (the model loads on first use)."""
    return parse_library(read_sources(root), defer_safety=defer_safety, encoder=ENCODER)


def load_safety(root: Path = ROOT, lang: str | None = None) -> SafetyCheck:
    """The crisis check with its semantic layer; with `lang`, only that language's rule file and
    examples (to see what one file catches: the coach itself always uses every language)."""
    folder = root / "flows" / "safety"
    pattern = f"{lang}.yaml" if lang else "*.yaml"
    rules = {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.glob(pattern))
    }
    examples = {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted((folder / "semantic").glob(pattern))
    }
    semantic = SemanticLayer(parse_examples(examples), ENCODER) if examples else None
    return SafetyCheck(parse_safety_rules(rules), semantic)


def check(root: Path = ROOT) -> list:
    # The shell's own texts: the balance chart's (flows/balance.py), and what the channels say
    # themselves (SHELL_TEXT_KEYS).
    keys = tuple(balance.TEXT_KEY.format(name) for name in balance.TEXTS)
    return check_sources(read_sources(root), shell_keys=(*keys, *SHELL_TEXT_KEYS))
