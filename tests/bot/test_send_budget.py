"""The send budget shared by several processes of one bot (bot/send_budget.py), on SQLite and on
PostgreSQL: the bucket in the database grants at most its burst at once and then its rate, to
every process together; three real processes sending to the fake Bot API through one budget stay
within the bot's limit together, and each gets its turn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.send_budget import SharedBudget
from bot.storage import db, store
from bot.storage.migrations import upgrade_engine
from bot.storage.store import Store
from tests.fakes.telegram_api import FakeBotAPI

ROOT = Path(__file__).resolve().parents[2]
SLOW = 0.001  # tokens a second: nothing refills while a test looks


def places(database: sa.Engine, name: str, count: int, rate: float, burst: int) -> list[float]:
    """When each of `count` reserved places is free, in seconds from the reservation."""
    with Store(database).transaction() as session:
        _, tokens = store.reserve_tokens(session, name, count, rate, burst)
    return [max(0.0, (i + 1 - tokens) / rate) for i in range(count)]


def test_a_new_budget_gives_its_burst_at_once_and_then_its_rate(database) -> None:
    first = places(database, "telegram:bot", 3, SLOW, 5)
    then = places(database, "telegram:bot", 3, SLOW, 5)
    assert first == [0.0, 0.0, 0.0]
    assert then[:2] == [0.0, 0.0]  # the burst's last two
    assert then[2] > 100  # the sixth waits a token's time (1 / SLOW): behind the burst


def test_two_processes_reserve_in_one_bucket(database) -> None:
    one = places(database, "telegram:bot", 4, SLOW, 4)
    other = places(database, "telegram:bot", 1, SLOW, 4)
    assert one == [0.0] * 4
    assert other[0] > 100  # behind everything the first reserved
    assert places(database, "telegram:other", 4, SLOW, 4) == [0.0] * 4  # another bot's own


def test_the_bucket_refills_at_its_rate_up_to_its_burst(database) -> None:
    assert places(database, "telegram:bot", 10, 1.0, 10) == [0.0] * 10
    with Store(database).transaction() as session:  # as if 5 s had passed (+ the real moment)
        session.connection().execute(sa.text("UPDATE send_budget SET at = at - 5"))
    assert sum(1 for p in places(database, "telegram:bot", 10, 1.0, 10) if p == 0.0) == 5
    with Store(database).transaction() as session:  # an hour later: full, and no fuller
        session.connection().execute(sa.text("UPDATE send_budget SET tokens = 0, at = at - 3600"))
    assert sum(1 for p in places(database, "telegram:bot", 20, 1.0, 10) if p == 0.0) == 10


def test_a_429_for_the_bot_holds_every_process_back(database) -> None:
    one = SharedBudget(Store(database), "telegram:bot", 30.0, 30)
    other = SharedBudget(Store(database), "telegram:bot", 30.0, 30)
    now = time.monotonic()
    assert one.reserve(now) < 1  # at once (the moment it took to ask)
    one.empty_until(now + 20)
    assert one.reserve(time.monotonic()) > 15
    assert other.reserve(time.monotonic()) > 15  # told through the database


def test_a_process_takes_a_block_and_spends_it_before_asking_again(database) -> None:
    budget = SharedBudget(Store(database), "telegram:bot", 200.0, 20)
    assert budget.block == 10  # 50 ms of the rate
    now = time.monotonic()
    waits = [budget.reserve(now) for _ in range(10)]
    assert all(wait < 1 for wait in waits)  # at once: the burst
    with Store(database).transaction() as session:
        left = session.connection().execute(sa.text("SELECT tokens FROM send_budget")).scalar()
    assert left is not None and 9 <= left <= 10.5  # one look for ten places: 20 - 10 (+ refill)


PROCESS = r"""
import asyncio, json, sys, time
import httpx
from bot.send_budget import SharedBudget
from bot.storage import db, store
from bot.storage.store import Store

url, api, chat, count, rate, burst = sys.argv[1:7]
budget = SharedBudget(Store(db.make_engine(url)), "telegram:123", float(rate), int(burst))
budget.block = 1  # as at Telegram's 30 a second: one place at a time

async def main():
    refused = 0
    async with httpx.AsyncClient() as client:
        for n in range(int(count)):
            await asyncio.sleep(budget.reserve(time.monotonic()))
            answer = await client.post(
                f"{api}123:TEST/sendMessage", data={"chat_id": chat, "text": f"{n}"}
            )
            refused += answer.status_code == 429
            assert answer.status_code in (200, 429), answer.status_code
    print(json.dumps({"refused": refused}))

asyncio.run(main())
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_three_processes_stay_within_the_bots_limit_together(kind, tmp_path) -> None:
    from tests.databases import database_url

    rate, burst, each = 20.0, 5, 20
    with database_url(kind, tmp_path) as url, FakeBotAPI() as fake:
        engine = db.make_engine(url)
        upgrade_engine(engine)
        engine.dispose()
        # Telegram's flood control as the fake plays it: the bot's rate and burst, with room for
        # one place per process reserved ahead (the module's bound, see its docstring).
        fake.enforce_global_rate(rate, burst=burst + 3)
        chats = [101, 102, 103]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        senders = [
            subprocess.Popen(
                [sys.executable, "-c", PROCESS, url, fake.base_url, str(chat), str(each)]
                + [str(rate), str(burst)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for chat in chats
        ]
        outcomes = []
        for sender in senders:
            out, _ = sender.communicate(timeout=120)
            assert sender.returncode == 0
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
        sends = fake.sends()
    assert [o["refused"] for o in outcomes] == [0, 0, 0]
    # Every process got its turn: each chat received all its messages.
    assert sorted(sum(1 for s in sends if s.chat_id == c) for c in chats) == [each] * 3
    # Within the limit together: no second held more than the rate and the burst allow.
    times = sorted(s.at for s in sends)
    for i, start in enumerate(times):
        within = sum(1 for t in times[i:] if t < start + 1.0)
        assert within <= rate + burst + 3


def test_places_reserved_ahead_are_at_hand_without_asking_the_database(database) -> None:
    budget = SharedBudget(Store(database), "telegram:bot", 200.0, 20)
    now = time.monotonic()
    assert budget.reserve_at_hand(now) is None  # nothing reserved yet: only `reserve` may ask
    assert budget.reserve(now) < 1  # one look: a block of ten places, one of them taken
    at_hand = [budget.reserve_at_hand(now) for _ in range(9)]
    assert all(wait is not None and wait < 1 for wait in at_hand)
    assert budget.reserve_at_hand(now) is None, "the block is spent"
    with Store(database).transaction() as session:
        left = session.connection().execute(sa.text("SELECT tokens FROM send_budget")).scalar()
    assert left is not None and 9 <= left <= 10.5  # the database was asked once
