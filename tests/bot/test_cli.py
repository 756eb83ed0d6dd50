"""`kern-coach` as an author and an operator use it, invoked in-process."""

from __future__ import annotations

import io
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


def test_db_upgrade_creates_the_tables(database_url, monkeypatch, capsys):
    monkeypatch.setenv("KERN_COACH_DATABASE_URL", database_url)
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0, "a second run has nothing to do"
    engine = sa.create_engine(database_url)
    tables = sa.inspect(engine).get_table_names()
    engine.dispose()
    assert {"person", "answer", "run", "checkin", "outbox", "processed_update"} <= set(tables)


def run_safety_check(monkeypatch, capsys, lines: list[str], *args: str) -> list[str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    assert main(["safety", "check", *args]) == 0
    return capsys.readouterr().out.splitlines()


def test_safety_check_gives_one_verdict_per_line_of_input(monkeypatch, capsys):
    out = run_safety_check(
        monkeypatch,
        capsys,
        [
            "Vanavond zet ik er een punt achter.",
            "Ik heb mijn zus gebeld om te vragen hoe het gaat.",
            "",
            "I was so embarrassed I wanted to die.",
        ],
    )
    verdicts = [line.split("\t") for line in out]
    assert [verdict for verdict, _ in verdicts] == ["crisis", "ok", "ok", "ok"]
    assert "nl-er-een-eind-aan-zin" in verdicts[0][1].split()


def test_safety_check_explains_with_the_rule_file_and_line_and_the_scores(monkeypatch, capsys):
    nl = (ROOT / "flows" / "safety" / "nl.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, row in enumerate(nl, 1) if row == "  - id: nl-er-een-eind-aan-zin")
    (out,) = run_safety_check(
        monkeypatch, capsys, ["ik weet niet hoe ik er een einde aan kan maken"], "--explain"
    )
    verdict, why = out.split("\t")
    assert verdict == "crisis"
    assert f"rule nl-er-een-eind-aan-zin (crisis, flows/safety/nl.yaml:{line})" in why
    assert "semantic" in why and "nearest" in why and "flows/safety/semantic/" in why


def test_safety_check_with_one_language_uses_only_its_rules(monkeypatch, capsys):
    text = "kwil dood"  # three words: too short for the semantic layer, the rules decide
    (dutch,) = run_safety_check(monkeypatch, capsys, [text], "--lang", "nl")
    (english,) = run_safety_check(monkeypatch, capsys, [text], "--lang", "en")
    assert dutch.split("\t")[0] == "crisis" and english == "ok\t"
