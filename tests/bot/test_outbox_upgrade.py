"""Messages waiting in the outbox across an upgrade. The previous version stored each as one
`text` of Telegram HTML (the person's words escaped in it); after the upgrade they are still read
and sent, on Telegram and in the terminal, as they would have been."""

from __future__ import annotations

import asyncio
import io

import pytest

from bot.channels import console
from bot.channels.console import ConsoleChannel
from bot.storage import store
from tests.bot.test_telegram_harness import Harness
from tests.fakes.telegram_api import FakeBotAPI

pytestmark = pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning")

# A row as the previous version wrote it: a week evaluation that quotes the plan.
WRITTEN_BEFORE = {
    "key": "oefening-1:evaluatie.terugblik",
    "text": "<b>Je plan:</b>\n<blockquote>Ik zeg &lt;nee&gt; &amp; meen het</blockquote>",
    "buttons": [[{"label": "Verder", "token": "r1:evaluatie:_next"}]],
    "quotes": True,
}


@pytest.fixture
def fake():
    with FakeBotAPI() as server:
        yield server


async def test_a_message_stored_before_the_upgrade_reaches_telegram(tmp_path, database_url, fake):
    async with Harness(tmp_path, fake, url=database_url) as harness:
        person = harness.person(31)
        await person.says("/start")
        with harness.coach.store.transaction() as session:
            store.add_outgoing(
                session,
                person_id=None,
                channel="telegram",
                address="31",
                payloads=[WRITTEN_BEFORE],
                now=harness.coach.clock.now(),
            )
        harness.channel.sender.wake()
        await harness.settled(31)
        assert person.seen[-1] == "Je plan:\nIk zeg <nee> & meen het"
        assert person.buttons() == [("Verder", "r1:evaluatie:_next")]


def test_a_message_stored_before_the_upgrade_shows_in_the_terminal(coach, tmp_path):
    out = io.StringIO()
    channel = ConsoleChannel(coach, lang="nl", stdin=io.StringIO(), stdout=out, export_dir=tmp_path)
    with coach.store.transaction() as session:
        store.add_outgoing(
            session,
            person_id=None,
            channel=console.CHANNEL,
            address=console.ADDRESS,
            payloads=[WRITTEN_BEFORE],
            now=coach.clock.now(),
        )
    asyncio.run(channel.flush())
    shown = out.getvalue()
    assert "coach › Je plan:\n" in shown
    assert "Ik zeg <nee> & meen het" in shown
    assert "[1] Verder" in shown
    with coach.store.transaction() as session:
        assert not store.ready_outgoing(session, console.CHANNEL, coach.clock.now(), 20)
