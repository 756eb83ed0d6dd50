"""How well and how fast the crisis check works, on tests/flows/safety_cases.yaml.

    .venv/bin/python bench/safety.py [--repeat N] [--list]

Prints, per language: recall on the risky messages (must be 100%), the false-alarm rate on the
others (at most 5%), and the time per assessment in microseconds over the whole set, repeated.
`--list` also prints every miss and false alarm with the rule that fired.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # so `python bench/safety.py` works without an installed package

import yaml  # noqa: E402

from flows.safety import assess, explain, parse_safety_rules  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="passes over the set (200)")
    parser.add_argument("--list", action="store_true", help="print misses and false alarms")
    args = parser.parse_args(argv)

    sources = {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted((ROOT / "flows" / "safety").glob("*.yaml"))
    }
    started = time.perf_counter()
    rules = parse_safety_rules(sources)
    parse_ms = (time.perf_counter() - started) * 1000
    cases = yaml.safe_load(
        (ROOT / "tests" / "flows" / "safety_cases.yaml").read_text(encoding="utf-8")
    )["cases"]

    print(
        f"{len(rules.rules)} rules from {len(sources)} files, parsed and compiled in "
        f"{parse_ms:.0f} ms; {len(cases)} messages\n"
    )
    print(f"{'lang':<6}{'risky':>6}{'recall':>9}{'ordinary':>10}{'false alarms':>14}{'µs/msg':>9}")
    failed = False
    for lang in sorted({c["lang"] for c in cases}) + ["all"]:
        chosen = [c for c in cases if lang in ("all", c["lang"])]
        risky = [c["text"] for c in chosen if c["risk"]]
        ordinary = [c["text"] for c in chosen if not c["risk"]]
        missed = [t for t in risky if not assess(t, rules).is_crisis]
        alarms = [t for t in ordinary if assess(t, rules).is_crisis]
        recall = 1 - len(missed) / len(risky) if risky else 1.0
        alarm_rate = len(alarms) / len(ordinary) if ordinary else 0.0
        micros = _time_per_message([c["text"] for c in chosen], rules, args.repeat)
        print(
            f"{lang:<6}{len(risky):>6}{recall:>9.1%}{len(ordinary):>10}"
            f"{alarm_rate:>8.1%} ({len(alarms)}){micros:>9.1f}"
        )
        if lang == "all":
            failed = bool(missed) or alarm_rate > 0.05
            if args.list:
                for text in missed:
                    print(f"  missed: {text!r}")
                for text in alarms:
                    fired = [
                        f"{h.rule_id} ({h.path}:{h.line})"
                        for h in explain(text, rules)
                        if h.suppressed_by is None
                    ]
                    print(f"  false alarm: {text!r}: {', '.join(fired)}")

    risky_texts = [c["text"] for c in cases if c["risk"]]
    ordinary_texts = [c["text"] for c in cases if not c["risk"]]
    print(
        f"\nµs per message, risky only: {_time_per_message(risky_texts, rules, args.repeat):.1f}"
        f"; ordinary only: {_time_per_message(ordinary_texts, rules, args.repeat):.1f}"
        f" (median of 5 runs of {args.repeat} passes)"
    )
    long_text = " ".join(ordinary_texts)
    print(
        f"one message of {len(long_text)} characters (every ordinary message at once): "
        f"{_time_per_message([long_text], rules, max(1, args.repeat // 10)):.0f} µs"
    )
    return 1 if failed else 0  # so CI can run it too


def _time_per_message(texts: list[str], rules, repeat: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            for text in texts:
                assess(text, rules)
        runs.append((time.perf_counter() - started) / (repeat * len(texts)) * 1e6)
    return statistics.median(runs)


if __name__ == "__main__":
    sys.exit(main())
