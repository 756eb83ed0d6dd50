"""What a person wrote, read back from storage: `/mijn` in the chat, `/export` as two files.

Storage is read here and handed to `flows.overview` as plain records; the words are made there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.outbox import Chart, Document, Item
from bot.storage import store
from bot.storage.models import AnswerRow, CheckinRow, Person
from flows import balance, overview
from flows.messages import Message
from flows.model import Library
from flows.overview import AnswerRecord, CheckinRecord, RunRecord


def _runs(session: Session, person_id: int) -> list[RunRecord]:
    return [
        RunRecord(run=r.run_key, flow=r.flow, started_at=r.started_at)
        for r in store.runs_of(session, person_id)
    ]


def _answers(session: Session, person_id: int) -> list[AnswerRecord]:
    return [
        AnswerRecord(
            run=a.run_key,
            flow=a.flow,
            step=a.step,
            kind=a.kind,
            question=a.question,
            value=json.loads(a.value),
            answered_at=a.answered_at,
            item=a.item,
            crisis=a.crisis,
        )
        for a in store.answers_of(session, person_id)
    ]


def balance_chart(session: Session, person: Person, library: Library, lang: str) -> list[Chart]:
    """What `/mijn` adds after the answers: the balance over time (`flows.balance`)."""
    assert person.id is not None
    found = balance.for_mine(
        _scale_answers(session, person.id),
        _evaluated(session, person.id),
        library,
        lang,
        ZoneInfo(person.timezone),
    )
    return [Chart.of(chart["balance"]) for chart in found]


def _scale_answers(session: Session, person_id: int) -> list[balance.ScaleAnswer]:
    rows = session.exec(
        select(AnswerRow)
        .where(AnswerRow.person_id == person_id, AnswerRow.kind == "scale")
        .order_by(col(AnswerRow.answered_at), col(AnswerRow.id))
    ).all()
    return [
        balance.ScaleAnswer(
            run=r.run_key, flow=r.flow, value=json.loads(r.value), answered_at=_aware(r.answered_at)
        )
        for r in rows
    ]


def _evaluated(session: Session, person_id: int) -> dict[str | None, datetime]:
    """Per run, when its first evaluation check-in came."""
    found = session.execute(
        sa.select(col(CheckinRow.run_key), sa.func.min(col(CheckinRow.due_at)))
        .where(
            col(CheckinRow.person_id) == person_id,
            col(CheckinRow.kind) == "evaluation",
            col(CheckinRow.status) == "done",
        )
        .group_by(col(CheckinRow.run_key))
    ).all()
    return {run: _aware(at) for run, at in found}


def _aware(moment: datetime) -> datetime:
    """An aggregate (min) comes back from SQLite without its time zone; every moment is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def mine(session: Session, person: Person, library: Library, lang: str) -> list[Message]:
    """The messages of `/mijn`."""
    assert person.id is not None
    tz = ZoneInfo(person.timezone)
    return overview.mine(library, lang, tz, _runs(session, person.id), _answers(session, person.id))


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
                "question": overview.question_line(library, lang, tz, a.question),
                "value": json.loads(a.value),
                "answered_at": a.answered_at.isoformat(),
                # It set off the crisis check: the person's, never quoted back by the coach.
                "crisis": a.crisis,
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


def export_items(
    session: Session, person: Person, library: Library, lang: str, now: datetime
) -> list[Item]:
    """What `/export` sends: a message and the two files."""
    assert person.id is not None
    data = export_data(session, person, library)
    tz = ZoneInfo(person.timezone)

    def say(key: str) -> Message:
        return Message(key=key, paragraphs=library.texts.render(lang, key, tz))

    if not data["answers"] and not data["checkins"]:
        return [say("common:export.nothing")]
    checkins = [
        CheckinRecord(
            kind=c["kind"],
            flow=c["flow"],
            due_at=datetime.fromisoformat(c["due_at"]),
            status=c["status"],
        )
        for c in data["checkins"]
    ]
    text = overview.export_text(
        library,
        person.lang,
        tz,
        _runs(session, person.id),
        _answers(session, person.id),
        checkins,
    )
    stamp = now.astimezone(tz).strftime("%Y-%m-%d")
    return [
        say("common:export.ready"),
        Document(filename=f"kern-coach-{stamp}.txt", mime="text/plain", content=text),
        Document(
            filename=f"kern-coach-{stamp}.json",
            mime="application/json",
            content=json.dumps(data, ensure_ascii=False, indent=2),
        ),
    ]
