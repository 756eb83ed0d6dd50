"""An answer as the coach says it back: a choice's label, a moment spelled out, entries as a list.

Used where a text quotes an answer (the engine's templates) and where the person reads what they
wrote (`overview`: /mijn and /export). Free text comes out as `Theirs`: the person's own words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flows import moments
from flows.messages import Theirs
from flows.model import Library


def describe_answer(
    library: Library, lang: str, tz: ZoneInfo, flow_id: str, step_id: str, kind: str, value: Any
) -> str:
    """An answer as words: a choice's label, a moment spelled out, entries as a list."""

    def label(key: str) -> str:
        words: str = library.texts.plain(lang, key, tz)
        return words

    if kind == "choice":
        return label(f"{flow_id}:{step_id}.{value}")
    if kind == "scale":
        return label(f"common:scale.{value}")
    if kind == "when":
        return moments.format_moment(datetime.fromisoformat(value), lang, tz)
    if kind == "entries":
        items = value if isinstance(value, list) else [value]
        return Theirs("\n".join(f"• {item}" for item in items))
    return Theirs(value)  # what the person wrote


def theirs(value: Any) -> Any:
    """A raw value as templates see it: text is the person's; dates and lists stay as they are."""
    return Theirs(value) if isinstance(value, str) else value


class NoAnswer:
    """A skipped or unanswered step: falsy, and empty wherever it is used."""

    value = text = ""
    items = ()
    at = None

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""


class _Unanswered:
    def __getattr__(self, name: str) -> NoAnswer:
        return NoAnswer()

    def __getitem__(self, step_id: str) -> NoAnswer:
        return NoAnswer()


# No answers at all: every quote in a template renders as its empty case (for /mijn's questions).
NO_ANSWERS = _Unanswered()
