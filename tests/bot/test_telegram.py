"""The Telegram channel on the wire: the real python-telegram-bot Application talks HTTP to the
fake Bot API on 127.0.0.1 (offsets, redelivery, 403, 429, 5xx, refused HTML, webhooks, a refused
token); the coach runs on a SQLite file. What a person sees that needs no wire is in
test_telegram_chat.py."""

from __future__ import annotations

import logging

import httpx
import pytest
from telegram import Update

from tests.bot.test_telegram_harness import (
    WAIT,
    Harness,
    consent,
    original,
    text,
    to_exercise_one,
    wait_until,
)
from tests.fakes.telegram_api import FakeBotAPI

# The channel calls `Bot.do_api_request` where it reads only part of Telegram's answer; pytest
# shows PTB's hint about the typed methods again in every test (the module filters it once).
pytestmark = pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning")


@pytest.fixture
def fake():
    with FakeBotAPI() as server:
        yield server


async def test_an_update_delivered_twice_is_handled_once(tmp_path, database_url, fake):
    async with Harness(tmp_path, fake, url=database_url) as harness:
        person = harness.person(9)
        await to_exercise_one(person)
        await person.chooses("familielid")
        await person.chooses("_skip")  # how to call the other
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


async def test_a_blocked_person_is_paused_and_everyone_else_goes_on(
    tmp_path, database_url, fake, library
):
    async with Harness(tmp_path, fake, url=database_url) as harness:
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


async def test_a_message_telegram_refuses_is_dropped_and_the_chat_goes_on(
    tmp_path, database_url, fake, caplog, library
):
    secret = "Mijn geheime zin 4711"
    async with Harness(tmp_path, fake, url=database_url) as harness:
        person = harness.person(13)
        await person.says("/start")
        with harness.coach.store.transaction() as session:
            from bot.outbox import encode, item_of
            from bot.storage import store

            store.add_outgoing(
                session,
                person_id=None,
                channel="telegram",
                address="13",
                payloads=[
                    encode(item_of({"key": "broken", "text": secret})),
                    encode(item_of({"key": "fine", "text": "Nog steeds hier."})),
                ],
                now=harness.coach.clock.now(),
            )
        fake.fail_next(1, 400, sends_only=True)  # as if we had sent Telegram something wrong
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
        await person.chooses("_skip")  # how to call the other
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


async def test_webhook_mode_takes_updates_only_with_the_secret(
    tmp_path, database_url, fake, library
):
    async with Harness(
        tmp_path,
        fake,
        url=database_url,
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


async def test_an_update_the_library_cannot_read_is_logged_confirmed_and_skipped(
    tmp_path, fake, caplog
):
    async with Harness(tmp_path, fake) as harness:
        person = harness.person(30)
        await to_exercise_one(person)
        await person.chooses("partner")
        await person.chooses("_skip")  # how to call the other
        with caplog.at_level(logging.ERROR):
            unreadable = fake.deliver_raw({"poll": {"id": "p1", "question": "Oud?"}})
            fake.send_text(30, "Ik kook elke avond.")
            await harness.settled(30)
            await wait_until(lambda: harness.channel._offset() > unreadable, what="the offset")
        assert harness.task is not None and not harness.task.done(), "the channel still runs"
        assert harness.answers(30)["geven"] == "Ik kook elke avond.", "the rest goes on"
    said = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert said == [f"update {unreadable} (poll) cannot be read (TypeError); confirmed and skipped"]
    assert "Oud?" not in caplog.text
