"""A request object for python-telegram-bot that records each Bot API call and answers it as
Telegram does when all goes well: no HTTP, no server, the way python-telegram-bot's own tests
check what a bot sends.

    recorder = RecordingRequest()
    application = Application.builder().token(TOKEN).request(recorder).build()
    ...
    recorder.messages(42)            # what the person sees in that chat
    recorder.called("setMyCommands") # the calls of one method, with their parameters

A text Telegram would refuse (HTML it cannot parse, more than 4096 characters) gets Telegram's
400, so that a test on what a person sees cannot pass with a message that would never arrive.
Everything else that can go wrong on the wire (429, 403, 5xx, outages, redelivery) is the fake
server's (telegram_api).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from telegram.request import BaseRequest, RequestData

from tests.fakes import telegram_html
from tests.fakes.telegram_api import (
    ERR_MESSAGE_TOO_LONG,
    ERR_PARSE_ENTITIES,
    MAX_MESSAGE_LENGTH,
    SentDocument,
    SentMessage,
    Version,
)

BOT_USER = {"id": 123, "is_bot": True, "first_name": "Kern Coach", "username": "kern_coach_bot"}


@dataclass
class Call:
    """One Bot API call: its parameters as python-telegram-bot put them on the wire (JSON
    values as Python objects), the files it uploaded, and the message it made or changed."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str | None, bytes]]  # field → (file name, content)
    at: float  # time.monotonic()
    message_id: int | None = None


class RecordingRequest(BaseRequest):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self._chats: dict[int, list[SentMessage]] = defaultdict(list)
        self._next_id: dict[int, int] = defaultdict(lambda: 1)

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        params: dict[str, Any] = dict(request_data.parameters) if request_data else {}
        files: dict[str, tuple[str | None, bytes]] = {}
        if request_data is not None and request_data.contains_files:
            for name, part in request_data.multipart_data.items():
                content = part[1] if isinstance(part[1], bytes) else part[1].read()
                files[name] = (part[0], content)
        call = Call(url.rsplit("/", 1)[-1], params, files, time.monotonic())
        self.calls.append(call)
        try:
            result = self._answer(call)
        except _Refused as refused:
            body = {"ok": False, "error_code": 400, "description": str(refused)}
            return 400, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # --- what a person sees ----------------------------------------------------------------------

    def next_message_id(self, chat_id: int) -> int:
        """In a private chat both sides share one sequence of message ids."""
        message_id = self._next_id[chat_id]
        self._next_id[chat_id] += 1
        return message_id

    def messages(self, chat_id: int) -> list[SentMessage]:
        return list(self._chats.get(chat_id, []))

    def last_buttons(self, chat_id: int) -> list[list[tuple[str, str | None]]]:
        return next((m.buttons for m in reversed(self.messages(chat_id)) if m.buttons), [])

    def called(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    # --- Telegram's answers ----------------------------------------------------------------------

    def _answer(self, call: Call) -> Any:
        p = call.params
        if call.method == "getMe":
            return BOT_USER
        if call.method == "sendMessage":
            plain, entities = self._shown(p["text"], p.get("parse_mode"))
            message = SentMessage(
                chat_id=p["chat_id"],
                message_id=self.next_message_id(p["chat_id"]),
                text=p["text"],
                parse_mode=p.get("parse_mode"),
                plain=plain,
                entities=entities,
                buttons=_buttons(p),
                date=int(time.time()),
            )
            self._chats[message.chat_id].append(message)
        elif call.method == "sendDocument":
            filename, content = call.files["document"]
            message = SentMessage(
                chat_id=p["chat_id"],
                message_id=self.next_message_id(p["chat_id"]),
                text=None,
                parse_mode=None,
                plain=None,
                entities=[],
                buttons=[],
                date=int(time.time()),
                document=SentDocument(filename, None, content),
            )
            self._chats[message.chat_id].append(message)
        elif call.method in ("editMessageText", "editMessageReplyMarkup"):
            message = next(m for m in self._chats[p["chat_id"]] if m.message_id == p["message_id"])
            message.history.append(Version(message.plain, message.buttons))
            if call.method == "editMessageText":
                message.text = p["text"]
                message.plain, message.entities = self._shown(p["text"], p.get("parse_mode"))
            message.buttons = _buttons(p)
        else:
            return True  # answerCallbackQuery, sendChatAction, setMyCommands, deleteWebhook …
        call.message_id = message.message_id
        message.raw = _message_dict(message)
        return message.raw

    @staticmethod
    def _shown(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
        """What the person sees of a text, or Telegram's refusal."""
        try:
            parsed = telegram_html.parse(text) if parse_mode == "HTML" else (text, [])
        except telegram_html.HtmlRefused as error:
            raise _Refused(ERR_PARSE_ENTITIES + str(error)) from None
        plain, entities = telegram_html.trim(*parsed)
        if len(plain) > MAX_MESSAGE_LENGTH:
            raise _Refused(ERR_MESSAGE_TOO_LONG)
        return plain, entities


class _Refused(Exception):
    """Telegram answers 400 with this description."""


def _buttons(params: dict[str, Any]) -> list[list[tuple[str, str | None]]]:
    rows = (params.get("reply_markup") or {}).get("inline_keyboard") or []
    return [[(b["text"], b.get("callback_data")) for b in row] for row in rows if row]


def _message_dict(message: SentMessage) -> dict[str, Any]:
    """The Message as Telegram answers with it (and puts it in a callback query)."""
    raw: dict[str, Any] = {
        "message_id": message.message_id,
        "from": BOT_USER,
        "chat": {"id": message.chat_id, "type": "private", "first_name": "Test"},
        "date": message.date,
    }
    if message.document is not None:
        file_id = f"BQACAgQAAxkDAAI{message.message_id:06d}"
        raw["document"] = {"file_id": file_id, "file_unique_id": f"U{file_id}"}
        if message.document.filename:
            raw["document"]["file_name"] = message.document.filename
    else:
        raw["text"] = message.plain
        raw["entities"] = message.entities
    if message.buttons:
        raw["reply_markup"] = {
            "inline_keyboard": [
                [{"text": label, "callback_data": data} for label, data in row]
                for row in message.buttons
            ]
        }
    return raw
