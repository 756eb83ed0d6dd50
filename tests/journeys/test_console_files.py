"""The terminal's files, as a person at the keyboard meets them: it says how to leave, /export
writes into a folder only they can read and says where, /vergeet takes those files too, and the
database file is theirs alone."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.journeys.test_console import ConsoleProcess, Database


@pytest.fixture
def database(tmp_path) -> Path:
    return tmp_path / "kern-coach.db"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_terminal_says_how_to_leave_and_goodbye_says_how_to_come_back(database):
    console = ConsoleProcess(Database(f"sqlite:///{database}", database.parent))
    first = console.expect("[1] Verder")
    assert "Stoppen kan altijd met Ctrl-D." in first
    console.type("1")
    console.expect("[1] Ja")
    console.type("Ja")
    console.expect("Elke relatie danst")
    console.type("/menu")
    console.expect("Stoppen voor nu")
    console.type("Stoppen voor nu")
    goodbye = console.expect("typ /start")
    assert "Tot een volgende keer" in goodbye
    assert console.close() == 0


def test_export_goes_to_a_private_folder_that_forget_empties(database):
    console = ConsoleProcess(Database(f"sqlite:///{database}", database.parent))
    console.expect("[1] Verder")
    console.type("1")
    console.expect("[1] Ja")
    console.type("Ja")
    console.expect("Elke relatie danst")
    console.type("/start oefening-1")
    console.expect("[1] Verder")
    console.type("1")
    console.expect("[1] Partner")
    console.type("Partner")
    console.expect("Hoe wil je de ander noemen?")
    console.type("Marieke")
    console.expect("Hoe geef jij")
    console.type("Ik kook elke dag.")
    console.expect("Hoe neem jij")
    console.type("/export")
    folder = database.parent / "kern-coach-export"
    said = console.expect(".json")
    assert f"De bestanden staan in {folder}." in said
    assert "Alleen jij kunt die map lezen" in said
    files = sorted(folder.iterdir())
    assert [f.suffix for f in files] == [".json", ".txt"]
    assert mode(folder) == 0o700
    assert all(mode(f) == 0o600 for f in files)
    assert "Ik kook elke dag." in next(f for f in files if f.suffix == ".txt").read_text()
    assert not list(database.parent.glob("kern-coach-*.txt")), "nothing in the working folder"
    assert mode(database) == 0o600, "the database holds what people wrote"

    console.type("/vergeet")
    console.expect("[1] Ja")
    console.type("1")
    console.expect("Alles is gewist")
    assert not folder.exists()
    assert console.close() == 0
