"""The command line `kern-coach`: parses arguments and calls the library.

Each command imports what it needs when it runs, so `kern-coach console` does not pay for
python-telegram-bot and `flows check` does not pay for the database.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.model import Library


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    from bot.errors import RefusedToStart
    from flows.errors import ContentError

    try:
        return int(args.run(args) or 0)
    except ContentError as error:  # a broken flow or text: say where, not a traceback
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("run `kern-coach flows check` after fixing these", file=sys.stderr)
        return 1
    except RefusedToStart as error:  # for the operator: what is wrong and what to do
        print(f"kern-coach does not start: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kern-coach",
        description="A chat coach for 'Stap 4 – Balans geven en nemen'.",
    )
    commands = parser.add_subparsers(title="commands")

    console = commands.add_parser("console", help="chat in the terminal as one local person")
    console.add_argument(
        "--lang", choices=["nl", "en"], default=None, help="the language to begin in (default: nl)"
    )
    console.set_defaults(run=_console)

    telegram = commands.add_parser("telegram", help="serve Telegram (TELEGRAM_BOT_TOKEN)")
    telegram.add_argument(
        "--webhook-url",
        default=None,
        help="receive updates by webhook at this public URL instead of polling",
    )
    telegram.add_argument("--port", type=int, default=8443, help="webhook port (default 8443)")
    telegram.add_argument(
        "--host",
        default="0.0.0.0",
        help="address the webhook listens on (default all; 127.0.0.1 behind a local proxy)",
    )
    telegram.set_defaults(run=_telegram)

    signal = commands.add_parser(
        "signal", help="serve Signal through a signal-cli daemon (SIGNAL_CLI_URL, SIGNAL_ACCOUNT)"
    )
    signal.add_argument(
        "--health-port",
        type=int,
        default=None,
        help="port of /healthz and /metrics (default KERN_COACH_SIGNAL_HEALTH_PORT; none if unset)",
    )
    signal.set_defaults(run=_signal)

    flows = commands.add_parser("flows", help="tools for the author: check, transcript, diagram")
    flows.add_argument(
        "--root",
        type=Path,
        default=None,
        help="the folder that holds flows/ and locales/ (default: this project)",
    )
    flow_commands = flows.add_subparsers(title="flow commands")
    check = flow_commands.add_parser("check", help="validate every flow and text")
    check.set_defaults(run=_flows_check)
    transcript = flow_commands.add_parser("transcript", help="a whole journey as text")
    transcript.add_argument("flow", help="the flow id, e.g. oefening-1")
    transcript.add_argument("--lang", choices=["nl", "en"], default="nl")
    transcript.add_argument(
        "--answers", type=Path, default=None, help="YAML file: step id → the reply to give there"
    )
    transcript.set_defaults(run=_flows_transcript)
    diagram = flow_commands.add_parser("diagram", help="the flow as a Mermaid diagram")
    diagram.add_argument("flow")
    diagram.set_defaults(run=_flows_diagram)

    stats = commands.add_parser(
        "stats", help="counts for the operator (people, runs, check-ins, outbox); never content"
    )
    stats.add_argument(
        "--flows",
        action="store_true",
        help="per flow and step: people who reached it, stand there now, skipped it",
    )
    stats.set_defaults(run=_stats)

    safety = commands.add_parser("safety", help="the crisis check, for the author of its rules")
    safety_commands = safety.add_subparsers(title="safety commands")
    safety_check = safety_commands.add_parser(
        "check", help="one verdict per line of standard input: crisis, ask or ok"
    )
    safety_check.add_argument(
        "--lang",
        choices=["nl", "en"],
        default=None,
        help="only this language's rules (default: all)",
    )
    safety_check.add_argument(
        "--explain", action="store_true", help="after a tab: the rules and scores that decided it"
    )
    safety_check.set_defaults(run=_safety_check)

    db = commands.add_parser("db", help="the database")
    db_commands = db.add_subparsers(title="database commands")
    upgrade = db_commands.add_parser("upgrade", help="apply migrations")
    upgrade.set_defaults(run=_db_upgrade)
    copy = db_commands.add_parser(
        "copy",
        help="copy every row to an empty database (SQLite ↔ PostgreSQL), verified by counts",
    )
    # The URLs may hold passwords: they can come from the environment instead, so that they
    # are not in `ps` or the shell's history.
    copy.add_argument(
        "from_url",
        metavar="FROM_URL",
        nargs="?",
        help="e.g. sqlite:////data/kern-coach.db (default: $KERN_COACH_COPY_FROM)",
    )
    copy.add_argument(
        "to_url",
        metavar="TO_URL",
        nargs="?",
        help="e.g. postgresql+psycopg://coach:…@127.0.0.1/coach (default: $KERN_COACH_COPY_TO)",
    )
    copy.set_defaults(run=_db_copy)
    return parser


def _flows_check(args: argparse.Namespace) -> int:
    from bot.content import ROOT, check

    problems = check(args.root or ROOT)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("flows and texts are in order")
    return 0


def _library(args: argparse.Namespace) -> Library:
    from bot.content import ROOT, load_library

    return load_library(args.root or ROOT)


def _flows_transcript(args: argparse.Namespace) -> int:
    import yaml

    from flows.transcript import render_transcript

    library = _library(args)
    if args.flow not in library.flows:
        print(
            f"unknown flow '{args.flow}'; known: {', '.join(sorted(library.flows))}",
            file=sys.stderr,
        )
        return 2
    answers = yaml.safe_load(args.answers.read_text(encoding="utf-8")) if args.answers else {}
    sys.stdout.write(render_transcript(library, args.flow, args.lang, answers or {}))
    return 0


def _flows_diagram(args: argparse.Namespace) -> int:
    from flows.diagram import mermaid

    library = _library(args)
    if args.flow not in library.flows:
        print(f"unknown flow '{args.flow}'", file=sys.stderr)
        return 2
    sys.stdout.write(mermaid(library.flows[args.flow]))
    return 0


def _console(args: argparse.Namespace) -> int:
    from bot.app import run_console

    return run_console(lang=args.lang)


def _telegram(args: argparse.Namespace) -> int:
    from bot.app import run_telegram

    return run_telegram(webhook_url=args.webhook_url, port=args.port, host=args.host)


def _signal(args: argparse.Namespace) -> int:
    from bot.app import run_signal

    return run_signal(health_port=args.health_port)


def _stats(args: argparse.Namespace) -> int:
    from bot import stats
    from bot.clock import Clock
    from bot.config import Config
    from bot.storage.db import make_engine
    from bot.storage.migrations import upgrade_engine

    config = Config.from_environment()
    engine = make_engine(config.database_url)
    try:
        upgrade_engine(engine)
        if args.flows:
            from bot.content import ROOT, load_library

            sys.stdout.write(stats.render_flow_steps(stats.flow_steps(engine, load_library(ROOT))))
        else:
            now = Clock(config.clock_offset).now()
            sys.stdout.write(stats.render_counts(stats.counts(engine, now)))
    finally:
        engine.dispose()
    return 0


def _safety_check(args: argparse.Namespace) -> int:
    from bot.content import load_safety
    from flows.safety_explain import verdict_line

    check = load_safety(lang=args.lang)
    for line in sys.stdin:
        print(verdict_line(line.rstrip("\n"), check, explain=args.explain), flush=True)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from bot.config import Config
    from bot.storage.migrations import upgrade

    config = Config.from_environment()
    upgrade(config.database_url)
    print("the database is up to date")
    return 0


def _db_copy(args: argparse.Namespace) -> int:
    import os

    from bot.storage.copy import CopyError, copy

    from_url = args.from_url or os.environ.get("KERN_COACH_COPY_FROM")
    to_url = args.to_url or os.environ.get("KERN_COACH_COPY_TO")
    if not from_url or not to_url:
        print(
            "not copied: give FROM_URL and TO_URL, or set KERN_COACH_COPY_FROM and "
            "KERN_COACH_COPY_TO",
            file=sys.stderr,
        )
        return 2
    try:
        copied = copy(from_url, to_url)
    except CopyError as error:
        print(f"not copied: {error}", file=sys.stderr)
        return 1
    for row in copied:
        print(f"{row.table}: {row.source} → {row.target}")
    print(f"copied {sum(c.target for c in copied)} rows; the counts agree")
    return 0
