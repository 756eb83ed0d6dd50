"""A messy journey, played against the real coach (storage on a SQLite file, the dispatcher as
the scheduler runs it) and written out as a conversation: what a person really does (two
messages in a row, a pasted answer, words where a choice was asked, a crisis sentence in a list),
and time as it really passes (the daily check-in, quiet nights, the coach down for a week).

The scenario (tests/golden/messy-*.yaml) names, per step, what the person does there; steps it
does not name get a plain reply. `after` is what happens once the exercise has ended: time
passing (`wait`), the coach being down (`down_until`), commands.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import FixedClock
from bot.coach import Coach
from bot.storage import store
from flows import defaults, moments
from flows.events import ChoiceMade, Event, Started, TextReceived
from flows.messages import Message
from flows.model import Library
from flows.state import State
from flows.tokens import DONE, NEXT, SKIP, option_of
from flows.transcript import elapsed

CHANNEL = "test"
ADDRESS = "messy"
THINKING = timedelta(minutes=1)  # between one reply and the next
SECOND_THOUGHT = timedelta(seconds=5)  # a double text: well within the coach's window
PLAIN = {"text": "(…)", "scale": "gelijk", "when": "morgen", "clock": "20:00"}
MAX_ACTIONS = 600


class Journey:
    def __init__(self, library: Library, coach: Coach, clock: FixedClock, scenario: dict):
        self.library, self.coach, self.clock = library, coach, clock
        self.scenario = scenario
        self.tz = ZoneInfo(defaults.TIMEZONE)
        label = library.texts.label
        self.coach_name = label("nl", "common:transcript.coach", self.tz) + ":"
        self.you = label("nl", "common:transcript.you", self.tz) + ":"
        self.lines: list[str] = [f"# {scenario['title']}"]
        self.last: list[Message] = []
        self.sent: list[str] = []  # every message the person wrote, in order
        self.steps = {k: list(v) for k, v in scenario.get("steps", {}).items()}
        # The flows the person answers in; elsewhere (the opening they left for the menu) the
        # journey goes on with `after`.
        self.flows = set(scenario["flows"])
        self.after = deque(scenario.get("after", ()))

    # --- the person --------------------------------------------------------------------------

    def state(self) -> State:
        with self.coach.store.transaction() as session:
            person = store.find_person(session, CHANNEL, ADDRESS)
            return store.load_state(person) if person is not None else State()

    def send(self, event: Event, line: str) -> None:
        self.lines += ["", f"{self.you:6} {line}"]
        self.coach.handle(CHANNEL, ADDRESS, event)
        self.take()

    def say(self, text: str, gap: timedelta = THINKING) -> None:
        self.clock.advance(gap)
        self.sent.append(text)
        lines = text.splitlines() or [""]
        self.lines += ["", f"{self.you:6} {lines[0]}"] + [f"       {x}".rstrip() for x in lines[1:]]
        self.coach.handle(CHANNEL, ADDRESS, TextReceived(text=text, at=self.clock.now()))
        self.take()

    def press(self, option: str) -> bool:
        buttons = [b for m in reversed(self.last) for row in m.buttons for b in row]
        found = [b for b in buttons if option_of(b.token) == option]
        if not found:
            return False
        self.clock.advance(THINKING)
        self.send(ChoiceMade(token=found[0].token), f"[{found[0].label}]")
        return True

    def take(self) -> None:
        """What the coach sent, as a channel takes it from the outbox."""
        got: list[Message] = []
        outbox = self.coach.outbox(CHANNEL, lease=False)
        while ready := [o for o in outbox.take(50) if o.address == ADDRESS]:
            for outgoing in ready:
                if isinstance(outgoing.item, Message):
                    got.append(outgoing.item)
                else:  # /export's files, /mijn's chart
                    self.lines += ["", f"{self.coach_name:6} ({type(outgoing.item).__name__})"]
            outbox.sent([o.id for o in ready])
        for message in got:
            self.lines.append("")
            for text in message.plain.splitlines():
                self.lines.append(f"{self.coach_name:6} {text}".rstrip())
            for row in message.buttons:
                self.lines.append("       " + "  ".join(f"[{b.label}]" for b in row))
        if got:
            self.last = got

    # --- time --------------------------------------------------------------------------------

    def header(self, before: datetime, note: str | None = None) -> None:
        now = self.clock.now()
        when = moments.format_moment(now, "nl", self.tz)
        passed = elapsed(self.library, now - before, "nl", self.tz)
        self.lines += ["", f"── {passed}: {when}{f' ({note})' if note else ''} ──"]

    def wait_until(self, target: datetime) -> bool:
        """Time passes as the scheduler sees it: at each moment a check-in may go, the
        dispatcher runs. True when one arrived (the person answers it before time goes on)."""
        while (due := self.coach.next_due_at()) is not None and due <= target:
            before = self.clock.now()
            self.clock.moment = max(due, before)
            if self.coach.deliver_due():
                self.header(before)
                lines = len(self.lines)
                self.take()
                assert len(self.lines) > lines
                return True
        self.clock.moment = max(target, self.clock.now())
        return False

    def down_until(self, target: datetime, note: str) -> None:
        """The coach is down until `target`; then its dispatcher catches up at once."""
        before = self.clock.now()
        self.clock.moment = target
        self.header(before, note)
        if self.coach.deliver_due():
            self.take()

    # --- the script --------------------------------------------------------------------------

    def play(self) -> str:
        self.lines.append(f"── {moments.format_moment(self.clock.now(), 'nl', self.tz)} ──")
        self.send(Started(language="nl"), "/start")
        for action in self.scenario.get("before", ()):
            self.act(action)
        for _ in range(MAX_ACTIONS):
            state = self.state()
            at = state.at
            flow = self.library.flows[at.flow] if at else None
            if at is not None and flow is not None and at.flow in self.flows:
                # What the person does at a step, all of it, the first time they are there.
                queue = self.steps.pop(f"{at.flow}.{at.step}", None)
                if queue:
                    for action in queue:
                        self.act(action)
                else:
                    self.plain(flow.steps[at.step])
            elif self.after:
                self.act(self.after.popleft())
            else:
                return "\n".join(self.lines) + "\n"
        raise AssertionError("the journey did not end")

    def plain(self, step: Any) -> None:
        expect = step.expect or ""
        if expect == "continue":
            self.press(NEXT)
        elif expect == "entries":
            self.press(DONE)
        elif expect == "choice":
            self.press(step.options[0].id if step.options else SKIP)
        elif expect in PLAIN and (expect != "scale" or self.press(PLAIN[expect])):
            if expect != "scale":
                self.say(PLAIN[expect])
        else:
            self.press(SKIP)

    def act(self, action: Any) -> None:
        if isinstance(action, str):
            if not self.press(action):
                self.say(action)
        elif "double" in action:
            self.say(action["double"], gap=SECOND_THOUGHT)
        elif "say" in action:
            self.say(action["say"])
        elif "wait" in action:
            target = self.clock.now() + moments.parse_duration(action["wait"])
            if self.wait_until(target):
                self.after.appendleft({"until": target.isoformat()})
        elif "until" in action:
            target = datetime.fromisoformat(action["until"])
            if self.wait_until(target):
                self.after.appendleft(action)
        elif "down_until" in action:
            self.down_until(datetime.fromisoformat(action["down_until"]), action["note"])
        else:
            raise ValueError(f"unknown action {action!r}")
