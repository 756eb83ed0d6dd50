"""What a person sees in a Telegram chat with the coach, without a network: the real channel and
python-telegram-bot's Application, its requests recorded and answered by a RecordingRequest,
the person's updates handed in as Telegram delivers them (`Update.de_json`); the coach on a
SQLite file. What needs the wire (offsets, 429, 403, outages, webhooks) is in test_telegram.py."""

from __future__ import annotations

import json

import pytest

from bot.channels.telegram import Pacer
from flows.engine import ALREADY_CHOSEN
from flows.turn.navigation import STALE_BUTTON
from tests.bot.test_telegram_harness import Offline, consent, original, text, to_exercise_one
from tests.fakes import telegram_html
from tests.fakes.recording_request import BOT_USER as BOT

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


async def test_a_second_tap_gets_a_neutral_acknowledgement_and_changes_nothing(tmp_path, library):
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

    assert [original(m) for m in replies] == [text(library, ALREADY_CHOSEN)]
    assert "niets veranderd" not in replies[0].plain
    assert json.loads(after)["at"] == json.loads(before)["at"]
    assert len(offline.recorder.called("answerCallbackQuery")) == 2  # the old press too
    shown = next(m for m in person.messages if m.message_id == welcome.message_id)
    assert shown.plain.count("→") == 1  # not noted twice


async def test_a_button_of_an_earlier_question_gets_a_kind_answer_and_changes_nothing(
    tmp_path, library
):
    async with Offline(tmp_path) as offline:
        person = offline.person(4)
        await person.says("/start")
        welcome = person.messages[-1]
        token = person.token("_next")
        await person.chooses("_next")
        await person.says("/help")  # something happened since that first tap
        before = json.loads(offline.rows("SELECT state FROM person")[0][0])["at"]
        replies = await person.presses(welcome, token)
        after = json.loads(offline.rows("SELECT state FROM person")[0][0])["at"]

    # Said first, in one message with the question asked again (and its buttons).
    assert original(replies[0]).startswith(text(library, STALE_BUTTON) + "\n\n")
    assert replies[0].buttons
    assert after == before


async def test_pictures_stickers_voice_and_files_get_a_gentle_reply(tmp_path, library):
    file = {"file_id": "AgAD", "file_unique_id": "U1"}
    media = {
        "sticker": {
            "sticker": {**file, "type": "regular", "width": 512, "height": 512,
                        "is_animated": False, "is_video": False, "emoji": "👍"},
        },
        "photo": {"photo": [{**file, "width": 90, "height": 67}]},
        "voice": {"voice": {**file, "duration": 3, "mime_type": "audio/ogg"}},
        "audio": {"audio": {**file, "duration": 180, "mime_type": "audio/mpeg"}},
        "location": {"location": {"latitude": 52.09, "longitude": 5.12}},
        "document": {"document": {**file, "file_name": "notities.pdf"}},
    }  # fmt: skip
    async with Offline(tmp_path) as offline:
        person = offline.person(5)
        await person.says("/start")
        replies = {kind: await person.sends(**content) for kind, content in media.items()}
    for kind, messages in replies.items():
        assert original(messages[0]).startswith(text(library, f"common:media.{kind}") + "\n\n")


async def test_html_in_an_answer_is_stored_exactly_and_quoted_back_escaped(tmp_path, database_url):
    answer = "<b>Mijn moeder</b> & ik; '); DROP TABLE answer; -- \x07 &amp;"
    async with Offline(tmp_path, url=database_url) as offline:
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


async def test_a_very_long_answer_is_stored_whole_and_quoted_in_parts(tmp_path, database_url):
    paragraph = "Ik geef en ik geef, en soms vergeet ik mezelf daarbij. " * 20
    answer = "\n\n".join(f"{i}. {paragraph.strip()}" for i in range(19))[:20_000]
    assert len(answer) == 20_000
    async with Offline(tmp_path, url=database_url) as offline:
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


async def test_export_arrives_as_a_text_file_and_a_json_file(tmp_path, database_url):
    async with Offline(tmp_path, url=database_url) as offline:
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


async def test_blocking_the_bot_in_telegram_pauses_check_ins_at_once(tmp_path, database_url):
    async with Offline(tmp_path, url=database_url) as offline:
        person = offline.person(12)
        await consent(person)
        await person.blocks_the_bot()
        assert offline.person_row(12).unreachable


async def test_editing_the_latest_answer_in_telegram_updates_it(tmp_path, database_url):
    async with Offline(tmp_path, url=database_url) as offline:
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


# --- odd input -----------------------------------------------------------------------------------


async def test_a_photos_caption_is_the_persons_words_for_the_question(tmp_path):
    photo = [{"file_id": "AgAD", "file_unique_id": "U1", "width": 90, "height": 67}]
    async with Offline(tmp_path) as offline:
        person = offline.person(20)
        await to_exercise_one(person)
        await person.chooses("partner")
        await person.chooses("_skip")  # how to call the other
        replies = await person.sends(
            photo=photo, caption="Wij samen op vakantie, ik regelde alles."
        )
        assert offline.answers(20)["geven"] == "Wij samen op vakantie, ik regelde alles."
    assert any("Hoe neem jij" in (m.plain or "") for m in replies)


async def test_a_second_message_seconds_after_an_answer_joins_it_on_telegram(tmp_path):
    async with Offline(tmp_path) as offline:
        person = offline.person(21)
        await to_exercise_one(person)
        await person.chooses("partner")
        await person.chooses("_skip")  # how to call the other
        first = person.message(text="Ik kook elke avond.")
        await person.does({"message": first})
        second = person.message(text="En ik doe de was.")
        second["date"] = first["date"] + 5  # five seconds later: a second thought
        replies = await person.does({"message": second})
        assert offline.answers(21)["geven"] == "Ik kook elke avond.\n\nEn ik doe de was."
        assert "nemen" not in offline.answers(21)
    assert replies[0].plain == "Dit heb ik bij je vorige antwoord gezet."
    assert "Hoe neem jij" in (replies[-1].plain or "")


async def test_thirty_messages_in_two_seconds_get_one_calm_answer_and_all_are_stored(
    tmp_path, library
):
    async with Offline(tmp_path) as offline:
        person = offline.person(22)
        await to_exercise_one(person)
        await person.chooses("partner")
        await person.chooses("_skip")  # how to call the other
        before = len(person.messages)
        start = person.next_date()
        for i in range(30):
            message = person.message(text=f"bericht {i}")
            message["date"] = start + i // 15  # thirty in two seconds
            await offline.deliver({"message": message})
        await offline.settled(22)
        replies = person.messages[before:]
        stored = offline.answers(22)["geven"]
    assert [original(m) for m in replies].count(text(library, "common:flood")) == 1
    assert len(replies) <= 6, "not 58 replies"
    assert all(f"bericht {i}" in stored for i in range(30)), "every message is still stored"


async def test_only_spaces_or_invisible_characters_are_not_an_answer(tmp_path, library):
    async with Offline(tmp_path) as offline:
        person = offline.person(23)
        await to_exercise_one(person)
        await person.chooses("partner")
        await person.chooses("_skip")  # how to call the other
        replies = await person.says("\u200b \u200d")
        assert "geven" not in offline.answers(23)
        await person.says("🙂")
        assert offline.answers(23)["geven"] == "🙂"
    assert original(replies[0]).startswith(text(library, "common:blank") + "\n\n")


async def test_tijd_keeps_asking_until_the_time_is_valid_then_repeats_the_question(tmp_path):
    async with Offline(tmp_path) as offline:
        person = offline.person(24)
        await to_exercise_one(person)
        await person.chooses("partner")
        await person.chooses("_skip")  # how to call the other
        await person.says("/tijd 25:99")
        await person.says("Mars/Olympus")
        replies = await person.says("20:00")
        assert offline.person_row(24).checkin_time == "20:00"
        assert "geven" not in offline.answers(24), "the time is not an answer"
    assert "20:00" in (replies[0].plain or "")
    assert "Hoe geef jij" in (replies[-1].plain or "")


async def test_in_a_group_chat_one_line_then_silence(tmp_path, library):
    async with Offline(tmp_path) as offline:
        person = offline.person(25)
        group = {"id": -200, "type": "group", "title": "Familie"}
        added = {
            "chat": group,
            "from": person.user,
            "date": person.next_date(),
            "old_chat_member": {"user": BOT, "status": "left"},
            "new_chat_member": {"user": BOT, "status": "member"},
        }
        await offline.deliver({"my_chat_member": added})
        await offline.deliver({"message": {**person.message(text="/start"), "chat": group}})
        await offline.deliver({"message": {**person.message(text="hallo?"), "chat": group}})
        await offline.settled(-200)
    sent = offline.recorder.called("sendMessage")
    assert [call.params["chat_id"] for call in sent] == [-200]
    assert text(library, "common:group-chat") in sent[0].params["text"]
    assert offline.rows("SELECT count(*) FROM person")[0][0] == 0, "nobody is kept"
