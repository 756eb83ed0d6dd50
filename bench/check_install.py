"""Checks that a normal (not editable) install of the coach is complete, as the Dockerfile makes
it: `pip install .` into a fresh virtual environment, then, from another folder, `kern-coach flows
check`, `kern-coach db upgrade` and `kern-coach stats` on a new SQLite file, and a comparison of
the flow and text files the installed coach reads with those of the checkout.

    .venv/bin/python bench/check_install.py        # a few minutes; needs the package registry

Not part of `make test`: it downloads and installs every dependency. Exit code 0 when complete.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIST_SOURCES = (
    "import json, bot, bot.content as c; "
    "print(json.dumps({'bot': bot.__file__, 'files': sorted(c.read_sources(c.ROOT))}))"
)


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    started = time.monotonic()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.monotonic() - started
    print(f"$ {' '.join(command[-3:])}  ({took:.1f}s, exit {result.returncode})")
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
        raise SystemExit(1)
    return result.stdout


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from bot.content import read_sources

    expected = sorted(read_sources(ROOT))
    with tempfile.TemporaryDirectory(prefix="kern-coach-install-") as folder:
        elsewhere = Path(folder)
        venv = elsewhere / "venv"
        run([sys.executable, "-m", "venv", str(venv)], elsewhere)
        python = str(venv / "bin" / "python")
        run([python, "-m", "pip", "install", "--quiet", str(ROOT)], elsewhere)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KERN_COACH_", "PYTHON"))}
        env["KERN_COACH_DATABASE_URL"] = f"sqlite:///{elsewhere / 'coach.db'}"
        kern_coach = str(venv / "bin" / "kern-coach")
        print(run([kern_coach, "flows", "check"], elsewhere, env).strip())
        print(run([kern_coach, "db", "upgrade"], elsewhere, env).strip())
        print(run([kern_coach, "stats"], elsewhere, env).splitlines()[0])
        found = json.loads(run([python, "-c", LIST_SOURCES], elsewhere, env))
    installed_from = Path(found["bot"]).resolve()
    if ROOT in installed_from.parents:
        print(f"the coach ran from the checkout ({installed_from}), not from the install")
        return 1
    missing = sorted(set(expected) - set(found["files"]))
    extra = sorted(set(found["files"]) - set(expected))
    print(f"{len(found['files'])} flow and text files installed, {len(expected)} in the checkout")
    if missing or extra:
        print("missing:", missing, "extra:", extra)
        return 1
    print("the installed package is complete")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
