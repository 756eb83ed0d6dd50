"""A message as plain text, for channels without formatting: the terminal (and Signal)."""

from __future__ import annotations

import re
from typing import Any

from flows.balance import KINDS
from flows.messages import Message

# C0 and C1 control characters but the line feed and the tab: a person's words may carry
# terminal escapes (colours, a cleared screen, a changed title, a carriage return that hides
# what came before), which a terminal would obey rather than show.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def render(message: Message) -> str:
    """The words without styling, a quote on lines of its own: what a transcript shows, so
    the terminal reads like the author's transcripts. No control characters."""
    return safe(message.plain)


def safe(text: str) -> str:
    """The text without control characters (line feeds and tabs stay)."""
    return _CONTROL.sub("", text)


GLYPH = {"daily": "●", "exercise": "◆", "evaluation": "■"}
COLUMNS = 32  # the terminal shows the latest this many answers


def render_balance(chart: dict[str, Any]) -> str:
    """The balance chart (`flows.balance`) in the terminal: one column per answer (the latest
    COLUMNS), giving at the top row, taking at the bottom, and a legend line."""
    texts = chart["texts"]
    shown = chart["points"][-COLUMNS:]
    labels = {-2: texts["give"], 0: texts["balanced"], 2: texts["take"]}
    width = max(len(label) for label in labels.values())
    lines = [texts["caption"]]
    for position in range(-2, 3):
        row = "".join(GLYPH[p["kind"]] if p["position"] == position else "·" for p in shown)
        lines.append(f"{labels.get(position, ''):<{width}}  {row}")
    if shown:
        lines.append(f"{'':<{width}}  {shown[0]['date']} … {shown[-1]['date']}")
    lines.append("   ".join(f"{GLYPH[kind]} {texts[kind]}" for kind in KINDS))
    return safe("\n".join(lines))
