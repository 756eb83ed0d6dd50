"""What a person reads back of what they wrote: `/mijn` in the chat, the readable `/export` file.

The shell reads storage and hands the runs, answers and check-ins in as plain records; nothing
here reads storage or a clock, so these texts are tested like every other text of the coach.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flows import moments
from flows.answer_words import NO_ANSWERS, describe_answer
from flows.messages import Message, Paragraph, Theirs
from flows.model import Library

# /mijn shows this many runs, newest first; /export has them all.
OVERVIEW_RUNS = 8
CHECKIN_KINDS = ("reminder", "evaluation", "repeat", "daily")
CHECKIN_STATUSES = ("pending", "done", "cancelled", "failed")

# The texts asked for here by key; `flows check` makes sure they exist in every language.
TEXT_KEYS = (
    "common:mine.header",
    "common:mine.empty",
    "common:mine.run",
    "common:mine.answer",
    "common:mine.more",
    "common:note.mine",
    "common:note.marked",
    "common:export.ready",
    "common:export.nothing",
    "common:export.title",
    "common:export.checkins",
    "common:export.checkin",
    *(f"common:export.kind.{kind}" for kind in CHECKIN_KINDS),
    *(f"common:export.status.{status}" for status in CHECKIN_STATUSES),
    "common:note.export",
)


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """One run of a flow, as stored."""

    run: str
    flow: str
    started_at: datetime


@dataclass(frozen=True, kw_only=True)
class AnswerRecord:
    """One stored answer (an entry of a list is one record each, numbered by `item`)."""

    run: str
    flow: str
    step: str
    kind: str
    question: str  # the text key of the question
    value: Any  # as stored: a text, an option id, an ISO moment, an entry
    answered_at: datetime
    item: int = 0  # the entry of a list; a note (kind "note") counts below 0
    crisis: bool = False  # it set off the crisis check: shown, marked, never quoted back


@dataclass(frozen=True, kw_only=True)
class CheckinRecord:
    """One scheduled check-in, as stored."""

    kind: str
    flow: str
    due_at: datetime
    status: str


def mine(
    library: Library,
    lang: str,
    tz: ZoneInfo,
    runs: Sequence[RunRecord],
    answers: Sequence[AnswerRecord],
) -> list[Message]:
    """The messages of `/mijn`: per run with answers (newest first, at most OVERVIEW_RUNS) each
    question and what was answered, and how many runs more /export has."""
    texts = library.texts

    def say(key: str, **context: Any) -> Message:
        return Message(key=key, paragraphs=texts.render(lang, key, tz, **context))

    grouped = _grouped(answers)
    answered = [r for r in runs if r.run in grouped]
    shown = answered[::-1][:OVERVIEW_RUNS]
    if not shown:
        return [say("common:mine.empty")]
    messages = [say("common:mine.header")]
    for run in shown:
        paragraphs: list[Paragraph] = list(
            texts.render(
                lang,
                "common:mine.run",
                tz,
                flow_title=flow_title(library, lang, tz, run.flow),
                date=moments.format_date(run.started_at, lang, tz),
            )
        )
        heading = moments.format_date(run.started_at, lang, tz)
        for records in grouped[run.run]:
            written = moments.format_date(records[0].answered_at, lang, tz)
            if written != heading:  # an evaluation weeks later: under the day it was written
                heading = written
                paragraphs += texts.render(
                    lang,
                    "common:mine.run",
                    tz,
                    flow_title=flow_title(library, lang, tz, run.flow),
                    date=written,
                )
            paragraphs += texts.render(
                lang,
                "common:note.mine" if records[0].kind == "note" else "common:mine.answer",
                tz,
                question=question_line(library, lang, tz, records[0].question),
                answer=answer_words(library, lang, tz, records),
                date=moments.format_date(records[0].answered_at, lang, tz),
            )
            if any(r.crisis for r in records):
                paragraphs += texts.render(lang, "common:note.marked", tz)
        messages.append(Message(key="common:mine.run", paragraphs=tuple(paragraphs)))
    hidden = len(answered) - len(shown)
    if hidden > 0:
        messages.append(say("common:mine.more", count=hidden))
    return messages


def export_text(
    library: Library,
    lang: str,
    tz: ZoneInfo,
    runs: Sequence[RunRecord],
    answers: Sequence[AnswerRecord],
    checkins: Sequence[CheckinRecord],
) -> str:
    """The readable export file: per exercise and date, each question and what was answered,
    then the check-ins."""
    plain = library.texts.plain
    lines = [plain(lang, "common:export.title", tz), ""]
    grouped = _grouped(answers)
    for run in runs:
        if run.run not in grouped:
            continue
        title = flow_title(library, lang, tz, run.flow)
        heading = moments.format_date(run.started_at, lang, tz, with_year=True)
        lines.append(f"== {title}, {heading} ==")
        for records in grouped[run.run]:
            written = moments.format_date(records[0].answered_at, lang, tz, with_year=True)
            if written != heading:  # an evaluation weeks later: under the day it was written
                heading = written
                lines.append(f"== {title}, {heading} ==")
            question = question_line(library, lang, tz, records[0].question)
            if records[0].kind == "note":
                question = plain(lang, "common:note.export", tz, question=question)
            lines.append(question)
            lines.append(answer_words(library, lang, tz, records))
            lines.append(f"({moments.format_moment(records[-1].answered_at, lang, tz)})")
            if any(r.crisis for r in records):
                lines.append(plain(lang, "common:note.marked", tz))
            lines.append("")
    lines.append(plain(lang, "common:export.checkins", tz))
    for checkin in checkins:
        lines.append("- " + checkin_line(library, lang, tz, checkin))
    return "\n".join(lines).rstrip() + "\n"


def flow_title(library: Library, lang: str, tz: ZoneInfo, flow_id: str) -> str:
    """A flow's name; a flow that no longer exists is named by its id."""
    flow = library.flows.get(flow_id)
    title: str = library.texts.plain(lang, flow.title, tz) if flow else flow_id
    return title


def checkin_line(library: Library, lang: str, tz: ZoneInfo, checkin: CheckinRecord) -> str:
    """A check-in in the person's words: what kind, of which exercise, when, and whether it is
    still to come ("herinnering, Oefening 1: …, vrijdag 6 maart om 19:00, gepland")."""
    plain = library.texts.plain

    def word(group: str, value: str) -> str:
        key = f"common:export.{group}.{value}"
        return plain(lang, key, tz) if library.texts.has(lang, key) else value

    line: str = plain(
        lang,
        "common:export.checkin",
        tz,
        kind=word("kind", checkin.kind),
        flow_title=flow_title(library, lang, tz, checkin.flow),
        moment=moments.format_moment(checkin.due_at, lang, tz),
        status=word("status", checkin.status),
    )
    return line


def question_line(library: Library, lang: str, tz: ZoneInfo, key: str) -> str:
    """The question, whole: its text's last paragraph line that asks something. A text that is
    gone (or a key that was never one text) is named by its flow instead of a raw key."""
    try:
        text: str = library.texts.plain(lang, key, tz, answers=NO_ANSWERS, late=False)
    except Exception:  # a text changed since the answer was given: name the part it was in
        return flow_title(library, lang, tz, key.partition(":")[0])
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    asking = [line for line in lines if line.endswith("?")]
    line: str = (asking or lines or [key])[-1]
    return line


def answer_words(library: Library, lang: str, tz: ZoneInfo, records: Sequence[AnswerRecord]) -> str:
    """The answer to one step (the entries of a list together) as words."""
    first = records[0]
    values = [r.value for r in records]
    value = values if first.kind == "entries" else values[0]
    try:
        return describe_answer(library, lang, tz, first.flow, first.step, first.kind, value)
    except Exception:  # an option that no longer exists: show what was stored
        return Theirs(", ".join(str(v) for v in values))


def _grouped(answers: Sequence[AnswerRecord]) -> dict[str, list[list[AnswerRecord]]]:
    """Answers per run, and within a run per step (entries of one step together; each note on
    its own)."""
    per_run: dict[str, dict[tuple[str, int], list[AnswerRecord]]] = defaultdict(dict)
    for record in answers:
        key = (record.step, record.item if record.kind == "note" else 0)
        per_run[record.run].setdefault(key, []).append(record)
    return {run: list(steps.values()) for run, steps in per_run.items()}
