"""The real `python -m bot telegram` process against the fake Bot API: killed with SIGKILL at
awkward moments and started again, it loses nothing and does nothing twice; a week later (the
clock moved on by KERN_COACH_CLOCK_OFFSET) the evaluation quotes what the person wrote. On a
SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from flows.tokens import Token, option_of
from tests.fakes.telegram_api import FakeBotAPI
from tests.journeys.processes import CoachProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
WAIT = 90.0  # seconds; generous: the bot paces itself to one message a second per chat
ANSWERS = yaml.safe_load((ROOT / "tests/golden/answers-oefening-1.yaml").read_text("utf-8"))
CHAT = 4242


class BotProcess(CoachProcess):
    """`python -m bot telegram` (polling) with the fake as its Telegram."""

    def __init__(
        self,
        fake: FakeBotAPI,
        directory: Path,
        database_url: str,
        *,
        clock_offset: str = "",
        health_port: int | None = None,
    ):
        health = {} if health_port is None else {"KERN_COACH_HEALTH_PORT": str(health_port)}
        super().__init__(
            ["bot", "telegram"],
            database_url,
            directory,
            TELEGRAM_BOT_TOKEN="123:TEST",
            TELEGRAM_API_URL=fake.base_url,
            KERN_COACH_CLOCK_OFFSET=clock_offset,
            **health,
        )


class Chat:
    """The person, through the fake, with the bot's database to see what it committed."""

    def __init__(self, fake: FakeBotAPI, database: sa.Engine, chat_id: int = CHAT):
        self.fake = fake
        self.database = database
        self.chat_id = chat_id
        self.updates: list[int] = []

    def query(self, sql: str, **params: Any) -> list[Any]:
        try:
            with self.database.connect() as connection:
                return list(connection.execute(sa.text(sql), params))
        except sa.exc.DBAPIError:  # the tables are not there yet
            return []

    def waiting(self) -> int:
        rows = self.query("SELECT count(*) FROM outbox WHERE address = :a", a=str(self.chat_id))
        return rows[0][0] if rows else 0

    def answers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for step, item, value in self.query("SELECT step, item, value FROM answer ORDER BY id"):
            out[step if item == 0 else f"{step}.{item}"] = json.loads(value)
        return out

    def wait(self, predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        return self.fake.wait_for(predicate, timeout, what)

    def settle(self, seen_before: int) -> None:
        """Until the last update is committed and every reply to it is out."""
        last = self.updates[-1]
        self.wait(lambda: self.fake.is_confirmed(last), f"update {last} handled")
        self.wait(lambda: len(self.fake.messages(self.chat_id)) > seen_before, "a reply")
        deadline = time.monotonic() + WAIT
        while self.waiting() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.waiting() == 0, "replies still waiting in the outbox"
        self.wait(
            lambda: (
                not self.fake.last_message(self.chat_id).edited
                or self.fake.last_buttons(self.chat_id)
            ),
            "the last question shown",
        )

    # what the person does; `settle=False` leaves the waiting to the caller
    def says(self, text: str, settle: bool = True, seconds_after: int | None = None) -> int:
        before = len(self.fake.messages(self.chat_id))
        self.updates.append(self.fake.send_text(self.chat_id, text, seconds_after=seconds_after))
        if settle:
            self.settle(before)
        return self.updates[-1]

    def tokens(self) -> list[str]:
        return [data for row in self.fake.last_buttons(self.chat_id) for _, data in row if data]

    def chooses(self, option: str, settle: bool = True) -> int:
        token = next(t for t in self.tokens() if option_of(t) == option)
        message = next(
            m
            for m in reversed(self.fake.messages(self.chat_id))
            if any(d == token for row in m.buttons for _, d in row)
        )
        before = len(self.fake.messages(self.chat_id))
        self.updates.append(self.fake.press_button(self.chat_id, message.message_id, token))
        if settle:
            self.settle(before)
            self.wait(
                lambda: (
                    not self.fake.messages(self.chat_id)[
                        [m.message_id for m in self.fake.messages(self.chat_id)].index(
                            message.message_id
                        )
                    ].buttons
                ),
                "the pressed keyboard gone",
            )
        return self.updates[-1]

    def step(self) -> tuple[str, list[str]]:
        tokens = self.tokens()
        return Token.parse(tokens[0]).step, [option_of(t) for t in tokens]


def do_exercise(chat: Chat, until_step: str) -> None:
    """As the golden transcript answers: buttons where named, text where asked, else on."""
    for _ in range(60):
        step, options = chat.step()
        if step == until_step:
            return
        answer = ANSWERS.get(step)
        if isinstance(answer, list):
            for item in answer:
                chat.says(item)
            chat.chooses("_done")
        elif answer in options:
            chat.chooses(answer)
        elif answer is not None:
            chat.says(str(answer))
        else:
            chat.chooses("_next" if "_next" in options else "_skip")
    raise AssertionError("the exercise did not end")


@pytest.fixture
def fake():
    with FakeBotAPI() as server:
        yield server


@pytest.fixture
def launch(fake, tmp_path, database_url, processes):
    """Starts bot processes; whatever still runs when the test ends is killed."""

    def start(**options: Any) -> BotProcess:
        processes.append(BotProcess(fake, tmp_path, database_url, **options))
        return processes[-1]

    return start


def test_sigkill_at_any_moment_loses_nothing_and_handles_nothing_twice(
    database, fake, launch, processes
):
    chat = Chat(fake, database)
    bot = launch()
    chat.says("/start")
    chat.chooses("_next")
    chat.chooses("ja")

    # 1. Killed right after Telegram handed over an update (committed or not: we can't tell).
    update = chat.says("/menu", settle=False)
    chat.wait(lambda: fake.was_delivered(update), "the update fetched")
    bot.kill()
    bot = launch()
    chat.settle(0)
    chat.chooses("oefening-1")
    chat.chooses("_next")

    # 2. Killed while a reply is on its way to Telegram.
    fake.delay_next(1, seconds=4, methods=["sendMessage"])
    chat.chooses("familielid", settle=False)
    chat.wait(
        lambda: any(r.method == "sendMessage" and r.status == 0 for r in fake.requests),
        "a send under way",
    )
    bot.kill()
    bot = launch()
    chat.settle(0)
    chat.chooses("_skip")  # how to call the other
    chat.says(ANSWERS["geven"])

    # 3. Killed right after an answer was committed (Telegram may not have heard so yet).
    chat.says(ANSWERS["nemen"], settle=False)
    deadline = time.monotonic() + WAIT
    while "nemen" not in chat.answers() and time.monotonic() < deadline:
        time.sleep(0.005)
    bot.kill()
    bot = launch()
    chat.settle(0)
    chat.chooses(ANSWERS["balans"])
    chat.says(ANSWERS["toelichting"])
    assert chat.step()[0] == "voelen"  # the journey goes on where it was
    assert bot.stop() == 0

    answers = chat.answers()
    assert {k: answers[k] for k in ("relatie", "geven", "nemen", "balans", "toelichting")} == {
        k: ANSWERS[k] for k in ("relatie", "geven", "nemen", "balans", "toelichting")
    }
    assert len(answers) == 5  # each stored once, none as the answer to the next question
    recorded = {row[0] for row in chat.query("SELECT update_id FROM processed_update")}
    assert recorded == set(chat.updates)  # every update handled, each once
    assert chat.waiting() == 0
    logs = "".join(p.output() for p in processes)
    assert "Traceback" not in logs
    for text in (ANSWERS["geven"], ANSWERS["nemen"], ANSWERS["toelichting"], "123:TEST"):
        assert text not in logs


def test_week_evaluation_after_a_restart_eight_days_later_quotes_the_answers(
    database, fake, launch
):
    chat = Chat(fake, database)
    bot = launch()
    chat.says("/start")
    chat.chooses("_next")
    chat.chooses("ja")
    chat.says("/menu")
    chat.chooses("oefening-1")
    do_exercise(chat, until_step="kies")
    assert bot.stop() == 0
    before = len(fake.messages(CHAT))

    port = free_port()
    later = launch(clock_offset="8d", health_port=port)
    chat.wait(
        lambda: any(
            "Tijd om terug te kijken" in (m.plain or "") for m in fake.messages(CHAT)[before:]
        ),
        "the evaluation",
        timeout=WAIT,
    )
    chat.wait(lambda: chat.tokens() and chat.step()[0] == "balans-nu", "its first question")
    evaluation = "\n".join(m.plain or "" for m in fake.messages(CHAT)[before:])
    assert ANSWERS["plan"] in evaluation
    assert ANSWERS["toelichting"] in evaluation
    assert all(item in evaluation for item in ANSWERS["situaties"])

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as response:
        health = json.loads(response.read())
    assert health["status"] == "ok" and health["database"] == "ok"
    assert later.stop() == 0


MESSY = {  # what a person writes at each step, in order; the rest is answered as in the golden
    "naam": ["Marieke"],
    "geven": ["Ik doe elke week haar boodschappen.", "En ik rijd haar naar het ziekenhuis."],
    "balans": ["Eigenlijk geef ik veel meer dan ik terugkrijg.", "geef-veel"],
    "voelen": ["Dit raakt me wel.", "_next"],
    "tekenen": [
        "Na het weekend ben ik uitgeput.\n\nEn ik slaap slecht als ik weet dat ik haar bel."
    ],
    "situaties": [
        "Toen ik mijn vakantie afzegde om bij haar te zijn.",
        "Soms wil ik nooit meer wakker worden.",
        "continue",
        "Toen ik niet durfde te zeggen dat ik moe was.",
        "_done",
    ],
    "wanneer": ["vrijdag om 19:00"],
    "evaluatie-moment": ["week"],
    "herhalen": ["elke-maand"],
}


def test_a_messy_journey_on_telegram_keeps_every_message_the_person_sent_in_the_export(
    database, fake, launch
):
    chat = Chat(fake, database)
    bot = launch()
    chat.says("/start")
    chat.chooses("_next")
    chat.chooses("ja")
    chat.says("/tijd stil uit")  # the test runs at any hour; quiet hours have tests of their own
    assert any("geen stille uren" in (m.plain or "") for m in fake.messages(CHAT)[-3:])
    chat.says("/tijd 20:00")
    chat.says("/menu")
    chat.chooses("oefening-1")
    written: list[str] = []
    messy = {step: list(todo) for step, todo in MESSY.items()}
    for _ in range(80):
        step, options = chat.step()
        if step == "kies":  # the exercise is over: the menu
            break
        todo = messy.pop(step, None)
        if todo is None:
            answer = ANSWERS.get(step)
            todo = (answer if isinstance(answer, list) else [answer]) if answer else []
            if isinstance(answer, list):
                todo.append("_done")
        if not todo:
            chat.chooses("_next" if "_next" in options else "_skip")
        for number, item in enumerate(todo):
            tokens = [option_of(t) for t in chat.tokens()]
            if item in tokens:
                chat.chooses(item)
            elif step == "geven" and number == 1:
                chat.says(item, seconds_after=5)  # a second thought, right after the answer
                written.append(item)
            elif step == "wanneer":
                chat.says(item)  # a moment: the export says it as a date ("vrijdag 4 december")
            else:
                chat.says(item)
                written.append(item)
    else:
        raise AssertionError("the exercise did not end")
    assert not messy, f"steps never reached: {sorted(messy)}"
    assert bot.stop() == 0
    before = len(fake.messages(CHAT))

    later = launch(clock_offset="8d")  # the coach was down for a week
    chat.wait(
        lambda: any(
            "Tijd om terug te kijken" in (m.plain or "") for m in fake.messages(CHAT)[before:]
        ),
        "the evaluation",
    )
    chat.wait(lambda: chat.tokens() and chat.step()[0] == "balans-nu", "its first question")
    back = "\n".join(m.plain or "" for m in fake.messages(CHAT)[before:])
    assert back.count("later dan gepland") == 1  # one conversation, said once
    assert "wilde ik je al aan je plan herinneren" in back  # the reminder: one line in it
    assert "Hoe was de balans tussen geven en nemen" not in back  # the old daily: let go
    assert "Marieke" in back and "nooit meer wakker" not in back
    # The second thought was kept with the answer before it, and quoted back with it.
    assert "Dit heb ik bij je vorige antwoord gezet." in "\n".join(
        m.plain or "" for m in fake.messages(CHAT)[:before]
    )

    shown = len(fake.messages(CHAT))
    chat.says("/export")
    chat.wait(
        lambda: sum(m.document is not None for m in fake.messages(CHAT)[shown:]) == 2,
        "the export's two files",
    )
    (text,) = [
        m.document.content.decode()
        for m in fake.messages(CHAT)[shown:]
        if m.document is not None and m.document.filename.endswith(".txt")
    ]
    for message in written:  # every message, every paragraph of the pasted one
        for paragraph in message.split("\n\n"):
            assert paragraph in text, paragraph
    assert "nooit meer wakker" in text  # the person's own, kept (marked), never quoted back
    assert "vrijdag" in text and "om 19:00" in text
    chat.says("/pauze 1 week")  # a pause with an end, typed with its length on Telegram
    paused = "\n".join(m.plain or "" for m in fake.messages(CHAT)[-3:])
    assert "De check-ins staan op pauze tot" in paused and "vanzelf" in paused
    assert later.stop() == 0
