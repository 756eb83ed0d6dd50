"""Telegram's HTML as far as the tests need it: what a person sees of a message (the text
without its tags, entities decoded, trimmed; its formatting as MessageEntity dicts) and
Telegram's refusal of HTML it cannot parse ("Bad Request: can't parse entities: …").

Not a port of tdlib's parser: the standard library's `html.parser` reads the tags, and this
module checks what Telegram insists on: only the tags of its subset, each closed in the order
opened, and `<` and `&` escaped in the text. Where this is stricter than Telegram (a bare `&`,
which Telegram shows as it is), it follows the Bot API's documentation, which asks for `&amp;`;
the coach always escapes. The refusals are worded like tdlib's where tdlib has the case.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

# Telegram's tags (https://core.telegram.org/bots/api#html-style) and the entity each makes.
ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only as <span class="tg-spoiler">
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}  # the only ones Telegram knows
TRIMMED = " \t\r\n\x0b"


class HtmlRefused(ValueError):
    """Telegram refuses the HTML; `str()` is what follows "can't parse entities: "."""


def utf16_len(text: str) -> int:
    """Telegram counts entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse(source: str) -> tuple[str, list[dict[str, Any]]]:
    """The text Telegram makes of this HTML (not yet trimmed) and its entities; raises
    `HtmlRefused` where Telegram answers "can't parse entities"."""
    reader = _Reader(source)
    reader.feed(source)
    reader.close()
    if reader.open:
        raise HtmlRefused(f'Can\'t find end tag corresponding to start tag "{reader.open[-1][0]}"')
    entities = sorted(reader.entities, key=lambda e: (e["offset"], -e["length"]))
    return "".join(reader.text), entities


def trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram drops white space at the end, and at the start up to the first entity."""
    text = text.rstrip(TRIMMED)
    end = utf16_len(text)
    kept = [
        {**e, "length": min(e["length"], end - e["offset"])} for e in entities if e["offset"] < end
    ]
    first = min((e["offset"] for e in kept), default=end)
    lead = 0  # the white space dropped here is one UTF-16 unit per character
    while lead < len(text) and lead < first and text[lead] in TRIMMED:
        lead += 1
    return text[lead:], [{**e, "offset": e["offset"] - lead} for e in kept]


def visible(source: str) -> str:
    """What a person sees of this HTML."""
    return trim(*parse(source))[0]


class _Reader(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.text: list[str] = []
        self.length = 0  # UTF-16 units of text so far
        self.open: list[tuple[str, dict[str, str | None], int]] = []  # tag, attributes, offset
        self.entities: list[dict[str, Any]] = []

    def _at(self, extra: str = "") -> int:
        """The byte offset in the source where the current token starts, plus `extra`."""
        line, column = self.getpos()
        return len(self.source[: self.line_starts[line - 1] + column].encode()) + len(
            extra.encode()
        )

    def _add(self, text: str) -> None:
        self.text.append(text)
        self.length += utf16_len(text)

    def handle_data(self, data: str) -> None:
        if "<" in data:  # html.parser takes a '<' that opens no tag as text; Telegram does not
            raise HtmlRefused(
                f'Unsupported start tag "" at byte offset {self._at(data[: data.index("<")])}'
            )
        if "&" in data:
            raise HtmlRefused(f'Unescaped "&" at byte offset {self._at(data[: data.index("&")])}')
        self._add(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            raise HtmlRefused(f'Unescaped "&" at byte offset {self._at()}')
        self._add(NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        self._add(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ENTITY_TYPES:
            raise HtmlRefused(f'Unsupported start tag "{tag}" at byte offset {self._at()}')
        attributes = dict(attrs)
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            at = self._at()
            raise HtmlRefused(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        self.open.append((tag, attributes, self.length))

    def handle_endtag(self, tag: str) -> None:
        if not self.open:
            raise HtmlRefused(f"Unexpected end tag at byte offset {self._at()}")
        name, attributes, offset = self.open.pop()
        if tag != name:
            raise HtmlRefused(
                f'Unmatched end tag at byte offset {self._at()}, expected "</{name}>", '
                f'found "</{tag}>"'
            )
        if self.length == offset:
            return  # an empty entity is dropped
        entity: dict[str, Any] = {"type": ENTITY_TYPES[tag], "offset": offset}
        entity["length"] = self.length - offset
        if tag == "a":
            if not attributes.get("href"):
                return  # tdlib makes a link of the text itself; the coach always gives href
            entity["url"] = attributes["href"]
        if tag == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        self.entities.append(entity)

    # Comments, <!DOCTYPE …>, <?…?>, <![CDATA[…]]>: Telegram knows none of them.

    def handle_comment(self, data: str) -> None:
        self._refuse()

    def handle_decl(self, decl: str) -> None:
        self._refuse()

    def handle_pi(self, data: str) -> None:
        self._refuse()

    def unknown_decl(self, data: str) -> None:
        self._refuse()

    def _refuse(self) -> None:
        raise HtmlRefused(f'Unsupported start tag "" at byte offset {self._at()}')
