"""Golden transcripts: whole journeys as the author reads them, checked word for word.

After an intended change of flows or texts: `UPDATE_GOLDEN=1 pytest tests/flows/test_golden.py`,
then read the diff like prose before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from flows.transcript import render_dialogue, render_transcript

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
JOURNEYS = [(flow, lang) for flow in ("oefening-1", "oefening-2") for lang in ("nl", "en")]


@pytest.mark.parametrize(("flow", "lang"), JOURNEYS)
def test_transcript_reads_as_the_golden_file(library, flow, lang):
    answers = yaml.safe_load((GOLDEN / f"answers-{flow}.yaml").read_text(encoding="utf-8"))
    got = render_transcript(library, flow, lang, answers)
    path = GOLDEN / f"{flow}.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file yet: run with UPDATE_GOLDEN=1 to write {path.name}"
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("flow", "lang"), JOURNEYS)
def test_transcript_includes_the_checkins_and_quotes_the_answers(library, flow, lang):
    answers = yaml.safe_load((GOLDEN / f"answers-{flow}.yaml").read_text(encoding="utf-8"))
    got = render_transcript(library, flow, lang, answers)
    assert "(reminder)" in got and "(evaluation)" in got
    evaluation = got[got.index("(evaluation)") :]
    quoted = answers.get("plan") or answers.get("voornemen")
    assert quoted in evaluation, "the evaluation quotes what was planned"


def test_a_long_list_of_situations_does_not_cut_the_transcript_short(library):
    answers = {"situaties": ["een", "twee", "drie", "vier", "vijf"]}
    got = render_transcript(library, "oefening-1", "nl", answers)
    assert "vijf" in got and "(evaluation)" in got


DIALOGUES = yaml.safe_load((GOLDEN / "dialogues.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("flow", sorted(DIALOGUES))
def test_each_way_through_the_engines_own_questions_reads_as_the_golden_file(library, flow, lang):
    got = render_dialogue(library, flow, lang, DIALOGUES[flow])
    path = GOLDEN / f"dialogue-{flow}.{lang}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file yet: run with UPDATE_GOLDEN=1 to write {path.name}"
    assert got == path.read_text(encoding="utf-8")


def test_every_dialogue_flow_has_a_golden_situation(library):
    dialogues = {f.id for f in library.flows.values() if f.kind == "dialogue"}
    assert dialogues == set(DIALOGUES)
