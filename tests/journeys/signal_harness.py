"""The real `python -m bot signal` process against the fake signal-cli daemon, and a person who
writes to it: what the Signal journey tests share.

The person reads the coach's messages as a Signal user would (the text, numbered lines under
it) and picks an option by typing its number or its label; which line is which option is looked
up in the flows' own labels, as a person reads the words."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import yaml

from flows.model import SCALE, WHEN_PRESETS, Library
from tests.fakes.signal_cli import FakeSignalCli, SentMessage
from tests.journeys.processes import CoachProcess, wait_for

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # seconds; generous on a loaded machine
ANSWERS = yaml.safe_load((ROOT / "tests/golden/answers-oefening-1.yaml").read_text("utf-8"))
PERSON = "5f6d3c1e-8a2b-4c3d-9e1f-0a1b2c3d4e5f"
NUMBERED = re.compile(r"^(\d+)\. (.+)$")
COMMON = {
    "_next": ["common:buttons.verder"],
    "_done": ["common:buttons.klaar"],
    "_skip": ["common:buttons.overslaan"],
}


class SignalProcess(CoachProcess):
    """`python -m bot signal` with the fake as its signal-cli."""

    def __init__(
        self,
        fake: FakeSignalCli,
        directory: Path,
        database_url: str,
        *,
        clock_offset: str = "",
        health_port: int | None = None,
        **env: str,
    ):
        health = [] if health_port is None else ["--health-port", str(health_port)]
        super().__init__(
            ["bot", "signal", *health],
            database_url,
            directory,
            SIGNAL_CLI_URL=fake.url,
            SIGNAL_ACCOUNT=fake.account,
            KERN_COACH_CLOCK_OFFSET=clock_offset,
            **env,
        )


def labels_by_option(library: Library, lang: str = "nl") -> dict[str, set[str]]:
    """Every option id with the labels it is shown by, in any flow."""
    tz = ZoneInfo("Europe/Amsterdam")
    found: dict[str, set[str]] = {}

    def add(option: str, key: str) -> None:
        found.setdefault(option, set()).add(library.texts.label(lang, key, tz))

    for option, keys in COMMON.items():
        for key in keys:
            add(option, key)
    for flow in library.flows.values():
        for step in flow.steps.values():
            for option in step.options:
                add(option.id, option.label or f"{flow.id}:{step.id}.{option.id}")
            if step.skip_label:
                add("_skip", step.skip_label)
    for scale in SCALE:
        add(scale, f"common:scale.{scale}")
    for preset in WHEN_PRESETS:
        add(preset, f"common:when.{preset}")
    return found


class Person:
    """Someone on Signal writing to the coach, with the coach's database to see what it
    committed."""

    def __init__(
        self, fake: FakeSignalCli, database: sa.Engine, library: Library, uuid: str = PERSON
    ):
        self.fake = fake
        self.database = database
        self.uuid = uuid
        self.labels = labels_by_option(library)
        self.written: list[int] = []  # the timestamps of what they sent
        self.by_number = True  # alternate: a number, then a label, …

    def query(self, sql: str, **params: Any) -> list[Any]:
        try:
            with self.database.connect() as connection:
                return list(connection.execute(sa.text(sql), params))
        except sa.exc.DBAPIError:  # the tables are not there yet
            return []

    def received(self) -> list[SentMessage]:
        """What the coach sent them (successfully), in order."""
        return [s for s in self.fake.sent if s.recipient == self.uuid and s.failure is None]

    def last_text(self) -> str:
        texts = [s.message for s in self.received() if s.message]
        return texts[-1] if texts else ""

    def waiting(self) -> int:
        rows = self.query("SELECT count(*) FROM outbox WHERE address = :a", a=self.uuid)
        return rows[0][0] if rows else 0

    def handled(self, sent_at: int) -> bool:
        rows = self.query(
            "SELECT handled_at FROM received_message WHERE sender = :s AND sent_at = :t",
            s=self.uuid,
            t=sent_at,
        )
        return not rows or rows[0][0] is not None  # gone: /vergeet took it with the rest

    def answers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for step, item, value in self.query("SELECT step, item, value FROM answer ORDER BY id"):
            out[step if item == 0 else f"{step}.{item}"] = json.loads(value)
        return out

    def state(self) -> dict[str, Any]:
        rows = self.query("SELECT state FROM person WHERE address = :a", a=self.uuid)
        return json.loads(rows[0][0]) if rows else {}

    def step(self) -> str | None:
        at = self.state().get("at")
        return at["step"] if at else None

    def wait(self, predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        return wait_for(predicate, what, timeout)

    def settle(self, seen_before: int | None = None) -> None:
        """Until what they sent last is committed and every reply to it is out."""
        last = self.written[-1]
        self.wait(lambda: self.handled(last), f"message {last} handled")
        if seen_before is not None:
            self.wait(lambda: len(self.received()) > seen_before, "a reply")
        self.wait(lambda: self.waiting() == 0, "the outbox empty")

    def says(self, text: str, settle: bool = True) -> int:
        before = len(self.received())
        # A person reads and thinks before answering: a minute on, on the sender's clock (the
        # engine takes a second message within seconds as part of the answer before it).
        stamp = max(int(time.time() * 1000), (self.written[-1] if self.written else 0) + 60_000)
        envelope = self.fake.person_writes(text, uuid=self.uuid, timestamp=stamp)
        self.written.append(envelope["timestamp"])
        if settle:
            self.settle(before)
        return self.written[-1]

    def options(self) -> list[tuple[str, str]]:
        """The numbered lines under the last message: (number, label)."""
        lines = self.last_text().splitlines()
        return [m.groups() for m in map(NUMBERED.match, lines) if m]  # type: ignore[misc]

    def offers(self, option: str) -> bool:
        return any(label in self.labels.get(option, ()) for _, label in self.options())

    def chooses(self, option: str, settle: bool = True) -> int:
        """Types the number of the line that shows this option (or, every other time, its
        words)."""
        number, label = next(
            (n, label) for n, label in self.options() if label in self.labels.get(option, ())
        )
        typed = number if self.by_number else label
        self.by_number = not self.by_number
        return self.says(typed, settle=settle)


def do_exercise(person: Person, until_step: str) -> None:
    """As the golden transcript answers: options where named, text where asked, else on."""
    for _ in range(60):
        step = person.step()
        if step == until_step:
            return
        answer = ANSWERS.get(step or "")
        if isinstance(answer, list):
            for item in answer:
                person.says(item)
            person.chooses("_done")
        elif isinstance(answer, str) and person.offers(answer):
            person.chooses(answer)
        elif answer is not None:
            person.says(str(answer))
        else:
            person.chooses("_next" if person.offers("_next") else "_skip")
    raise AssertionError("the exercise did not end")
