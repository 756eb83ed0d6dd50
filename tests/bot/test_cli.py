"""`kern-coach` as an author and an operator use it, invoked in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]


def copy_content(tmp_path: Path) -> Path:
    for folder in ("flows", "locales"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("*.py", "__pycache__")
        )
    return tmp_path


def test_flows_check_passes_on_the_real_content(capsys):
    assert main(["flows", "check"]) == 0
    assert "in order" in capsys.readouterr().out


def test_flows_check_names_file_and_line_of_each_problem(tmp_path, capsys):
    root = copy_content(tmp_path)
    flow = root / "flows" / "oefening-1.yaml"
    text = flow.read_text(encoding="utf-8")
    flow.write_text(text.replace("    next: nemen\n", "    next: nemmen\n", 1), encoding="utf-8")
    lines = flow.read_text(encoding="utf-8").splitlines()
    line = next(i for i, row in enumerate(lines, 1) if "next: nemmen" in row)
    nl = root / "locales" / "nl" / "oefening-1.yaml"
    nl.write_text(
        nl.read_text(encoding="utf-8") + "extra: Dit staat alleen in het Nederlands.\n",
        encoding="utf-8",
    )
    assert main(["flows", "--root", str(root), "check"]) == 1
    out = capsys.readouterr().out
    assert f"flows/oefening-1.yaml:{line}: KC012 step 'geven' jumps to unknown step 'nemmen'" in out
    assert "'oefening-1:extra' has no translation in en" in out
    assert "step 'nemen' can never be reached" in out


def test_flows_check_catches_a_long_button_label_and_a_broken_template(tmp_path, capsys):
    root = copy_content(tmp_path)
    common = root / "locales" / "en" / "common.yaml"
    text = common.read_text(encoding="utf-8")
    text = text.replace("  klaar: Done\n", "  klaar: Done, and this label is far too long\n")
    text = text.replace("help: |-\n", "help: |-\n  {{ nobody_defined_this }}\n", 1)
    common.write_text(text, encoding="utf-8")
    assert main(["flows", "--root", str(root), "check"]) == 1
    out = capsys.readouterr().out
    assert "longer than 30 characters" in out
    assert "'common:help' fails to render" in out


def test_transcript_shows_the_journey_with_time_passing(capsys):
    assert main(["flows", "transcript", "oefening-2", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# oefening-2 (en)")
    assert "days later" in out and "(evaluation)" in out
    assert "I am not my mistakes" in out


def test_transcript_of_an_unknown_flow_says_which_exist(capsys):
    assert main(["flows", "transcript", "oefening-9"]) == 2
    assert "oefening-1" in capsys.readouterr().err


def test_diagram_is_mermaid(capsys):
    assert main(["flows", "diagram", "oefening-1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart TD")
    assert "balans = geef-veel / geef-wat" in out


def test_db_upgrade_creates_the_tables(tmp_path, monkeypatch, capsys):
    database = tmp_path / "coach.db"
    monkeypatch.setenv("KERN_COACH_DATABASE_URL", f"sqlite:///{database}")
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0, "a second run has nothing to do"
    tables = sa.inspect(sa.create_engine(f"sqlite:///{database}")).get_table_names()
    assert {"person", "answer", "run", "checkin", "outbox", "processed_update"} <= set(tables)
