"""From a Telegram update to what it means for the coach: an engine event, a button press to
answer, a person who blocked the bot, or a group the coach was added to. What the coach does not
read (service messages, groups) means nothing."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus, ChatType

from flows.events import (
    ChoiceMade,
    Event,
    MediaReceived,
    Started,
    TextEdited,
    TextReceived,
    parse_command,
)
from flows.texts import LANGUAGES


@dataclass(frozen=True)
class Incoming:
    """What one update means for the coach."""

    address: str
    event: Event | None = None
    callback: CallbackQuery | None = None  # the button press, answered after the turn
    blocked: bool = False  # the person blocked the bot (my_chat_member → kicked)
    group: str | None = None  # added to a group chat: the language of its one line


MEDIA = (  # message attribute → MediaReceived kind
    ("sticker", "sticker"),
    ("photo", "photo"),
    ("voice", "voice"),
    ("audio", "audio"),  # a sound file is not a voice message
    ("video_note", "video"),
    ("video", "video"),
    ("animation", "video"),
    ("location", "location"),
    ("venue", "location"),
    ("document", "document"),
    ("contact", "other"),
    ("poll", "other"),
    ("dice", "other"),
    ("story", "other"),
)


def incoming(update: Update) -> Incoming | None:
    """The engine event an update stands for; None for what the coach does not read (group
    chats, service messages …)."""
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat_id = message.chat.id if message is not None else query.from_user.id
        if message is not None and message.chat.type != ChatType.PRIVATE:
            return None
        if not query.data:
            return Incoming(str(chat_id), None, callback=query)
        return Incoming(str(chat_id), ChoiceMade(token=query.data), callback=query)
    if update.my_chat_member is not None:
        member = update.my_chat_member
        if (
            member.chat.type == ChatType.PRIVATE
            and member.new_chat_member.status == ChatMemberStatus.BANNED
        ):
            return Incoming(str(member.chat.id), blocked=True)
        if member.chat.type != ChatType.PRIVATE and member.new_chat_member.status in (
            ChatMemberStatus.MEMBER,
            ChatMemberStatus.ADMINISTRATOR,
        ):  # added to a group: one line that the coach works in a private chat, then silence
            code = (member.from_user.language_code or "") if member.from_user else ""
            lang = code.split("-")[0].lower()
            return Incoming(str(member.chat.id), group=lang if lang in LANGUAGES else "nl")
        return None
    edited = update.edited_message
    if edited is not None:
        if edited.chat.type != ChatType.PRIVATE or edited.text is None:
            return None
        # The engine updates the answer if this message was the latest one written.
        event: Event = TextEdited(text=edited.text, ref=str(edited.message_id))
        return Incoming(str(edited.chat.id), event)
    message = update.message
    if message is None or message.chat.type != ChatType.PRIVATE:
        return None  # groups are not served
    found = _event_of(message)
    return Incoming(str(message.chat.id), found) if found is not None else None


def _event_of(message: Message) -> Event | None:
    if message.text is not None:
        text = message.text
        command = parse_command(text) if text.startswith("/") else None
        if command is not None and command.name == "start":
            language = message.from_user.language_code if message.from_user else None
            return Started(language=language, flow=command.argument or None)
        return command or _written(message, text)
    if message.caption:  # a photo (or file) with words: the words are what the person wrote
        return _written(message, message.caption)
    for attribute, kind in MEDIA:
        if getattr(message, attribute, None):
            return MediaReceived(kind=kind)
    if message.effective_attachment is not None:
        return MediaReceived(kind="other")
    return None  # a service message: someone joined, a pinned message …


def _written(message: Message, text: str) -> TextReceived:
    """Words the person wrote, with the message's id (for edits) and when they sent it (a
    second message shortly after an answer belongs to it)."""
    return TextReceived(text=text, ref=str(message.message_id), at=message.date)


def chosen_label(query: CallbackQuery) -> str | None:
    """The label of the button that was pressed, read from the message that showed it."""
    message = query.message
    markup = getattr(message, "reply_markup", None)
    if not isinstance(markup, InlineKeyboardMarkup):
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None
