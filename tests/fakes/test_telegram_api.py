"""The fake Bot API keeps to Telegram's wire format, driven by the real python-telegram-bot `Bot`.

If python-telegram-bot talks to the fake unchanged and gets the objects and exceptions it would
get from Telegram, the fake is good enough to test the channel against.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from .telegram_api import FakeBotAPI

TOKEN = "123456:TEST-token"
CHAT = 42


@pytest.fixture
def fake():
    with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(fake):
    async with Bot(TOKEN, base_url=fake.base_url) as ptb_bot:
        yield ptb_bot


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


# --- the basics ---------------------------------------------------------------------------------


async def test_get_me_uses_the_bot_id_from_the_token(fake, bot):
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "kern_coach_test_bot", True)
    assert [r.method for r in fake.requests] == ["getMe", "getMe"]  # initialize() + ours


async def test_send_message_with_html_and_inline_keyboard(fake, bot):
    sent = await bot.send_message(
        CHAT,
        "<b>Hoi</b> &amp; welkom",
        parse_mode="HTML",
        reply_markup=keyboard([("Ja", "yes"), ("Nee", "no")], [("Later", "later")]),
    )
    # PTB parsed Telegram's answer into a real Message.
    assert sent.message_id == 1
    assert sent.text == "Hoi & welkom"
    assert sent.entities[0].type == "bold" and sent.entities[0].length == 3
    assert sent.reply_markup.inline_keyboard[0][1].callback_data == "no"
    assert sent.text_html == "<b>Hoi</b> &amp; welkom"

    [record] = fake.messages(CHAT)
    assert record.text == "<b>Hoi</b> &amp; welkom"
    assert record.parse_mode == "HTML"
    assert record.plain == "Hoi & welkom"
    assert record.buttons == [[("Ja", "yes"), ("Nee", "no")], [("Later", "later")]]
    assert fake.last_buttons(CHAT) == record.buttons
    assert not record.edited
    other = await bot.send_message(7, "elders")
    assert other.message_id == 1  # message ids count per chat

    # The wire format: form fields, non-strings JSON-encoded.
    request = fake.calls("sendMessage")[0]
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.params["chat_id"] == "42"
    assert request.params["reply_markup"].startswith('{"inline_keyboard": [[{')
    assert request.chat_id == CHAT


async def test_message_ids_are_shared_with_the_person(fake, bot):
    fake.send_text(CHAT, "hallo")  # message_id 1
    assert (await bot.send_message(CHAT, "antwoord")).message_id == 2
    assert fake.user_messages(CHAT)[0]["text"] == "hallo"


async def test_text_is_trimmed_like_telegram(fake, bot):
    sent = await bot.send_message(CHAT, "\n  <i>hoi</i>  \n")
    assert sent.text == "<i>hoi</i>"  # no parse_mode: tags are text
    sent = await bot.send_message(CHAT, "\n <i>hoi</i>  \n", parse_mode="HTML")
    assert sent.text == "hoi"
    assert fake.messages(CHAT)[-1].plain == "hoi"


# --- Telegram's limits --------------------------------------------------------------------------


async def test_message_over_4096_characters_is_refused(bot):
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT, "x" * 5000)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT, "é" * 4097)


async def test_length_is_counted_after_html_parsing(fake, bot):
    await bot.send_message(CHAT, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(CHAT, "&lt;" * 4096, parse_mode="HTML")  # 16384 bytes of source
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT, "&lt;" * 4097, parse_mode="HTML")
    assert [len(m.plain) for m in fake.messages(CHAT)] == [4096, 4096]


async def test_callback_data_over_64_bytes_is_refused(fake, bot):
    await bot.send_message(CHAT, "ok", reply_markup=keyboard([("a", "é" * 32)]))  # 64 bytes
    # PTB capitalize()s the description: "Bad Request: BUTTON_DATA_INVALID" -> this.
    with pytest.raises(BadRequest, match="^Button_data_invalid$"):
        await bot.send_message(CHAT, "te lang", reply_markup=keyboard([("a", "é" * 32 + "x")]))
    assert fake.calls("sendMessage")[-1].description == "Bad Request: BUTTON_DATA_INVALID"


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("<p>alinea</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("<b>niet dicht", 'Can\'t find end tag corresponding to start tag "b"'),
        (
            "<b><i>kruis</b></i>",
            'Unmatched end tag at byte offset 11, expected "</i>", found "</b>"',
        ),
        ("3 < 4", 'Unsupported start tag "" at byte offset 2'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("tot </b>", "Unexpected end tag at byte offset 4"),
        ("🏟 &lt;<i>a</em>", 'Unmatched end tag at byte offset 13, expected "</i>", found "</em>"'),
        ("jij & ik", 'Unescaped "&" at byte offset 4'),
        ("<!-- opmerking -->", 'Unsupported start tag "" at byte offset 0'),
    ],
)
async def test_invalid_html_is_refused(fake, bot, html, description):
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(CHAT, html, parse_mode="HTML")
    assert fake.calls("sendMessage")[-1].description == (
        "Bad Request: can't parse entities: " + description
    )
    # What the coach will see: PTB strips "Bad Request: " and capitalize()s the rest.
    assert str(caught.value) == ("can't parse entities: " + description).capitalize()


async def test_telegram_html_subset_is_accepted(fake, bot):
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><a href='https://example.org'>a</a><code>c</code>"
        '<pre>p</pre><blockquote>q</blockquote><tg-spoiler>t</tg-spoiler><span class="tg-spoiler">'
        "x</span> &lt;&gt;&amp;&quot;&#65;&#x42; 🏟<i>é</i>"
    )
    sent = await bot.send_message(CHAT, html, parse_mode="HTML")
    assert sent.text == 'bsieunskdacpqtx <>&"AB 🏟é'
    types = [e.type for e in sent.entities]
    assert types.count("bold") == 2 and "text_link" in types and "spoiler" in types
    assert sent.entities[-1].offset == len('bsieunskdacpqtx <>&"AB ') + 2  # UTF-16 units
    assert sent.text_html.endswith("🏟<i>é</i>")


async def test_empty_text_is_refused(bot):
    with pytest.raises(BadRequest, match="^Message text is empty$"):
        await bot.send_message(CHAT, "")
    with pytest.raises(BadRequest, match="^Text must be non-empty$"):
        await bot.send_message(CHAT, "<b> </b>", parse_mode="HTML")


# --- faults -------------------------------------------------------------------------------------


async def test_blocked_user_gives_forbidden(fake, bot):
    fake.block(CHAT)
    with pytest.raises(Forbidden, match="^Forbidden: bot was blocked by the user$"):
        await bot.send_message(CHAT, "hoi")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(CHAT, "typing")
    await bot.send_message(7, "andere chat werkt")
    assert fake.calls("sendMessage")[0].status == 403
    fake.unblock(CHAT)
    await bot.send_message(CHAT, "weer toegestaan")
    assert fake.texts(CHAT) == ["weer toegestaan"]


async def test_rate_limit_every_nth_send(fake, bot, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 returns timedelta (no deprecation)
    fake.rate_limit_every(2, retry_after=7)
    await bot.send_message(CHAT, "1")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "2")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    await bot.send_message(CHAT, "2 again")
    assert fake.texts(CHAT) == ["1", "2 again"]
    failed = fake.calls("sendMessage")[1]
    assert (failed.status, failed.description) == (429, "Too Many Requests: retry after 7")


async def test_per_chat_flood_control(fake, bot, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.enforce_chat_rate(max_per_second=1, burst=3)
    for i in range(3):
        await bot.send_message(CHAT, f"burst {i}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "te snel")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    await bot.send_message(7, "andere chat heeft een eigen emmer")
    sends = fake.sends(CHAT)
    assert [s.message_id for s in sends] == [1, 2, 3]
    assert sends[-1].at - sends[0].at < 1


async def test_502_becomes_network_error(fake, bot):
    fake.fail_next(1, sends_only=True)
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(CHAT, "hoi")
    assert not isinstance(caught.value, BadRequest)  # BadRequest *is* a NetworkError in PTB
    assert str(caught.value) == "Bad Gateway"
    await bot.send_message(CHAT, "tweede poging")
    assert fake.texts(CHAT) == ["tweede poging"]


async def test_html_error_page_and_other_5xx(fake, bot):
    fake.fail_next(1, status=502, html=True)
    with pytest.raises(NetworkError, match=r"Bad Gateway \(502\)\. Parsing the server response"):
        await bot.get_me()
    fake.fail_next(1, status=500, methods=["sendMessage"])
    with pytest.raises(NetworkError, match="^Internal Server Error$"):
        await bot.send_message(CHAT, "x")


async def test_dropped_connection_becomes_network_error(fake, bot):
    fake.drop_connections(1, sends_only=True)
    with pytest.raises(NetworkError, match="httpx.RemoteProtocolError") as caught:
        await bot.send_message(CHAT, "weg")
    assert not isinstance(caught.value, TimedOut)
    assert fake.calls("sendMessage")[0].status == -1
    assert fake.messages(CHAT) == []  # dropped before it took effect
    await bot.send_message(CHAT, "terug")


async def test_outage_refuses_then_recovers(fake, bot):
    fake.outage(0.4, mode="refuse")
    with pytest.raises(NetworkError, match="httpx.ConnectError"):
        await bot.send_message(CHAT, "niemand thuis")
    await asyncio.sleep(0.5)
    await bot.send_message(CHAT, "weer online")
    assert fake.texts(CHAT) == ["weer online"]


async def test_outage_drop_mode(fake, bot):
    fake.outage(0.3)
    with pytest.raises(NetworkError):
        await bot.get_me()
    await asyncio.sleep(0.35)
    await bot.get_me()


async def test_slow_answer_times_out_but_still_happens(fake, bot):
    fake.delay_next(1, seconds=0.5, sends_only=True)
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "traag", read_timeout=0.1)
    await fake.wait_for_async(lambda: fake.messages(CHAT))  # the ambiguous case: it arrived


# --- updates ------------------------------------------------------------------------------------


async def test_long_poll_returns_update_pushed_while_waiting(fake, bot):
    threading.Timer(0.3, fake.send_text, (CHAT, "hallo coach")).start()
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    assert 0.25 < time.monotonic() - started < 3
    [update] = updates
    assert update.message.text == "hallo coach"
    assert update.message.from_user.language_code == "nl"
    assert update.effective_chat.id == CHAT and update.effective_chat.type == "private"
    assert fake.was_delivered(update.update_id) and not fake.is_confirmed(update.update_id)


async def test_offset_confirms_and_drops_updates(fake, bot):
    first = fake.send_text(CHAT, "een")
    second = fake.send_text(CHAT, "twee")
    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates()] == [first, second]  # not confirmed
    assert [u.update_id for u in await bot.get_updates(offset=second)] == [second]
    assert fake.is_confirmed(first) and not fake.is_confirmed(second)
    assert await bot.get_updates(offset=second + 1) == ()
    assert fake.is_confirmed(second) and fake.pending_updates() == []


async def test_limit_and_an_offset_in_the_future(fake, bot):
    ids = [fake.send_text(CHAT, str(i)) for i in range(5)]
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    # An offset "in the future" is rejected by Telegram's queue: it serves from the oldest.
    assert [u.update_id for u in await bot.get_updates(offset=ids[-1] + 10)] == ids
    assert len(fake.pending_updates()) == 5


async def test_second_poller_terminates_the_first(fake):
    async with Bot(TOKEN, base_url=fake.base_url) as one, Bot(TOKEN, base_url=fake.base_url) as two:
        first = asyncio.create_task(one.get_updates(timeout=5))
        await fake.wait_for_async(lambda: fake.is_polling)
        second = asyncio.create_task(two.get_updates(timeout=1))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first
        assert await second == ()


async def test_webhook_blocks_polling(fake, bot):
    fake.send_text(CHAT, "wacht")
    assert await bot.set_webhook("https://example.org/hook")
    assert fake.webhook_url == "https://example.org/hook"
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_a_command_the_person_writes_is_marked_as_one(fake, bot):
    fake.send_text(CHAT, "/start@kern_coach_test_bot nu", language_code="en")
    fake.send_text(CHAT, "en verder")
    start, later = await bot.get_updates()
    assert start.message.text.startswith("/start")
    assert start.message.entities[0].type == "bot_command"
    assert start.message.entities[0].length == len("/start@kern_coach_test_bot")
    assert start.message.from_user.first_name == "Test"
    assert later.message.entities == () and later.message.from_user.language_code == "en"


# --- the other methods --------------------------------------------------------------------------


async def test_send_document_records_filename_and_bytes(fake, bot):
    content = b"regel 1\n\x00\xffbinair"
    sent = await bot.send_document(CHAT, content, filename='verslag "week 1" é.txt')
    assert sent.document.file_name == 'verslag "week 1" é.txt'
    assert sent.document.file_size == len(content)
    [message] = fake.messages(CHAT)
    assert message.document.filename == 'verslag "week 1" é.txt'
    assert message.document.content == content
    assert message.document.mime_type == "text/plain"
    with pytest.raises(BadRequest, match="File must be non-empty"):
        await bot.send_document(CHAT, b"", filename="leeg.txt")
    request = fake.calls("sendDocument")[0]
    assert request.content_type == "multipart/form-data"
    assert request.files == {"document": 'verslag "week 1" é.txt'}


async def test_send_photo_records_the_image_and_its_caption(fake, bot):
    import struct
    import zlib

    header = struct.pack(">IIBBBBB", 3, 2, 8, 2, 0, 0, 0)  # a 3 × 2 image header
    png = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + header
        + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    )
    sent = await bot.send_photo(CHAT, png, caption="Je balans")
    assert (sent.photo[-1].width, sent.photo[-1].height) == (3, 2)
    assert sent.caption == "Je balans"
    [message] = fake.messages(CHAT)
    assert message.photo is not None and message.photo.content == png
    assert message.plain == "Je balans" and message.document is None
    with pytest.raises(BadRequest, match="File must be non-empty"):
        await bot.send_photo(CHAT, b"")
    assert fake.calls("sendPhoto")[0].content_type == "multipart/form-data"
    assert list(fake.calls("sendPhoto")[0].files) == ["photo"]


async def test_edit_message_reply_markup_and_text(fake, bot):
    sent = await bot.send_message(CHAT, "Kies", reply_markup=keyboard([("A", "a")]))
    await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard([("B", "b")]))
    [message] = fake.messages(CHAT)
    assert message.buttons == [[("B", "b")]] and message.edited
    assert message.history[0].buttons == [[("A", "a")]]
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(
            CHAT, sent.message_id, reply_markup=keyboard([("B", "b")])
        )

    # editMessageText without reply_markup removes the keyboard, like real Telegram.
    edited = await bot.edit_message_text(
        "Gekozen: <b>B</b>", CHAT, sent.message_id, parse_mode="HTML"
    )
    assert edited.text == "Gekozen: B" and edited.reply_markup is None and edited.edit_date
    message = fake.messages(CHAT)[0]
    assert message.plain == "Gekozen: B" and message.buttons == [] and len(message.history) == 2
    with pytest.raises(BadRequest, match="^Message to edit not found$"):
        await bot.edit_message_text("x", CHAT, 99)


async def test_press_button_and_answer_callback_query(fake, bot):
    sent = await bot.send_message(CHAT, "Klaar?", reply_markup=keyboard([("Ja", "ja")]))
    fake.press_button(CHAT, sent.message_id, "ja")
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query.data == "ja" and query.message.message_id == sent.message_id
    assert query.message.reply_markup.inline_keyboard[0][0].text == "Ja"
    assert await query.answer("Top!")  # the PTB shortcut goes through the same bot
    [answer] = fake.callback_answers
    assert (answer.text, answer.data, answer.show_alert) == ("Top!", "ja", False)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("123")
    with pytest.raises(ValueError, match="shows no 'nee'"):
        fake.press_button(CHAT, sent.message_id, "nee")


async def test_set_my_commands_per_language(fake, bot):
    assert await bot.set_my_commands([("start", "Begin"), ("stop", "Pauzeer")], language_code="nl")
    assert await bot.set_my_commands([("start", "Start")], language_code="en")
    assert await bot.set_my_commands([("start", "Start")])
    assert fake.commands == {
        "nl": [("start", "Begin"), ("stop", "Pauzeer")],
        "en": [("start", "Start")],
        "": [("start", "Start")],
    }
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Start", "hoofdletter")])


async def test_send_chat_action(fake, bot):
    assert await bot.send_chat_action(CHAT, "typing")
    assert [a.action for a in fake.chat_actions(CHAT)] == ["typing"]
    with pytest.raises(BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(CHAT, "dancing")


async def test_unknown_method_and_tokens(fake, bot):
    # PTB maps 404 to InvalidToken, and inside do_api_request to EndPointNotFound.
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendDance", api_kwargs={"chat_id": CHAT})
    assert fake.calls("sendDance")[0].status == 404


async def test_required_token(fake):
    fake.require_token = TOKEN
    with pytest.raises(InvalidToken, match="was rejected by the server"):
        async with Bot("999:wrong", base_url=fake.base_url):
            pass


# --- the raw wire format ------------------------------------------------------------------------


def test_answers_and_error_bodies_are_telegrams(fake):
    url = f"{fake.base_url}{TOKEN}"
    answer = httpx.post(f"{url}/sendMessage", data={"chat_id": 5, "text": "hoi"})
    assert answer.status_code == 200
    assert answer.json() == {
        "ok": True,
        "result": {
            "message_id": 1,
            "from": {"id": 123456, "is_bot": True, "first_name": "Kern Coach",
                     "username": "kern_coach_test_bot"},
            "chat": {"id": 5, "first_name": "Test", "type": "private"},
            "date": answer.json()["result"]["date"],
            "text": "hoi",
        },
    }  # fmt: skip
    refused = httpx.post(
        f"{url}/sendMessage", data={"chat_id": 5, "text": "<p>", "parse_mode": "HTML"}
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "ok": False,
        "error_code": 400,
        "description": 'Bad Request: can\'t parse entities: Unsupported start tag "p" at byte '
        "offset 0",
    }
    unknown = httpx.post(f"{url}/fly")
    assert (unknown.status_code, unknown.json()) == (
        404, {"ok": False, "error_code": 404, "description": "Not Found"},
    )  # fmt: skip
    fake.rate_limit_every(1, retry_after=3)
    response = httpx.post(f"{url}/sendMessage", data={"chat_id": 5, "text": "x"})
    assert response.status_code == 429
    assert response.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }


def test_wait_for_times_out_with_a_report(fake):
    httpx.post(f"{fake.base_url}{TOKEN}/sendMessage", data={"chat_id": 5, "text": "enige"})
    with pytest.raises(TimeoutError, match="two messages(.|\n)*'enige'"):
        fake.wait_for(lambda: len(fake.messages(5)) >= 2, timeout=0.2, what="two messages")


# --- the real thing: an Application polling the fake, and a bot in another process --------------


async def test_application_round_trip(fake):
    async def start(update: Update, context) -> None:
        await update.message.reply_text(
            "<b>Welkom</b>, wil je beginnen?",
            parse_mode="HTML",
            reply_markup=keyboard([("Ja", "begin")]),
        )

    async def pressed(update: Update, context) -> None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("Fijn, we beginnen.")

    app = Application.builder().token(TOKEN).base_url(fake.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
        first = fake.send_text(CHAT, "/start")
        [welcome] = await fake.wait_for_async(lambda: fake.messages(CHAT))
        assert welcome.plain == "Welkom, wil je beginnen?"
        second = fake.press_label(CHAT, "Ja")
        await fake.wait_for_async(lambda: fake.messages(CHAT)[0].edited)
        await app.updater.stop()
        await app.stop()
    [message] = fake.messages(CHAT)
    assert message.plain == "Fijn, we beginnen." and message.buttons == []
    assert len(fake.callback_answers) == 1
    # PTB's final getUpdates on shutdown confirmed everything it handled.
    assert fake.is_confirmed(first) and fake.is_confirmed(second)
    assert fake.calls("deleteWebhook")


def test_bot_in_a_separate_process(fake):
    script = textwrap.dedent(
        f"""
        import asyncio
        from telegram import Bot

        async def main():
            async with Bot({TOKEN!r}, base_url={fake.base_url!r}) as bot:
                await bot.send_message({CHAT}, "vanuit een ander proces")

        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    [message] = fake.wait_for(lambda: fake.messages(CHAT), timeout=30)
    assert message.plain == "vanuit een ander proces"
