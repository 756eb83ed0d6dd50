"""A person's answers as templates and summaries see them: `{{ answers.plan }}`, a choice's
label, a moment spelled out, entries as a list."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flows import moments
from flows.messages import plain_text
from flows.model import Flow, Library
from flows.state import Answer, Run
from flows.turn.context import Turn


def template_context(turn: Turn, **extra: Any) -> dict[str, Any]:
    """What every step's texts may use: the run's answers and whether the check-in is late."""
    at = turn.state.at
    answers = _Answers(turn, turn.run(), turn.flow(at.flow)) if at else NO_ANSWERS
    return {"answers": answers, "late": turn.late, **extra}


def describe_answer(
    library: Library, lang: str, tz: ZoneInfo, flow_id: str, step_id: str, kind: str, value: Any
) -> str:
    """An answer as words: a choice's label, a moment spelled out, entries as a list."""

    def label(key: str) -> str:
        return plain_text(library.texts.render(lang, key, tz))

    if kind == "choice":
        return label(f"{flow_id}:{step_id}.{value}")
    if kind == "scale":
        return label(f"common:scale.{value}")
    if kind == "when":
        return moments.format_moment(datetime.fromisoformat(value), lang, tz)
    if kind == "entries":
        items = value if isinstance(value, list) else [value]
        return "\n".join(f"• {item}" for item in items)
    return str(value)


class _AnswerView:
    """An answer as a template sees it: `.text`, `.items`, `.value`, `.at`."""

    def __init__(self, turn: Turn, flow: Flow, step_id: str, answer: Answer):
        self._turn, self._flow, self._step_id, self._answer = turn, flow, step_id, answer
        self.value = answer.value
        self.at = answer.at
        self.items = tuple(answer.value) if answer.kind == "entries" else (answer.value,)

    @property
    def text(self) -> str:
        turn, answer = self._turn, self._answer
        return describe_answer(
            turn.library,
            turn.state.lang,
            turn.tz,
            self._flow.id,
            self._step_id,
            answer.kind,
            answer.value,
        )

    def __bool__(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.text


class _NoAnswer:
    """A skipped or unanswered step: falsy, and empty wherever it is used."""

    value = text = ""
    items = ()
    at = None

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""


class _Answers:
    """A run's answers as templates see them: `answers.plan`, `answers['evaluatie-moment']`."""

    def __init__(self, turn: Turn | None, run: Run | None, flow: Flow | None):
        self._turn, self._run, self._flow = turn, run, flow

    def __getattr__(self, name: str) -> _AnswerView | _NoAnswer:
        return self[name]

    def __getitem__(self, step_id: str) -> _AnswerView | _NoAnswer:
        if self._turn is None or self._run is None or self._flow is None:
            return _NoAnswer()
        answer = self._run.answers.get(step_id)
        if answer is None:
            return _NoAnswer()
        return _AnswerView(self._turn, self._flow, step_id, answer)


# No answers at all: every quote in a template renders as its empty case (for /mijn's questions).
NO_ANSWERS = _Answers(None, None, None)
