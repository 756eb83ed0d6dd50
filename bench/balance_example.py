"""Draws docs/balance-example.png: the /mijn chart of a made-up person after five weeks (exercise
1 twice, an evaluation a week after the first, and daily check-ins), from answers stored in a
temporary SQLite file by the real coach, as a person would see it on Telegram.

    .venv/bin/python bench/balance_example.py
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import balance_chart  # noqa: E402
from bot.clock import FixedClock  # noqa: E402
from bot.coach import Coach  # noqa: E402
from bot.content import load_library  # noqa: E402
from bot.storage import db  # noqa: E402
from bot.storage.migrations import upgrade_engine  # noqa: E402
from bot.storage.models import Person as PersonRow  # noqa: E402
from bot.storage.store import Store  # noqa: E402
from tests.bot.test_coach import Person, go_to  # noqa: E402

DAILY = ["geef-wat", "geef-veel", "geef-wat", "gelijk", "geef-wat", "neem-wat", "gelijk", "gelijk"]


def main() -> int:
    library = load_library()
    clock = FixedClock(datetime(2026, 3, 2, 19, 0, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as folder:
        engine = db.make_engine(f"sqlite:///{Path(folder) / 'coach.db'}")
        upgrade_engine(engine)
        coach = Coach(library, Store(engine), clock)
        person = Person(coach)
        person.agree()

        def exercise(balance: str, evaluate: bool) -> None:
            person.start(flow="oefening-1")
            person.press("_next")
            person.press("partner")
            person.say("…")
            person.say("…")
            person.press(balance)
            if evaluate:
                go_to(person, "oefening-1:evaluatie-moment.vraag")
                person.press("week")

        answers = iter(DAILY * 6)

        def day() -> None:
            """A day passes; each scale question that came is answered."""
            clock.advance(timedelta(days=1))
            while coach.deliver_due():
                pass
            person.take()
            for _ in range(3):
                options = [b.token.rsplit(":", 1)[1] for b in person.buttons()]
                if "gelijk" not in options:
                    return
                person.press(next(answers))

        exercise("geef-veel", evaluate=True)
        person.command("time", "20:30")
        for _ in range(34):
            day()
        person.command("time", "uit")
        exercise("gelijk", evaluate=False)
        with coach.store.transaction() as session:
            chart = balance_chart.for_person(session, session.get(PersonRow, 1), library, "nl")
        engine.dispose()
    png = balance_chart.render_png(chart[0]["balance"])
    out = ROOT / "docs" / "balance-example.png"
    out.write_bytes(png)
    print(balance_chart.render_text(chart[0]["balance"]))
    print(f"{out.relative_to(ROOT)}: {len(png)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
