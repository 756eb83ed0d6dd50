"""Telegram's HTML: a message of the coach rendered (its styles as tags, every piece of text
escaped), and long texts cut into messages Telegram accepts."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from flows.messages import Message, Part, Span

MESSAGE_LIMIT = 4096  # characters a person sees in one message (after the HTML is parsed)
RAW_LIMIT = 30_000  # bytes of HTML source in one message; Telegram refuses more than 32 KiB


def render(message: Message) -> str:
    """The message as the text of a `sendMessage` with `parse_mode` HTML."""
    return "\n\n".join("".join(_part(part) for part in p) for p in message.paragraphs)


def _part(part: Part) -> str:
    if isinstance(part, Span):
        return _span(part)
    return "<blockquote>" + "".join(_span(s) for s in part.spans) + "</blockquote>"


def _span(span: Span) -> str:
    # Telegram needs only <, > and & escaped outside tags; the person's words are just text.
    text = html.escape(span.text, quote=False)
    if span.emphasis:
        text = f"<i>{text}</i>"
    if span.strong:
        text = f"<b>{text}</b>"
    return text


# --- long texts ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"<[^>]*>"  # a tag
    # an entity Telegram decodes (others it shows as they are)
    r"|&(?:#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|(?:lt|gt|amp|quot)(?![A-Za-z]));?"
    r"|[^<&]|&",  # one character
    re.DOTALL,
)
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")


@dataclass(frozen=True, slots=True)
class _Token:
    raw: str
    visible: int  # characters it adds to what the person sees
    tag: str | None = None  # the tag name, for tags
    closing: bool = False

    @property
    def content(self) -> bool:
        """Text that is not white space (Telegram trims white space at the ends)."""
        return self.tag is None and self.raw.strip() != ""


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN.finditer(text):
        raw = match.group(0)
        if raw.startswith("<"):
            name = _TAG_NAME.match(raw)
            tokens.append(
                _Token(raw, 0, name.group(1).lower() if name else "", raw.startswith("</"))
            )
        else:
            tokens.append(_Token(raw, 1))
    return tokens


def split_html(text: str, limit: int = MESSAGE_LIMIT, raw_limit: int = RAW_LIMIT) -> list[str]:
    """Telegram HTML cut into messages of at most `limit` visible characters: at the last
    paragraph break that fits, else the last line break, else the last space, else anywhere
    between two characters. Tags open at a cut are closed before it and opened again after it,
    and an entity such as `&amp;` is never cut, so every part is valid HTML on its own."""
    if len(text) <= limit and len(text.encode()) <= raw_limit:
        return [text]  # tags and entities only make the visible text shorter
    tokens = _tokens(text)
    parts: list[str] = []
    stack: list[_Token] = []  # tags open where the current part starts
    start = 0
    while start < len(tokens):
        while start < len(tokens) and not tokens[start].content:
            _track(stack, tokens[start])  # white space at the start of a message goes (Telegram
            start += 1  # would trim it); tags there are opened again in front of what follows
        if start >= len(tokens):
            break
        end = _fit(tokens, start, stack, limit, raw_limit)
        cut, resume = (end, end) if end >= len(tokens) else _break(tokens, start, end)
        opened = list(stack)
        for token in tokens[start:cut]:
            _track(stack, token)
        body = "".join(t.raw for t in opened) + "".join(t.raw for t in tokens[start:cut])
        parts.append(body + "".join(f"</{t.tag}>" for t in reversed(stack)))
        if not any(t.content for t in tokens[resume:]):
            break  # only white space and closing tags are left
        start = resume
    return parts


def _track(stack: list[_Token], token: _Token) -> None:
    if token.tag is None:
        return
    if not token.closing:
        stack.append(token)
    elif stack:
        stack.pop()  # Telegram matches an end tag with the innermost open one


def _fit(tokens: list[_Token], start: int, stack: list[_Token], limit: int, raw_limit: int) -> int:
    """The end of the longest run of tokens from `start` that fits one message."""
    visible = 0
    # the tags opened again at the start, and room to close everything at the end
    raw = sum(len(t.raw.encode()) + len(t.tag or "") + 3 for t in stack)
    i = start
    while i < len(tokens):
        token = tokens[i]
        size = len(token.raw.encode())
        if token.tag is not None and not token.closing:
            size += len(token.tag) + 3  # its end tag, should the part end inside it
        if visible + token.visible > limit or raw + size > raw_limit:
            break
        visible += token.visible
        raw += size
        i += 1
    return max(i, start + 1)  # always make progress


def _break(tokens: list[_Token], start: int, end: int) -> tuple[int, int]:
    """Where to cut the tokens [start, end) that fit, and where the next part resumes: the
    separator between them is dropped (Telegram would trim it anyway)."""
    first = next((p for p in range(start, end) if tokens[p].content), None)
    if first is None:
        return end, end
    for separator in ("\n\n", "\n", " "):
        width = len(separator)
        for p in range(end - width, first, -1):
            if all(
                t.tag is None and t.raw == c
                for t, c in zip(tokens[p : p + width], separator, strict=True)
            ):
                resume = p + width
                while resume < len(tokens) and tokens[resume].raw in (" ", "\n"):
                    resume += 1
                return p, resume
    return end, end


def visible_length(text: str) -> int:
    """How many characters Telegram shows for this HTML (before trimming)."""
    return sum(t.visible for t in _tokens(text))


def escape(text: str) -> str:
    return html.escape(text, quote=False)
