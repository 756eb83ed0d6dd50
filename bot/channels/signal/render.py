"""A message as Signal shows it: plain text with Signal's text styles, buttons as numbered lines.

Signal has no markup to escape: styles travel beside the text as ranges (`textStyle`,
"start:length:STYLE" in UTF-16 units), so nothing a person wrote can ever turn into formatting.
Strong words are BOLD, emphasis and quoted blocks ITALIC (a quote stands on lines of its own, as
in the terminal). Buttons become numbered lines under the words; typing the number or the label
picks one (`bot.channels.numbered`, the terminal's rule). Control characters are dropped, as in
every plain-text channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels import numbered, plain_text
from flows.messages import Message, Quote, Span

from .jsonrpc import TextStyle

BOLD = "BOLD"
ITALIC = "ITALIC"
STYLES = (BOLD, ITALIC)

_Run = tuple[str, frozenset[str]]


@dataclass(frozen=True)
class Rendered:
    text: str
    styles: tuple[TextStyle, ...] = ()


def render(message: Message) -> Rendered:
    runs: list[_Run] = []
    for number, paragraph in enumerate(message.paragraphs):
        if number:
            runs.append(("\n\n", frozenset()))
        for part in paragraph:
            if isinstance(part, Quote):
                runs.append(("\n", frozenset()))
                runs += [_run(span, frozenset({ITALIC})) for span in part.spans]
                runs.append(("\n", frozenset()))
            else:
                runs.append(_run(part, frozenset()))
    buttons = numbered.flat(message.buttons)
    if buttons:
        runs.append(("\n\n", frozenset()))
        lines = [f"{n}. {plain_text.safe(b.label)}" for n, b in enumerate(buttons, 1)]
        runs.append(("\n".join(lines), frozenset()))
    return _styled(_tidy(runs))


def _run(span: Span, extra: frozenset[str]) -> _Run:
    styles = set(extra)
    if span.strong:
        styles.add(BOLD)
    if span.emphasis:
        styles.add(ITALIC)
    return (plain_text.safe(span.text), frozenset(styles))


def _tidy(runs: list[_Run]) -> list[tuple[str, frozenset[str]]]:
    """Per character: never more than one blank line in a row, nothing blank at either end
    (as `flows.messages.plain_words` does for the unstyled text)."""
    chars: list[tuple[str, frozenset[str]]] = []
    for text, styles in runs:
        for char in text:
            if char == "\n" and len(chars) >= 2 and chars[-1][0] == chars[-2][0] == "\n":
                continue
            chars.append((char, styles))
    while chars and chars[0][0].isspace():
        chars.pop(0)
    while chars and chars[-1][0].isspace():
        chars.pop()
    return chars


def _styled(chars: list[tuple[str, frozenset[str]]]) -> Rendered:
    text = "".join(char for char, _ in chars)
    ranges: list[TextStyle] = []
    for style in STYLES:
        start: int | None = None
        for index, (_, styles) in enumerate([*chars, ("", frozenset())]):
            if style in styles and start is None:
                start = index
            elif style not in styles and start is not None:
                if text[start:index].strip():
                    ranges.append(TextStyle.span(text, start, index, style))
                start = None
    return Rendered(text, tuple(sorted(ranges, key=lambda r: (r.start, r.style))))
