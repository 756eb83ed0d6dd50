"""The send budget shared by several processes of one bot (bot/send_budget.py), on SQLite and on
PostgreSQL: the bucket in the database grants at most its burst at once and then its rate, to
every process together; three real processes sending to the fake Bot API through one budget stay
within the bot's limit together, and each gets its turn."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.send_budget import SharedBudget
from bot.storage import db
from bot.storage.migrations import upgrade_engine
from bot.storage.store import Store
from tests.fakes.telegram_api import FakeBotAPI

ROOT = Path(__file__).resolve().parents[2]
SLOW = 0.001  # tokens a second: nothing refills while a test looks


def test_a_new_budget_grants_its_burst_and_then_nothing_until_it_refills(database) -> None:
    budget = SharedBudget(Store(database), "telegram:bot", SLOW, 5)
    first = budget.take(3)
    second = budget.take(3)
    third = budget.take(3)
    assert (first.tokens, second.tokens, third.tokens) == (3, 2, 0)
    assert third.wait > 100  # about 1 / SLOW seconds: told how long, not asked again at once


def test_two_processes_draw_from_one_bucket(database) -> None:
    one = SharedBudget(Store(database), "telegram:bot", SLOW, 4)
    other = SharedBudget(Store(database), "telegram:bot", SLOW, 4)
    assert one.take(3).tokens == 3
    assert other.take(3).tokens == 1
    assert one.take(1).tokens == 0
    # Another bot's budget is its own.
    assert SharedBudget(Store(database), "telegram:other", SLOW, 4).take(4).tokens == 4


def test_the_bucket_refills_at_its_rate_up_to_its_burst(database) -> None:
    budget = SharedBudget(Store(database), "telegram:bot", 1.0, 10)
    assert budget.take(10).tokens == 10
    with Store(database).transaction() as session:  # as if 5 s had passed (+ the real moment)
        session.connection().execute(sa.text("UPDATE send_budget SET at = at - 5"))
    assert budget.take(10).tokens == 5
    with Store(database).transaction() as session:  # as if an hour had passed: full, no more
        session.connection().execute(sa.text("UPDATE send_budget SET at = at - 3600"))
    assert budget.take(100).tokens == 10


def test_turn_waits_for_the_bucket_and_spends_what_it_took(database) -> None:
    budget = SharedBudget(Store(database), "telegram:bot", 200.0, 2)
    assert budget.block == 2  # 50 ms of the rate, within the burst

    async def five() -> int:
        for _ in range(5):
            await budget.turn()
        return 5

    assert asyncio.run(five()) == 5
    with Store(database).transaction() as session:
        left = session.connection().execute(sa.text("SELECT tokens FROM send_budget")).scalar()
    assert left is not None and left < 2  # the bucket was drawn on, not bypassed


PROCESS = r"""
import asyncio, json, sys, time
import httpx
from bot.send_budget import SharedBudget
from bot.storage import db
from bot.storage.store import Store

url, api, chat, count, rate, burst = sys.argv[1:7]
budget = SharedBudget(Store(db.make_engine(url)), "telegram:123", float(rate), int(burst))

async def main():
    refused = 0
    async with httpx.AsyncClient() as client:
        for n in range(int(count)):
            await budget.turn()
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
        # Telegram's flood control as the fake plays it: the bot's rate, with room for the
        # burst and one token per process taken ahead (the module's bound, see its docstring).
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
