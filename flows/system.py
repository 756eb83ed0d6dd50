"""The names the engine itself relies on, in one place: the flows it enters on its own, the
answers of its own questions, the words that turn the daily check-in off. `flows check` makes
sure the flows exist (see `REQUIRED_FLOWS`); everything else the author may rename freely."""

from __future__ import annotations

from datetime import time

# The flows the engine enters by itself, and the steps of them it names.
OPENING = "opening"  # a first contact starts here
MENU = "menu"  # /menu, and where /start leads someone who is not in a flow
DAILY = "dagelijks"  # the daily check-in
DAILY_STEP = "checkin"  # where a daily check-in enters it
REQUIRED_FLOWS: dict[str, tuple[str, ...]] = {
    OPENING: ("toestemming",),
    MENU: (),
    DAILY: (DAILY_STEP,),
}

# The kind of check-in that comes every day at the person's chosen time.
DAILY_KIND = "daily"
DAILY_EVERY = "1d"
# The daily time when an answer names none that can be read.
DEFAULT_DAILY_TIME = time(20, 0)
# The time of day a plan is set for when the person names only a day.
DEFAULT_PLAN_TIME = time(19, 0)

# The engine's own questions (Prompt.kind), and the answers their buttons carry.
CONSENT, FORGET, LANGUAGE, TIME, CRISIS = "consent", "forget", "language", "time", "crisis"
YES, NO = "ja", "nee"
CRISIS_PAUSE, CRISIS_CONTINUE = "pause", "continue"
# What a person may type to /tijd to turn the daily check-in off.
OFF_WORDS = ("uit", "off", "stop", "geen", "none")
