"""The real `kern-coach console` process, driven through a pipe, killed and started again; on a
SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from flows import defaults
from tests.databases import reader

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0


@dataclass(frozen=True)
class Database:
    """Where the coach keeps its data (`url`), and the folder it runs in (its exports, its
    deletion list beside a PostgreSQL database)."""

    url: str
    directory: Path


class ConsoleProcess:
    """`python -m bot console` with its standard input and output in our hands."""

    def __init__(
        self,
        database: Database,
        *,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ):
        env = {
            **os.environ,
            "KERN_COACH_DATABASE_URL": database.url,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", *args],
            cwd=database.directory,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, text: str, timeout: float = TIMEOUT) -> str:
        """Wait until a line containing `text` is printed; return everything printed since."""
        deadline = time.monotonic() + timeout
        chunk: list[str] = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            chunk.append(line)
            self.seen.append(line)
            if text in line:
                return "\n".join(chunk)
        raise AssertionError(f"never printed {text!r}; last lines:\n" + "\n".join(self.seen[-15:]))

    def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=TIMEOUT)

    def close(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=TIMEOUT)


def stored_answers(database: Database) -> list[tuple[str, str]]:
    engine = reader(database.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT step, value FROM answer ORDER BY id"))
            return [(step, json.loads(value)) for step, value in rows]
    finally:
        engine.dispose()


@pytest.fixture
def database(database_url, tmp_path) -> Database:
    return Database(database_url, tmp_path)


def test_a_journey_survives_sigkill_and_continues_where_it_was(database):
    console = ConsoleProcess(database)
    console.expect("[1] Verder")
    console.type("1")
    console.expect("[1] Ja")
    console.type("Ja")
    console.expect("Elke relatie danst")
    console.type("/menu")
    console.expect("[3]")  # the menu, as numbered buttons
    console.type("/start oefening-1")
    console.expect("[1] Verder")
    console.type("1")
    console.expect("[1] Partner")
    console.type("Partner")
    console.expect("Hoe wil je de ander noemen?")
    console.type("Marieke")
    console.expect("Wat geef je aan Marieke")
    console.type("Ik kook <elke> dag & luister.")
    console.expect("Hoe neem jij")
    console.kill()  # nothing flushed, nothing said goodbye: a hard stop

    assert ("geven", "Ik kook <elke> dag & luister.") in stored_answers(database)

    again = ConsoleProcess(database)
    back = again.expect("Hoe neem jij")
    assert "Verder" not in back.splitlines()[-1]
    again.type("Ze kookt op zondag.")
    again.expect("Beschrijf de balans")
    again.type("1")
    again.expect("eigen woorden")
    assert again.close() == 0
    answers = stored_answers(database)
    assert answers.count(("geven", "Ik kook <elke> dag & luister.")) == 1
    assert ("nemen", "Ze kookt op zondag.") in answers
    assert ("balans", "geef-veel") in answers


def test_end_of_input_ends_cleanly_and_ctrl_c_loses_nothing(database):
    console = ConsoleProcess(database)
    console.expect("[1] Verder")
    console.type("1")
    console.expect("[1] Ja")
    console.type("1")
    console.expect("Elke relatie danst")
    assert console.close() == 0

    again = ConsoleProcess(database)
    again.expect("Elke relatie danst")  # asked again, exactly where it was
    again.process.send_signal(signal.SIGINT)
    assert again.process.wait(timeout=TIMEOUT) == 0
    assert "Traceback" not in (again.process.stderr.read() if again.process.stderr else "")


def test_a_checkin_due_while_the_process_was_down_arrives_after_start(database):
    console = ConsoleProcess(database)
    console.expect("[1] Verder")
    console.type("1")
    console.expect("[1] Ja")
    console.type("1")
    console.expect("Elke relatie danst")
    console.type("/tijd stil uit")  # the test runs at any hour; quiet hours have their own tests
    console.expect("geen stille uren")
    # The daily check-in an hour from now; the process is down for eight hours: seven late, on
    # the same day or (after midnight) the morning after, well before the day has passed.
    soon = datetime.now(ZoneInfo(defaults.TIMEZONE)) + timedelta(hours=1)
    console.type(f"/tijd {soon:%H:%M}")
    console.expect(f"{soon:%H:%M}")
    assert console.close() == 0
    later = ConsoleProcess(database, extra_env={"KERN_COACH_CLOCK_OFFSET": "8h"})
    said = later.expect("Hoe was de balans tussen geven en nemen")
    assert "later dan gepland" in said or "voor gisteren bedoeld" in said
    assert later.close() == 0


def test_first_message_in_english_with_lang_flag(database):
    console = ConsoleProcess(database, args=("--lang", "en"))
    console.expect("[1] Continue")
    assert console.close() == 0


def to_first_question(console: ConsoleProcess) -> str:
    """Through the welcome and consent into exercise 1, at "Hoe geef jij"; what was printed."""
    shown = console.expect("[1] Verder")
    console.type("1")
    console.expect("[1] Ja")
    console.type("Ja")
    console.expect("Elke relatie danst")
    console.type("/start oefening-1")
    console.expect("[1] Verder")
    console.type("1")
    console.expect("[1] Partner")
    console.type("1")
    console.expect("Hoe wil je de ander noemen?")
    console.type("/overslaan")
    console.expect("Hoe geef jij in deze relatie")
    return shown


def test_the_first_buttons_say_what_a_number_and_a_paste_do(database):
    console = ConsoleProcess(database)
    shown = console.expect("Een nummer kiest de knop")
    assert "[1] Verder" in shown
    assert "Regels die je in één keer plakt, zijn één bericht." in shown
    console.close()


def test_a_pasted_answer_of_several_paragraphs_is_one_answer(database):
    console = ConsoleProcess(database)
    to_first_question(console)
    assert console.process.stdin is not None
    pasted = (
        "Ik kook elke avond.\n\nEn in het weekend doe ik de boodschappen.\nOok voor haar moeder.\n"
    )
    console.process.stdin.write(pasted)  # one write, as a terminal delivers a paste
    console.process.stdin.flush()
    console.expect("Hoe neem jij")
    console.type("Ze luistert.")
    console.expect("Beschrijf de balans")
    console.close()
    assert stored_answers(database)[1:3] == [
        ("geven", pasted.rstrip("\n")),
        ("nemen", "Ze luistert."),
    ]


def test_a_number_under_klaar_presses_klaar_and_is_no_list_entry(database):
    console = ConsoleProcess(database)
    to_first_question(console)
    for _ in range(13):  # from "Hoe geef jij" past "te veel nemen"
        console.type("/overslaan")
    console.expect("Welke situaties komen in je op?")
    console.type("Toen ik alleen verhuisde.")
    console.expect("[1] Klaar")
    console.type("1")
    console.expect("Stap 4: Actief herstellen van de balans")
    console.close()
    assert [v for step, v in stored_answers(database) if step == "situaties"] == [
        "Toen ik alleen verhuisde."
    ]


def test_an_unsure_message_gets_the_gentle_question_and_no_goes_on_with_it_kept(database):
    console = ConsoleProcess(database)
    to_first_question(console)
    console.type("Ik zie geen toekomst meer voor mezelf.")
    shown = console.expect("[3] Liever niet zeggen")
    assert "Ik lees iets wat zwaar klinkt." in shown and "113" in shown and "1813" in shown
    assert "[1] Ja" in shown and "[2] Nee, niet zo" in shown
    console.type("2")
    shown = console.expect("Hoe neem jij")
    assert "We gaan verder waar je was." in shown
    assert console.close() == 0
    assert ("geven", "Ik zie geen toekomst meer voor mezelf.") in stored_answers(database)


def test_yes_to_the_gentle_question_gives_help_first_in_the_terminal(database):
    console = ConsoleProcess(database)
    to_first_question(console)
    console.type("Ik zie geen toekomst meer voor mezelf.")
    console.expect("[3] Liever niet zeggen")
    console.type("Ja")
    shown = console.expect("[2] Verder gaan")
    assert "Zelfmoordpreventie" in shown and "0800-0113" in shown and "112" in shown
    console.type("Verder gaan")
    console.expect("Hoe neem jij")
    assert console.close() == 0
