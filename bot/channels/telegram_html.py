"""A message in Telegram's HTML: the structure's styles as tags, every piece of text escaped."""

from __future__ import annotations

import html

from flows.messages import Message, Part, Span


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
