"""Moving through flows: entering one, going to a step and presenting it, following a step's
rules, ending a run, and the person's own moves: back (/terug), skip, resume, the menu."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flows.effects import ForgetAnswer, RunFinished
from flows.errors import FlowLoops
from flows.messages import Button
from flows.model import END, REST, SCALE, WHEN_PRESETS, Flow, Option, Rule, StepSpec
from flows.state import Position, Prompt, Run, evolve
from flows.system import CONSENT, MENU
from flows.tokens import DONE, NEXT, PROMPT_RUN, RESUME, SKIP, Token
from flows.turn import quoting, schedule
from flows.turn.context import Buttons, Turn

# Steps that only talk are followed at once; a loop of them is a broken flow, not a hang.
MAX_STEPS_PER_EVENT = 100

TEXT_KEYS = (
    "common:buttons.verder",
    "common:buttons.overslaan",
    "common:buttons.klaar",
    "common:menu.resume",
    "common:stale-button",
    "common:idle",
    "common:back-where-you-were",
    "common:nothing-to-go-back-to",
    "common:nothing-to-skip",
)


# --- entering and leaving steps ------------------------------------------------------------------


def enter_flow(
    turn: Turn,
    flow_id: str,
    *,
    step: str | None = None,
    run_id: str | None = None,
    meant_for: datetime | None = None,
) -> None:
    """`meant_for`: a check-in opens the run, meant for that moment (its questions name that
    day)."""
    flow = turn.flow(flow_id)
    if flow.needs_consent and turn.state.consent != "given":
        ask_consent(turn, flow_id)
        return
    if run_id is None or turn.state.run(run_id) is None:
        run = Run(
            id=run_id or turn.new_id("r"),
            flow=flow_id,
            version=flow.version,
            started_at=turn.now,
            meant_for=meant_for,
        )
        turn.state = turn.state.with_run(run)
        run_id = run.id
    turn.update(at=Position(flow=flow_id, step=step or flow.start, run=run_id), prompt=None)
    present(turn)


def ask_consent(turn: Turn, flow_id: str) -> None:
    """Entering a flow that keeps answers asks first; `dialogues` handles the reply."""
    # Said no before, or skipped the question: only a no is read back as one.
    ask(turn, Prompt(kind=CONSENT, flow=flow_id), declined=turn.state.consent == "declined")


def ask(turn: Turn, prompt: Prompt, **context: Any) -> None:
    """Open one of the engine's own questions (a dialogue flow) at `prompt.step` and ask it.
    The person's place in their flow stays as it is; `dialogues` handles the reply."""
    dialogue = turn.library.dialogue(prompt.kind)
    step = dialogue.steps[prompt.step or dialogue.start]
    turn.update(prompt=prompt)
    say_dialogue_step(turn, dialogue, step, prompt.kind, **context)


def say_dialogue_step(
    turn: Turn, dialogue: Flow, step: StepSpec, prompt: str | None = None, **context: Any
) -> None:
    """A dialogue step's messages; the last carries the buttons of the question `prompt`."""
    rows: Buttons = ()
    if prompt is not None:
        rows = tuple(
            prompt_button(turn, option.label or f"{dialogue.id}:{step.id}.{option.id}", prompt, o)
            for option in step.options
            for o in (option.id,)
        )
    for i, key in enumerate(step.say):
        turn.say(key, rows if i == len(step.say) - 1 else (), **context)


def dialogue_waits_for_text(turn: Turn, prompt: Prompt) -> bool:
    dialogue = turn.library.dialogue(prompt.kind)
    return dialogue.steps[prompt.step or dialogue.start].expect == "text"


def go(turn: Turn, step_id: str, *, show: bool = True) -> None:
    """Move to another step of the current run and present it (unless `show` is False: the step
    is passed on the way to the next)."""
    at = turn.position()
    if step_id == END:
        end_flow(turn)
        return
    if step_id == REST:  # "Stoppen voor nu": said goodbye; the places they were at wait
        finish_run(turn)
        turn.update(at=None)
        return
    if turn.flow(at.flow).steps[at.step].waits:
        run = turn.run()
        turn.state = turn.state.with_run(evolve(run, history=(*run.history, at.step)))
    turn.update(at=Position(flow=at.flow, step=step_id, run=at.run))
    if show:
        present(turn)


def present(turn: Turn, *, again: bool = False) -> None:
    """Send the current step's messages (only its last one when asking again); a step that
    waits for nothing is followed at once."""
    current = turn.current()
    if current is None:
        return
    turn.presented += 1
    if turn.presented > MAX_STEPS_PER_EVENT:
        raise FlowLoops(f"flow '{current[0].id}' loops without waiting for the person")
    flow, step = current
    keys = said_keys(turn, step)
    if again:
        keys = keys[-1:]
    context = quoting.template_context(turn)
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        turn.say(key, buttons(turn, flow, step) if last else (), **context)
    if not step.waits:
        follow(turn, flow, step, None)


def said_keys(turn: Turn, step: StepSpec) -> list[str]:
    """The texts a step says: its `say`, and of `say_one_of` the one of today."""
    keys = list(step.say)
    if step.say_one_of:
        local_day = turn.now.astimezone(turn.tz).date().toordinal()
        keys.append(step.say_one_of[local_day % len(step.say_one_of)])
    return keys


def reask(turn: Turn) -> None:
    """After an aside (a sticker, /help, a stale button): the question we are at, again."""
    prompt = turn.state.prompt
    if prompt is not None and not dialogue_waits_for_text(turn, prompt):
        turn.update(prompt=None)  # a question with buttons lapses; one that reads text stays
    if turn.state.at is None:
        turn.say("common:idle")
    else:
        present(turn, again=True)


STALE_BUTTON = "common:stale-button"


def stale(turn: Turn) -> None:
    turn.say(STALE_BUTTON, leads=True)
    reask(turn)


def follow(turn: Turn, flow: Flow, step: StepSpec, option: Option | None) -> None:
    """Leave `step` the way its rules (or the chosen option) say."""
    if option is not None and option.flow is not None:
        finish_run(turn)
        # Starting an exercise anew lets its unfinished run go; other places are kept, so
        # re-reading the poem mid-exercise leads back to the exercise.
        kept = tuple(p for p in turn.state.suspended if p.flow != option.flow)
        turn.update(suspended=kept)
        enter_flow(turn, option.flow)
        return
    rules = option.next if option is not None and option.next is not None else step.next
    target = resolve(turn, rules or ())
    if turn.position().words and target == step.words:
        # The person wrote their own words at this choice: that question is answered already.
        go(turn, target, show=False)
        target = resolve(turn, flow.steps[target].next or ())
    go(turn, target)


def resolve(turn: Turn, rules: tuple[Rule, ...]) -> str:
    answers = turn.run().answers
    for rule in rules:
        if rule.answer is None:
            return rule.goto
        answer = answers.get(rule.answer)
        if answer is not None and str(answer.value) in rule.values:
            return rule.goto
    return END


def end_flow(turn: Turn) -> None:
    flow = turn.flow(turn.position().flow)
    finish_run(turn)
    turn.update(at=None)
    if turn.state.suspended:
        *rest, resumed = turn.state.suspended
        turn.update(at=resumed, suspended=tuple(rest))
        if turn.flow(resumed.flow).kind != "menu":  # the menu's question says it all
            turn.say_variant("common:back-where-you-were", turn.state.counter, leads=True)
        present(turn, again=True)
    elif flow.after is not None:
        enter_flow(turn, flow.after)
    else:
        turn.say("common:idle")


def finish_run(turn: Turn) -> None:
    run = turn.state.run(turn.state.at.run) if turn.state.at else None
    if run is not None and run.recorded:
        turn.effects.append(RunFinished(run=run.id, at=turn.now))


# --- the person's own moves ----------------------------------------------------------------------


def back(turn: Turn) -> None:
    """/terug: the previous waiting step of this run, asked again."""
    at = turn.state.at
    run = turn.state.run(at.run) if at else None
    if at is None or run is None or not run.history:
        turn.say("common:nothing-to-go-back-to", leads=True)
        reask(turn)
        return
    previous = run.history[-1]
    turn.state = turn.state.with_run(evolve(run, history=run.history[:-1]))
    turn.update(at=Position(flow=at.flow, step=previous, run=at.run))
    present(turn)


def skip(turn: Turn) -> None:
    """/overslaan or the skip button: leave the question unanswered and move on."""
    current = turn.current()
    if turn.state.prompt is not None:
        turn.update(prompt=None)
        reask(turn)
        return
    if current is None or not current[1].waits:
        turn.say("common:nothing-to-skip", leads=True)
        reask(turn)
        return
    flow, step = current
    withdraw(turn, flow, step)
    if step.skip is not None:
        go(turn, step.skip)
    else:
        follow(turn, flow, step, None)


def withdraw(turn: Turn, flow: Flow, step: StepSpec) -> None:
    """Skipping a step answered before (after /terug) takes that answer back."""
    run = turn.run()
    at = turn.state.at
    if step.id not in run.answers or (step.expect == "entries" and at and at.entries):
        return
    answers = {k: v for k, v in run.answers.items() if k != step.id}
    turn.state = turn.state.with_run(evolve(run, answers=answers))
    schedule.unplan(turn, step.id)
    if turn.keeps_answers(flow):
        turn.effects.append(ForgetAnswer(run=run.id, step=step.id))


def finish_entries(turn: Turn, flow: Flow, step: StepSpec) -> None:
    """ "Klaar" after a list of entries."""
    at = turn.position()
    if turn.keeps_answers(flow):
        # Written again after /terug: items beyond the new list are from before.
        turn.effects.append(ForgetAnswer(run=at.run, step=step.id, from_item=at.entries))
    follow(turn, flow, step, None)


def resume(turn: Turn) -> None:
    """The menu's "where I was" button: back to the place the menu interrupted."""
    turn.update(at=None)
    *rest, resumed = turn.state.suspended
    turn.update(at=resumed, suspended=tuple(rest))
    present(turn, again=True)


def open_menu(turn: Turn) -> None:
    """/menu: the menu, keeping the place it interrupts for "where I was"."""
    at = turn.state.at
    if at is not None and turn.flow(at.flow).kind == "menu":
        present(turn, again=True)
        return
    if at is not None:
        turn.update(suspended=(*turn.state.suspended, at), at=None)
    enter_flow(turn, MENU)


# --- buttons -------------------------------------------------------------------------------------


def buttons(turn: Turn, flow: Flow, step: StepSpec) -> Buttons:
    at = turn.position()

    def button(label_key: str, option: str) -> tuple[Button, ...]:
        return (button_for(turn, label_key, Token(run=at.run, step=step.id, option=option)),)

    rows: list[tuple[Button, ...]] = []
    if step.expect == "continue":
        rows.append(button("common:buttons.verder", NEXT))
    elif step.expect == "choice":
        rows += [
            button(f"{flow.id}:{step.id}.{o.id}", o.id) for o in choice_options(turn, flow, step)
        ]
        if flow.kind == "menu" and turn.state.suspended:
            rows.insert(0, button("common:menu.resume", RESUME))
    elif step.expect == "scale":
        rows += [button(f"common:scale.{s}", s) for s in SCALE]
    elif step.expect == "when":
        rows += [button(f"common:when.{p}", p) for p in WHEN_PRESETS]
    elif step.expect == "entries" and at.entries > 0:
        # After the first entry, "Klaar" is how to move on; skipping means the same.
        return (button("common:buttons.klaar", DONE),)
    asks_something = step.waits and step.expect != "continue"
    if step.skip is not None or (asks_something and flow.needs_consent):
        rows.append(button(step.skip_label or "common:buttons.overslaan", SKIP))
    return tuple(rows)


def choice_options(turn: Turn, flow: Flow, step: StepSpec) -> tuple[Option, ...]:
    """A step's options in the order they are offered. A menu offers the natural next step
    first: the first part of the chapter (in the menu's order) the person has not begun."""
    options = step.options
    if flow.kind != "menu":
        return options
    begun = {run.flow for run in turn.state.runs}
    for i, option in enumerate(options):
        target = turn.library.flows.get(option.flow or "")
        if target is not None and target.kind in ("reading", "exercise") and target.id not in begun:
            return (option, *options[:i], *options[i + 1 :])
    return options


def prompt_button(turn: Turn, label_key: str, prompt: str, option: str) -> tuple[Button, ...]:
    """A button of one of the engine's own questions, outside any flow."""
    return (button_for(turn, label_key, Token(run=PROMPT_RUN, step=prompt, option=option)),)


def button_for(turn: Turn, label_key: str, token: Token) -> Button:
    return Button(label=turn.label(label_key), token=token.format())
