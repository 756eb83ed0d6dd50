"""Events per second of the pure engine: a full journey of exercise 1, replayed many times.

    .venv/bin/python bench/engine.py [--journeys 200] [--rounds 5]

The journey is the golden one (tests/golden/answers-oefening-1.yaml), check-ins included; each
replay goes through the same `Engine.advance` a channel calls, with the state serialised to JSON
and back at every step as storage does. One process, one core.

The crisis check remembers what it found for a text (flows/memo.py), so replaying one journey
measures the engine with every typed text seen before, as a text repeated by many people is.
Two more lines say what a turn costs when every text is new (the memory cleared before each
journey: the rules and the model run on each typed text) and with the rules alone (no model).

Each line gives events per second of wall time (the goal's figure, on a quiet machine) and per
second of this process's CPU time, which a shared machine's load disturbs less: under load, the
wall figure counts the time other processes held the core too. The CPU figure still counts the
model's BLAS work on its one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.content import load_library  # noqa: E402
from flows.engine import Engine  # noqa: E402
from flows.events import Event  # noqa: E402
from flows.model import Library  # noqa: E402
from flows.state import State  # noqa: E402
from flows.transcript import render_transcript  # noqa: E402


def record_journey(library, answers) -> list[tuple[Event, object]]:
    """The events of one journey, captured by wrapping the engine during one transcript."""
    events: list[tuple[Event, object]] = []
    original = Engine.advance

    def recording(self, state, event, now):  # type: ignore[no-untyped-def]
        events.append((event, now))
        return original(self, state, event, now)

    Engine.advance = recording  # type: ignore[method-assign]
    try:
        render_transcript(library, "oefening-1", "nl", answers)
    finally:
        Engine.advance = original  # type: ignore[method-assign]
    return events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    library = load_library()
    answers = yaml.safe_load((ROOT / "tests/golden/answers-oefening-1.yaml").read_text())
    journey = record_journey(library, answers)
    library.safety.warm()
    rules_only = Library(
        flows=library.flows, texts=library.texts, safety=library.safety.without_semantic()
    )
    runs = [
        ("engine only", library, False, False),
        ("with the state through JSON", library, True, False),
        ("engine, every text new", library, False, True),
        ("engine, rules alone (no model)", rules_only, False, True),
    ]
    for label, chosen, with_json, cold in runs:
        engine = Engine(chosen)
        rates, cpu_rates = [], []
        for _ in range(args.rounds):
            elapsed = cpu = 0.0
            for _ in range(args.journeys):
                if cold:
                    chosen.safety.clear_memo()
                started, cpu_started = time.perf_counter(), time.process_time()
                state = State(consent="given")
                for event, now in journey:
                    step = engine.advance(state, event, now)
                    state = step.state
                    if with_json:
                        state = State.from_json(json.loads(json.dumps(state.to_json())))
                elapsed += time.perf_counter() - started
                cpu += time.process_time() - cpu_started
            rates.append(args.journeys * len(journey) / elapsed)
            cpu_rates.append(args.journeys * len(journey) / cpu)
        print(
            f"{label:31s} best {max(rates):,.0f} events/s, median {statistics.median(rates):,.0f};"
            f" per CPU second best {max(cpu_rates):,.0f}"
            f" ({args.rounds} rounds of {args.journeys} journeys of {len(journey)} events;"
            f" load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
