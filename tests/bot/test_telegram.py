"""The Telegram channel as a person on Telegram notices it: the real python-telegram-bot
Application talks HTTP to the fake Bot API on 127.0.0.1; the coach runs on a SQLite file."""

from __future__ import annotations

import json
import logging
from zoneinfo import ZoneInfo

import httpx
import pytest
from telegram import Update

from bot.channels.telegram import STALE_BUTTON
from bot.channels.telegram_send import Pacer
from tests.bot.test_telegram_harness import WAIT, Harness, original, wait_until
from tests.fakes.telegram_api import FakeBotAPI

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


# The channel calls `Bot.do_api_request` where it reads only part of Telegram's answer; pytest
# shows PTB's hint about the typed methods again in every test (the module filters it once).
pytestmark = pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning")


@pytest.fixture
def fake():
    with FakeBotAPI() as server:
        yield server


def text(library, key: str, lang: str = "nl", **context) -> str:
    """What the person sees of a text of the coach."""
    return library.texts.plain(lang, key, AMSTERDAM, **context)


async def consent(person) -> None:
    """/start, past the welcome, and yes to keeping what they write."""
    await person.says("/start")
    await person.chooses("_next")
    await person.chooses("ja")


async def to_exercise_one(person) -> None:
    await consent(person)
    await person.says("/menu")
    await person.chooses("oefening-1")
    await person.chooses("_next")


async def test_start_asks_consent_with_buttons_in_the_persons_language(tmp_path, fake, library):
    async with Harness(tmp_path, fake) as harness:
        dutch, english = harness.person(1, "nl"), harness.person(2, "en-GB")
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


async def test_command_menu_is_set_in_dutch_and_english(tmp_path, fake):
    async with Harness(tmp_path, fake):
        await wait_until(lambda: len(fake.commands) == 2, what="two command menus")
    dutch = dict(fake.commands[""])
    english = dict(fake.commands["en"])
    assert list(dutch) == [
        "start",
        "menu",
        "help",
        "terug",
        "pauze",
        "hervat",
        "tijd",
        "taal",
        "mijn",
        "export",
        "vergeet",
    ]
    assert list(english) == [
        "start",
        "menu",
        "help",
        "back",
        "pause",
        "resume",
        "time",
        "language",
        "mine",
        "export",
        "forget",
    ]
    assert all(dutch.values()) and all(english.values())


async def test_a_pressed_button_shows_the_choice_and_its_keyboard_goes(tmp_path, fake, library):
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(3)
        await person.says("/start")
        await person.chooses("_next")
        label = person.label("ja")
        await person.chooses("ja")
        await wait_until(lambda: len(fake.callback_answers) == 2, what="both presses answered")

    question = next(
        m for m in person.messages if original(m) == text(library, "opening:toestemming.vraag")
    )
    assert question.buttons == []
    assert question.plain.endswith(f"→ {label}")
    assert question.history[0].buttons  # it did show them before
    assert [a.show_alert for a in fake.callback_answers] == [False, False]


async def test_an_old_button_gets_a_kind_answer_and_changes_nothing(tmp_path, fake, library):
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(4)
        await person.says("/start")
        welcome = person.messages[-1]
        token = person.token("_next")
        await person.chooses("_next")
        before = harness.rows("SELECT state FROM person")[0][0]
        # The same button again, as after a double tap: the keyboard is already gone.
        replies = await person.sends(
            lambda chat: fake.press_button(chat, welcome.message_id, token, strict=False)
        )
        await wait_until(lambda: len(fake.callback_answers) == 2, what="the second press answered")
        after = harness.rows("SELECT state FROM person")[0][0]

    assert [original(m) for m in replies][0] == text(library, STALE_BUTTON)
    assert json.loads(after)["at"] == json.loads(before)["at"]
    assert fake.callback_answers[-1].data == token
    assert fake.messages(4)[welcome.message_id - 2].plain.count("→") == 1  # not noted twice


async def test_pictures_stickers_voice_and_files_get_a_gentle_reply(tmp_path, fake, library):
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(5)
        await person.says("/start")
        replies = {}
        for kind, send in [
            ("sticker", fake.send_sticker),
            ("photo", fake.send_photo),
            ("voice", fake.send_voice),
            ("location", fake.send_location),
            ("document", fake.send_document),
        ]:
            replies[kind] = await person.sends(send)
    for kind, messages in replies.items():
        assert original(messages[0]) == text(library, f"common:media.{kind}")


async def test_html_in_an_answer_is_stored_exactly_and_quoted_back_escaped(tmp_path, fake):
    answer = "<b>Mijn moeder</b> & ik; '); DROP TABLE answer; -- \x07 &amp;"
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(6)
        await to_exercise_one(person)
        await person.chooses("familielid")
        await person.says(answer)
        shown = await person.says("/mijn")

    assert harness.answers(6)["geven"] == answer
    quoted = [m for m in shown if "Mijn moeder" in (m.plain or "")]
    assert quoted, [m.plain for m in shown]
    assert "<b>Mijn moeder</b> & ik; '); DROP TABLE answer;" in quoted[0].plain
    assert "&lt;b&gt;Mijn moeder&lt;/b&gt; &amp; ik" in quoted[0].text
    assert not any(
        e["type"] == "bold" and "Mijn" in quoted[0].plain[e["offset"] :][: e["length"]]
        for e in quoted[0].entities
    )


async def test_a_very_long_answer_is_stored_whole_and_quoted_in_parts(tmp_path, fake):
    paragraph = "Ik geef en ik geef, en soms vergeet ik mezelf daarbij. " * 20
    answer = "\n\n".join(f"{i}. {paragraph.strip()}" for i in range(19))[:20_000]
    assert len(answer) == 20_000
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(7)
        await to_exercise_one(person)
        await person.chooses("familielid")
        reply = await person.says(answer)
        assert reply, "the long answer was answered"
        shown = await person.says("/mijn")

    assert harness.answers(7)["geven"] == answer
    parts = [m for m in shown if "vergeet ik mezelf" in (m.plain or "")]
    assert len(parts) >= 5
    assert all(len(m.plain) <= 4096 for m in shown)
    assert "".join(m.plain for m in parts).count("vergeet ik mezelf") == answer.count(
        "vergeet ik mezelf"
    )


async def test_a_long_reply_that_has_to_wait_its_turn_shows_typing(tmp_path, fake, library):
    help_text = text(library, "common:help")
    assert len(help_text) > 300
    async with Harness(tmp_path, fake, pacer=Pacer()) as harness:  # one a second per chat
        person = harness.person(16)
        await person.says("/start")
        for _ in range(3):  # quicker than one message a second can follow
            fake.send_text(16, "/help")
        await harness.settled(16)
    typing = fake.chat_actions(16)
    assert typing and all(a.action == "typing" for a in typing)
    sends = fake.sends(16)
    for action in typing:  # each shown while a long message waited, which then came
        following = [s for s in sends if s.at > action.at]
        assert following and following[0].at - action.at < 3.0
        sent = next(m for m in fake.messages(16) if m.message_id == following[0].message_id)
        assert len(sent.plain) > 300


async def test_export_arrives_as_a_text_file_and_a_json_file(tmp_path, fake):
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(8)
        await to_exercise_one(person)
        await person.chooses("familielid")
        await person.says("Ik kook elke zondag voor haar.")
        sent = await person.says("/export")

    documents = [m.document for m in sent if m.document is not None]
    assert [d.filename.rsplit(".", 1)[1] for d in documents] == ["txt", "json"]
    assert "Ik kook elke zondag voor haar." in documents[0].content.decode()
    data = json.loads(documents[1].content)
    assert "Ik kook elke zondag voor haar." in json.dumps(data, ensure_ascii=False)


async def test_an_update_delivered_twice_is_handled_once(tmp_path, fake):
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(9)
        await to_exercise_one(person)
        await person.chooses("familielid")
        update_id = fake.send_text(9, "Ik luister naar haar.")
        await harness.settled(9)
        raw = next(r for r in fake.requests if r.method == "getUpdates" and r.status == 200)
        assert raw
        count = len(person.messages)
        payload = {"update_id": update_id, "message": fake.user_messages(9)[-1]}
        # Telegram delivers it again, as after a crash before the offset moved on.
        await harness.channel.handle_batch([Update.de_json(payload, harness.channel.bot)])
        await harness.settled(9)
        assert len(person.messages) == count
        turns = harness.rows(
            "SELECT count(*) FROM processed_update WHERE update_id = :u", u=update_id
        )[0][0]
    assert turns == 1
    assert harness.answers(9)["geven"] == "Ik luister naar haar."


async def test_a_blocked_person_is_paused_and_everyone_else_goes_on(tmp_path, fake, library):
    async with Harness(tmp_path, fake) as harness:
        leaving, staying = harness.person(10), harness.person(11)
        await consent(leaving)
        await consent(staying)
        # They write, and block the bot before the answer is out.
        fake.block(10)
        fake.send_text(10, "/help")
        await wait_until(lambda: harness.person_row(10).unreachable, what="marked unreachable")
        await harness.settled(10)
        attempts = [r for r in fake.requests if r.chat_id == 10 and r.status == 403]
        await staying.says("/help")
        await staying.says("/menu")
        assert staying.seen[-1] == text(library, "menu:kies.vraag")
        assert harness.waiting("10") == 0
        later = [r for r in fake.requests if r.chat_id == 10 and r.status == 403]
        assert len(later) == len(attempts) == 1  # tried once, not in a loop

        # Unblocking and writing again makes them reachable again.
        fake.unblock(10)
        await leaving.says("/help")
        assert not harness.person_row(10).unreachable
        assert leaving.seen[-2] == text(library, "common:help")


async def test_blocking_the_bot_in_telegram_pauses_check_ins_at_once(tmp_path, fake):
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(12)
        await consent(person)
        fake.block(12, send_update=True)
        await wait_until(lambda: harness.person_row(12).unreachable, what="marked unreachable")


async def test_a_message_telegram_refuses_is_dropped_and_the_chat_goes_on(
    tmp_path, fake, caplog, library
):
    secret = "Mijn geheime zin 4711"
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(13)
        await person.says("/start")
        with harness.coach.store.transaction() as session:
            from bot.storage import store

            store.add_outgoing(
                session,
                person_id=None,
                channel="telegram",
                address="13",
                payloads=[
                    {"key": "broken", "text": f"<p>{secret}</p>"},
                    {"key": "fine", "text": "Nog steeds hier."},
                ],
                now=harness.coach.clock.now(),
            )
        harness.channel.sender.wake()
        await harness.settled(13)
    assert person.seen[-1] == "Nog steeds hier."
    assert any("BadRequest" in r.getMessage() and "13" in r.getMessage() for r in caplog.records)
    assert all(secret not in r.getMessage() for r in caplog.records)


async def test_logs_never_contain_what_a_person_wrote(tmp_path, fake, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "Mijn moeder weet niet dat ik 7319 keer huilde"
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(14)
        await to_exercise_one(person)
        await person.chooses("familielid")
        fake.fail_next(2, 502, sends_only=True)
        await person.says(secret)
        await person.says("/mijn")
        fake.rate_limit_every(2)
        await person.says(secret + " opnieuw")
        fake.reset_faults()
    assert harness.answers(14)["nemen"] == secret + " opnieuw"
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("tests."))
    assert "7319" not in logged
    assert "123:TEST" not in logged  # the token sits in every request URL


async def test_webhook_mode_takes_updates_only_with_the_secret(tmp_path, fake, library):
    async with Harness(
        tmp_path,
        fake,
        webhook_url="https://coach.example/telegram",
        webhook_port=0,
        webhook_secret="s3cret",
        webhook_host="127.0.0.1",
        health_port=None,
    ) as harness:
        assert fake.webhook_url == "https://coach.example/telegram"
        port = harness.channel.webhook_server.port
        update = {
            "update_id": 500,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                "chat": {"id": 15, "type": "private", "first_name": "Test"},
                "from": {"id": 15, "is_bot": False, "first_name": "Test", "language_code": "nl"},
            },
        }
        async with httpx.AsyncClient(timeout=WAIT) as client:
            url = f"http://127.0.0.1:{port}/telegram"
            refused = await client.post(url, json=update)
            wrong = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
            )
            assert harness.rows("SELECT count(*) FROM processed_update")[0][0] == 0
            accepted = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            )
            again = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            )
        await harness.settled(15)
    assert (refused.status_code, wrong.status_code) == (403, 403)
    assert (accepted.status_code, again.status_code) == (200, 200)
    assert [original(m) for m in fake.messages(15)][0] == text(library, "opening:welkom")
    assert len(fake.messages(15)) == 2  # the second delivery was not handled again


async def test_healthz_reports_database_scheduler_and_last_poll(tmp_path, fake):
    async with Harness(tmp_path, fake, health_port=0, health_host="127.0.0.1") as harness:
        port = harness.channel.health_server.port
        await wait_until(lambda: harness.channel.last_poll is not None, what="a first poll")
        async with httpx.AsyncClient(timeout=WAIT) as client:
            healthy = await client.get(f"http://127.0.0.1:{port}/healthz")
            await harness.channel.scheduler.stop()
            await wait_until(lambda: not harness.channel.scheduler.running, what="stopped")
            sick = await client.get(f"http://127.0.0.1:{port}/healthz")
            missing = await client.get(f"http://127.0.0.1:{port}/elsewhere")
    assert healthy.status_code == 200
    assert healthy.json()["database"] == "ok"
    assert healthy.json()["scheduler"] == "running"
    assert healthy.json()["last_poll_seconds_ago"] < 60
    assert sick.status_code == 503 and sick.json()["scheduler"] == "stopped"
    assert missing.status_code == 404


async def test_a_refused_token_stops_the_channel_with_an_error(tmp_path):
    with FakeBotAPI(require_token="999:OTHER") as fake:
        harness = Harness(tmp_path, fake)
        harness.channel = None
        from bot.channels.telegram import TelegramChannel, build_application

        channel = TelegramChannel(harness.coach, build_application("123:TEST", fake.base_url))
        assert await channel.run() == 1
        harness.engine.dispose()


async def test_editing_the_latest_answer_in_telegram_updates_it(tmp_path, fake):
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(12)
        await to_exercise_one(person)
        await person.chooses("partner")
        await person.says("Ik kook elk dga.")
        written = fake.user_messages(12)[-1]["message_id"]
        fixed = "Ik kook elke dag."
        replies = await person.sends(lambda chat: fake.edit_text(chat, written, fixed))
        assert harness.answers(12)["geven"] == "Ik kook elke dag."
    assert any("aangepast" in (m.plain or "") for m in replies)
