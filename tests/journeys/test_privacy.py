"""Nothing a person writes reaches the logs, at any level, whatever happens."""

from __future__ import annotations

from tests.journeys.test_console import ConsoleProcess, Database

MARKER = "Qz7Marker"


def test_a_whole_journey_at_debug_level_logs_nothing_a_person_wrote(tmp_path, database_url):
    database = Database(database_url, tmp_path)
    console = ConsoleProcess(database, extra_env={"KERN_COACH_LOG_LEVEL": "DEBUG"})
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
    console.type(f"{MARKER} naam")  # the name of the other is theirs too: never logged
    console.expect("Hoe geef jij")
    console.type(f"{MARKER} geven <b>& ' \" ;DROP TABLE answer;--")
    console.expect("Hoe neem jij")
    console.type(f"{MARKER} nemen")
    console.expect("Beschrijf de balans")
    console.type(f"{MARKER} dit is geen knop")  # an odd answer: kind reply, logged?
    console.expect("Je woorden heb ik bewaard")
    console.type(f"{MARKER} ik wil er niet meer zijn")  # the crisis path
    console.expect("113")
    console.type("/mijn")
    console.expect(MARKER)
    console.type("/export")
    console.expect("kern-coach-")
    console.type("/vergeet")
    console.expect("[1] Ja")
    console.type("1")
    assert console.close() == 0
    logs = console.process.stderr.read() if console.process.stderr else ""
    assert "DEBUG" in logs or "INFO" in logs, "the process did log at this level"
    assert MARKER not in logs
    assert "DROP TABLE" not in logs
