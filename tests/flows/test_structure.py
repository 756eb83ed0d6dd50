"""How flows/ is put together: one concern per module, importing downwards only, and the
caller's mistakes named, so a newcomer can find their way and a bug says what it is."""

from __future__ import annotations

import ast
import dataclasses
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.engine import Engine
from flows.errors import FlowLoops, NaiveTime, UnknownEvent, UnknownStateVersion
from flows.events import TextReceived
from flows.model import Rule
from flows.state import STATE_VERSION, Answer, AnswerRef, Position, Prompt, Run, State, evolve
from flows.turn.context import STANDS_APART
from tests.conftest import MONDAY_EVENING

ROOT = Path(__file__).resolve().parents[2]


def _imports_of_flows() -> dict[str, set[str]]:
    """Each module of flows/ and the modules of flows/ it imports."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "flows").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("flows"):
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("flows")}
        graph[module] = found
    return {m: {i for i in imports if i in graph and i != m} for m, imports in graph.items()}


def test_no_module_of_flows_imports_one_that_imports_it_back():
    graph = _imports_of_flows()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            cycle = " -> ".join((*path[path.index(module) :], module))
            pytest.fail(f"import circle: {cycle}")
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


def test_no_module_of_flows_is_near_the_size_of_the_old_engine():
    for path in (ROOT / "flows").rglob("*.py"):
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines < 900, f"{path.relative_to(ROOT)} has {lines} lines: split it by concern"


def test_an_event_the_engine_does_not_know_is_the_callers_mistake(library):
    with pytest.raises(UnknownEvent):
        Engine(library).advance(State(), "hallo", MONDAY_EVENING)  # type: ignore[arg-type]


def test_a_moment_without_a_time_zone_is_the_callers_mistake(library):
    with pytest.raises(NaiveTime):
        Engine(library).advance(State(), TextReceived(text="hoi"), datetime(2026, 3, 2, 19))


def test_a_flow_that_never_waits_stops_with_a_named_error(library):
    """`flows check` is the author's guard; should a loop reach the engine, it says so."""
    opening = library.flows["opening"]
    start = opening.steps[opening.start]
    to_itself = (Rule(answer=None, values=(), goto=start.id, line=0),)
    looping = replace(opening, steps={start.id: replace(start, expect=None, next=to_itself)})
    broken = replace(library, flows={**library.flows, "opening": looping})
    with pytest.raises(FlowLoops, match="opening"):
        Engine(broken).advance(State(), TextReceived(text="hoi"), MONDAY_EVENING)


def test_a_state_stored_before_versions_existed_loads_with_every_field_filled():
    old = {
        "consent": "given",
        "checkin_time": "20:00",
        "counter": 3,
        "at": {"flow": "oefening-1", "step": "geven", "run": "r2"},
        "runs": [
            {
                "id": "r2",
                "flow": "oefening-1",
                "version": 1,
                "started_at": "2026-03-02T19:00:00+00:00",
                "answers": {
                    "relatie": {
                        "value": "partner",
                        "at": "2026-03-02T19:01:00+00:00",
                        "kind": "choice",
                    }
                },
            }
        ],
    }
    state = State.from_json(old)
    assert (state.consent, state.checkin_time, state.lang) == ("given", "20:00", "nl")
    assert state.run("r2").answers["relatie"].value == "partner"
    assert state.run("r2").history == () and not state.run("r2").recorded
    assert state.to_json()["version"] == STATE_VERSION
    assert State.from_json(state.to_json()) == state


def test_a_state_of_version_2_keeps_its_pause_without_an_end_and_gets_the_quiet_hours():
    paused = State(consent="given", paused=True).to_json()
    old = {k: v for k, v in paused.items() if k not in ("paused_until", "quiet")}
    old["version"] = 2
    old["runs"] = [
        {
            "id": "r1",
            "flow": "dagelijks",
            "version": 1,
            "started_at": "2026-03-02T19:00:00+00:00",
            "answers": {},
            "history": [],
            "recorded": True,
            "scheduled": {},
        }
    ]
    state = State.from_json(old)
    assert state.paused and state.paused_until is None  # until /hervat, as it was
    assert state.quiet == "22:00-08:00"
    assert state.run("r1").meant_for is None
    assert State.from_json(state.to_json()) == state


def test_a_state_from_a_newer_version_of_the_coach_is_refused_not_misread():
    with pytest.raises(UnknownStateVersion):
        State.from_json({"version": STATE_VERSION + 1})


def _sources_without(*paths: str) -> dict[str, str]:
    from bot.content import read_sources

    return {p: t for p, t in read_sources().items() if p not in paths}


def test_flows_check_says_when_one_of_the_engines_own_questions_has_no_flow():
    from flows.loader import check_sources

    sources = _sources_without(
        "flows/vergeten.yaml", "locales/nl/vergeten.yaml", "locales/en/vergeten.yaml"
    )
    messages = [p.message for p in check_sources(sources)]
    assert any("serves 'forget'" in m for m in messages), messages


def test_flows_check_names_the_line_of_a_dialogue_option_that_does_something_unknown():
    from flows.loader import check_sources

    sources = _sources_without()
    sources["flows/vergeten.yaml"] = sources["flows/vergeten.yaml"].replace(
        "do: forget-everything", "do: forget-some"
    )
    [problem] = check_sources(sources)
    line = sources["flows/vergeten.yaml"].splitlines()[problem.line - 1]
    assert problem.path == "flows/vergeten.yaml" and "do: forget-some" in line
    assert "forget-everything" in problem.message, "it lists what is known"


def test_a_link_cannot_open_one_of_the_engines_own_questions(library):
    from flows.events import Started

    step = Engine(library).advance(State(consent="given"), Started(flow="vergeten"), MONDAY_EVENING)
    assert step.state.prompt is None and step.state.at is not None
    assert step.state.at.flow == "menu"


def test_the_state_written_field_by_field_holds_every_field_of_its_records():
    """`State.to_json` writes positions, prompts and answer refs out by hand (it runs at every
    event): a field added to one of them and not to the JSON would be lost in storage."""
    at = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    position = Position(flow="oefening-1", step="geven", run="r1", entries=2, words=True)
    prompt = Prompt(kind="crisis", flow="oefening-1", step="vraag", answered=True)
    ref = AnswerRef(ref="7", run="r1", flow="oefening-1", step="geven", item=1, at=at)
    data = State(at=position, suspended=(position,), prompt=prompt, last_answer=ref).to_json()
    assert data["at"] == dataclasses.asdict(position) == data["suspended"][0]
    assert data["prompt"] == dataclasses.asdict(prompt)
    assert data["last_answer"] == {**dataclasses.asdict(ref), "at": at.isoformat()}
    # An attribute that is no field (a misspelt change) is not written: the state stays readable.
    object.__setattr__(position, "wrods", True)
    stored = json.loads(json.dumps(State(at=position).to_json()))
    assert "wrods" not in stored["at"] and State.from_json(stored).at == position


def test_a_run_read_back_and_changed_is_stored_with_its_change():
    """A run read from storage keeps its JSON for the next write, until it changes."""
    at = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    run = Run(id="r1", flow="oefening-1", version=1, started_at=at)
    stored = json.loads(json.dumps(State(runs=(run,)).to_json()))
    read = State.from_json(stored)
    answered = evolve(read.runs[0], answers={"geven": Answer(value="Ik kook.", at=at, kind="text")})
    again = State.from_json(json.loads(json.dumps(read.with_run(answered).to_json())))
    assert again.runs[0].answers["geven"].value == "Ik kook."
    assert State.from_json(json.loads(json.dumps(read.to_json()))).runs[0].answers == {}


def test_every_text_that_stands_apart_is_a_text_of_every_language(library):
    """A renamed poem or crisis text would otherwise be joined to what came before, silently."""
    for lang in ("nl", "en"):
        for key in STANDS_APART:
            assert library.texts.has(lang, key), (lang, key)
