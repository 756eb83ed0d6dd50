"""What the coach says: a text in Telegram's HTML subset, with buttons under it."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

TOKEN_LIMIT = 64  # Telegram's limit on callback data, in bytes
LABEL_LIMIT = 30  # longer labels are cut off on a phone


@dataclass(frozen=True, kw_only=True)
class Button:
    label: str  # plain text
    token: str  # names the run, the step and the option; at most 64 bytes

    def __post_init__(self) -> None:
        # A character is at most 4 bytes: short tokens need no encoding to be known to fit.
        if len(self.token) * 4 > TOKEN_LIMIT and len(self.token.encode()) > TOKEN_LIMIT:
            raise ValueError(f"button token over {TOKEN_LIMIT} bytes: {self.token!r}")


@dataclass(frozen=True, kw_only=True)
class Message:
    """One chat message. `text` is Telegram HTML: the author's markup, with everything the person
    wrote already escaped; `quotes` says that it repeats something the person wrote."""

    key: str  # the text key it was rendered from, for tests and transcripts
    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default=())
    quotes: bool = False

    @property
    def plain(self) -> str:
        return plain_text(self.text)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "text": self.text,
            "buttons": [
                [{"label": b.label, "token": b.token} for b in row] for row in self.buttons
            ],
            "quotes": self.quotes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        rows = tuple(tuple(Button(**b) for b in row) for row in data.get("buttons", ()))
        return cls(
            key=data["key"], text=data["text"], buttons=rows, quotes=data.get("quotes", False)
        )


_TAG = re.compile(r"<[^>]+>")
_BLOCKQUOTE = re.compile(r"</?blockquote[^>]*>")


def plain_text(telegram_html: str) -> str:
    """The text as a terminal or Signal shows it: tags dropped, entities decoded."""
    text = _BLOCKQUOTE.sub("\n", telegram_html)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
