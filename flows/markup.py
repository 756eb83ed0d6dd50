"""The coach's own markup, parsed into a message's paragraphs.

An author writes plain text with three tags: `<b>` (strong), `<i>` (emphasis) and `<blockquote>`
(a quoted block); a blank line starts a new paragraph (docs/flow-format.md). What a template
quotes (an answer, a date, a number) is never markup: `texts` wraps each value in `literal()`
before the text is parsed, so a person who writes `<b>` sees `<b>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from flows.messages import Paragraph, Part, Quote, Span

# Private-use characters around a value: no author and no person types them (they are removed
# from values), so they cannot be forged to turn words into markup.
_LITERAL, _THEIRS, _END = "\ue000", "\ue001", "\ue002"
_MARKS = re.compile("[\ue000\ue001\ue002]")
_VALUE = re.compile("([\ue000\ue001])(.*?)\ue002", re.DOTALL)
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>")

TAGS = ("b", "i", "blockquote")  # the whole markup; docs/flow-format.md describes it


def literal(value: str, *, theirs: bool) -> str:
    """A value as template output: words to show as they are, the person's if `theirs`."""
    return (_THEIRS if theirs else _LITERAL) + _MARKS.sub("", value) + _END


@dataclass(frozen=True, kw_only=True)
class Flaw:
    """Markup no channel can show; `flows check` reports it with its code."""

    code: str
    message: str


@dataclass(frozen=True, kw_only=True)
class Parsed:
    paragraphs: tuple[Paragraph, ...]
    flaws: tuple[Flaw, ...]


class _Text(NamedTuple):  # tuples: a text is parsed at every message, cheaply
    text: str
    theirs: bool = False


class _Tag(NamedTuple):
    name: str
    closing: bool


def parse(source: str, *, unescape: Callable[[str], str] | None = None) -> Parsed:
    """The paragraphs of a rendered text (white space around it trimmed), and its flaws.
    `unescape` decodes the author's pieces of text (for messages stored as escaped markup)."""
    flaws: list[Flaw] = []
    tokens = _strip(_tokens(source, unescape, flaws))
    paragraphs = _Builder(flaws).build(tokens)
    return Parsed(paragraphs=paragraphs, flaws=tuple(dict.fromkeys(flaws)))  # each said once


def _tokens(
    source: str, unescape: Callable[[str], str] | None, flaws: list[Flaw]
) -> list[_Text | _Tag]:
    tokens: list[_Text | _Tag] = []
    at = 0
    for value in _VALUE.finditer(source):
        tokens += _markup_tokens(source[at : value.start()], unescape, flaws)
        tokens.append(_Text(value.group(2), theirs=value.group(1) == _THEIRS))
        at = value.end()
    tokens += _markup_tokens(source[at:], unescape, flaws)
    return tokens


def _markup_tokens(
    piece: str, unescape: Callable[[str], str] | None, flaws: list[Flaw]
) -> list[_Text | _Tag]:
    decode = unescape or (lambda text: text)
    tokens: list[_Text | _Tag] = []
    at = 0
    for tag in _TAG.finditer(piece):
        name = tag.group(2).lower()
        if name in TAGS and not tag.group(3).strip():
            tokens.append(_Text(decode(piece[at : tag.start()])))
            tokens.append(_Tag(name, closing=bool(tag.group(1))))
            at = tag.end()
        elif name in TAGS:
            flaws.append(
                Flaw(code="KC041", message=f"gives <{name}> attributes, which no channel shows")
            )
        else:
            flaws.append(
                Flaw(code="KC040", message=f"uses <{name}>, which is not the coach's markup")
            )
    tokens.append(_Text(decode(piece[at:])))
    return [t for t in tokens if not isinstance(t, _Text) or t.text]


def _strip(tokens: list[_Text | _Tag]) -> list[_Text | _Tag]:
    """White space trimmed at both ends, up to the first tag, as a trimmed string would be."""
    tokens = list(tokens)
    for forward in (True, False):
        order = range(len(tokens)) if forward else range(len(tokens) - 1, -1, -1)
        for i in order:
            token = tokens[i]
            if isinstance(token, _Tag):
                break
            text = token.text.lstrip() if forward else token.text.rstrip()
            tokens[i] = _Text(text, token.theirs)
            if text:
                break
    return [t for t in tokens if not isinstance(t, _Text) or t.text]


class _Builder:
    """Walks the tokens once, keeping which tags are open."""

    def __init__(self, flaws: list[Flaw]):
        self.flaws = flaws
        self.open: list[str] = []
        self.paragraphs: list[Paragraph] = []
        self.parts: list[Part] = []
        self.quote: list[Span] | None = None

    def build(self, tokens: list[_Text | _Tag]) -> tuple[Paragraph, ...]:
        for token in tokens:
            if isinstance(token, _Tag):
                self.tag(token)
            else:
                self.text(token)
        for name in self.open:
            self.flaws.append(Flaw(code="KC042", message=f"leaves <{name}> open"))
        self.end_quote()
        self.end_paragraph()
        return tuple(self.paragraphs)

    def tag(self, tag: _Tag) -> None:
        if not tag.closing:
            if tag.name == "blockquote":
                if self.quote is not None:
                    self.flaws.append(Flaw(code="KC043", message="puts a <blockquote> in a quote"))
                    return
                self.quote = []
            self.open.append(tag.name)
            return
        if tag.name not in self.open:
            self.flaws.append(Flaw(code="KC042", message=f"closes <{tag.name}>, which is not open"))
            return
        if self.open[-1] != tag.name:
            self.flaws.append(
                Flaw(code="KC042", message=f"closes <{tag.name}> inside <{self.open[-1]}>")
            )
        del self.open[len(self.open) - 1 - self.open[::-1].index(tag.name)]
        if tag.name == "blockquote":
            self.end_quote()

    def text(self, token: _Text) -> None:
        if self.quote is not None:  # a quote is one block: its blank lines stay inside it
            self.add(self.quote, token.text, token.theirs)
            return
        first, *rest = token.text.split("\n\n")
        self.add(self.parts, first, token.theirs)
        for piece in rest:
            self.end_paragraph()
            self.add(self.parts, piece, token.theirs)

    def add(self, into: list[Any], text: str, theirs: bool) -> None:
        if not text:
            return
        span = Span(text=text, strong="b" in self.open, emphasis="i" in self.open, theirs=theirs)
        last = into[-1] if into else None
        if isinstance(last, Span) and (last.strong, last.emphasis, last.theirs) == (
            span.strong,
            span.emphasis,
            span.theirs,
        ):
            into[-1] = Span(
                text=last.text + text, strong=span.strong, emphasis=span.emphasis, theirs=theirs
            )
        else:
            into.append(span)

    def end_quote(self) -> None:
        if self.quote is not None:
            self.parts.append(Quote(spans=tuple(self.quote)))
            self.quote = None

    def end_paragraph(self) -> None:
        if self.parts:
            self.paragraphs.append(tuple(self.parts))
        self.parts = []
