"""The balance over time, shown with `/mijn`: one point per answer on the giving–taking scale (the
exercises' scale, the daily check-in, the evaluations), giving on one side and taking on the
other, exercises and evaluations marked. No score, no line that says what is good.

`points` reads the answers; `payload` turns them into an outbox entry that holds the points and
the texts (in the person's language), and each channel draws it its own way: `render_png` for
Telegram (a photo), `render_text` for the terminal. matplotlib is imported only in `render_png`,
so nothing else pays for it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.storage.models import AnswerRow, CheckinRow, Person
from flows import moments
from flows.model import SCALE, Library

log = logging.getLogger(__name__)

# Giving at one end, taking at the other, balance in the middle (SCALE's order).
POSITION = {option: index - len(SCALE) // 2 for index, option in enumerate(SCALE)}
KINDS = ("daily", "exercise", "evaluation")
TEXTS = ("caption", "give", "balanced", "take", *KINDS)
TEXT_KEY = "common:mine.balance.{}"
# A phone shows a photo about 1080 pixels wide; the figure is drawn at that size.
WIDTH_PX, HEIGHT_PX, DPI = 1080, 720, 180
COLUMNS = 32  # the terminal shows the latest this many answers


@dataclass(frozen=True)
class Point:
    at: datetime
    position: int  # -2 (gives much more) … 0 (in balance) … 2 (takes much more)
    kind: str  # daily | exercise | evaluation


def points(session: Session, person_id: int, library: Library) -> list[Point]:
    """Every scale answer of the person, oldest first. An answer in an exercise's run after one
    of its evaluation check-ins came is an evaluation; in a check-in flow, a daily one."""
    evaluated: dict[str | None, datetime] = dict(
        session.execute(
            sa.select(col(CheckinRow.run_key), sa.func.min(col(CheckinRow.due_at)))
            .where(
                col(CheckinRow.person_id) == person_id,
                col(CheckinRow.kind) == "evaluation",
                col(CheckinRow.status) == "done",
            )
            .group_by(col(CheckinRow.run_key))
        ).all()
    )
    rows = session.exec(
        select(AnswerRow)
        .where(AnswerRow.person_id == person_id, AnswerRow.kind == "scale")
        .order_by(col(AnswerRow.answered_at), col(AnswerRow.id))
    ).all()
    found = []
    for row in rows:
        position = POSITION.get(json.loads(row.value))
        if position is None:
            continue  # a value the scale no longer has
        flow = library.flows.get(row.flow)
        since = evaluated.get(row.run_key)
        if flow is not None and flow.kind == "checkin":
            kind = "daily"
        elif since is not None and row.answered_at >= _aware(since):
            kind = "evaluation"
        else:
            kind = "exercise"
        found.append(Point(row.answered_at, position, kind))
    return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def for_person(
    session: Session, person: Person, library: Library, lang: str
) -> list[dict[str, Any]]:
    """What `/mijn` adds to the outbox: the chart, when there is at least one scale answer."""
    assert person.id is not None
    found = points(session, person.id, library)
    return [payload(found, library, lang, ZoneInfo(person.timezone))] if found else []


def payload(found: list[Point], library: Library, lang: str, tz: ZoneInfo) -> dict[str, Any]:
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


# --- drawing -------------------------------------------------------------------------------------

GLYPH = {"daily": "●", "exercise": "◆", "evaluation": "■"}
STYLE = {  # matplotlib marker, size, colour: calm colours, the marks differ in shape too
    "daily": ("o", 55, "#7f9bb8"),
    "exercise": ("D", 110, "#2f5d8a"),
    "evaluation": ("s", 110, "#b7793a"),
}


def render_text(chart: dict[str, Any]) -> str:
    """The chart in the terminal: one column per answer (the latest COLUMNS), giving at the top
    row, taking at the bottom, and a legend line."""
    texts = chart["texts"]
    shown = chart["points"][-COLUMNS:]
    labels = {-2: texts["give"], 0: texts["balanced"], 2: texts["take"]}
    width = max(len(label) for label in labels.values())
    lines = [texts["caption"]]
    for position in range(-2, 3):
        row = "".join(GLYPH[p["kind"]] if p["position"] == position else "·" for p in shown)
        lines.append(f"{labels.get(position, ''):<{width}}  {row}")
    if shown:
        lines.append(f"{'':<{width}}  {shown[0]['date']} … {shown[-1]['date']}")
    lines.append("   ".join(f"{GLYPH[kind]} {texts[kind]}" for kind in KINDS))
    return "\n".join(lines)


def drawn(chart: dict[str, Any]) -> bytes | None:
    """The PNG, or None when it cannot be drawn (a payload from another version, a matplotlib
    failure): the chart is left out then, so one bad picture cannot hold up the messages after
    it. Only the error's type is logged (the payload holds a person's answers)."""
    try:
        return render_png(chart)
    except Exception as error:
        log.error(
            "the balance chart could not be drawn (%s); sent without it", type(error).__name__
        )
        return None


def render_png(chart: dict[str, Any]) -> bytes:
    """The chart as a PNG of WIDTH_PX × HEIGHT_PX: time to the right, giving at the top, taking
    at the bottom, each kind of answer with its own mark."""
    import io

    import matplotlib

    matplotlib.use("Agg")  # no display: draw into memory
    from matplotlib.figure import Figure

    texts = chart["texts"]
    found = chart["points"]
    moments_at = [datetime.fromisoformat(p["at"]) for p in found]
    start = moments_at[0] if moments_at else None
    days = [(m - start).total_seconds() / 86400 for m in moments_at] if start else []

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    axes = figure.add_subplot()
    axes.axhspan(-0.5, 0.5, color="#eef3f7", zorder=0)
    if len(days) > 1:
        axes.plot(days, [p["position"] for p in found], color="#c9d3dc", linewidth=1.2, zorder=1)
    for kind in KINDS:
        marker, size, colour = STYLE[kind]
        mine = [(d, p["position"]) for d, p in zip(days, found, strict=True) if p["kind"] == kind]
        if mine:
            axes.scatter(
                [d for d, _ in mine],
                [y for _, y in mine],
                marker=marker,
                s=size,
                color=colour,
                label=texts[kind],
                zorder=3,
                edgecolors="white",
                linewidths=0.8,
            )
    axes.set_ylim(2.6, -2.6)  # giving (negative) at the top
    axes.set_yticks([-2, 0, 2], [texts["give"], texts["balanced"], texts["take"]], fontsize=10)
    span = max(days[-1], 1.0) if days else 1.0
    axes.set_xlim(-0.04 * span - 0.2, span * 1.04 + 0.2)
    at, labels = _ticks(days, [p["date"] for p in found])
    axes.set_xticks(at, labels, fontsize=9)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(length=0)
    axes.grid(axis="y", color="#e3e8ec", linewidth=0.8)
    if found:
        axes.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, 1.16),
            ncol=len(KINDS),
            frameon=False,
            fontsize=9,
        )
    figure.subplots_adjust(left=0.2, right=0.96, top=0.86, bottom=0.12)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _ticks(days: list[float], dates: list[str], most: int = 4) -> tuple[list[float], list[str]]:
    """Up to `most` dates under the time axis, spread over it: at evenly spaced moments, the date
    of the answer nearest to each (a date only once)."""
    if not days:
        return [], []
    span = days[-1]
    wanted = [span * i / (most - 1) for i in range(most)] if span > 0 else [0.0]
    at: list[float] = []
    labels: list[str] = []
    for moment in wanted:
        nearest = min(range(len(days)), key=lambda i: abs(days[i] - moment))
        if dates[nearest] not in labels:
            at.append(days[nearest])
            labels.append(dates[nearest])
    return at, labels
