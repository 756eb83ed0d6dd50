"""The balance over time, shown with `/mijn`: one point per answer on the giving–taking scale (the
exercises' scale, the daily check-in, the evaluations), giving on one side and taking on the
other, exercises and evaluations marked. No score, no line that says what is good.

Pure: the answers come in as plain records (read by `bot.views`), and what goes out is the chart
as data, its points and its words in the person's language, which each channel draws its own way
(a PNG in `bot.balance_chart`, rows of dots in `bot.channels.plain_text`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flows import moments
from flows.model import SCALE, Library

# Giving at one end, taking at the other, balance in the middle (SCALE's order).
POSITION = {option: index - len(SCALE) // 2 for index, option in enumerate(SCALE)}
KINDS = ("daily", "exercise", "evaluation")
TEXTS = ("caption", "give", "balanced", "take", *KINDS)
TEXT_KEY = "common:mine.balance.{}"


@dataclass(frozen=True)
class ScaleAnswer:
    """One stored answer to the scale."""

    run: str | None
    flow: str
    value: Any  # the option chosen
    answered_at: datetime


@dataclass(frozen=True)
class Point:
    at: datetime
    position: int  # -2 (gives much more) … 0 (in balance) … 2 (takes much more)
    kind: str  # daily | exercise | evaluation


def points(
    answers: Sequence[ScaleAnswer], evaluated: Mapping[str | None, datetime], library: Library
) -> list[Point]:
    """A point per answer, in the order given (oldest first). `evaluated`: per run, when its
    first evaluation check-in came; an answer in that run from then on is an evaluation, one in
    a check-in flow a daily one."""
    found = []
    for answer in answers:
        position = POSITION.get(answer.value)
        if position is None:
            continue  # a value the scale no longer has
        flow = library.flows.get(answer.flow)
        since = evaluated.get(answer.run)
        if flow is not None and flow.kind == "checkin":
            kind = "daily"
        elif since is not None and answer.answered_at >= since:
            kind = "evaluation"
        else:
            kind = "exercise"
        found.append(Point(answer.answered_at, position, kind))
    return found


def chart(found: Sequence[Point], library: Library, lang: str, tz: ZoneInfo) -> dict[str, Any]:
    """The outbox entry: the points (with their dates as the person reads them) and the texts."""
    texts = {name: library.texts.plain(lang, TEXT_KEY.format(name), tz).strip() for name in TEXTS}
    return {
        "balance": {
            "texts": texts,
            "points": [
                {
                    "at": p.at.isoformat(),
                    "position": p.position,
                    "kind": p.kind,
                    "date": moments.format_date(p.at, lang, tz),
                }
                for p in found
            ],
        }
    }


def for_mine(
    answers: Sequence[ScaleAnswer],
    evaluated: Mapping[str | None, datetime],
    library: Library,
    lang: str,
    tz: ZoneInfo,
) -> list[dict[str, Any]]:
    """What `/mijn` adds: the chart, when there is at least one scale answer."""
    found = points(answers, evaluated, library)
    return [chart(found, library, lang, tz)] if found else []
