"""What a person wrote, read back from storage: `/mijn` in the chat, `/export` as two files."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.storage import store
from bot.storage.models import AnswerRow, Person
from flows import moments
from flows.engine import NO_ANSWERS, describe_answer
from flows.messages import Message, plain_text
from flows.model import Library

# /mijn shows this many runs, newest first; /export has them all.
OVERVIEW_RUNS = 8
QUESTION_CHARS = 90

# The texts this module asks for; `flows check` makes sure they exist (see bot/content.py).
TEXT_KEYS = (
    "common:mine.header",
    "common:mine.empty",
    "common:mine.run",
    "common:mine.answer",
    "common:mine.more",
    "common:export.ready",
    "common:export.nothing",
    "common:export.title",
    "common:export.checkins",
)


def _question(library: Library, lang: str, tz: ZoneInfo, key: str) -> str:
    """The question as a short line: its text's last sentence that asks something."""
    try:
        text = plain_text(library.texts.render(lang, key, tz, answers=NO_ANSWERS, late=False))
    except Exception:  # a text changed since the answer was given; the key still says enough
        return key
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    asking = [line for line in lines if line.endswith("?")]
    line = (asking or lines or [key])[-1]
    return line if len(line) <= QUESTION_CHARS else line[: QUESTION_CHARS - 1] + "…"


def _answer_text(library: Library, lang: str, tz: ZoneInfo, rows: list[AnswerRow]) -> str:
    first = rows[0]
    values = [json.loads(r.value) for r in rows]
    value = values if first.kind == "entries" else values[0]
    try:
        return describe_answer(library, lang, tz, first.flow, first.step, first.kind, value)
    except Exception:  # an option that no longer exists: show what was stored
        return ", ".join(str(v) for v in values)


def _grouped(answers: list[AnswerRow]) -> dict[str, list[list[AnswerRow]]]:
    """Answers per run, and within a run per step (entries of one step together)."""
    per_run: dict[str, dict[str, list[AnswerRow]]] = defaultdict(dict)
    for row in answers:
        per_run[row.run_key].setdefault(row.step, []).append(row)
    return {run: list(steps.values()) for run, steps in per_run.items()}


def overview(session: Session, person: Person, library: Library, lang: str) -> list[Message]:
    assert person.id is not None
    tz = ZoneInfo(person.timezone)
    render = library.texts.render
    runs = store.runs_of(session, person.id)
    grouped = _grouped(list(store.answers_of(session, person.id)))
    shown = [r for r in runs if r.run_key in grouped][::-1][:OVERVIEW_RUNS]
    if not shown:
        return [Message(key="common:mine.empty", text=render(lang, "common:mine.empty", tz))]
    messages = [Message(key="common:mine.header", text=render(lang, "common:mine.header", tz))]
    for run in shown:
        flow = library.flows.get(run.flow)
        title = plain_text(render(lang, flow.title, tz)) if flow else run.flow
        parts = [
            render(
                lang,
                "common:mine.run",
                tz,
                flow_title=title,
                date=moments.format_date(run.started_at, lang, tz),
            )
        ]
        for rows in grouped[run.run_key]:
            question = _question(library, lang, tz, rows[0].question)
            parts.append(
                render(
                    lang,
                    "common:mine.answer",
                    tz,
                    question=question,
                    answer=_answer_text(library, lang, tz, rows),
                )
            )
        messages.append(Message(key="common:mine.run", text="\n\n".join(parts), quotes=True))
    hidden = len([r for r in runs if r.run_key in grouped]) - len(shown)
    if hidden > 0:
        messages.append(
            Message(key="common:mine.more", text=render(lang, "common:mine.more", tz, count=hidden))
        )
    return messages


def export_data(session: Session, person: Person, library: Library) -> dict[str, Any]:
    """Everything stored about the person, as plain data."""
    assert person.id is not None
    tz = ZoneInfo(person.timezone)
    lang = person.lang
    answers = list(store.answers_of(session, person.id))
    return {
        "profile": {
            "channel": person.channel,
            "language": person.lang,
            "timezone": person.timezone,
            "consent": person.consent,
            "daily_checkin_time": person.checkin_time,
            "paused": person.paused,
            "since": person.created_at.isoformat(),
        },
        "runs": [
            {
                "run": r.run_key,
                "flow": r.flow,
                "flow_version": r.flow_version,
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            }
            for r in store.runs_of(session, person.id)
        ],
        "answers": [
            {
                "run": a.run_key,
                "flow": a.flow,
                "step": a.step,
                "item": a.item,
                "kind": a.kind,
                "question": _question(library, lang, tz, a.question),
                "value": json.loads(a.value),
                "answered_at": a.answered_at.isoformat(),
            }
            for a in answers
        ],
        "checkins": [
            {
                "kind": c.kind,
                "flow": c.flow,
                "step": c.step,
                "run": c.run_key,
                "due_at": c.due_at.isoformat(),
                "status": c.status,
                "every": c.every,
            }
            for c in store.checkins_of(session, person.id)
        ],
    }


def export_text(data: dict[str, Any], session: Session, person: Person, library: Library) -> str:
    """The same data, readable: per exercise and date, each question and what was answered."""
    assert person.id is not None
    lang = person.lang
    tz = ZoneInfo(person.timezone)
    render = library.texts.render
    lines = [plain_text(render(lang, "common:export.title", tz)), ""]
    grouped = _grouped(list(store.answers_of(session, person.id)))
    for run in store.runs_of(session, person.id):
        if run.run_key not in grouped:
            continue
        flow = library.flows.get(run.flow)
        title = plain_text(render(lang, flow.title, tz)) if flow else run.flow
        lines.append(
            f"== {title}, {moments.format_date(run.started_at, lang, tz, with_year=True)} =="
        )
        for rows in grouped[run.run_key]:
            lines.append(_question(library, lang, tz, rows[0].question))
            lines.append(_answer_text(library, lang, tz, rows))
            lines.append(f"({moments.format_moment(rows[-1].answered_at, lang, tz)})")
            lines.append("")
    lines.append(plain_text(render(lang, "common:export.checkins", tz)))
    for checkin in data["checkins"]:
        due = moments.format_moment(datetime.fromisoformat(checkin["due_at"]), lang, tz)
        lines.append(f"- {checkin['kind']} ({checkin['flow']}): {due} [{checkin['status']}]")
    return "\n".join(lines).rstrip() + "\n"


def export_payloads(
    session: Session, person: Person, library: Library, lang: str, now: datetime
) -> list[dict[str, Any]]:
    data = export_data(session, person, library)
    tz = ZoneInfo(person.timezone)
    if not data["answers"] and not data["checkins"]:
        return [
            Message(
                key="common:export.nothing",
                text=library.texts.render(lang, "common:export.nothing", tz),
            ).to_json()
        ]
    stamp = now.astimezone(tz).strftime("%Y-%m-%d")
    return [
        Message(
            key="common:export.ready", text=library.texts.render(lang, "common:export.ready", tz)
        ).to_json(),
        {
            "document": {
                "filename": f"kern-coach-{stamp}.txt",
                "mime": "text/plain",
                "content": export_text(data, session, person, library),
            }
        },
        {
            "document": {
                "filename": f"kern-coach-{stamp}.json",
                "mime": "application/json",
                "content": json.dumps(data, ensure_ascii=False, indent=2),
            }
        },
    ]
