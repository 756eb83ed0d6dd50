"""The coaching engine: one person's state and one event in, the next state and what to do out.

`Engine(library).advance(state, event, now)` reads no clock, opens nothing and knows no channel.
It returns a `Step`: the new state, the messages to send and the effects (save an answer, schedule
a check-in, …) that the shell carries out in one transaction.

A person's odd input (a sticker, an old button, text where a choice was expected) is an ordinary
event with a kind answer; a broken flow is caught by `flows check` before it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flows import moments, safety
from flows.effects import (
    CancelCheckins,
    DeletionRequested,
    Effect,
    ExportRequested,
    ForgetAnswer,
    RunFinished,
    RunStarted,
    SaveAnswer,
    ScheduleCheckin,
    ShowAnswers,
)
from flows.events import (
    COMMANDS,
    CheckinDue,
    ChoiceMade,
    CommandGiven,
    Event,
    MediaReceived,
    Started,
    TextEdited,
    TextReceived,
    parse_command,
)
from flows.messages import Button, Message, plain_text
from flows.model import END, SCALE, WHEN_PRESETS, Flow, Library, Option, Rule, StepSpec
from flows.state import Answer, AnswerRef, Position, Prompt, Run, State, evolve
from flows.texts import LANGUAGES

# A check-in that comes this much later than planned says so, kindly.
LATE_AFTER = timedelta(hours=6)
# After a message about suicide or acute danger, check-ins wait this long.
CRISIS_HOLD = timedelta(days=1)
# The time of day a plan is set for when the person names only a day.
DEFAULT_PLAN_TIME = time(19, 0)
# Steps that only talk are followed at once; a loop of them is a broken flow, not a hang.
MAX_STEPS_PER_EVENT = 100

# How many interrupted places are remembered; older ones are let go.
MAX_SUSPENDED = 3
# Options of the engine's own buttons, next to the flow's options in a token.
SKIP, DONE, NEXT, RESUME = "_skip", "_done", "_next", "_resume"
PROMPT_RUN = "x"  # the run part of tokens of the engine's own prompts

# Every common text the code (engine and shell) asks for; `flows check` makes sure they exist.
ENGINE_TEXT_KEYS = tuple(
    f"common:{key}"
    for key in (
        "buttons.verder",
        "buttons.overslaan",
        "buttons.klaar",
        "buttons.ja",
        "buttons.nee",
        *(f"scale.{s}" for s in SCALE),
        *(f"when.{p}" for p in WHEN_PRESETS),
        "when.not-understood",
        "when.confirm",
        "clock.not-understood",
        "entries.more",
        "choice.use-buttons",
        "stale-button",
        *(
            f"media.{k}"
            for k in ("sticker", "photo", "voice", "video", "location", "document", "other")
        ),
        "help",
        "welcome-back",
        "back-where-you-were",
        "nothing-to-go-back-to",
        "nothing-to-skip",
        "late",
        "idle",
        "unknown-command",
        "paused",
        "resumed",
        "already-paused",
        "not-paused",
        "language.ask",
        "language.set",
        "language.nl",
        "language.en",
        "time.ask",
        "time.set",
        "time.off",
        "time.invalid",
        "time.timezone-set",
        "time.timezone-invalid",
        "forget.ask",
        "forget.yes",
        "forget.no",
        "forget.cancelled",
        "forget.done",
        "consent.needed",
        "no-consent.stored-nothing",
        "menu.resume",
        # read by the shell for /mijn and /export
        "mine.header",
        "mine.empty",
        "mine.run",
        "mine.answer",
        "mine.more",
        "export.ready",
        "export.nothing",
        "export.title",
        "export.checkins",
        "crisis.help",
        "crisis.ask",
        "crisis.pause",
        "crisis.continue",
        "crisis.paused",
        "crisis.continued",
        "edit.saved",
        "edit.not-latest",
        # the author's transcript (flows/transcript.py)
        "transcript.coach",
        "transcript.you",
        "transcript.days-later",
        "transcript.hours-later",
    )
)


@dataclass(frozen=True, kw_only=True)
class Step:
    """What one event led to."""

    state: State
    messages: tuple[Message, ...]
    effects: tuple[Effect, ...]


class Engine:
    def __init__(self, library: Library):
        self.library = library

    def advance(self, state: State, event: Event, now: datetime) -> Step:
        if now.utcoffset() is None:
            raise ValueError("now must carry its time zone")
        turn = _Turn(self.library, _normalise(state, self.library), now.astimezone(UTC))
        turn.handle(event)
        final = evolve(turn.state, last_event_at=turn.now)
        return Step(state=final, messages=tuple(turn.messages), effects=tuple(turn.effects))


class _NoFlow:
    steps: dict[str, Any] = {}


_NO_FLOW = _NoFlow()


def _normalise(state: State, library: Library) -> State:
    """Positions on steps a newer flow revision removed move where the flow's `moved:` says."""

    def fix(position: Position | None) -> Position | None:
        if position is None:
            return None
        flow = library.flows.get(position.flow)
        if flow is None:
            return None
        if position.step in flow.steps:
            return position
        step = flow.moved.get(position.step, flow.start)
        return evolve(position, step=step, entries=0)

    positions = (state.at, *state.suspended)
    if all(p is None or p.step in library.flows.get(p.flow, _NO_FLOW).steps for p in positions):
        return state  # the usual case: every position still exists
    suspended = tuple(p for p in (fix(p) for p in state.suspended) if p is not None)
    return evolve(state, at=fix(state.at), suspended=suspended)


class _Turn:
    """The work of one event: accumulates messages and effects while the state evolves."""

    def __init__(self, library: Library, state: State, now: datetime):
        self.library = library
        self.state = state
        self.now = now
        self.messages: list[Message] = []
        self.effects: list[Effect] = []
        self.late = False  # this turn delivers a check-in much later than planned
        self.ref: str | None = None  # the platform's id of the message being handled
        self.presented = 0  # steps presented in this turn, to catch flows that never wait

    # --- dispatch --------------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        if isinstance(event, Started):
            self.on_start(event.language, event.flow)
        elif isinstance(event, TextReceived):
            self.ref = event.ref
            self.on_text(event.text)
        elif isinstance(event, TextEdited):
            self.on_edit(event.text, event.ref)
        elif isinstance(event, ChoiceMade):
            self.on_choice(event.token)
        elif isinstance(event, MediaReceived):
            self.say(f"common:media.{event.kind}")
            self.reask()
        elif isinstance(event, CommandGiven):
            self.on_command(event.name, event.argument)
        elif isinstance(event, CheckinDue):
            self.on_checkin(event)
        else:  # a programming error, not a person's odd input
            raise TypeError(f"unknown event {event!r}")

    # --- small helpers ---------------------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.state.timezone)  # ZoneInfo keeps one instance per key

    @property
    def texts(self) -> Any:
        return self.library.texts

    def update(self, **changes: Any) -> None:
        self.state = evolve(self.state, **changes)

    def new_id(self, prefix: str) -> str:
        counter = self.state.counter + 1
        self.update(counter=counter)
        return prefix + _base36(counter)

    def render(self, key: str, **context: Any) -> str:
        return self.texts.render(self.state.lang, key, self.tz, **context)

    def label(self, key: str) -> str:
        return self.texts.label(self.state.lang, key, self.tz)

    def say(self, key: str, buttons: tuple[tuple[Button, ...], ...] = (), **context: Any) -> None:
        quotes = self.texts.quotes(self.state.lang, key)
        self.messages.append(
            Message(key=key, text=self.render(key, **context), buttons=buttons, quotes=quotes)
        )

    def flow(self, flow_id: str) -> Flow:
        return self.library.flows[flow_id]

    def current(self) -> tuple[Flow, StepSpec] | None:
        at = self.state.at
        if at is None:
            return None
        flow = self.flow(at.flow)
        return flow, flow.steps[at.step]

    def run(self) -> Run:
        at = self.state.at
        assert at is not None
        run = self.state.run(at.run)
        if run is None:  # the state lost it (an old state); carry on with an empty one
            run = Run(
                id=at.run, flow=at.flow, version=self.flow(at.flow).version, started_at=self.now
            )
            self.state = self.state.with_run(run)
        return run

    def later(self, moment: datetime, delta: timedelta) -> datetime:
        """`delta` after `moment` on the person's wall clock: "in a week" at 20:00 stays 20:00
        when summer time begins in between."""
        return (moment.astimezone(self.tz) + delta).astimezone(UTC)

    def keeps_answers(self, flow: Flow) -> bool:
        return flow.needs_consent and self.state.consent == "given"

    # --- entering and leaving steps --------------------------------------------------------------

    def enter_flow(
        self, flow_id: str, *, step: str | None = None, run_id: str | None = None
    ) -> None:
        flow = self.flow(flow_id)
        if flow.needs_consent and self.state.consent != "given":
            self.update(prompt=Prompt(kind="consent", flow=flow_id))
            self.say("common:consent.needed", self.yes_no("consent"))
            return
        if run_id is None or self.state.run(run_id) is None:
            run = Run(
                id=run_id or self.new_id("r"),
                flow=flow_id,
                version=flow.version,
                started_at=self.now,
            )
            self.state = self.state.with_run(run)
            run_id = run.id
        self.update(at=Position(flow=flow_id, step=step or flow.start, run=run_id), prompt=None)
        self.present()

    def go(self, step_id: str) -> None:
        """Move to another step of the current run and present it."""
        at = self.state.at
        assert at is not None
        if step_id == END:
            self.end_flow()
            return
        if self.flow(at.flow).steps[at.step].waits:
            run = self.run()
            self.state = self.state.with_run(evolve(run, history=(*run.history, at.step)))
        self.update(at=Position(flow=at.flow, step=step_id, run=at.run))
        self.present()

    def present(self, *, again: bool = False) -> None:
        """Send the current step's messages (only its last one when asking again); a step that
        waits for nothing is followed at once."""
        current = self.current()
        if current is None:
            return
        self.presented += 1
        if self.presented > MAX_STEPS_PER_EVENT:
            raise RuntimeError(f"flow '{current[0].id}' loops without waiting for the person")
        flow, step = current
        keys = list(step.say)
        if step.say_one_of:
            local_day = self.now.astimezone(self.tz).date().toordinal()
            keys.append(step.say_one_of[local_day % len(step.say_one_of)])
        if again:
            keys = keys[-1:]
        context = self.template_context()
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            self.say(key, self.buttons(flow, step) if last else (), **context)
        if not step.waits:
            self.follow(flow, step, None)

    def reask(self) -> None:
        if self.state.prompt is not None and self.state.prompt.kind != "time":
            self.update(prompt=None)
        if self.state.at is None:
            self.say("common:idle")
        else:
            self.present(again=True)

    def follow(self, flow: Flow, step: StepSpec, option: Option | None) -> None:
        """Leave `step` the way its rules (or the chosen option) say."""
        if option is not None and option.flow is not None:
            self.finish_run(flow)
            # Starting an exercise anew lets its unfinished run go; other places are kept, so
            # re-reading the poem mid-exercise leads back to the exercise.
            kept = tuple(p for p in self.state.suspended if p.flow != option.flow)
            self.update(suspended=kept)
            self.enter_flow(option.flow)
            return
        rules = option.next if option is not None and option.next is not None else step.next
        self.go(self.resolve(rules or ()))

    def resolve(self, rules: tuple[Rule, ...]) -> str:
        answers = self.run().answers
        for rule in rules:
            if rule.answer is None:
                return rule.goto
            answer = answers.get(rule.answer)
            if answer is not None and str(answer.value) in rule.values:
                return rule.goto
        return END

    def end_flow(self) -> None:
        at = self.state.at
        assert at is not None
        flow = self.flow(at.flow)
        self.finish_run(flow)
        self.update(at=None)
        if self.state.suspended:
            *rest, resumed = self.state.suspended
            self.update(at=resumed, suspended=tuple(rest))
            self.say("common:back-where-you-were")
            self.present(again=True)
        elif flow.after is not None:
            self.enter_flow(flow.after)
        else:
            self.say("common:idle")

    def finish_run(self, flow: Flow) -> None:
        run = self.state.run(self.state.at.run) if self.state.at else None
        if run is not None and run.recorded:
            self.effects.append(RunFinished(run=run.id, at=self.now))

    # --- buttons ---------------------------------------------------------------------------------

    def buttons(self, flow: Flow, step: StepSpec) -> tuple[tuple[Button, ...], ...]:
        at = self.state.at
        assert at is not None

        def button(label_key: str, option: str) -> tuple[Button, ...]:
            return (Button(label=self.label(label_key), token=f"{at.run}:{step.id}:{option}"),)

        rows: list[tuple[Button, ...]] = []
        if step.expect == "continue":
            rows.append(button("common:buttons.verder", NEXT))
        elif step.expect == "choice":
            rows += [button(f"{flow.id}:{step.id}.{o.id}", o.id) for o in step.options]
            if flow.kind == "menu" and self.state.suspended:
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

    def yes_no(self, prompt: str) -> tuple[tuple[Button, ...], ...]:
        return (
            (Button(label=self.label("common:buttons.ja"), token=f"{PROMPT_RUN}:{prompt}:ja"),),
            (Button(label=self.label("common:buttons.nee"), token=f"{PROMPT_RUN}:{prompt}:nee"),),
        )

    # --- templates -------------------------------------------------------------------------------

    def template_context(self, **extra: Any) -> dict[str, Any]:
        at = self.state.at
        answers = _Answers(self, self.run(), self.flow(at.flow)) if at else NO_ANSWERS
        return {"answers": answers, "late": self.late, **extra}

    def answer_text(self, flow: Flow, step_id: str, answer: Answer) -> str:
        return describe_answer(
            self.library, self.state.lang, self.tz, flow.id, step_id, answer.kind, answer.value
        )

    # --- answers ---------------------------------------------------------------------------------

    def record(
        self, flow: Flow, step: StepSpec, value: Any, kind: str, *, item: int = 0, shown: Any = None
    ) -> None:
        """Keep an answer in the run (for quoting and branching) and, with consent, in storage."""
        at = self.state.at
        assert at is not None
        run = self.run()
        if self.keeps_answers(flow):
            if not run.recorded:
                self.effects.append(
                    RunStarted(
                        run=run.id, flow=flow.id, flow_version=flow.version, at=run.started_at
                    )
                )
                run = evolve(run, recorded=True)
            self.save(run, flow, step, value, kind, item)
        stored = Answer(value=shown if shown is not None else value, at=self.now, kind=kind)
        answers = {**run.answers, step.id: stored}
        self.state = self.state.with_run(evolve(run, answers=answers))
        if self.ref is not None and kind in ("text", "entries"):
            self.update(
                last_answer=AnswerRef(
                    ref=self.ref, run=run.id, flow=flow.id, step=step.id, item=item
                )
            )

    def save(self, run: Run, flow: Flow, step: StepSpec, value: Any, kind: str, item: int) -> None:
        """Ask storage to keep the answer, with the question it answers (for /mijn, /export)."""
        question = step.say[-1] if step.say else f"{flow.id}:{step.id}"
        self.effects.append(
            SaveAnswer(
                run=run.id,
                flow=flow.id,
                step=step.id,
                question=question,
                kind=kind,
                value=value,
                item=item,
                at=self.now,
            )
        )

    def on_edit(self, text: str, ref: str) -> None:
        """An edit of the latest written answer replaces it; older answers stay as they were."""
        if safety.assess(text, self.library.safety).is_crisis:
            self.on_crisis(text, keep=False)  # help first; the edit is no answer to this step
            return
        target = self.state.last_answer
        run = self.state.run(target.run) if target is not None else None
        if target is None or target.ref != ref or run is None:
            self.say("common:edit.not-latest")
            return
        flow = self.flow(target.flow)
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
        if self.keeps_answers(flow):
            self.save(run, flow, step, text, kind, target.item)
        answers = {**run.answers, step.id: Answer(value=shown, at=self.now, kind=kind)}
        self.state = self.state.with_run(evolve(run, answers=answers))
        self.say("common:edit.saved")

    def answer(self, value: Any, kind: str, option: Option | None = None) -> None:
        flow, step = self.current()  # type: ignore[misc]
        self.record(flow, step, value, kind)
        self.unschedule(step.id)  # answered again after /terug: the new answer decides
        for spec in filter(None, (step.schedule, option.schedule if option else None)):
            self.schedule(flow, spec, value)
        if option is not None:
            self.apply_option(flow, option)
            if self.state.at is None or self.state.at.step != step.id:
                return  # the option's command moved the conversation already
        self.follow(flow, step, option)

    def apply_option(self, flow: Flow, option: Option) -> None:
        for field, value in option.sets.items():
            self.update(**{field: value})
            if field == "consent" and value == "declined":
                self.say("common:no-consent.stored-nothing")
        if option.cancel:
            self.effects.append(CancelCheckins(kinds=option.cancel, flow=flow.id))
        if option.command is not None:
            self.on_command(option.command, "", from_menu=True)

    def unschedule(self, step_id: str) -> None:
        """Cancel the check-ins an earlier answer to this step of this run asked for."""
        run = self.run()
        earlier = run.scheduled.get(step_id)
        if earlier:
            self.effects.append(CancelCheckins(checkins=earlier))
            scheduled = {k: v for k, v in run.scheduled.items() if k != step_id}
            self.state = self.state.with_run(evolve(run, scheduled=scheduled))

    def schedule(self, flow: Flow, spec: Any, value: Any) -> None:
        if self.state.consent != "given":
            return  # nothing is kept for someone who said no, check-ins included
        at = self.state.at
        assert at is not None
        if spec.kind == "daily":
            clock = moments.parse_clock(str(value)) or time(20, 0)
            self.effects.append(CancelCheckins(kinds=("daily",)))
            due = moments.next_daily(clock, self.tz, self.now)
            every: str | None = "1d"
        elif spec.at_answer:
            due = datetime.fromisoformat(str(value)).astimezone(UTC)
            every = spec.every
        else:
            due = self.later(self.now, spec.after)
            every = spec.every
        checkin = self.new_id("c")
        run = self.run()
        ids = (*run.scheduled.get(at.step, ()), checkin)
        self.state = self.state.with_run(evolve(run, scheduled={**run.scheduled, at.step: ids}))
        self.effects.append(
            ScheduleCheckin(
                checkin=checkin,
                kind=spec.kind,
                flow=spec.flow,
                step=spec.step,
                run=None if spec.new_run else at.run,
                due_at=due,
                every=every,
            )
        )

    # --- text ------------------------------------------------------------------------------------

    def on_text(self, text: str) -> None:
        if text.startswith("/"):
            command = parse_command(text)
            if command is None:
                self.say("common:unknown-command")
                self.reask()
            else:
                self.on_command(command.name, command.argument)
            return
        if safety.assess(text, self.library.safety).is_crisis:
            self.on_crisis(text)
            return
        prompt = self.state.prompt
        if prompt is not None:
            if prompt.kind == "time":
                self.on_time_text(text)
                return
            option = self.match_prompt_text(prompt, text)
            if option is not None:
                self.on_prompt_choice(prompt, option)
                return
            self.update(prompt=None)
        current = self.current()
        if current is None:
            if self.state.consent == "unknown":
                self.on_start(None)
            else:
                self.say("common:idle")
            return
        flow, step = current
        expect = step.expect
        if expect in (None, "continue"):
            self.follow(flow, step, None)
        elif expect == "text":
            self.answer(text, "text")
        elif expect == "entries":
            self.add_entry(flow, step, text)
        elif expect in ("choice", "scale"):
            option_id = self.match_option(flow, step, text)
            if option_id is None:
                self.say("common:choice.use-buttons")
                self.present(again=True)
            else:
                self.on_option(flow, step, option_id)
        elif expect == "when":
            moment = moments.parse_moment(
                text, self.state.lang, self.now, self.tz, DEFAULT_PLAN_TIME
            )
            if moment is None:
                self.say("common:when.not-understood")
                self.present(again=True)
            else:
                self.answer_moment(moment)
        elif expect == "clock":
            clock = moments.parse_clock(text)
            if clock is None:
                self.say("common:clock.not-understood")
                self.present(again=True)
            else:
                self.answer_clock(clock)

    def add_entry(self, flow: Flow, step: StepSpec, text: str, *, reply: bool = True) -> None:
        at = self.state.at
        assert at is not None
        previous = self.run().answers.get(step.id)
        items = [*(previous.value if previous and at.entries > 0 else []), text]
        self.record(flow, step, text, "entries", item=at.entries, shown=items)
        self.update(at=evolve(at, entries=at.entries + 1))
        if reply:
            self.say("common:entries.more", self.buttons(flow, step))

    def answer_moment(self, moment: datetime) -> None:
        self.say(
            "common:when.confirm", moment=moments.format_moment(moment, self.state.lang, self.tz)
        )
        self.answer(moment.isoformat(), "when")

    def answer_clock(self, clock: time) -> None:
        text = moments.format_clock(clock)
        self.update(checkin_time=text)
        self.answer(text, "clock")

    def match_option(self, flow: Flow, step: StepSpec, text: str) -> str | None:
        """Someone typed instead of pressing: accept the option's number or its label."""
        ids = [o.id for o in step.options] if step.expect == "choice" else list(SCALE)
        wanted = text.strip().casefold().rstrip(".")
        if wanted.isdigit() and 1 <= int(wanted) <= len(ids):
            return ids[int(wanted) - 1]
        for option_id in ids:
            key = (
                f"{flow.id}:{step.id}.{option_id}"
                if step.expect == "choice"
                else f"common:scale.{option_id}"
            )
            if wanted in (option_id, self.label(key).casefold()):
                return option_id
        return None

    def match_prompt_text(self, prompt: Prompt, text: str) -> str | None:
        wanted = text.strip().casefold()
        options = {"language": LANGUAGES}.get(prompt.kind, ("ja", "nee"))
        for option in options:
            label_key = (
                f"common:language.{option}"
                if prompt.kind == "language"
                else f"common:buttons.{option}"
            )
            if wanted in (option, self.label(label_key).casefold()):
                return option
        return None

    # --- buttons pressed -------------------------------------------------------------------------

    def on_choice(self, token: str) -> None:
        run_id, _, rest = token.partition(":")
        step_id, _, option = rest.partition(":")
        prompt = self.state.prompt
        if run_id == PROMPT_RUN:
            if prompt is not None and prompt.kind == step_id:
                self.on_prompt_choice(prompt, option)
            else:
                self.stale()
            return
        at = self.state.at
        if at is None or at.run != run_id or at.step != step_id:
            self.stale()
            return
        self.update(prompt=None)
        flow, step = self.current()  # type: ignore[misc]
        if option == SKIP:
            self.skip()
        elif option == NEXT and step.expect == "continue":
            self.follow(flow, step, None)
        elif option == DONE and step.expect == "entries":
            if self.keeps_answers(flow):
                # Written again after /terug: items beyond the new list are from before.
                self.effects.append(ForgetAnswer(run=at.run, step=step.id, from_item=at.entries))
            self.follow(flow, step, None)
        elif option == RESUME and self.state.suspended:
            self.update(at=None)
            *rest_, resumed = self.state.suspended
            self.update(at=resumed, suspended=tuple(rest_))
            self.present(again=True)
        elif step.expect == "when" and option in WHEN_PRESETS:
            local = moments.preset_moment(option, self.now, self.tz, DEFAULT_PLAN_TIME)
            self.answer_moment(local)
        elif step.expect in ("choice", "scale") and self.valid_option(step, option):
            self.on_option(flow, step, option)
        else:
            self.stale()

    def valid_option(self, step: StepSpec, option: str) -> bool:
        return step.option(option) is not None if step.expect == "choice" else option in SCALE

    def on_option(self, flow: Flow, step: StepSpec, option_id: str) -> None:
        option = step.option(option_id) if step.expect == "choice" else None
        self.answer(option_id, step.expect or "choice", option)

    def stale(self) -> None:
        self.say("common:stale-button")
        self.reask()

    # --- the engine's own prompts ----------------------------------------------------------------

    def on_prompt_choice(self, prompt: Prompt, option: str) -> None:
        self.update(prompt=None)
        if prompt.kind == "forget":
            if option == "ja":
                self.effects.append(DeletionRequested())
                lang = self.state.lang
                self.state = State(lang=lang, consent="unknown", counter=self.state.counter)
                self.say("common:forget.done")
            else:
                self.say("common:forget.cancelled")
                self.reask()
        elif prompt.kind == "language" and option in LANGUAGES:
            self.update(lang=option)
            self.say("common:language.set")
            self.reask()
        elif prompt.kind == "consent":
            if option == "ja":
                self.update(consent="given")
                self.enter_flow(prompt.flow or "menu")
            else:
                self.say("common:no-consent.stored-nothing")
                self.reask()
        elif prompt.kind == "crisis":
            if option == "continue":
                self.update(held_until=None)
                self.say("common:crisis.continued")
                current = self.current()
                if prompt.answered and current is not None and current[1].expect == "text":
                    self.follow(*current, None)
                else:
                    self.reask()
            else:
                self.say("common:crisis.paused")
        else:
            self.stale()

    def on_crisis(self, text: str, *, keep: bool = True) -> None:
        """Help first. Keep what they wrote when it answers a question; hold check-ins a day."""
        answered = False
        current = self.current() if keep else None
        if current is not None and current[1].expect == "text":
            self.record(*current, text, "text")
            answered = True
        elif current is not None and current[1].expect == "entries":
            self.add_entry(*current, text, reply=False)
        until = self.now + CRISIS_HOLD
        self.update(held_until=until, prompt=Prompt(kind="crisis", answered=answered))
        self.say("common:crisis.help")
        pause = Button(label=self.label("common:crisis.pause"), token=f"{PROMPT_RUN}:crisis:pause")
        go_on = Button(
            label=self.label("common:crisis.continue"), token=f"{PROMPT_RUN}:crisis:continue"
        )
        self.say("common:crisis.ask", ((pause,), (go_on,)))

    # --- commands --------------------------------------------------------------------------------

    def on_start(self, language: str | None, flow: str | None = None) -> None:
        first_contact = self.state.consent == "unknown" and self.state.at is None
        if flow in self.library.flows and not first_contact:
            if self.state.at is not None:
                self.update(suspended=(*self.state.suspended, self.state.at), at=None)
            self.enter_flow(flow)
        elif first_contact:
            if language:
                lang = language.split("-")[0].lower()
                if lang in LANGUAGES:
                    self.update(lang=lang)
            self.enter_flow("opening")
        elif self.state.at is not None:
            self.say("common:welcome-back")
            self.present(again=True)
        else:
            self.enter_flow("menu")

    def on_command(self, name: str, argument: str, *, from_menu: bool = False) -> None:
        assert name in COMMANDS
        # A question of the engine's own (confirm /vergeet, …) is only answered right away.
        self.update(prompt=None)
        if name == "start":
            self.on_start(None, argument or None)
        elif name == "menu":
            self.open_menu()
        elif name == "help":
            self.say("common:help")
            if not from_menu:
                self.reask()
        elif name == "skip":
            self.skip()
        elif name == "back":
            self.back()
        elif name == "pause":
            self.say("common:already-paused" if self.state.paused else "common:paused")
            self.update(paused=True)
        elif name == "resume":
            self.say("common:resumed" if self.state.paused else "common:not-paused")
            self.update(paused=False, held_until=None)
        elif name == "time":
            self.on_time_command(argument)
        elif name == "language":
            self.on_language_command(argument)
        elif name in ("mine", "export"):
            # The shell reads storage and sends what it finds before this turn's messages.
            self.effects.append(ShowAnswers() if name == "mine" else ExportRequested())
            if not from_menu:
                self.reask()
        elif name == "forget":
            self.update(prompt=Prompt(kind="forget"))
            self.say("common:forget.ask", self.yes_no("forget"))

    def open_menu(self) -> None:
        at = self.state.at
        if at is not None and self.flow(at.flow).kind == "menu":
            self.present(again=True)
            return
        if at is not None:
            self.update(suspended=(*self.state.suspended, at), at=None)
        self.enter_flow("menu")

    def skip(self) -> None:
        current = self.current()
        if self.state.prompt is not None:
            self.update(prompt=None)
            self.reask()
            return
        if current is None or not current[1].waits:
            self.say("common:nothing-to-skip")
            self.reask()
            return
        flow, step = current
        self.withdraw(flow, step)
        if step.skip is not None:
            self.go(step.skip)
        else:
            self.follow(flow, step, None)

    def withdraw(self, flow: Flow, step: StepSpec) -> None:
        """Skipping a step answered before (after /terug) takes that answer back."""
        run = self.run()
        at = self.state.at
        if step.id not in run.answers or (step.expect == "entries" and at and at.entries):
            return
        answers = {k: v for k, v in run.answers.items() if k != step.id}
        self.state = self.state.with_run(evolve(run, answers=answers))
        self.unschedule(step.id)
        if self.keeps_answers(flow):
            self.effects.append(ForgetAnswer(run=run.id, step=step.id))

    def back(self) -> None:
        at = self.state.at
        run = self.state.run(at.run) if at else None
        if at is None or run is None or not run.history:
            self.say("common:nothing-to-go-back-to")
            self.reask()
            return
        previous = run.history[-1]
        self.state = self.state.with_run(evolve(run, history=run.history[:-1]))
        self.update(at=Position(flow=at.flow, step=previous, run=at.run))
        self.present()

    def on_time_command(self, argument: str) -> None:
        words = argument.split()
        if not words:
            self.update(prompt=Prompt(kind="time"))
            self.say(
                "common:time.ask", time=self.state.checkin_time or "", timezone=self.state.timezone
            )
            return
        self.on_time_text(argument)

    def on_time_text(self, text: str) -> None:
        """`20:00` sets the daily check-in, `uit`/`off` stops it, a zone name changes the zone."""
        self.update(prompt=None)
        words = text.split()
        zone = next((w for w in words if "/" in w), None)
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                self.say("common:time.timezone-invalid")
                return
            self.update(timezone=zone)
            self.say("common:time.timezone-set", timezone=zone)
            if self.state.checkin_time:
                self.schedule_daily(moments.parse_clock(self.state.checkin_time) or time(20, 0))
            return
        if text.strip().casefold() in ("uit", "off", "stop", "geen", "none"):
            self.update(checkin_time=None)
            self.effects.append(CancelCheckins(kinds=("daily",)))
            self.say("common:time.off")
            return
        clock = moments.parse_clock(text)
        if clock is None:
            self.say("common:time.invalid")
            return
        if self.state.consent != "given":
            self.update(prompt=Prompt(kind="consent", flow="dagelijks"))
            self.say("common:consent.needed", self.yes_no("consent"))
            return
        self.update(checkin_time=moments.format_clock(clock))
        self.schedule_daily(clock)
        self.say("common:time.set", time=self.state.checkin_time, timezone=self.state.timezone)

    def schedule_daily(self, clock: time) -> None:
        self.effects.append(CancelCheckins(kinds=("daily",)))
        self.effects.append(
            ScheduleCheckin(
                checkin=self.new_id("c"),
                kind="daily",
                flow="dagelijks",
                step="checkin",
                run=None,
                due_at=moments.next_daily(clock, self.tz, self.now),
                every="1d",
            )
        )

    def on_language_command(self, argument: str) -> None:
        lang = argument.strip().lower()[:2]
        if lang in LANGUAGES:
            self.update(lang=lang)
            self.say("common:language.set")
            self.reask()
            return
        self.update(prompt=Prompt(kind="language"))
        rows = tuple(
            (
                Button(
                    label=self.label(f"common:language.{code}"),
                    token=f"{PROMPT_RUN}:language:{code}",
                ),
            )
            for code in LANGUAGES
        )
        self.say("common:language.ask", rows)

    # --- check-ins -------------------------------------------------------------------------------

    def on_checkin(self, due: CheckinDue) -> None:
        flow = self.library.flows.get(due.flow)
        if flow is None or due.step not in flow.steps or self.state.consent != "given":
            return  # the flow changed or consent was withdrawn: nothing to say
        if due.every:
            self.schedule_next(due)
        at = self.state.at
        if at is not None and not (at.flow == due.flow and flow.kind == "checkin"):
            # The check-in comes first; afterwards the person is brought back here. (Yesterday's
            # unanswered daily check-in is simply let go: today's takes its place.)
            suspended = (*self.state.suspended, at)[-MAX_SUSPENDED:]
            self.update(suspended=suspended)
        self.update(at=None, prompt=None)
        if self.now - due.due_at > LATE_AFTER:
            self.late = True
            self.say("common:late")
        run = self.state.run(due.run) if due.run else None
        if run is not None:  # /terug within the check-in stops where the check-in began
            self.state = self.state.with_run(evolve(run, history=()))
        self.enter_flow(due.flow, step=due.step, run_id=due.run)

    def schedule_next(self, due: CheckinDue) -> None:
        if due.kind == "daily":
            clock = moments.parse_clock(self.state.checkin_time or "")
            if clock is None:
                return  # the person turned the daily check-in off
            next_due = moments.next_daily(clock, self.tz, self.now)
        else:
            every = moments.parse_duration(due.every or "")
            next_due = self.later(due.due_at, every)
            while next_due <= self.now:
                next_due = self.later(next_due, every)
        self.effects.append(
            ScheduleCheckin(
                checkin=self.new_id("c"),
                kind=due.kind,
                flow=due.flow,
                step=due.step,
                run=due.run,
                due_at=next_due,
                every=due.every,
            )
        )


class _AnswerView:
    """An answer as a template sees it: `.text`, `.items`, `.value`, `.at`."""

    def __init__(self, turn: _Turn, flow: Flow, step_id: str, answer: Answer):
        self._turn, self._flow, self._step_id, self._answer = turn, flow, step_id, answer
        self.value = answer.value
        self.at = answer.at
        self.items = tuple(answer.value) if answer.kind == "entries" else (answer.value,)

    @property
    def text(self) -> str:
        return self._turn.answer_text(self._flow, self._step_id, self._answer)

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

    def __init__(self, turn: _Turn | None, run: Run | None, flow: Flow | None):
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


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out
