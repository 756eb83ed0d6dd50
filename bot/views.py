"""What a person wrote, read back from storage: `/mijn` in the chat, `/export` as two files.

Storage is read here and handed to `flows.overview` as plain records; the words are made there.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.storage import store
from bot.storage.models import Person
from flows import overview
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
        )
        for a in store.answers_of(session, person_id)
    ]


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


def export_payloads(
    session: Session, person: Person, library: Library, lang: str, now: datetime
) -> list[dict[str, Any]]:
    """The outbox payloads of `/export`: a message and the two files."""
    assert person.id is not None
    data = export_data(session, person, library)
    tz = ZoneInfo(person.timezone)

    def say(key: str) -> dict[str, Any]:
        return Message(key=key, paragraphs=library.texts.render(lang, key, tz)).to_json()

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
        {
            "document": {
                "filename": f"kern-coach-{stamp}.txt",
                "mime": "text/plain",
                "content": text,
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
