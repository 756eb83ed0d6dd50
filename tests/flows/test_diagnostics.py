"""Every problem `flows check` can report has a stable code that the author's guide explains."""

from __future__ import annotations

import re
from pathlib import Path

from bot.content import read_sources
from flows.loader import check_sources

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r"\bKC\d{3}\b")


def codes_in_the_code() -> set[str]:
    return {c for path in (ROOT / "flows").rglob("*.py") for c in CODE.findall(path.read_text())}


def codes_in_the_guide() -> set[str]:
    guide = (ROOT / "docs" / "flow-format.md").read_text(encoding="utf-8")
    return {m.group(1) for m in re.finditer(r"^\| (KC\d{3}) \| \S", guide, re.MULTILINE)}


def test_every_code_the_check_can_give_is_explained_in_the_guide():
    assert codes_in_the_code() - codes_in_the_guide() == set()


def test_the_guide_explains_no_code_the_check_cannot_give():
    assert codes_in_the_guide() - codes_in_the_code() == set()


def test_a_problem_reads_as_file_line_code_and_message():
    sources = read_sources()
    flow = "flows/oefening-1.yaml"
    sources[flow] = sources[flow].replace("    next: nemen\n", "    next: nemmen\n", 1)
    line = next(i for i, row in enumerate(sources[flow].splitlines(), 1) if "nemmen" in row)
    shown = [str(p) for p in check_sources(sources)]
    assert f"{flow}:{line}: KC012 step 'geven' jumps to unknown step 'nemmen'" in shown


def test_markup_no_channel_can_show_is_reported_with_file_and_line():
    sources = read_sources()
    path = "locales/en/oefening-1.yaml"
    sources[path] = sources[path].replace("<b>Aim:</b>", "<u>Aim:</u>", 1)
    line = next(i for i, row in enumerate(sources[path].splitlines(), 1) if row == "doel: |-")
    shown = [str(p) for p in check_sources(sources)]
    flagged = [s for s in shown if s.startswith(f"{path}:") and " KC040 " in s]
    assert flagged == [
        f"{path}:{line}: KC040 'oefening-1:doel' uses <u>, which is not the coach's markup"
    ]
