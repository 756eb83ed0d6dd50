"""What the coach says, in no channel's format: paragraphs of spans, and buttons under them.

A span is a piece of text and what it is (plain, emphasised, strong, the person's own words); a
quote is a block of spans that stands on lines of its own. Spans carry no markup, so nothing a
person wrote can ever turn into formatting: each channel (`bot/channels/`) renders the structure
its own way, escaping as it needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

LABEL_LIMIT = 30  # longer labels are cut off on a phone


class Theirs(str):
    """Text the person wrote, as a template quotes it: rendered as literal words of theirs."""

    __slots__ = ()


@dataclass(frozen=True, kw_only=True)
class Span:
    text: str
    strong: bool = False
    emphasis: bool = False
    theirs: bool = False  # the person's own words, quoted back


@dataclass(frozen=True, kw_only=True)
class Quote:
    """A quoted block, e.g. what the person planned a week ago."""

    spans: tuple[Span, ...]


Part = Span | Quote
Paragraph = tuple[Part, ...]


@dataclass(frozen=True, kw_only=True)
class Button:
    label: str  # plain text
    token: str  # a formatted flows.tokens.Token: the run, the step and the option


@dataclass(frozen=True, kw_only=True)
class Message:
    """One chat message: paragraphs (separated by a blank line) and rows of buttons."""

    key: str  # the text key it was rendered from, for tests and transcripts
    paragraphs: tuple[Paragraph, ...]
    buttons: tuple[tuple[Button, ...], ...] = field(default=())
    # The keys of short texts said first, as its opening paragraphs (an acknowledgement before
    # the next question): one message on the phone where two would read no better.
    lead: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Every text key it says, in reading order."""
        return (*self.lead, self.key)

    def after(self, first: Message) -> Message:
        """This message with `first` (which has no buttons) said as its opening paragraphs."""
        return Message(
            key=self.key,
            paragraphs=first.paragraphs + self.paragraphs,
            buttons=self.buttons,
            lead=first.keys + self.lead,
        )

    @property
    def quotes(self) -> bool:
        """Whether it repeats something the person wrote."""
        return any(span.theirs for span in spans_of(self.paragraphs))

    @property
    def plain(self) -> str:
        return plain_words(self.paragraphs)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "paragraphs": [[_part_json(part) for part in p] for p in self.paragraphs],
            "buttons": [
                [{"label": b.label, "token": b.token} for b in row] for row in self.buttons
            ],
        }
        if self.lead:
            data["lead"] = list(self.lead)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        paragraphs = tuple(tuple(_part_of(part) for part in p) for p in data["paragraphs"])
        lead = tuple(str(key) for key in data.get("lead", ()))
        return cls(key=data["key"], paragraphs=paragraphs, buttons=buttons_of(data), lead=lead)


def buttons_of(data: dict[str, Any]) -> tuple[tuple[Button, ...], ...]:
    """The rows of buttons of a stored message."""
    return tuple(tuple(Button(**b) for b in row) for row in data.get("buttons", ()))


def spans_of(paragraphs: tuple[Paragraph, ...]) -> list[Span]:
    """Every span, those in quotes included, in reading order."""
    out: list[Span] = []
    for paragraph in paragraphs:
        for part in paragraph:
            out.extend(part.spans if isinstance(part, Quote) else (part,))
    return out


def plain_words(paragraphs: tuple[Paragraph, ...]) -> str:
    """The words without styling, as a transcript or a button label needs them: a quote on
    lines of its own, never more than one blank line in a row."""
    text = "\n\n".join(
        "".join(
            "\n" + "".join(s.text for s in part.spans) + "\n"
            if isinstance(part, Quote)
            else part.text
            for part in paragraph
        )
        for paragraph in paragraphs
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _span_json(span: Span) -> dict[str, Any]:
    data: dict[str, Any] = {"text": span.text}
    for flag in ("strong", "emphasis", "theirs"):
        if getattr(span, flag):
            data[flag] = True
    return data


def _part_json(part: Part) -> dict[str, Any]:
    if isinstance(part, Quote):
        return {"quote": [_span_json(s) for s in part.spans]}
    return _span_json(part)


def _span_of(data: dict[str, Any]) -> Span:
    return Span(
        text=data["text"],
        strong=data.get("strong", False),
        emphasis=data.get("emphasis", False),
        theirs=data.get("theirs", False),
    )


def _part_of(data: dict[str, Any]) -> Part:
    if "quote" in data:
        return Quote(spans=tuple(_span_of(s) for s in data["quote"]))
    return _span_of(data)
