"""Answers to a flow's steps: what was typed or pressed, understood for the step that asked
(text, entries, a choice, the scale, a moment, a clock time), kept in the run and, with consent,
saved; an edit of the latest answer replaces it."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta
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
    "common:note.words-kept",
    "common:note.words-noted",
    "common:note.kept",
    "common:note.not-kept",
    "common:double.added",
    "common:blank",
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


# A message this soon after a written answer is a second thought about that answer, not the
# answer to the question that came next: people double-text, and a question asking for
# reflection is not read, thought over and answered within seconds, while a second thought
# typed straight after the first arrives within a few. Twenty seconds holds both (Telegram
# dates messages in whole seconds); a misplaced message is said out loud and /terug reaches it.
DOUBLE_TEXT_WINDOW = timedelta(seconds=20)


# --- what was typed or pressed -------------------------------------------------------------------


def is_blank(text: str) -> bool:
    """Only spaces or invisible characters (zero-width, direction marks): no answer. An emoji is
    a visible character, so it may be one."""
    return all(ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc", "Zs") for ch in text)


def on_text(turn: Turn, flow: Flow, step: StepSpec, text: str) -> OptionCommand | None:
    """Text for the step the person is at."""
    expect = step.expect
    if expect in (None, "continue"):
        if _is_label(turn, text, "common:buttons.verder"):
            navigation.follow(turn, flow, step, None)
        else:  # words where nothing asks for words: kept, and the step waits as it did
            keep_note(turn, flow, step, text)
            navigation.present(turn, again=True)
    elif expect == "text":
        return answer(turn, text, "text")
    elif expect == "entries":
        add_entry(turn, flow, step, text)
    elif expect in ("choice", "scale"):
        option_id = match_option(turn, flow, step, text)
        if option_id is None:
            own_words(turn, flow, step, text)
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


def _is_label(turn: Turn, text: str, key: str) -> bool:
    return text.strip().casefold().rstrip(".") == turn.label(key).casefold()


def own_words(turn: Turn, flow: Flow, step: StepSpec, text: str, *, crisis: bool = False) -> None:
    """Words where a choice was asked: the answer of the step's own-words question, if it has
    one (the choice then goes past that question), else a note at this step. Never lost."""
    at = turn.position()
    words = flow.steps.get(step.words or "")
    if words is None:
        # In a crisis the help (or the gentle question) is all that is said: no word on the note.
        if keep_note(turn, flow, step, text, crisis=crisis, reply=False) and not crisis:
            turn.say("common:note.words-noted", leads=True)
        return
    previous = turn.run().answers.get(words.id) if at.words else None
    value = f"{previous.value}\n\n{text}" if previous is not None else text
    record(turn, flow, words, value, "text", crisis=crisis or bool(previous and previous.crisis))
    turn.update(at=evolve(turn.position(), words=True))
    if not crisis:
        turn.say("common:note.words-kept", leads=True)


def keep_note(
    turn: Turn, flow: Flow, step: StepSpec, text: str, *, crisis: bool = False, reply: bool = True
) -> bool:
    """Words no question asked for, kept with the step and the date (shown in /mijn and
    /export); without consent nothing is kept, and the coach says so."""
    if turn.state.consent != "given":
        if not crisis:  # in a crisis, the help (or the gentle question) is all that is said
            turn.say("common:note.not-kept", leads=True)
        return False
    run = turn.run()
    if not run.recorded:
        turn.effects.append(
            RunStarted(run=run.id, flow=flow.id, flow_version=flow.version, at=run.started_at)
        )
        turn.state = turn.state.with_run(evolve(run, recorded=True))
        run = turn.run()
    counter = turn.state.counter + 1
    turn.update(counter=counter)
    # Notes count down from -1: they never meet the step's own items (0, 1, …), so saving the
    # step's answer never replaces a note, and forgetting that answer leaves the notes.
    save(turn, run, flow, step, text, "note", -counter, crisis=crisis)
    if reply and not crisis:
        turn.say("common:note.kept", leads=True)
    return True


def belongs_to_last(turn: Turn, text: str) -> bool:
    """A message sent within DOUBLE_TEXT_WINDOW of the latest written answer, on a later step,
    is added to that answer (the step it landed on waits as it did); whether it was."""
    ref, sent = turn.state.last_answer, turn.sent_at
    if ref is None or ref.at is None or sent is None:
        return False
    if not timedelta(0) <= sent - ref.at <= DOUBLE_TEXT_WINDOW:
        return False
    at = turn.state.at
    if at is not None and at.run == ref.run and at.step == ref.step:
        return False  # still at that question: the text is its next entry anyway
    run = turn.state.run(ref.run)
    flow = turn.library.flows.get(ref.flow)
    previous = run.answers.get(ref.step) if run is not None else None
    if run is None or flow is None or previous is None or ref.step not in flow.steps:
        return False
    step = flow.steps[ref.step]
    shown: Any
    if previous.kind == "entries":  # another entry of the list
        item, saved, shown = len(previous.value), text, [*previous.value, text]
    else:
        item, saved = ref.item, f"{previous.value}\n\n{text}"
        shown = saved
    if turn.keeps_answers(flow):
        save(turn, run, flow, step, saved, previous.kind, item, crisis=item in previous.crisis)
    answers = {**run.answers, step.id: evolve(previous, value=shown)}
    turn.state = turn.state.with_run(evolve(run, answers=answers))
    # A third quick message joins them too; an edit of either message would replace both, so
    # neither is editable any more (the coach says so if one is edited).
    turn.update(last_answer=evolve(ref, ref=None, at=sent))
    turn.say("common:double.added")
    return True


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
    turn.say_variant(group, len(turn.run().answers), leads=True, **quoting.template_context(turn))


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
    crisis: bool = False,
) -> None:
    """Keep an answer in the run (for quoting and branching) and, with consent, in storage.
    `crisis`: it set off the crisis check, so it is marked and never quoted back."""
    run = turn.run()
    if turn.keeps_answers(flow):
        if not run.recorded:
            turn.effects.append(
                RunStarted(run=run.id, flow=flow.id, flow_version=flow.version, at=run.started_at)
            )
            run = evolve(run, recorded=True)
        save(turn, run, flow, step, value, kind, item, crisis=crisis)
    previous = run.answers.get(step.id)
    earlier = previous.crisis if previous is not None and kind == "entries" and item > 0 else ()
    flagged = tuple(i for i in earlier if i != item) + ((item,) if crisis else ())
    stored = Answer(
        value=shown if shown is not None else value, at=turn.now, kind=kind, crisis=flagged
    )
    answers = {**run.answers, step.id: stored}
    turn.state = turn.state.with_run(evolve(run, answers=answers))
    if (turn.ref is not None or turn.sent_at is not None) and kind in ("text", "entries"):
        ref = AnswerRef(
            ref=turn.ref, run=run.id, flow=flow.id, step=step.id, item=item, at=turn.sent_at
        )
        turn.update(last_answer=ref)


def save(
    turn: Turn,
    run: Run,
    flow: Flow,
    step: StepSpec,
    value: Any,
    kind: str,
    item: int,
    *,
    crisis: bool = False,
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
            crisis=crisis,
        )
    )


def add_entry(
    turn: Turn, flow: Flow, step: StepSpec, text: str, *, reply: bool = True, crisis: bool = False
) -> None:
    """One more item of an `entries` step; "Klaar" (or skipping) ends the list."""
    at = turn.position()
    previous = turn.run().answers.get(step.id)
    items = [*(previous.value if previous and at.entries > 0 else []), text]
    record(turn, flow, step, text, "entries", item=at.entries, shown=items, crisis=crisis)
    turn.update(at=evolve(at, entries=at.entries + 1))
    if reply:
        # The first entry gets the full invitation, each next one a shorter word in turn.
        turn.say_variant("common:entries.more", at.entries, navigation.buttons(turn, flow, step))


def on_edit(turn: Turn, text: str, ref: str, *, crisis: bool = False) -> None:
    """An edit of the latest written answer replaces it; older answers stay as they were. An
    edit that set off the crisis check is kept marked, and the crisis help says the rest."""
    target = turn.state.last_answer
    run = turn.state.run(target.run) if target is not None else None
    if target is None or target.ref != ref or run is None:
        if not crisis:
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
        save(turn, run, flow, step, text, kind, target.item, crisis=crisis)
    earlier = previous.crisis if previous is not None else ()
    flagged = tuple(i for i in earlier if i != target.item) + ((target.item,) if crisis else ())
    answer = Answer(value=shown, at=turn.now, kind=kind, crisis=flagged)
    turn.state = turn.state.with_run(evolve(run, answers={**run.answers, step.id: answer}))
    if not crisis:
        turn.say("common:edit.saved")
