"""Answers to a flow's steps: what was typed or pressed, understood for the step that asked
(text, entries, a choice, the scale, a moment, a clock time), kept in the run and, with consent,
saved; an edit of the latest answer replaces it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from flows import defaults, moments, tokens
from flows.effects import CancelCheckins, RunStarted, SaveAnswer
from flows.model import NO_ACK, SCALE, WHEN_PRESETS, Flow, Option, StepSpec
from flows.state import Answer, AnswerRef, Run, evolve
from flows.turn import navigation, quoting, schedule
from flows.turn.context import Turn

# Said after a written answer in an exercise, unless the step names its own group (`ack:`).
ACK_WRITTEN = "common:ack.text"

TEXT_KEYS = (
    *(f"common:scale.{s}" for s in SCALE),
    *(f"common:when.{p}" for p in WHEN_PRESETS),
    "common:when.not-understood",
    "common:when.confirm",
    "common:clock.not-understood",
    "common:entries.more",
    "common:ack.text",
    "common:choice.use-buttons",
    "common:no-consent.stored-nothing",
    "common:edit.saved",
    "common:edit.not-latest",
)


@dataclass(frozen=True, kw_only=True)
class OptionCommand:
    """A chosen option that runs a command (the menu's "what I wrote"). Answers do not run
    commands themselves: the engine runs it, then calls `carry_on`."""

    command: str
    flow: Flow
    step: StepSpec
    option: Option


# --- what was typed or pressed -------------------------------------------------------------------


def on_text(turn: Turn, flow: Flow, step: StepSpec, text: str) -> OptionCommand | None:
    """Text for the step the person is at."""
    expect = step.expect
    if expect in (None, "continue"):
        navigation.follow(turn, flow, step, None)
    elif expect == "text":
        return answer(turn, text, "text")
    elif expect == "entries":
        add_entry(turn, flow, step, text)
    elif expect in ("choice", "scale"):
        option_id = match_option(turn, flow, step, text)
        if option_id is None:
            turn.say("common:choice.use-buttons")
            navigation.present(turn, again=True)
        else:
            return on_option(turn, step, option_id)
    elif expect == "when":
        moment = moments.parse_moment(text, turn.state.lang, turn.now, turn.tz, defaults.PLAN_TIME)
        if moment is None:
            turn.say("common:when.not-understood")
            navigation.present(turn, again=True)
        else:
            return answer_moment(turn, moment)
    elif expect == "clock":
        clock = moments.parse_clock(text)
        if clock is None:
            turn.say("common:clock.not-understood")
            navigation.present(turn, again=True)
        else:
            return answer_clock(turn, clock)
    return None


def on_button(turn: Turn, flow: Flow, step: StepSpec, option: str) -> OptionCommand | None:
    """A button of the step the person is at (the token already matched run and step)."""
    if option == tokens.SKIP:
        navigation.skip(turn)
    elif option == tokens.NEXT and step.expect == "continue":
        navigation.follow(turn, flow, step, None)
    elif option == tokens.DONE and step.expect == "entries":
        navigation.finish_entries(turn, flow, step)
    elif option == tokens.RESUME and turn.state.suspended:
        navigation.resume(turn)
    elif step.expect == "when" and option in WHEN_PRESETS:
        local = moments.preset_moment(option, turn.now, turn.tz, defaults.PLAN_TIME)
        return answer_moment(turn, local)
    elif step.expect in ("choice", "scale") and valid_option(step, option):
        return on_option(turn, step, option)
    else:
        navigation.stale(turn)
    return None


def carry_on(turn: Turn, pending: OptionCommand) -> None:
    """After an option's command: leave the step, unless the command moved the conversation."""
    at = turn.state.at
    if at is None or at.step != pending.step.id:
        return
    navigation.follow(turn, pending.flow, pending.step, pending.option)


def match_option(turn: Turn, flow: Flow, step: StepSpec, text: str) -> str | None:
    """Someone typed instead of pressing: accept the option's number or its label."""
    options = navigation.choice_options(turn, flow, step)
    ids = [o.id for o in options] if step.expect == "choice" else list(SCALE)
    wanted = text.strip().casefold().rstrip(".")
    if wanted.isdecimal() and 1 <= int(wanted) <= len(ids):  # not isdigit: "¹" is no number
        return ids[int(wanted) - 1]
    for option_id in ids:
        key = (
            f"{flow.id}:{step.id}.{option_id}"
            if step.expect == "choice"
            else f"common:scale.{option_id}"
        )
        if wanted in (option_id, turn.label(key).casefold()):
            return option_id
    return None


def valid_option(step: StepSpec, option: str) -> bool:
    return step.option(option) is not None if step.expect == "choice" else option in SCALE


def on_option(turn: Turn, step: StepSpec, option_id: str) -> OptionCommand | None:
    option = step.option(option_id) if step.expect == "choice" else None
    return answer(turn, option_id, step.expect or "choice", option)


def answer_moment(turn: Turn, moment: datetime) -> OptionCommand | None:
    turn.say("common:when.confirm", moment=moments.format_moment(moment, turn.state.lang, turn.tz))
    return answer(turn, moment.isoformat(), "when")


def answer_clock(turn: Turn, clock: time) -> OptionCommand | None:
    text = moments.format_clock(clock)
    turn.update(checkin_time=text)
    return answer(turn, text, "clock")


# --- keeping an answer ---------------------------------------------------------------------------


def answer(turn: Turn, value: Any, kind: str, option: Option | None = None) -> OptionCommand | None:
    """Keep the answer, plan what it asks for, and move on (or hand back the option's command)."""
    current = turn.current()
    assert current is not None
    flow, step = current
    record(turn, flow, step, value, kind)
    acknowledge(turn, flow, step)
    schedule.unplan(turn, step.id)  # answered again after /terug: the new answer decides
    for spec in filter(None, (step.schedule, option.schedule if option else None)):
        schedule.plan(turn, spec, value)
    if option is not None:
        apply_option(turn, flow, option)
        if option.command is not None:
            return OptionCommand(command=option.command, flow=flow, step=step, option=option)
    navigation.follow(turn, flow, step, option)
    return None


def acknowledge(turn: Turn, flow: Flow, step: StepSpec) -> None:
    """A short word after an answer, one of its group in turn (never the same one twice in a
    row), so the coach sounds like someone who listens. It may name the other or the choice; it
    never says what the answer means."""
    group = step.ack
    if group is None and step.expect == "text" and flow.kind == "exercise":
        group = ACK_WRITTEN
    if group is None or group == NO_ACK:
        return
    # The number of answers in this run: each answer the next one of the group.
    turn.say_variant(group, len(turn.run().answers), **quoting.template_context(turn))


def apply_option(turn: Turn, flow: Flow, option: Option) -> None:
    """What choosing the option changes besides the answer: the profile, cancelled check-ins."""
    for field, value in option.sets.items():
        turn.update(**{field: value})
        if field == "consent" and value == "declined":
            turn.say("common:no-consent.stored-nothing")
    if option.cancel:
        turn.effects.append(CancelCheckins(kinds=option.cancel, flow=flow.id))


def record(
    turn: Turn,
    flow: Flow,
    step: StepSpec,
    value: Any,
    kind: str,
    *,
    item: int = 0,
    shown: Any = None,
) -> None:
    """Keep an answer in the run (for quoting and branching) and, with consent, in storage."""
    run = turn.run()
    if turn.keeps_answers(flow):
        if not run.recorded:
            turn.effects.append(
                RunStarted(run=run.id, flow=flow.id, flow_version=flow.version, at=run.started_at)
            )
            run = evolve(run, recorded=True)
        save(turn, run, flow, step, value, kind, item)
    stored = Answer(value=shown if shown is not None else value, at=turn.now, kind=kind)
    answers = {**run.answers, step.id: stored}
    turn.state = turn.state.with_run(evolve(run, answers=answers))
    if turn.ref is not None and kind in ("text", "entries"):
        turn.update(
            last_answer=AnswerRef(ref=turn.ref, run=run.id, flow=flow.id, step=step.id, item=item)
        )


def save(
    turn: Turn, run: Run, flow: Flow, step: StepSpec, value: Any, kind: str, item: int
) -> None:
    """Ask storage to keep the answer, with the question it answers (for /mijn, /export)."""
    said = navigation.said_keys(turn, step)  # the daily question: the one asked today
    question = said[-1] if said else f"{flow.id}:{step.id}"
    turn.effects.append(
        SaveAnswer(
            run=run.id,
            flow=flow.id,
            step=step.id,
            question=question,
            kind=kind,
            value=value,
            item=item,
            at=turn.now,
        )
    )


def add_entry(turn: Turn, flow: Flow, step: StepSpec, text: str, *, reply: bool = True) -> None:
    """One more item of an `entries` step; "Klaar" (or skipping) ends the list."""
    at = turn.position()
    previous = turn.run().answers.get(step.id)
    items = [*(previous.value if previous and at.entries > 0 else []), text]
    record(turn, flow, step, text, "entries", item=at.entries, shown=items)
    turn.update(at=evolve(at, entries=at.entries + 1))
    if reply:
        # The first entry gets the full invitation, each next one a shorter word in turn.
        turn.say_variant("common:entries.more", at.entries, navigation.buttons(turn, flow, step))


def on_edit(turn: Turn, text: str, ref: str) -> None:
    """An edit of the latest written answer replaces it; older answers stay as they were."""
    target = turn.state.last_answer
    run = turn.state.run(target.run) if target is not None else None
    if target is None or target.ref != ref or run is None:
        turn.say("common:edit.not-latest")
        return
    flow = turn.flow(target.flow)
    step = flow.steps[target.step]
    previous = run.answers.get(step.id)
    if previous is not None and previous.kind == "entries":
        items = list(previous.value)
        if target.item < len(items):
            items[target.item] = text
        shown: Any = items
    else:
        shown = text
    kind = previous.kind if previous is not None else "text"
    if turn.keeps_answers(flow):
        save(turn, run, flow, step, text, kind, target.item)
    answers = {**run.answers, step.id: Answer(value=shown, at=turn.now, kind=kind)}
    turn.state = turn.state.with_run(evolve(run, answers=answers))
    turn.say("common:edit.saved")
