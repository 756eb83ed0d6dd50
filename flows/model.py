"""The parsed form of flow files: what the engine walks. Built by `flows.loader`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

EXPECTS = ("continue", "text", "entries", "choice", "scale", "when", "clock")
FLOW_KINDS = ("opening", "reading", "exercise", "checkin", "menu", "dialogue")
# Flows whose answers are stored: they need the person's consent first.
CONSENT_KINDS = ("exercise", "checkin")
SCALE = ("geef-veel", "geef-wat", "gelijk", "neem-wat", "neem-veel")
WHEN_PRESETS = ("morgen", "weekend", "volgende-week")
END = "end"
# The conversation rests here ("Stoppen voor nu"): nothing more is said, and the places the person
# was at stay kept for when they come back.
REST = "rest"
# In a dialogue flow (the engine's own questions): back to the person's place, asked again.
BACK = "back"


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """A flow file's `schedule:`, the *spec* of a return: enter `flow` at `step` after `after`,
    or at the moment the answer names. It names no person and no moment; when a person answers,
    the engine makes it a `flows.checkin.Checkin` (an id, a due time in UTC), and that is what
    the effect, the stored row and the event carry."""

    flow: str
    step: str
    kind: str
    after: timedelta | None
    at_answer: bool
    new_run: bool
    every: str | None  # kept as written ("14d") so it travels in check-in rows
    line: int


@dataclass(frozen=True, kw_only=True)
class Rule:
    """`if: {answer: step, in: [...]}, goto: target`; `answer` None means "otherwise"."""

    answer: str | None
    values: tuple[str, ...]
    goto: str
    line: int


@dataclass(frozen=True, kw_only=True)
class Option:
    id: str
    next: tuple[Rule, ...] | None = None
    flow: str | None = None
    command: str | None = None
    sets: dict[str, Any] = field(default_factory=dict)
    cancel: tuple[str, ...] = ()
    schedule: Schedule | None = None
    label: str | None = None  # the button's text key, when not "<flow>:<step>.<option>"
    do: str | None = None  # dialogue flows: what the engine does when this is chosen
    typed: str | None = None  # text key: words that, typed alone, choose this option ("ja, nee")
    line: int = 0


NO_ACK = "none"


@dataclass(frozen=True, kw_only=True)
class StepSpec:
    id: str
    say: tuple[str, ...]  # absolute text keys, e.g. "oefening-1.relatie.vraag"
    say_one_of: tuple[str, ...]
    expect: str | None
    options: tuple[Option, ...]
    next: tuple[Rule, ...] | None
    skip: str | None
    skip_label: str | None
    schedule: Schedule | None
    line: int
    do: str | None = None  # dialogue flows: what the engine does with the text written here
    # The group of acknowledgements said after an answer here (`ack:`); None: the default
    # (written answers in an exercise), NO_ACK: none.
    ack: str | None = None
    # A choice or scale: the step that asks for the same in the person's own words. Words typed
    # here instead of a choice become that step's answer, and the choice then goes past it.
    words: str | None = None

    @property
    def waits(self) -> bool:
        return self.expect is not None

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True, kw_only=True)
class Flow:
    id: str
    version: int
    kind: str
    title: str
    start: str
    after: str | None
    moved: dict[str, str]
    steps: dict[str, StepSpec]
    path: str
    serves: str | None = None  # dialogue flows: which of the engine's questions this is

    @property
    def needs_consent(self) -> bool:
        return self.kind in CONSENT_KINDS


@dataclass(frozen=True, kw_only=True)
class Library:
    """Everything the engine needs to know about the chapter: flows, texts, safety rules."""

    flows: dict[str, Flow]
    texts: Any  # flows.texts.Texts
    safety: Any  # flows.safety.SafetyCheck

    def dialogue(self, role: str) -> Flow:
        """The dialogue flow that serves `role` (`flows.system.DIALOGUES`); `flows check` makes
        sure there is exactly one."""
        for flow in self.flows.values():
            if flow.serves == role:
                return flow
        raise KeyError(f"no flow serves the dialogue {role!r}")
