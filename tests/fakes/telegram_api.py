"""A fake Telegram Bot API server for tests.

``FakeBotAPI`` imitates ``https://api.telegram.org`` on 127.0.0.1 closely enough that the real
python-telegram-bot ``Bot`` / ``Application`` runs against it unchanged::

    with FakeBotAPI() as fake:
        bot = Bot("123:abc", base_url=fake.base_url)     # or ApplicationBuilder().base_url(…)
        ...
        fake.send_text(42, "/start")                     # the person writes to the bot
        [reply] = fake.wait_for_messages(42, 1)           # what the bot sent back
        fake.press_button(42, reply.message_id, "next")   # the person taps a button

It speaks the real wire format:

* Requests arrive as ``POST /bot<token>/<method>``. PTB sends every parameter as a form field
  (``application/x-www-form-urlencoded``; ``multipart/form-data`` as soon as a file is uploaded),
  with non-string values JSON-encoded (``chat_id=42``, ``reply_markup={"inline_keyboard": …}``).
  JSON bodies and GET query strings are accepted too, like the real Bot API.
* Answers are ``{"ok": true, "result": …}`` or ``{"ok": false, "error_code": N, "description":
  "…", "parameters": {…}}`` with the HTTP status equal to ``error_code`` - PTB picks its exception
  from the HTTP status (400 BadRequest, 403 Forbidden, 401/404 InvalidToken, 409 Conflict,
  anything else NetworkError) and raises RetryAfter whenever ``parameters.retry_after`` is present.
* Error texts are copied from tdlib / telegram-bot-api (``MessageEntity.cpp::parse_html``,
  ``Client.cpp::fail_query_with_error``), including how the Bot API lower-cases the first letter
  of tdlib's messages ("Message is too long" -> "Bad Request: message is too long").

Threading: the server runs in a background thread and serves each connection in its own thread,
so it works for sync tests, async tests (PTB in the test's event loop) and a bot running as a
separate OS process. All state sits behind one condition variable. The ``wait_*`` helpers block
the calling thread: from ``async`` tests use the ``*_async`` variants (or ``asyncio.to_thread``),
otherwise the bot in the same event loop cannot run while you wait.

What is *not* imitated: Markdown parse modes are accepted but not parsed, automatic entity
detection (URLs, mentions) is limited to bot commands in messages from the person, groups are
only sketched (negative chat ids become ``"type": "group"``), and media other than documents can
only be sent *by the person*, not by the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import math
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")

# --- Telegram's limits and error texts --------------------------------------------------------

MAX_MESSAGE_LENGTH = 4096  # code points, counted after entity parsing and trimming
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_RAW_TEXT_BYTES = 1 << 15  # the Bot API refuses longer raw text before even parsing it
LONG_POLL_MAX_TIMEOUT = 50  # telegram-bot-api clamps getUpdates' timeout to this

ERR_NOT_FOUND = "Not Found"
ERR_UNAUTHORIZED = "Unauthorized"
ERR_TEXT_EMPTY = "Bad Request: message text is empty"
ERR_TEXT_WHITESPACE = "Bad Request: text must be non-empty"
ERR_RAW_TEXT_TOO_LONG = "Bad Request: text is too long"
ERR_MESSAGE_TOO_LONG = "Bad Request: message is too long"
ERR_CAPTION_TOO_LONG = "Bad Request: message caption is too long"
ERR_PARSE_ENTITIES = "Bad Request: can't parse entities: "
ERR_BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
ERR_TEXT_BUTTONS = (
    "Bad Request: can't parse inline keyboard button: "
    "Text buttons are unallowed in the inline keyboard"
)
ERR_BLOCKED = "Forbidden: bot was blocked by the user"
ERR_CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
ERR_CHAT_NOT_FOUND = "Bad Request: chat not found"
ERR_MESSAGE_ID_EMPTY = "Bad Request: message identifier is not specified"
ERR_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
ERR_DELETE_NOT_FOUND = "Bad Request: message to delete not found"
ERR_CANT_EDIT = "Bad Request: message can't be edited"
ERR_NO_TEXT_TO_EDIT = "Bad Request: there is no text in the message to edit"
ERR_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
ERR_QUERY_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
ERR_BAD_ACTION = "Bad Request: wrong parameter action in request"
ERR_NO_DOCUMENT = "Bad Request: there is no document in the request"
ERR_FILE_EMPTY = "Bad Request: file must be non-empty"
ERR_CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
ERR_CONFLICT_WEBHOOK_SET = "Conflict: terminated by setWebhook request"
ERR_CONFLICT_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)

# Methods that put (or change) a message in a chat: these are what rate limits, ``block`` and the
# ``sends_only`` fault filters act on. Lower-case, because the Bot API matches method names
# case-insensitively.
SEND_METHODS = frozenset(
    {
        "sendmessage", "senddocument", "sendphoto", "sendsticker", "sendvoice", "sendlocation",
        "copymessage", "forwardmessage", "editmessagetext", "editmessagecaption",
        "editmessagereplymarkup",
    }
)  # fmt: skip
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "record_audio", "upload_audio", "upload_document", "choose_sticker",
        "find_location", "pick_up_location", "record_video_note", "upload_video_note",
        "cancel",
    }
)  # fmt: skip
ALL_UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "message_reaction", "message_reaction_count",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
        "chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
    }
)  # fmt: skip
# Delivered when allowed_updates is [] or was never set (Bot API docs).
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}


class _ApiError(Exception):
    """An error answer of the Bot API: HTTP status == error_code, plus Telegram's description."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, description)


def _too_many_requests(retry_after: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


class _DropConnection(Exception):
    """Raised inside request handling to close the socket without writing any response."""


# --- Telegram's HTML parse mode -----------------------------------------------------------------


class HtmlParseError(ValueError):
    """Telegram refused the HTML; ``str(err)`` is tdlib's message, e.g.
    ``Unsupported start tag "p" at byte offset 0``. The Bot API description is
    ``"Bad Request: can't parse entities: " + str(err)``."""


_SPACE = frozenset(b" \t\r\n\x00\x0b")  # tdlib's is_space(); NUL counts as the end of the text
_ALLOWED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "tg-time", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_SIMPLE_TAG_ENTITIES = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only <span class="tg-spoiler"> gets this far
}


_ENTITY_PRIORITY = {
    "blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20, "text_link": 49,
    "bold": 90, "italic": 91, "underline": 92, "strikethrough": 93, "spoiler": 94,
    "custom_emoji": 99,
}  # fmt: skip


def _is_alpha(c: int) -> bool:
    return ord("a") <= (c | 0x20) <= ord("z")


def _is_digit(c: int) -> bool:
    return ord("0") <= c <= ord("9")


def _is_hex_digit(c: int) -> bool:
    return _is_digit(c) or ord("a") <= (c | 0x20) <= ord("f")


def _decode_html_entity(data: bytes, pos: int) -> tuple[int, int]:
    """Port of tdlib's decode_html_entity: returns (code point or 0, position after it).

    Only &lt; &gt; &amp; &quot; and numeric references are decoded; anything else (including
    &nbsp;) stays literal text. The trailing ';' is optional, as in tdlib."""

    def at(i: int) -> int:
        return data[i] if i < len(data) else 0

    end = pos + 1
    code = 0
    if at(pos + 1) == ord("#"):
        end += 1
        if at(pos + 2) == ord("x"):  # tdlib accepts only a lower-case x
            end += 1
            while _is_hex_digit(at(end)):
                code = code * 16 + int(chr(at(end)), 16)
                end += 1
        else:
            while _is_digit(at(end)):
                code = code * 10 + at(end) - ord("0")
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while _is_alpha(at(end)):
            end += 1
        code = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(data[pos + 1 : end], 0)
        if code == 0:
            return 0, pos
    if at(end) == ord(";"):
        end += 1
    return code, end


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse_html(html: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-HTML exactly like tdlib's ``parse_html`` (MessageEntity.cpp).

    Returns the plain text (tags removed, entities decoded; *not* yet trimmed) and the
    MessageEntity dicts with UTF-16 offsets, as the Bot API would return them. Raises
    ``HtmlParseError`` with tdlib's message (byte offsets are UTF-8 byte offsets).
    """
    data = html.encode("utf-8", "surrogatepass")
    n = len(data)

    def at(i: int) -> int:
        # tdlib walks a NUL-terminated C string; reading past the end yields 0.
        return data[i] if i < n else 0

    out = bytearray()
    entities: list[dict[str, Any]] = []
    # Open tags: [tag name, argument, UTF-16 offset of the entity, byte offset in ``out``]
    nested: list[list[Any]] = []
    utf16 = 0
    saw_surrogate = False
    i = 0
    while i < n:
        c = data[i]
        if c == ord("&"):
            code, after = _decode_html_entity(data, i)
            if code:
                utf16 += 1 + (code > 0xFFFF)
                saw_surrogate |= 0xD800 <= code <= 0xDFFF
                out += chr(code).encode("utf-8", "surrogatepass")
                i = after
                continue
        if c != ord("<"):
            if c & 0xC0 != 0x80:  # first byte of a UTF-8 sequence
                utf16 += 1 + (c >= 0xF0)  # 4-byte sequences are surrogate pairs in UTF-16
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != ord("/"):
            # A start tag.
            while at(i) not in _SPACE and at(i) != ord(">"):
                i += 1
            if at(i) == 0:
                raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
            tag = data[begin + 1 : i].lower().decode("utf-8", "replace")
            if tag not in _ALLOWED_TAGS:
                raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')

            argument = ""
            while at(i) != ord(">"):
                while at(i) != 0 and at(i) in _SPACE:
                    i += 1
                if at(i) == ord(">"):
                    break
                name_begin = i
                while at(i) not in _SPACE and at(i) not in b"=>/\"'":
                    i += 1
                attr_name = data[name_begin:i]
                if not attr_name:
                    raise HtmlParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                    )
                while at(i) != 0 and at(i) in _SPACE:
                    i += 1
                if at(i) != ord("="):
                    # An attribute without value, e.g. <blockquote expandable>.
                    if at(i) == 0:
                        raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                    if tag == "blockquote" and attr_name == b"expandable":
                        argument = "1"
                    continue
                i += 1
                while at(i) != 0 and at(i) in _SPACE:
                    i += 1
                if at(i) == 0:
                    raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if at(i) not in b"\"'":
                    # A name token: letters, digits, periods, hyphens; case-insensitive.
                    token_begin = i
                    while at(i) != 0 and (_is_alpha(at(i)) or _is_digit(at(i)) or at(i) in b".-"):
                        i += 1
                    value = data[token_begin:i].lower()
                    if at(i) not in _SPACE and at(i) != ord(">"):
                        raise HtmlParseError(
                            f"Unexpected end of name token at byte offset {token_begin}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    buf = bytearray()
                    while at(i) != quote and at(i) != 0:
                        if at(i) == ord("&"):
                            code, after = _decode_html_entity(data, i)
                            if code:
                                buf += chr(code).encode("utf-8", "surrogatepass")
                                i = after
                                continue
                        buf.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = bytes(buf)
                if at(i) == 0:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")

                text_value = value.decode("utf-8", "replace")
                if tag == "a" and attr_name == b"href":
                    argument = text_value
                elif tag == "code" and attr_name == b"class" and text_value.startswith("language-"):
                    argument = text_value[len("language-") :]
                elif tag == "span" and attr_name == b"class" and text_value.startswith("tg-"):
                    argument = text_value[len("tg-") :]
                elif tag == "tg-emoji" and attr_name == b"emoji-id":
                    argument = text_value
                elif tag == "blockquote" and attr_name == b"expandable":
                    argument = "1"

            if tag == "span" and argument != "spoiler":
                raise HtmlParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            nested.append([tag, argument, utf16, len(out)])
            i += 1  # skip '>'
            continue

        # An end tag.
        if not nested:
            raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
        while at(i) not in _SPACE and at(i) != ord(">"):
            i += 1
        end_tag = data[begin + 2 : i].lower().decode("utf-8", "replace")
        while at(i) != 0 and at(i) in _SPACE:
            i += 1
        if at(i) != ord(">"):
            raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
        tag, argument, offset, out_begin = nested[-1]
        if end_tag and end_tag != tag:  # "</>" closes whatever is open
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                f'found "</{end_tag}>"'
            )
        if utf16 > offset:  # empty entities are dropped
            entity = _html_entity(tag, argument, offset, utf16 - offset, bytes(out[out_begin:]))
            if entity is not None:
                _merge_pre_code(entities, entity, tag, argument)
        nested.pop()
        i += 1  # skip '>'

    if nested:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    if saw_surrogate:
        raise HtmlParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    for entity in entities:
        entity.pop("_language", None)
    # tdlib's sort_entities: by offset, longer first, then a fixed priority per type.
    entities.sort(key=lambda e: (e["offset"], -e["length"], _ENTITY_PRIORITY.get(e["type"], 50)))
    return out.decode("utf-8", "surrogatepass"), entities


def _html_entity(
    tag: str, argument: str, offset: int, length: int, inner: bytes
) -> dict[str, Any] | None:
    entity: dict[str, Any] = {"offset": offset, "length": length}
    if tag in _SIMPLE_TAG_ENTITIES:
        entity["type"] = _SIMPLE_TAG_ENTITIES[tag]
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise HtmlParseError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=argument)
    elif tag == "tg-time":
        return None  # accepted, but the fake does not model date_time entities
    elif tag == "a":
        # Without href the link text is the URL. tdlib silently drops links it can't check;
        # the fake only drops the obviously invalid ones (empty or containing whitespace).
        url = argument or inner.decode("utf-8", "replace")
        if not url or any(ch.isspace() for ch in url):
            return None
        entity.update(type="text_link", url=url)
    elif tag == "pre":
        entity["type"] = "pre"
    elif tag == "code":
        entity["type"] = "code"
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if argument else "blockquote"
    return entity


def _merge_pre_code(
    entities: list[dict[str, Any]], entity: dict[str, Any], tag: str, argument: str
) -> None:
    """<pre><code class="language-x"> (in either nesting order) becomes one pre entity with a
    language, like tdlib's PreCode."""
    last = entities[-1] if entities else None
    same_span = (
        last is not None
        and last["offset"] == entity["offset"]
        and last["length"] == entity["length"]
    )
    if tag == "pre" and same_span and last["type"] == "code" and last.get("_language"):
        last.update(type="pre", language=last.pop("_language"))
        return
    if tag == "code" and same_span and last["type"] == "pre" and argument:
        last["language"] = argument
        return
    if tag == "code" and argument:
        entity["_language"] = argument  # kept only until the enclosing <pre> closes
    entities.append(entity)


_TRAILING_SPACE = " \t\r\n\x0b\x00"


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims the formatted text like tdlib's fix_formatted_text: trailing whitespace
    always, leading spaces/newlines only up to the first entity. Whitespace-only is an error."""
    stripped = text.rstrip(_TRAILING_SPACE)
    if not stripped:
        raise _bad_request(ERR_TEXT_WHITESPACE)
    end16 = _utf16_len(stripped)
    kept = []
    for entity in entities:
        if entity["offset"] >= end16:
            continue
        entity = dict(entity)
        entity["length"] = min(entity["length"], end16 - entity["offset"])
        kept.append(entity)
    first_entity = min((e["offset"] for e in kept), default=end16)
    lead = 0
    while lead < len(stripped) and stripped[lead] in " \n" and lead < first_entity:
        lead += 1  # ' ' and '\n' are one UTF-16 unit each, so code points == units here
    for entity in kept:
        entity["offset"] -= lead
    return stripped[lead:], kept


# --- multipart/form-data ------------------------------------------------------------------------


@dataclass
class UploadedFile:
    """One file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    content: bytes


def _unquote_param(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace("\\\\", "\\")
    # httpx (like browsers, HTML5 form encoding) writes '"' as %22 and control characters as %XX.
    return re.sub(r"%(22|[01][0-9A-Fa-f])", lambda m: chr(int(m.group(1), 16)), value)


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    main, _, rest = value.partition(";")
    params = {}
    for match in re.finditer(r'\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', rest):
        params[match.group(1).lower()] = _unquote_param(match.group(2))
    return main.strip().lower(), params


def parse_multipart(
    body: bytes, content_type: str
) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Split a multipart/form-data body into plain fields and file parts (stdlib only: the
    ``cgi`` module is deprecated and ``email`` mangles raw UTF-8 file names)."""
    _, params = _header_params(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise ValueError("multipart body without boundary")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    chunks = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        head, _, content = chunk.partition(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in head.split(b"\r\n"):
            name, sep, value = line.decode("utf-8", "replace").partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        _, disposition = _header_params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        if "filename" in disposition or "content-type" in headers:
            files[name] = UploadedFile(
                name, disposition.get("filename"), headers.get("content-type"), content
            )
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields, files


# --- records handed to tests --------------------------------------------------------------------

Buttons = list[list[tuple[str, str | None]]]


@dataclass
class SentDocument:
    """A document the bot sent: uploaded bytes, or a file_id/URL string it referred to."""

    file_id: str
    filename: str | None
    mime_type: str | None
    content: bytes | None
    source: str | None = None  # the file_id / URL when nothing was uploaded


@dataclass
class MessageVersion:
    """An earlier state of an edited message."""

    text: str | None
    parse_mode: str | None
    plain: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    buttons: Buttons
    at: float
    method: str


@dataclass
class SentMessage:
    """A message the bot put in a chat, in its current (latest) state.

    ``text`` is exactly what the bot sent (HTML source, or the caption of a document);
    ``plain`` is what the person sees (tags removed, entities decoded, trimmed);
    ``buttons`` are the inline keyboard rows as ``(text, callback_data)`` (``None`` for URL and
    other non-callback buttons). ``history`` holds the earlier versions, oldest first.
    """

    chat_id: int
    message_id: int
    method: str
    text: str | None
    parse_mode: str | None
    plain: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    buttons: Buttons
    date: int
    sent_at: float  # time.monotonic() when accepted
    document: SentDocument | None = None
    history: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    raw: dict[str, Any] = field(default_factory=dict)  # the Message object as Telegram returns it

    @property
    def edited(self) -> bool:
        return bool(self.history)

    @property
    def kind(self) -> str:
        return "document" if self.document is not None else "text"

    @property
    def caption(self) -> str | None:
        return self.text if self.document is not None else None


@dataclass
class CallbackAnswer:
    """One answerCallbackQuery call."""

    callback_query_id: str
    chat_id: int | None
    message_id: int | None
    data: str | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    at: float


@dataclass
class ChatAction:
    """One accepted sendChatAction call."""

    chat_id: int
    action: str
    at: float


@dataclass
class SendRecord:
    """Timing of one accepted send (see SEND_METHODS), for checking order and pacing."""

    chat_id: int
    method: str
    message_id: int
    at: float


@dataclass
class RequestRecord:
    """One HTTP request as it arrived, and how the fake answered it.

    ``status`` is the HTTP status sent (0 while a long poll is still waiting, -1 when the
    connection was dropped without an answer)."""

    method: str | None
    http_method: str
    content_type: str  # e.g. application/x-www-form-urlencoded or multipart/form-data
    token: str | None
    chat_id: int | None
    params: dict[str, Any]
    files: dict[str, str | None]  # field -> uploaded file name
    at: float  # time.monotonic() on arrival
    wall_time: float
    status: int = 0
    description: str | None = None
    finished_at: float | None = None


# --- internal state ------------------------------------------------------------------------------


@dataclass
class _Bucket:
    """Token bucket for enforce_chat_rate / enforce_global_rate."""

    tokens: float
    last: float


@dataclass
class _Fault:
    """A 'next n requests' fault; only requests matching the filter count down."""

    remaining: int
    sends_only: bool
    methods: frozenset[str] | None
    status: int = 502
    html: bool = False
    seconds: float = 0.0

    def matches(self, method: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        return not self.sends_only or method in SEND_METHODS


@dataclass
class _Chat:
    id: int
    user: dict[str, Any]
    next_message_id: int = 1
    sent: list[SentMessage] = field(default_factory=list)
    inbox: dict[int, dict[str, Any]] = field(default_factory=dict)  # the person's messages
    actions: list[ChatAction] = field(default_factory=list)
    blocked: bool = False
    bucket: _Bucket | None = None

    def chat_dict(self) -> dict[str, Any]:
        if self.id < 0:
            return {"id": self.id, "title": "Test group", "type": "group"}
        chat = {"id": self.id, "first_name": self.user["first_name"], "type": "private"}
        for key in ("last_name", "username"):
            if self.user.get(key):
                chat[key] = self.user[key]
        return chat

    def find_sent(self, message_id: int) -> SentMessage | None:
        for message in self.sent:
            if message.message_id == message_id and not message.deleted:
                return message
        return None


@dataclass
class _Call:
    token: str
    method: str  # lower-case
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    record: RequestRecord


class _WithDescription:
    """A successful result that also carries a description (setWebhook/deleteWebhook do)."""

    def __init__(self, result: Any, description: str):
        self.result = result
        self.description = description


# --- parameter helpers (the Bot API treats a missing and an empty parameter alike) --------------


def _arg(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    return None if value is None or value == "" else value


def _str_arg(params: dict[str, Any], name: str) -> str | None:
    value = _arg(params, name)
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _json_arg(params: dict[str, Any], name: str, error: str) -> Any:
    value = _arg(params, name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(error) from None
    return value


def _int_value(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _int_arg(params: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    # telegram-bot-api's get_integer_arg: unparsable -> default, then clamped to [lo, hi].
    value = _int_value(_arg(params, name))
    return default if value is None else max(lo, min(hi, value))


def _bool_arg(params: dict[str, Any], name: str) -> bool:
    value = _arg(params, name)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def _parse_body(
    query: str, body: bytes, content_type: str
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Merge URL query and body parameters, like the Bot API does for every method."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, UploadedFile] = {}
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return params, files
    if kind == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise ValueError("JSON body must be an object")
        params.update(decoded)
    elif kind == "multipart/form-data":
        fields, files = parse_multipart(body, content_type)
        params.update(fields)
    else:  # application/x-www-form-urlencoded, also when the header is missing
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params, files


_PATH_RE = re.compile(r"/bot([^/]*)/([^/?]+)")

_BOT_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")


def _bot_command_entities(text: str) -> list[dict[str, Any]]:
    """Telegram marks /commands in incoming messages; PTB's CommandHandler relies on it."""
    return [
        {"type": "bot_command", "offset": _utf16_len(text[: m.start()]), "length": _utf16_len(m[0])}
        for m in _BOT_COMMAND_RE.finditer(text)
    ]


# --- the HTTP layer ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Hands each HTTP request to FakeBotAPI; HTTP/1.1 so httpx keeps connections alive."""

    protocol_version = "HTTP/1.1"
    # One small write for headers, one for the body: without TCP_NODELAY, Nagle + delayed ACK
    # add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track_connection(self.connection, add=False)

    def do_POST(self) -> None:
        self.server.fake._serve_http(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        _LOG.debug("%s - " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for long polls / idle keep-alive connections

    def __init__(self, address: tuple[str, int], fake: FakeBotAPI):
        self.fake = fake
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients vanishing mid-request is normal here (dropped connections, stopped bots).
        _LOG.debug("error while serving %s", client_address, exc_info=True)


# --- the fake ------------------------------------------------------------------------------------


class FakeBotAPI:
    """A fake Telegram Bot API server on 127.0.0.1 (see the module docstring).

    Parameters:
        bot_username / bot_first_name: what getMe returns. The bot's user id is the number
            before ':' in the token (like real tokens), else ``bot_id``.
        strict_chats: if true, sending to a chat the person never wrote in fails with
            "Bad Request: chat not found" (a bot can't start a conversation).
        require_token: if set, other tokens get 401 Unauthorized (PTB: InvalidToken).
        first_update_id: update_id of the first update.
    """

    def __init__(
        self,
        *,
        bot_username: str = "kern_coach_test_bot",
        bot_first_name: str = "Kern Coach",
        bot_id: int = 7000000001,
        strict_chats: bool = False,
        require_token: str | None = None,
        first_update_id: int = 1,
    ) -> None:
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.bot_id = bot_id
        self.strict_chats = strict_chats
        self.require_token = require_token

        self._cond = threading.Condition(threading.RLock())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._port = 0
        self._listening = False
        self._connections: set[socket.socket] = set()
        self._inflight = 0  # requests being handled (stop() lets them finish)

        # Updates (the person -> the bot).
        self._next_update_id = first_update_id
        self._updates: list[dict[str, Any]] = []  # pending = not yet confirmed, by update_id
        self._delivered: set[int] = set()
        self._confirmed_offset = 0
        self._dropped_updates: list[dict[str, Any]] = []
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._polling = 0
        self._webhook_url = ""

        # What the bot did.
        self._chats: dict[int, _Chat] = {}
        self._requests: list[RequestRecord] = []
        self._sends: list[SendRecord] = []
        self._callback_answers: list[CallbackAnswer] = []
        self._callback_queries: dict[str, dict[str, Any]] = {}
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._tokens: list[str] = []
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)

        # Faults.
        self._fail: list[_Fault] = []
        self._drop: list[_Fault] = []
        self._delay: list[_Fault] = []
        self._outage_until = 0.0
        self._outage_mode = "drop"
        self._rate_every = 0
        self._rate_retry_after = 1
        self._rate_counter = 0
        self._chat_rate: tuple[float, int] | None = None
        self._global_rate: tuple[float, int] | None = None
        self._global_bucket: _Bucket | None = None

        self._methods: dict[str, Callable[[_Call], Any]] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._m_get_me,
                "logOut": self._m_true,
                "close": self._m_true,
                "getUpdates": self._m_get_updates,
                "setWebhook": self._m_set_webhook,
                "deleteWebhook": self._m_delete_webhook,
                "getWebhookInfo": self._m_get_webhook_info,
                "setMyCommands": self._m_set_my_commands,
                "getMyCommands": self._m_get_my_commands,
                "deleteMyCommands": self._m_delete_my_commands,
                "sendMessage": self._m_send_message,
                "sendDocument": self._m_send_document,
                "editMessageText": self._m_edit_message_text,
                "editMessageReplyMarkup": self._m_edit_message_reply_markup,
                "deleteMessage": self._m_delete_message,
                "answerCallbackQuery": self._m_answer_callback_query,
                "sendChatAction": self._m_send_chat_action,
            }.items()
        }

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeBotAPI:
        """Bind a random port on 127.0.0.1 and serve in a background thread."""
        if self._thread is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), self)
        self._port = self._server.server_address[1]
        self._listening = True
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"FakeBotAPI:{self._port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving. Requests being answered get their answer; waiting long polls and idle
        keep-alive connections are closed without one."""
        if self._thread is None:
            return
        self._stopping.set()
        self._close_listening_socket()  # also wakes the accept loop's select()
        self._thread.join(timeout=5)
        self._thread = None
        with self._cond:
            self._cond.notify_all()  # long polls notice _stopping and drop their connection
            self._cond.wait_for(lambda: self._inflight == 0, timeout=2)
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """PTB's ``base_url``: PTB appends the token, requests go to ``/bot<token>/<method>``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def _close_listening_socket(self) -> None:
        with self._cond:
            if self._server is not None and self._listening:
                self._listening = False
                # shutdown() first: close() alone leaves the port accepting for as long as the
                # accept loop's select() still holds the socket.
                with contextlib.suppress(OSError):
                    self._server.socket.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    self._server.socket.close()

    def _accept_loop(self) -> None:
        # Our own accept loop instead of serve_forever(): outage(mode="refuse") closes the
        # listening socket, and the port has to be opened again afterwards.
        server = self._server
        assert server is not None
        while True:
            with self._cond:
                if self._stopping.is_set():
                    return
                refusing = self._outage_active() and self._outage_mode == "refuse"
                if not refusing and not self._listening:
                    refusing = not self._reopen_port(server)
            if refusing:
                time.sleep(0.01)
                continue
            try:
                readable, _, _ = select.select([server.socket], [], [], 0.05)
                if not readable:
                    continue
                conn, address = server.socket.accept()
            except (OSError, ValueError):
                continue
            server.process_request(conn, address)  # one thread per connection

    def _reopen_port(self, server: _Server) -> bool:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._port))
            sock.listen(128)
        except OSError:
            sock.close()
            _LOG.warning("FakeBotAPI: can't reopen port %s yet", self._port, exc_info=True)
            return False
        server.socket = sock
        self._listening = True
        return True

    def _track_connection(self, conn: socket.socket, *, add: bool) -> None:
        with self._cond:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # --- HTTP request handling ------------------------------------------------------------------

    def _serve_http(self, handler: _Handler) -> None:
        with self._cond:
            self._inflight += 1
        try:
            self._handle_request(handler)
        finally:
            with self._cond:
                self._inflight -= 1
                self._cond.notify_all()

    def _handle_request(self, handler: _Handler) -> None:
        arrived = time.monotonic()
        try:
            body = self._read_body(handler)
        except (OSError, ValueError):
            handler.close_connection = True
            return
        url = urlsplit(handler.path)
        match = _PATH_RE.fullmatch(url.path)
        token, method = (match.group(1), match.group(2)) if match else (None, None)
        parse_error = None
        try:
            params, files = _parse_body(url.query, body, handler.headers.get("Content-Type", ""))
        except (ValueError, UnicodeDecodeError) as exc:
            params, files, parse_error = {}, {}, exc
        record = RequestRecord(
            method=method,
            http_method=handler.command,
            content_type=handler.headers.get("Content-Type", "").split(";")[0].strip(),
            token=token,
            chat_id=_int_value(params.get("chat_id")),
            params=params,
            files={name: f.filename for name, f in files.items()},
            at=arrived,
            wall_time=time.time(),
        )
        lower = (method or "").lower()
        with self._cond:
            self._requests.append(record)
            if token is not None and token not in self._tokens:
                self._tokens.append(token)
            drop = self._outage_active() or self._take(self._drop, lower) is not None
            delay = None if drop else self._take(self._delay, lower)
            fail = None if drop else self._take(self._fail, lower)
            self._cond.notify_all()

        if drop:
            self._finish(record, -1, "connection dropped")
            self._drop_connection(handler)
            return
        if delay is not None:
            time.sleep(delay.seconds)
        if fail is not None:
            self._answer_failure(handler, record, fail)
            return
        if parse_error is not None:
            self._answer(
                handler, record, _bad_request(f"Bad Request: {parse_error}").payload(), 400
            )
            return

        try:
            status, payload = self._dispatch(token, method, params, files, record)
        except _DropConnection:
            self._finish(record, -1, "connection dropped")
            self._drop_connection(handler)
            return
        self._answer(handler, record, payload, status)

    @staticmethod
    def _read_body(handler: _Handler) -> bytes:
        if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    def _dispatch(
        self,
        token: str | None,
        method: str | None,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        record: RequestRecord,
    ) -> tuple[int, dict[str, Any]]:
        # Real Telegram answers both a bad path and an unknown method with a bare 404.
        if token is None or method is None:
            return 404, _ApiError(404, ERR_NOT_FOUND).payload()
        if self.require_token is not None and token != self.require_token:
            return 401, _ApiError(401, ERR_UNAUTHORIZED).payload()
        handler = self._methods.get(method.lower())
        if handler is None:
            return 404, _ApiError(404, ERR_NOT_FOUND).payload()
        try:
            result = handler(_Call(token, method.lower(), params, files, record))
        except _ApiError as err:
            return err.status, err.payload()
        if isinstance(result, _WithDescription):
            return 200, {"ok": True, "result": result.result, "description": result.description}
        return 200, {"ok": True, "result": result}

    def _answer(
        self, handler: _Handler, record: RequestRecord, payload: dict[str, Any], status: int
    ) -> None:
        self._finish(record, status, payload.get("description"))
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._write(handler, status, "application/json", body)

    def _answer_failure(self, handler: _Handler, record: RequestRecord, fault: _Fault) -> None:
        phrase = HTTPStatus(fault.status).phrase
        self._finish(record, fault.status, phrase)
        if fault.html:
            # What nginx in front of api.telegram.org really sends when the backend is down.
            body = (
                f"<html>\r\n<head><title>{fault.status} {phrase}</title></head>\r\n<body>\r\n"
                f"<center><h1>{fault.status} {phrase}</h1></center>\r\n"
                "<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
            ).encode()
            self._write(handler, fault.status, "text/html", body)
        else:
            payload = {"ok": False, "error_code": fault.status, "description": phrase}
            self._write(handler, fault.status, "application/json", json.dumps(payload).encode())

    @staticmethod
    def _write(handler: _Handler, status: int, content_type: str, body: bytes) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            handler.close_connection = True  # the client went away (e.g. its read timeout)

    @staticmethod
    def _drop_connection(handler: _Handler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    def _finish(self, record: RequestRecord, status: int, description: str | None) -> None:
        with self._cond:
            record.status = status
            record.description = description
            record.finished_at = time.monotonic()
            self._cond.notify_all()

    # --- fault bookkeeping (call with the lock held) --------------------------------------------

    def _outage_active(self) -> bool:
        return time.monotonic() < self._outage_until

    @staticmethod
    def _take(faults: list[_Fault], method: str) -> _Fault | None:
        for fault in faults:
            if fault.matches(method):
                fault.remaining -= 1
                return fault
        return None

    def _admit(self, chat: _Chat, method: str) -> None:
        """Server-side checks after validation: blocked user, then flood limits."""
        if chat.blocked:
            raise _ApiError(403, ERR_BLOCKED)
        if method not in SEND_METHODS:
            return
        if self._rate_every:
            self._rate_counter += 1
            if self._rate_counter % self._rate_every == 0:
                raise _too_many_requests(self._rate_retry_after)
        now = time.monotonic()
        checks: list[tuple[_Bucket, float]] = []
        if self._global_rate is not None:
            rate, burst = self._global_rate
            if self._global_bucket is None:
                self._global_bucket = _Bucket(burst, now)
            checks.append(
                (self._global_bucket, self._bucket_wait(self._global_bucket, rate, burst, now))
            )
        if self._chat_rate is not None:
            rate, burst = self._chat_rate
            if chat.bucket is None:
                chat.bucket = _Bucket(burst, now)
            checks.append((chat.bucket, self._bucket_wait(chat.bucket, rate, burst, now)))
        wait = max((w for _, w in checks), default=0.0)
        if wait > 0:
            raise _too_many_requests(max(1, math.ceil(wait)))
        for bucket, _ in checks:
            bucket.tokens -= 1

    @staticmethod
    def _bucket_wait(bucket: _Bucket, rate: float, burst: int, now: float) -> float:
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.last) * rate)
        bucket.last = now
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / rate

    # --- helpers for the methods ----------------------------------------------------------------

    def _bot_user(self, token: str) -> dict[str, Any]:
        prefix = token.split(":", 1)[0]
        return {
            "id": int(prefix) if prefix.isdigit() else self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _chat(self, chat_id: int, *, create: bool = True) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            if not create:
                raise _bad_request(ERR_CHAT_NOT_FOUND)
            user = {"id": chat_id, "is_bot": False, "first_name": "Test", "language_code": "nl"}
            chat = self._chats[chat_id] = _Chat(chat_id, user)
        return chat

    def _target_chat(self, call: _Call) -> _Chat:
        value = _arg(call.params, "chat_id")
        if value is None:
            raise _bad_request(ERR_CHAT_ID_EMPTY)
        chat_id = _int_value(value)
        if chat_id is None:  # "@channelusername" and garbage: no such chat here
            raise _bad_request(ERR_CHAT_NOT_FOUND)
        call.record.chat_id = chat_id
        return self._chat(chat_id, create=not self.strict_chats)

    @staticmethod
    def _format(
        text: str, parse_mode: str | None, entities: Any, limit: int, too_long: str
    ) -> tuple[str, list[dict[str, Any]]]:
        """What Telegram makes of (text, parse_mode): the plain text and its entities."""
        if len(text.encode("utf-8", "surrogatepass")) > MAX_RAW_TEXT_BYTES:
            raise _bad_request(ERR_RAW_TEXT_TOO_LONG)
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                plain, parsed = parse_html(text)
            except HtmlParseError as err:
                raise _bad_request(ERR_PARSE_ENTITIES + str(err)) from None
        elif mode in ("", "none", "markdown", "markdownv2"):
            # Markdown is accepted but not parsed by the fake.
            plain = text
            parsed = list(entities) if isinstance(entities, list) and not mode else []
        else:
            raise _bad_request("Bad Request: unsupported parse_mode")
        plain, parsed = _trim(plain, parsed)
        if len(plain) > limit:  # tdlib's utf8_length: code points, not UTF-16 units
            raise _bad_request(too_long)
        return plain, parsed

    @staticmethod
    def _reply_markup(params: dict[str, Any]) -> tuple[dict[str, Any] | None, Buttons]:
        """Validate reply_markup like the Bot API; return (inline markup or None, buttons)."""
        markup = _json_arg(
            params, "reply_markup", "Bad Request: can't parse reply keyboard markup JSON object"
        )
        if markup is None:
            return None, []
        if not isinstance(markup, dict):
            raise _bad_request("Bad Request: object expected as reply markup")
        if "inline_keyboard" not in markup:
            return markup, []  # reply keyboards etc.: recorded, but not part of the Message
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request('Bad Request: field "inline_keyboard" must be an Array of Arrays')
        buttons: Buttons = []
        for row in rows:
            out_row = []
            for button in row:
                prefix = "Bad Request: can't parse inline keyboard button: "
                if not isinstance(button, dict):
                    raise _bad_request(prefix + "InlineKeyboardButton must be an Object")
                if not isinstance(button.get("text"), str):
                    raise _bad_request(prefix + 'Field "text" must be of type String')
                data = button.get("callback_data")
                others = (
                    "url", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
                    "switch_inline_query_chosen_chat", "callback_game", "pay", "web_app",
                    "copy_text",
                )  # fmt: skip
                if not data and not any(button.get(key) not in (None, "") for key in others):
                    raise _bad_request(ERR_TEXT_BUTTONS)
                if button.get("url"):
                    data = None  # the Bot API looks at url before callback_data
                elif data is not None and len(str(data).encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
                    # Checked by Telegram's servers, hence the raw MTProto error name.
                    raise _bad_request(ERR_BUTTON_DATA_INVALID)
                out_row.append((button["text"], str(data) if data else None))
            buttons.append(out_row)
        return markup, buttons

    def _new_message_id(self, chat: _Chat) -> int:
        # In a private chat both sides share one message_id sequence.
        message_id = chat.next_message_id
        chat.next_message_id += 1
        return message_id

    def _render(self, chat: _Chat, message: SentMessage, token: str, edit_date: int | None) -> None:
        """Build the Message object Telegram returns for a bot message (stored in .raw)."""
        raw: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self._bot_user(token),
            "chat": chat.chat_dict(),
            "date": message.date,
        }
        if edit_date is not None:
            raw["edit_date"] = edit_date
        if message.document is not None:
            doc = message.document
            raw["document"] = {
                "file_id": doc.file_id,
                "file_unique_id": f"U{doc.file_id}",
            }
            if doc.filename:
                raw["document"]["file_name"] = doc.filename
            if doc.mime_type:
                raw["document"]["mime_type"] = doc.mime_type
            if doc.content is not None:
                raw["document"]["file_size"] = len(doc.content)
            if message.plain:
                raw["caption"] = message.plain
                if message.entities:
                    raw["caption_entities"] = message.entities
        else:
            raw["text"] = message.plain
            if message.entities:
                raw["entities"] = message.entities
        inline = _inline(message.reply_markup)
        if inline is not None:
            # Only (non-empty) inline keyboards are part of a Message.
            raw["reply_markup"] = {"inline_keyboard": inline}
        message.raw = raw

    def _record_send(self, chat: _Chat, message: SentMessage, method: str) -> None:
        self._sends.append(SendRecord(chat.id, method, message.message_id, time.monotonic()))

    def _find_for_edit(self, call: _Call) -> tuple[_Chat, SentMessage]:
        if _arg(call.params, "inline_message_id") is not None:
            raise _bad_request(ERR_EDIT_NOT_FOUND)  # the fake has no inline messages
        chat = self._target_chat(call)
        message_id = _int_value(_arg(call.params, "message_id"))
        if message_id is None:
            raise _bad_request(ERR_MESSAGE_ID_EMPTY)
        message = chat.find_sent(message_id)
        if message is None:
            raise _bad_request(ERR_CANT_EDIT if message_id in chat.inbox else ERR_EDIT_NOT_FOUND)
        return chat, message

    @staticmethod
    def _push_version(message: SentMessage, method: str) -> None:
        message.history.append(
            MessageVersion(
                text=message.text,
                parse_mode=message.parse_mode,
                plain=message.plain,
                entities=copy.deepcopy(message.entities),
                reply_markup=copy.deepcopy(message.reply_markup),
                buttons=copy.deepcopy(message.buttons),
                at=message.sent_at if not message.history else message.history[-1].at,
                method=method,
            )
        )

    # --- Bot API methods ------------------------------------------------------------------------

    def _m_true(self, call: _Call) -> bool:
        return True

    def _m_get_me(self, call: _Call) -> dict[str, Any]:
        return {
            **self._bot_user(call.token),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_get_updates(self, call: _Call) -> list[dict[str, Any]]:
        offset = _int_arg(call.params, "offset", 0, -(2**31), 2**31 - 1)
        limit = _int_arg(call.params, "limit", 100, 1, 100)
        timeout = _int_arg(call.params, "timeout", 0, 0, LONG_POLL_MAX_TIMEOUT)
        allowed = _json_arg(
            call.params, "allowed_updates", "Bad Request: can't parse allowed_updates"
        )
        with self._cond:
            if self._webhook_url:
                raise _ApiError(409, ERR_CONFLICT_WEBHOOK_ACTIVE)
            if isinstance(allowed, list):
                # Applies to updates created from now on; [] means the default set.
                self._allowed_updates = (
                    frozenset(allowed) & ALL_UPDATE_TYPES or DEFAULT_UPDATE_TYPES
                )
            self._confirm(offset)
            if not self._updates and timeout > 0:
                self._long_poll(timeout)
            batch = copy.deepcopy(self._updates[:limit])
            self._delivered.update(update["update_id"] for update in batch)
            return batch

    def _long_poll(self, timeout: int) -> None:
        """Wait (lock held, released while waiting) until an update arrives or time is up."""
        # A newer waiting getUpdates terminates this one with 409 Conflict, like
        # telegram-bot-api's abort_long_poll (a poll that returns at once does not).
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + timeout
        self._polling += 1
        self._cond.notify_all()
        try:
            while True:
                if self._stopping.is_set() or self._outage_active():
                    raise _DropConnection
                if generation != self._poll_generation:
                    raise _ApiError(409, ERR_CONFLICT_POLL)
                if self._webhook_url:
                    raise _ApiError(409, ERR_CONFLICT_WEBHOOK_SET)
                remaining = deadline - time.monotonic()
                if self._updates or remaining <= 0:
                    return
                self._cond.wait(remaining)
        finally:
            self._polling -= 1
            self._cond.notify_all()

    def _confirm(self, offset: int) -> None:
        """getUpdates' offset confirms - forgets - every update with a lower update_id."""
        if offset < 0:
            # "-N": forget all but the newest N updates, then serve from the oldest pending one.
            forgotten, self._updates = self._updates[:offset], self._updates[offset:]
            if forgotten:
                self._confirmed_offset = max(self._confirmed_offset, forgotten[-1]["update_id"] + 1)
            return
        if offset == 0:
            return
        if offset > self._next_update_id:
            # telegram-bot-api's queue rejects an offset "in the future" and serves from the
            # oldest pending update without confirming anything.
            return
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._confirmed_offset = max(self._confirmed_offset, offset)

    def _m_set_webhook(self, call: _Call) -> _WithDescription:
        url = _str_arg(call.params, "url") or ""
        with self._cond:
            if not url:
                return self._delete_webhook(_bool_arg(call.params, "drop_pending_updates"))
            same = url == self._webhook_url
            self._webhook_url = url
            if _bool_arg(call.params, "drop_pending_updates"):
                self._drop_pending()
            self._cond.notify_all()  # a waiting getUpdates gets its Conflict
            return _WithDescription(True, "Webhook is already set" if same else "Webhook was set")

    def _m_delete_webhook(self, call: _Call) -> _WithDescription:
        with self._cond:
            return self._delete_webhook(_bool_arg(call.params, "drop_pending_updates"))

    def _delete_webhook(self, drop_pending: bool) -> _WithDescription:
        had = bool(self._webhook_url)
        self._webhook_url = ""
        if drop_pending:
            self._drop_pending()
        return _WithDescription(
            True, "Webhook was deleted" if had else "Webhook is already deleted"
        )

    def _drop_pending(self) -> None:
        self._dropped_updates.extend(self._updates)
        self._updates = []
        self._confirmed_offset = max(self._confirmed_offset, self._next_update_id)
        self._cond.notify_all()

    def _m_get_webhook_info(self, call: _Call) -> dict[str, Any]:
        with self._cond:
            info: dict[str, Any] = {
                "url": self._webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._webhook_url:
                info["max_connections"] = 40
            return info

    def _command_key(self, call: _Call) -> tuple[str, str]:
        scope = _json_arg(
            call.params, "scope", "Bad Request: can't parse BotCommandScope JSON object"
        )
        if scope is not None and not isinstance(scope, dict):
            raise _bad_request("Bad Request: BotCommandScope must be an Object")
        if not scope or scope.get("type") == "default":
            scope_key = "default"
        else:
            scope_key = json.dumps(scope, sort_keys=True)
        language = _str_arg(call.params, "language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad_request("Bad Request: invalid language code specified")
        return scope_key, language

    def _m_set_my_commands(self, call: _Call) -> bool:
        key = self._command_key(call)
        commands = _json_arg(
            call.params, "commands", "Bad Request: can't parse commands JSON object"
        )
        if commands is None:
            commands = []
        if not isinstance(commands, list):
            raise _bad_request("Bad Request: expected an Array of BotCommand")
        cleaned = []
        for item in commands:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("command"), str)
                or not isinstance(item.get("description"), str)
            ):
                raise _bad_request("Bad Request: can't parse BotCommand: expected an Object")
            command = item["command"].strip().removeprefix("/")
            description = item["description"].strip()
            if not command:
                raise _bad_request("Bad Request: command must be non-empty")
            if len(command) > 32:
                raise _bad_request("Bad Request: command length must not exceed 32")
            if not description:
                raise _bad_request("Bad Request: command description must be non-empty")
            if len(description) > 256:
                raise _bad_request("Bad Request: command description length must not exceed 256")
            cleaned.append({"command": command, "description": description})
        # tdlib checks lengths locally; the character set is checked by Telegram's servers.
        if any(not re.fullmatch(r"[a-z0-9_]+", c["command"]) for c in cleaned):
            raise _bad_request("Bad Request: BOT_COMMAND_INVALID")
        with self._cond:
            self._commands[key] = cleaned
        return True

    def _m_get_my_commands(self, call: _Call) -> list[dict[str, str]]:
        key = self._command_key(call)
        with self._cond:
            return copy.deepcopy(self._commands.get(key, []))

    def _m_delete_my_commands(self, call: _Call) -> bool:
        key = self._command_key(call)
        with self._cond:
            self._commands.pop(key, None)
        return True

    def _m_send_message(self, call: _Call) -> dict[str, Any]:
        text = _str_arg(call.params, "text")
        parse_mode = _str_arg(call.params, "parse_mode")
        with self._cond:
            # Same order as telegram-bot-api: the text, the markup, then the chat, then what
            # Telegram's servers decide (blocked, flood control).
            if text is None:
                raise _bad_request(ERR_TEXT_EMPTY)
            entities = _json_arg(
                call.params, "entities", "Bad Request: can't parse entities JSON object"
            )
            plain, parsed = self._format(
                text, parse_mode, entities, MAX_MESSAGE_LENGTH, ERR_MESSAGE_TOO_LONG
            )
            markup, buttons = self._reply_markup(call.params)
            chat = self._target_chat(call)
            self._admit(chat, call.method)
            message = SentMessage(
                chat_id=chat.id,
                message_id=self._new_message_id(chat),
                method="sendMessage",
                text=text,
                parse_mode=parse_mode,
                plain=plain,
                entities=parsed,
                reply_markup=markup,
                buttons=buttons,
                date=int(time.time()),
                sent_at=time.monotonic(),
            )
            self._render(chat, message, call.token, None)
            chat.sent.append(message)
            self._record_send(chat, message, "sendMessage")
            self._cond.notify_all()
            return copy.deepcopy(message.raw)

    def _m_send_document(self, call: _Call) -> dict[str, Any]:
        caption = _str_arg(call.params, "caption")
        parse_mode = _str_arg(call.params, "parse_mode")
        with self._cond:
            document = self._document(call)
            plain, parsed = None, []
            if caption is not None:
                entities = _json_arg(
                    call.params, "caption_entities", "Bad Request: can't parse entities JSON object"
                )
                plain, parsed = self._format(
                    caption, parse_mode, entities, MAX_CAPTION_LENGTH, ERR_CAPTION_TOO_LONG
                )
            markup, buttons = self._reply_markup(call.params)
            chat = self._target_chat(call)
            self._admit(chat, call.method)
            message = SentMessage(
                chat_id=chat.id,
                message_id=self._new_message_id(chat),
                method="sendDocument",
                text=caption,
                parse_mode=parse_mode,
                plain=plain,
                entities=parsed,
                reply_markup=markup,
                buttons=buttons,
                date=int(time.time()),
                sent_at=time.monotonic(),
                document=document,
            )
            self._render(chat, message, call.token, None)
            chat.sent.append(message)
            self._record_send(chat, message, "sendDocument")
            self._cond.notify_all()
            return copy.deepcopy(message.raw)

    def _document(self, call: _Call) -> SentDocument:
        upload = call.files.get("document")
        reference = _str_arg(call.params, "document")
        if upload is None and reference and reference.startswith("attach://"):
            upload = call.files.get(reference.removeprefix("attach://"))
        file_id = f"BQACAgQAAxkDAAI{next(self._file_ids):06d}"
        if upload is not None:
            if not upload.content:
                raise _bad_request(ERR_FILE_EMPTY)
            return SentDocument(file_id, upload.filename, upload.content_type, upload.content)
        if reference:
            return SentDocument(file_id, None, None, None, source=reference)
        raise _bad_request(ERR_NO_DOCUMENT)

    def _m_edit_message_text(self, call: _Call) -> dict[str, Any]:
        text = _str_arg(call.params, "text")
        parse_mode = _str_arg(call.params, "parse_mode")
        with self._cond:
            chat, message = self._find_for_edit(call)
            if text is None:
                raise _bad_request(ERR_TEXT_EMPTY)
            entities = _json_arg(
                call.params, "entities", "Bad Request: can't parse entities JSON object"
            )
            plain, parsed = self._format(
                text, parse_mode, entities, MAX_MESSAGE_LENGTH, ERR_MESSAGE_TOO_LONG
            )
            # Leaving out reply_markup removes the inline keyboard - a classic surprise.
            markup, buttons = self._reply_markup(call.params)
            if message.document is not None:
                raise _bad_request(ERR_NO_TEXT_TO_EDIT)
            if (plain, parsed, _inline(markup)) == (
                message.plain,
                message.entities,
                _inline(message.reply_markup),
            ):
                raise _bad_request(ERR_NOT_MODIFIED)
            self._admit(chat, call.method)
            self._push_version(message, "editMessageText")
            message.text, message.parse_mode, message.plain, message.entities = (
                text,
                parse_mode,
                plain,
                parsed,
            )
            message.reply_markup, message.buttons = markup, buttons
            self._render(chat, message, call.token, int(time.time()))
            self._record_send(chat, message, "editMessageText")
            self._cond.notify_all()
            return copy.deepcopy(message.raw)

    def _m_edit_message_reply_markup(self, call: _Call) -> dict[str, Any]:
        with self._cond:
            chat, message = self._find_for_edit(call)
            markup, buttons = self._reply_markup(call.params)
            if _inline(markup) == _inline(message.reply_markup):
                raise _bad_request(ERR_NOT_MODIFIED)
            self._admit(chat, call.method)
            self._push_version(message, "editMessageReplyMarkup")
            message.reply_markup, message.buttons = markup, buttons
            self._render(chat, message, call.token, int(time.time()))
            self._record_send(chat, message, "editMessageReplyMarkup")
            self._cond.notify_all()
            return copy.deepcopy(message.raw)

    def _m_delete_message(self, call: _Call) -> bool:
        with self._cond:
            chat = self._target_chat(call)
            message_id = _int_value(_arg(call.params, "message_id"))
            if message_id is None:
                raise _bad_request(ERR_MESSAGE_ID_EMPTY)
            message = chat.find_sent(message_id)
            if message is not None:
                message.deleted = True
            elif chat.inbox.pop(message_id, None) is None:
                raise _bad_request(ERR_DELETE_NOT_FOUND)
            self._cond.notify_all()
            return True

    def _m_answer_callback_query(self, call: _Call) -> bool:
        query_id = _str_arg(call.params, "callback_query_id")
        with self._cond:
            query = self._callback_queries.get(query_id or "")
            if query is None:
                raise _bad_request(ERR_QUERY_INVALID)
            chat_id = query["message"]["chat"]["id"]
            call.record.chat_id = chat_id
            self._callback_answers.append(
                CallbackAnswer(
                    callback_query_id=query_id or "",
                    chat_id=chat_id,
                    message_id=query["message"]["message_id"],
                    data=query.get("data"),
                    text=_str_arg(call.params, "text"),
                    show_alert=_bool_arg(call.params, "show_alert"),
                    url=_str_arg(call.params, "url"),
                    cache_time=_int_value(_arg(call.params, "cache_time")),
                    at=time.monotonic(),
                )
            )
            self._cond.notify_all()
            return True

    def _m_send_chat_action(self, call: _Call) -> bool:
        action = _str_arg(call.params, "action")
        with self._cond:
            chat = self._target_chat(call)
            if action not in CHAT_ACTIONS:
                raise _bad_request(ERR_BAD_ACTION)
            self._admit(chat, call.method)
            chat.actions.append(ChatAction(chat.id, action, time.monotonic()))
            self._cond.notify_all()
            return True

    # --- simulating the person ------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (``update_id`` is assigned if missing). Returns its update_id.

        Like Telegram, an update whose type is not in the bot's current ``allowed_updates`` is
        never delivered (it is kept in ``dropped_updates``)."""
        with self._cond:
            update = copy.deepcopy(update)
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
            kind = next((key for key in update if key != "update_id"), None)
            if kind not in self._allowed_updates:
                self._dropped_updates.append(update)
            else:
                self._updates.append(update)
                self._updates.sort(key=lambda u: u["update_id"])
            self._cond.notify_all()
            return update["update_id"]

    def _person(self, chat_id: int, profile: dict[str, Any]) -> _Chat:
        chat = self._chat(chat_id)
        for key, value in profile.items():
            if value is not None:
                chat.user[key] = value
        return chat

    def _incoming(self, chat_id: int, profile: dict[str, Any], content: dict[str, Any]) -> int:
        with self._cond:
            chat = self._person(chat_id, profile)
            message = {
                "message_id": self._new_message_id(chat),
                "from": dict(chat.user),
                "chat": chat.chat_dict(),
                "date": int(time.time()),
                **content,
            }
            chat.inbox[message["message_id"]] = message
            return self.push_update({"message": message})

    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        language_code: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
    ) -> int:
        """The person sends a text message (``/commands`` get their bot_command entity).

        Profile fields left at None keep the chat's current values; a new chat starts as
        ``first_name="Test", language_code="nl"``. Returns the update_id."""
        content: dict[str, Any] = {"text": text}
        entities = _bot_command_entities(text)
        if entities:
            content["entities"] = entities
        profile = {
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
        }
        return self._incoming(chat_id, profile, content)

    def send_sticker(self, chat_id: int, emoji: str = "👍") -> int:
        file_id = f"CAACAgIAAxkBAAI{next(self._file_ids):06d}"
        sticker = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": 24000,
        }
        return self._incoming(chat_id, {}, {"sticker": sticker})

    def send_photo(self, chat_id: int, caption: str | None = None) -> int:
        base = f"AgACAgQAAxkBAAI{next(self._file_ids):06d}"
        sizes = [(90, 67, 1200), (320, 240, 14000), (1280, 960, 98000)]
        photo = [
            {"file_id": f"{base}{w}", "file_unique_id": f"U{base}{w}", "width": w, "height": h,
             "file_size": size}
            for w, h, size in sizes
        ]  # fmt: skip
        content: dict[str, Any] = {"photo": photo}
        if caption:
            content["caption"] = caption
        return self._incoming(chat_id, {}, content)

    def send_voice(self, chat_id: int, duration: int = 3) -> int:
        file_id = f"AwACAgQAAxkBAAI{next(self._file_ids):06d}"
        voice = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 4000 * duration,
        }
        return self._incoming(chat_id, {}, {"voice": voice})

    def send_location(self, chat_id: int, latitude: float = 52.09, longitude: float = 5.12) -> int:
        return self._incoming(
            chat_id, {}, {"location": {"latitude": latitude, "longitude": longitude}}
        )

    def send_document(
        self,
        chat_id: int,
        filename: str = "notities.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        size: int = 1234,
    ) -> int:
        file_id = f"BQACAgQAAxkBAAI{next(self._file_ids):06d}"
        document = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": size,
        }
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        return self._incoming(chat_id, {}, content)

    def edit_text(self, chat_id: int, message_id: int, new_text: str) -> int:
        """The person edits one of their own text messages: an ``edited_message`` update."""
        with self._cond:
            chat = self._chat(chat_id)
            original = chat.inbox.get(message_id)
            if original is None or "text" not in original:
                raise ValueError(f"chat {chat_id} has no text message {message_id} from the person")
            original["text"] = new_text
            original.pop("entities", None)
            entities = _bot_command_entities(new_text)
            if entities:
                original["entities"] = entities
            original["edit_date"] = int(time.time())
            return self.push_update({"edited_message": copy.deepcopy(original)})

    def press_button(self, chat_id: int, message_id: int, data: str, *, strict: bool = True) -> int:
        """The person taps an inline button: a ``callback_query`` update.

        With ``strict`` (default) the message must exist and currently show a button with this
        callback_data - a person can't press buttons that aren't there."""
        with self._cond:
            chat = self._chat(chat_id)
            message = chat.find_sent(message_id)
            if strict:
                if message is None:
                    raise ValueError(f"the bot has no message {message_id} in chat {chat_id}")
                shown = [d for row in message.buttons for _, d in row]
                if data not in shown:
                    raise ValueError(
                        f"message {message_id} in chat {chat_id} has no button with data {data!r}; "
                        f"it shows {message.buttons}"
                    )
            query_id = str(next(self._callback_ids))
            query: dict[str, Any] = {
                "id": query_id,
                "from": dict(chat.user),
                "chat_instance": str(-(abs(chat_id) * 7919 + 13)),
                "data": data,
            }
            if message is not None:
                query["message"] = copy.deepcopy(message.raw)
            else:  # Telegram's InaccessibleMessage
                query["message"] = {"chat": chat.chat_dict(), "message_id": message_id, "date": 0}
            self._callback_queries[query_id] = query
            return self.push_update({"callback_query": query})

    def press_label(self, chat_id: int, label: str) -> int:
        """Press the button with this text on the newest message that shows it."""
        with self._cond:
            for message in reversed(self._chat(chat_id).sent):
                if message.deleted:
                    continue
                for row in message.buttons:
                    for text, data in row:
                        if text == label and data is not None:
                            return self.press_button(chat_id, message.message_id, data)
            raise ValueError(f"no button labelled {label!r} in chat {chat_id}")

    # --- what happened ----------------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[SentMessage]:
        """Snapshots of everything the bot sent to this chat, oldest first (deleted ones too,
        flagged ``deleted``)."""
        with self._cond:
            chat = self._chats.get(chat_id)
            return copy.deepcopy(chat.sent) if chat else []

    def texts(self, chat_id: int) -> list[str | None]:
        """The plain texts (or captions) the person currently sees, oldest first."""
        return [m.plain for m in self.messages(chat_id) if not m.deleted]

    def last_message(self, chat_id: int) -> SentMessage | None:
        sent = [m for m in self.messages(chat_id) if not m.deleted]
        return sent[-1] if sent else None

    def last_buttons(self, chat_id: int) -> Buttons:
        """The buttons of the newest message in this chat that shows an inline keyboard."""
        for message in reversed(self.messages(chat_id)):
            if message.buttons and not message.deleted:
                return message.buttons
        return []

    def user_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The person's own messages in this chat (as Message dicts), oldest first."""
        with self._cond:
            chat = self._chats.get(chat_id)
            return (
                copy.deepcopy(sorted(chat.inbox.values(), key=lambda m: m["message_id"]))
                if chat
                else []
            )

    def chat_actions(self, chat_id: int) -> list[ChatAction]:
        with self._cond:
            chat = self._chats.get(chat_id)
            return copy.deepcopy(chat.actions) if chat else []

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        with self._cond:
            return copy.deepcopy(self._callback_answers)

    @property
    def commands(self) -> dict[str, list[tuple[str, str]]]:
        """Default-scope bot commands per language_code ("" = no language)."""
        with self._cond:
            return {
                language: [(c["command"], c["description"]) for c in commands]
                for (scope, language), commands in self._commands.items()
                if scope == "default"
            }

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[tuple[str, str]]:
        key = (
            "default"
            if not scope or scope.get("type") == "default"
            else json.dumps(scope, sort_keys=True)
        )
        with self._cond:
            return [
                (c["command"], c["description"])
                for c in self._commands.get((key, language_code), [])
            ]

    @property
    def requests(self) -> list[RequestRecord]:
        """Every HTTP request, in arrival order."""
        with self._cond:
            return copy.deepcopy(self._requests)

    def calls(self, method: str) -> list[RequestRecord]:
        """The requests for one Bot API method (case-insensitive)."""
        return [r for r in self.requests if (r.method or "").lower() == method.lower()]

    def sends(self, chat_id: int | None = None) -> list[SendRecord]:
        """Accepted sends/edits (SEND_METHODS) with their times, for order and pacing checks."""
        with self._cond:
            return [copy.copy(s) for s in self._sends if chat_id is None or s.chat_id == chat_id]

    @property
    def tokens(self) -> list[str]:
        """Bot tokens seen in request paths, in order of first use."""
        with self._cond:
            return list(self._tokens)

    @property
    def webhook_url(self) -> str:
        with self._cond:
            return self._webhook_url

    @property
    def confirmed_offset(self) -> int:
        """The highest getUpdates offset acknowledged: all updates below it are confirmed."""
        with self._cond:
            return self._confirmed_offset

    def is_confirmed(self, update_id: int) -> bool:
        with self._cond:
            return all(u["update_id"] != update_id for u in self._updates)

    def was_delivered(self, update_id: int) -> bool:
        """True once getUpdates has returned this update at least once."""
        with self._cond:
            return update_id in self._delivered

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed (delivered or not)."""
        with self._cond:
            return copy.deepcopy(self._updates)

    @property
    def dropped_updates(self) -> list[dict[str, Any]]:
        """Updates filtered out by allowed_updates or dropped via drop_pending_updates."""
        with self._cond:
            return copy.deepcopy(self._dropped_updates)

    @property
    def is_polling(self) -> bool:
        """True while a getUpdates long poll is waiting."""
        with self._cond:
            return self._polling > 0

    # --- waiting ----------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], _T], timeout: float = 5.0, what: str = "") -> _T:
        """Block until ``predicate()`` is truthy and return its value; TimeoutError otherwise.

        The predicate runs under the fake's lock and is re-checked on every change. Don't call
        this from the event loop the bot runs in - use ``wait_for_async`` there."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_report(what or repr(predicate), timeout))
                self._cond.wait(min(remaining, 0.1))  # also re-check time-based predicates

    async def wait_for_async(
        self, predicate: Callable[[], _T], timeout: float = 5.0, what: str = ""
    ) -> _T:
        """``wait_for`` for async tests: polls without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_report(what or repr(predicate), timeout))
            await asyncio.sleep(0.005)

    def _messages_predicate(self, chat_id: int, count: int) -> Callable[[], list[SentMessage]]:
        def enough() -> list[SentMessage]:
            sent = self.messages(chat_id)
            return sent if len(sent) >= count else []

        return enough

    def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 5.0
    ) -> list[SentMessage]:
        """Wait until the bot has sent at least ``count`` messages to the chat; returns them all."""
        return self.wait_for(
            self._messages_predicate(chat_id, count),
            timeout,
            f"{count} message(s) in chat {chat_id}",
        )

    async def wait_for_messages_async(
        self, chat_id: int, count: int, timeout: float = 5.0
    ) -> list[SentMessage]:
        return await self.wait_for_async(
            self._messages_predicate(chat_id, count),
            timeout,
            f"{count} message(s) in chat {chat_id}",
        )

    def wait_for_confirmed(self, update_id: int, timeout: float = 5.0) -> bool:
        """Wait until the bot acknowledged (confirmed via offset) this update."""
        return self.wait_for(
            lambda: self.is_confirmed(update_id), timeout, f"update {update_id} confirmed"
        )

    async def wait_for_confirmed_async(self, update_id: int, timeout: float = 5.0) -> bool:
        return await self.wait_for_async(
            lambda: self.is_confirmed(update_id), timeout, f"update {update_id} confirmed"
        )

    def wait_until_polling(self, timeout: float = 5.0) -> bool:
        """Wait until the bot sits in a getUpdates long poll."""
        return self.wait_for(lambda: self._polling > 0, timeout, "a waiting getUpdates")

    async def wait_until_polling_async(self, timeout: float = 5.0) -> bool:
        return await self.wait_for_async(lambda: self._polling > 0, timeout, "a waiting getUpdates")

    def _timeout_report(self, what: str, timeout: float) -> str:
        with self._cond:
            lines = [f"FakeBotAPI: timed out after {timeout}s waiting for {what}"]
            for chat in self._chats.values():
                texts = [repr((m.plain or "")[:60]) for m in chat.sent[-5:]]
                lines.append(f"  chat {chat.id}: {len(chat.sent)} sent, last: {', '.join(texts)}")
            for record in self._requests[-10:]:
                lines.append(f"  {record.method} -> {record.status} {record.description or ''}")
            return "\n".join(lines)

    # --- faults -----------------------------------------------------------------------------------

    def block(self, chat_id: int, *, send_update: bool = False) -> None:
        """The person blocks the bot: sends and chat actions get 403 "Forbidden: bot was blocked
        by the user". ``send_update`` also queues the my_chat_member update Telegram sends.
        (The person's simulated actions still work while blocked.)"""
        with self._cond:
            chat = self._chat(chat_id)
            chat.blocked = True
            if send_update:
                self._member_update(chat, "member", "kicked")

    def unblock(self, chat_id: int, *, send_update: bool = False) -> None:
        with self._cond:
            chat = self._chat(chat_id)
            chat.blocked = False
            if send_update:
                self._member_update(chat, "kicked", "member")

    def _member_update(self, chat: _Chat, old: str, new: str) -> None:
        bot = self._bot_user(self._tokens[-1] if self._tokens else "")

        def member(status: str) -> dict[str, Any]:
            # A private chat "ban" is forever: Telegram sends until_date 0.
            return {
                "user": bot,
                "status": status,
                **({"until_date": 0} if status == "kicked" else {}),
            }

        self.push_update(
            {
                "my_chat_member": {
                    "chat": chat.chat_dict(),
                    "from": dict(chat.user),
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    def rate_limit_every(self, n: int | None, retry_after: int = 1) -> None:
        """Every n-th send (SEND_METHODS) gets 429 "Too Many Requests: retry after N" with
        ``parameters.retry_after``. ``None``/0 switches it off."""
        with self._cond:
            self._rate_every = n or 0
            self._rate_retry_after = retry_after
            self._rate_counter = 0

    def enforce_chat_rate(self, max_per_second: float | None = 1.0, burst: int = 3) -> None:
        """Per-chat flood control (token bucket): sends beyond it get 429 with the seconds until
        the next send would pass. ``None`` switches it off."""
        with self._cond:
            self._chat_rate = None if max_per_second is None else (max_per_second, burst)
            for chat in self._chats.values():
                chat.bucket = None

    def enforce_global_rate(self, max_per_second: float | None = 30.0, burst: int = 30) -> None:
        """Bot-wide flood control across all chats (Telegram's ~30 messages/second)."""
        with self._cond:
            self._global_rate = None if max_per_second is None else (max_per_second, burst)
            self._global_bucket = None

    def fail_next(
        self,
        n: int = 1,
        status: int = 502,
        *,
        sends_only: bool = False,
        methods: Iterable[str] | None = None,
        html: bool = False,
    ) -> None:
        """The next n matching requests get HTTP ``status`` with a Telegram-like JSON body
        (``html=True``: nginx's HTML error page instead). Note that a polling bot sends getUpdates
        all the time - use ``sends_only`` or ``methods`` to hit what you mean."""
        with self._cond:
            self._fail.append(_Fault(n, sends_only, _method_set(methods), status=status, html=html))

    def drop_connections(
        self, n: int = 1, *, sends_only: bool = False, methods: Iterable[str] | None = None
    ) -> None:
        """The next n matching requests are read completely, then the socket is closed without
        an answer (the request may or may not have "happened" - exactly the ambiguous case)."""
        with self._cond:
            self._drop.append(_Fault(n, sends_only, _method_set(methods)))

    def delay_next(
        self,
        n: int = 1,
        seconds: float = 1.0,
        *,
        sends_only: bool = False,
        methods: Iterable[str] | None = None,
    ) -> None:
        """The next n matching requests are answered only after ``seconds`` (slow Telegram;
        longer than PTB's read timeout -> TimedOut, while the request still takes effect)."""
        with self._cond:
            self._delay.append(_Fault(n, sends_only, _method_set(methods), seconds=seconds))

    def outage(self, seconds: float, *, mode: str = "drop") -> None:
        """For ``seconds`` Telegram is unreachable. ``mode="drop"``: every request's connection is
        closed without answer; ``mode="refuse"``: new connections are refused (the port is
        closed and reopened afterwards; requests on already-open connections are dropped)."""
        if mode not in ("drop", "refuse"):
            raise ValueError("mode must be 'drop' or 'refuse'")
        with self._cond:
            self._outage_mode = mode
            self._outage_until = time.monotonic() + seconds
            if mode == "refuse":
                self._close_listening_socket()  # right now, not at the accept loop's next turn
            # Open connections die too (incl. a waiting long poll); idle keep-alive connections
            # would otherwise bypass a refused port.
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._cond.notify_all()

    def reset_faults(self) -> None:
        """Switch every fault off (blocks stay; use unblock)."""
        with self._cond:
            self._fail.clear()
            self._drop.clear()
            self._delay.clear()
            self._outage_until = 0.0
            self._rate_every = 0
            self._chat_rate = None
            self._global_rate = None


def _method_set(methods: Iterable[str] | None) -> frozenset[str] | None:
    return None if methods is None else frozenset(m.lower() for m in methods)


def _inline(markup: dict[str, Any] | None) -> Any:
    """The part of reply_markup that belongs to the message (for 'not modified' checks)."""
    if markup is None or "inline_keyboard" not in markup:
        return None
    return [[_normalise_button(b) for b in row] for row in markup["inline_keyboard"]] or None


def _normalise_button(button: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in button.items() if value not in (None, "")}
