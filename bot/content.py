"""Reads the author's files from disk and hands them to the pure loader."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flows.loader import check_sources, parse_library
from flows.model import Library

# The project root: flows/ and locales/ sit next to bot/.
ROOT = Path(__file__).resolve().parent.parent


def read_sources(root: Path = ROOT) -> dict[str, str]:
    """Every flow, safety and locale file, keyed by its path relative to `root`."""
    paths = [
        *sorted((root / "flows").glob("*.yaml")),
        *sorted((root / "flows" / "safety").glob("*.yaml")),
        *sorted((root / "locales").glob("*/*.yaml")),
    ]
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in paths}


@lru_cache(maxsize=4)
def load_library(root: Path = ROOT, *, defer_safety: bool = False) -> Library:
    return parse_library(read_sources(root), defer_safety=defer_safety)


def check(root: Path = ROOT) -> list:
    return check_sources(read_sources(root))
