"""What a person sees in a Telegram chat with the coach, without a network: the real channel and
python-telegram-bot's Application, its requests recorded and answered by a RecordingRequest,
the person's updates handed in as Telegram delivers them (`Update.de_json`); the coach on a
SQLite file. What needs the wire (offsets, 429, 403, outages, webhooks) is in test_telegram.py."""

from __future__ import annotations

import json

import pytest

from bot.channels.telegram import STALE_BUTTON
from bot.channels.telegram_send import Pacer
from tests.bot.test_telegram_harness import Offline, consent, original, text, to_exercise_one
from tests.fakes import telegram_html

# The channel calls `Bot.do_api_request` where it reads only part of Telegram's answer; pytest
# shows PTB's hint about the typed methods again in every test (the module filters it once).
pytestmark = pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning")


async def test_start_asks_consent_with_buttons_in_the_persons_language(tmp_path, library):
    async with Offline(tmp_path) as offline:
        dutch, english = offline.person(1, "nl"), offline.person(2, "en-GB")
        await dutch.says("/start")
        await english.says("/start")
        await dutch.chooses("_next")
        await english.chooses("_next")

    assert dutch.seen[0] == text(library, "opening:welkom")
    assert english.seen[0] == text(library, "opening:welkom", "en")
    question = dutch.messages[-1]
    assert question.plain == text(library, "opening:toestemming.vraag")
    assert question.parse_mode == "HTML"
    labels = [label for row in question.buttons for label, _ in row]
    assert text(library, "opening:toestemming.ja") in labels
    assert all(len(data.encode()) <= 64 for row in question.buttons for _, data in row)


async def test_command_menu_is_set_in_dutch_and_english(tmp_path):
    async with Offline(tmp_path) as offline:
        await offline.channel._set_commands()
    menus = {
        call.params.get("language_code", ""): {
            c["command"]: c["description"] for c in call.params["commands"]
        }
        for call in offline.recorder.called("setMyCommands")
    }
    assert list(menus) == ["", "en"]  # Dutch for everyone, English where Telegram is English
    assert list(menus[""]) == [
        "start",
        "menu",
        "help",
        "overslaan",
        "terug",
        "pauze",
        "hervat",
        "tijd",
        "taal",
        "mijn",
        "export",
        "vergeet",
    ]
    assert list(menus["en"]) == [
        "start",
        "menu",
        "help",
        "skip",
        "back",
        "pause",
        "resume",
        "time",
        "language",
        "mine",
        "export",
        "forget",
    ]
    assert all(menus[""].values()) and all(menus["en"].values())


async def test_a_pressed_button_shows_the_choice_and_its_keyboard_goes(tmp_path, library):
    async with Offline(tmp_path) as offline:
        person = offline.person(3)
        await person.says("/start")
        await person.chooses("_next")
        label = person.label("ja")
        await person.chooses("ja")

    question = next(
        m for m in person.messages if original(m) == text(library, "opening:toestemming.vraag")
    )
    assert question.buttons == []
    assert question.plain.endswith(f"→ {label}")
    assert question.history[0].buttons  # it did show them before
    answered = offline.recorder.called("answerCallbackQuery")
    assert len(answered) == 2  # the spinner stopped after each press
    assert not any(a.params.get("show_alert") for a in answered)


async def test_an_old_button_gets_a_kind_answer_and_changes_nothing(tmp_path, library):
    async with Offline(tmp_path) as offline:
        person = offline.person(4)
        await person.says("/start")
        welcome = person.messages[-1]
        token = person.token("_next")
        await person.chooses("_next")
        before = offline.rows("SELECT state FROM person")[0][0]
        # The same button again, as after a double tap: the keyboard is already gone.
        replies = await person.presses(welcome, token)
        after = offline.rows("SELECT state FROM person")[0][0]

    assert [original(m) for m in replies][0] == text(library, STALE_BUTTON)
    assert json.loads(after)["at"] == json.loads(before)["at"]
    assert len(offline.recorder.called("answerCallbackQuery")) == 2  # the old press too
    shown = next(m for m in person.messages if m.message_id == welcome.message_id)
    assert shown.plain.count("→") == 1  # not noted twice


async def test_pictures_stickers_voice_and_files_get_a_gentle_reply(tmp_path, library):
    file = {"file_id": "AgAD", "file_unique_id": "U1"}
    media = {
        "sticker": {
            "sticker": {**file, "type": "regular", "width": 512, "height": 512,
                        "is_animated": False, "is_video": False, "emoji": "👍"},
        },
        "photo": {"photo": [{**file, "width": 90, "height": 67}], "caption": "kijk"},
        "voice": {"voice": {**file, "duration": 3, "mime_type": "audio/ogg"}},
        "location": {"location": {"latitude": 52.09, "longitude": 5.12}},
        "document": {"document": {**file, "file_name": "notities.pdf"}},
    }  # fmt: skip
    async with Offline(tmp_path) as offline:
        person = offline.person(5)
        await person.says("/start")
        replies = {kind: await person.sends(**content) for kind, content in media.items()}
    for kind, messages in replies.items():
        assert original(messages[0]) == text(library, f"common:media.{kind}")


async def test_html_in_an_answer_is_stored_exactly_and_quoted_back_escaped(tmp_path):
    answer = "<b>Mijn moeder</b> & ik; '); DROP TABLE answer; -- \x07 &amp;"
    async with Offline(tmp_path) as offline:
        person = offline.person(6)
        await to_exercise_one(person)
        await person.chooses("familielid")
        await person.chooses("_skip")  # how to call the other
        await person.says(answer)
        shown = await person.says("/mijn")

    assert offline.answers(6)["geven"] == answer
    quoted = [m for m in shown if "Mijn moeder" in (m.plain or "")]
    assert quoted, [m.plain for m in shown]
    assert "<b>Mijn moeder</b> & ik; '); DROP TABLE answer;" in quoted[0].plain
    assert "&lt;b&gt;Mijn moeder&lt;/b&gt; &amp; ik" in quoted[0].text
    assert not any(
        e["type"] == "bold" and "Mijn" in quoted[0].plain[e["offset"] :][: e["length"]]
        for e in quoted[0].entities
    )


async def test_a_very_long_answer_is_stored_whole_and_quoted_in_parts(tmp_path):
    paragraph = "Ik geef en ik geef, en soms vergeet ik mezelf daarbij. " * 20
    answer = "\n\n".join(f"{i}. {paragraph.strip()}" for i in range(19))[:20_000]
    assert len(answer) == 20_000
    async with Offline(tmp_path) as offline:
        person = offline.person(7)
        await to_exercise_one(person)
        await person.chooses("familielid")
        await person.chooses("_skip")  # how to call the other
        reply = await person.says(answer)
        assert reply, "the long answer was answered"
        shown = await person.says("/mijn")

    assert offline.answers(7)["geven"] == answer
    parts = [m for m in shown if "vergeet ik mezelf" in (m.plain or "")]
    assert len(parts) >= 5
    assert all(len(telegram_html.visible(m.text)) <= 4096 for m in shown)
    assert "".join(m.plain for m in parts).count("vergeet ik mezelf") == answer.count(
        "vergeet ik mezelf"
    )


async def test_a_long_reply_that_has_to_wait_its_turn_shows_typing(tmp_path, library):
    help_text = text(library, "common:help")
    assert len(help_text) > 300
    async with Offline(tmp_path, pacer=Pacer()) as offline:  # one a second per chat
        person = offline.person(16)
        await person.says("/start")
        for _ in range(3):  # quicker than one message a second can follow
            await offline.deliver({"message": person.message(text="/help")})
        await offline.settled(16)
    recorder = offline.recorder
    typing = recorder.called("sendChatAction", 16)
    assert typing and all(a.params["action"] == "typing" for a in typing)
    sends = recorder.called("sendMessage", 16)
    for action in typing:  # each shown while a long message waited, which then came
        following = [s for s in sends if s.at > action.at]
        assert following and following[0].at - action.at < 3.0
        assert len(telegram_html.visible(following[0].params["text"])) > 300


async def test_export_arrives_as_a_text_file_and_a_json_file(tmp_path):
    async with Offline(tmp_path) as offline:
        person = offline.person(8)
        await to_exercise_one(person)
        await person.chooses("familielid")
        await person.chooses("_skip")  # how to call the other
        await person.says("Ik kook elke zondag voor haar.")
        sent = await person.says("/export")

    documents = [m.document for m in sent if m.document is not None]
    assert [d.filename.rsplit(".", 1)[1] for d in documents] == ["txt", "json"]
    assert "Ik kook elke zondag voor haar." in documents[0].content.decode()
    data = json.loads(documents[1].content)
    assert "Ik kook elke zondag voor haar." in json.dumps(data, ensure_ascii=False)


async def test_blocking_the_bot_in_telegram_pauses_check_ins_at_once(tmp_path):
    async with Offline(tmp_path) as offline:
        person = offline.person(12)
        await consent(person)
        await person.blocks_the_bot()
        assert offline.person_row(12).unreachable


async def test_editing_the_latest_answer_in_telegram_updates_it(tmp_path):
    async with Offline(tmp_path) as offline:
        person = offline.person(12)
        await to_exercise_one(person)
        await person.chooses("partner")
        await person.chooses("_skip")  # how to call the other
        written = person.message(text="Ik kook elk dga.")
        await person.does({"message": written})
        replies = await person.edits(written, "Ik kook elke dag.")
        assert offline.answers(12)["geven"] == "Ik kook elke dag."
    assert any("aangepast" in (m.plain or "") for m in replies)


async def test_a_message_in_a_group_chat_gets_no_answer(tmp_path):
    async with Offline(tmp_path) as offline:
        person = offline.person(-100)
        group = {"id": -100, "type": "group", "title": "Familie"}
        await offline.deliver({"message": {**person.message(text="/start"), "chat": group}})
    assert offline.recorder.called("sendMessage") == []
    assert offline.rows("SELECT count(*) FROM person")[0][0] == 0
