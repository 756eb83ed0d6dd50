"""The balance chart drawn as a PNG for Telegram (a photo), with matplotlib, imported only when a
picture is drawn, so nothing else pays for it. The chart's points and words are made in
`flows.balance`; the terminal's rows of dots are in `bot.channels.plain_text`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flows.balance import KINDS

log = logging.getLogger(__name__)

# A phone shows a photo about 1080 pixels wide; the figure is drawn at that size.
WIDTH_PX, HEIGHT_PX, DPI = 1080, 720, 180

STYLE = {  # matplotlib marker, size, colour: calm colours, the marks differ in shape too
    "daily": ("o", 55, "#7f9bb8"),
    "exercise": ("D", 110, "#2f5d8a"),
    "evaluation": ("s", 110, "#b7793a"),
}


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
