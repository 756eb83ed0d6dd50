"""A run's answers as the step's templates see them: `{{ answers.plan.text }}`, in the words of
`flows.answer_words`, the person's own marked as theirs."""

from __future__ import annotations

from typing import Any

from flows.answer_words import NO_ANSWERS, NoAnswer, describe_answer, theirs
from flows.model import Flow
from flows.state import Answer, Run, evolve
from flows.turn.context import Turn


def template_context(turn: Turn, **extra: Any) -> dict[str, Any]:
    """What every step's texts may use: the run's answers, whether the check-in is late, and
    whether the run's check-in was meant for a day before today (`yesterday`: its questions ask
    about "gisteren")."""
    at = turn.state.at
    if at is None:
        return {"answers": NO_ANSWERS, "late": turn.late, "yesterday": False, **extra}
    run = turn.run()
    meant_for = run.meant_for
    yesterday = meant_for is not None and (
        meant_for.astimezone(turn.tz).date() < turn.now.astimezone(turn.tz).date()
    )
    answers = _Answers(turn, run, turn.flow(at.flow))
    return {"answers": answers, "late": turn.late, "yesterday": yesterday, **extra}


class _AnswerView:
    """An answer as a template sees it: `.text`, `.items`, `.value`, `.at`."""

    def __init__(self, turn: Turn, flow: Flow, step_id: str, answer: Answer):
        self._turn, self._flow, self._step_id, self._answer = turn, flow, step_id, answer
        self.value = theirs(answer.value)
        self.at = answer.at
        values = answer.value if answer.kind == "entries" else [answer.value]
        self.items = tuple(theirs(v) for v in values)

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


class _Answers:
    """A run's answers as templates see them: `answers.plan`, `answers['evaluatie-moment']`."""

    def __init__(self, turn: Turn, run: Run, flow: Flow):
        self._turn, self._run, self._flow = turn, run, flow

    def __getattr__(self, name: str) -> _AnswerView | NoAnswer:
        return self[name]

    def __getitem__(self, step_id: str) -> _AnswerView | NoAnswer:
        answer = quotable(self._run.answers.get(step_id))
        if answer is None:
            return NoAnswer()
        return _AnswerView(self._turn, self._flow, step_id, answer)


def quotable(answer: Answer | None) -> Answer | None:
    """The answer without what set off the crisis check: such words stay the person's (in /mijn
    and /export) but are never quoted back to them. None when nothing is left to quote."""
    if answer is None or not answer.crisis:
        return answer
    if answer.kind != "entries":
        return None
    items = [v for i, v in enumerate(answer.value) if i not in answer.crisis]
    return evolve(answer, value=items, crisis=()) if items else None
