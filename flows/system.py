"""The names the engine itself relies on, in one place: the flows it enters on its own, the
answers of its own questions, the words that turn the daily check-in off. `flows check` makes
sure the flows exist (see `REQUIRED_FLOWS`); everything else the author may rename freely."""

from __future__ import annotations

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
# The kind of check-in that invites a person to do an exercise again; one series per exercise.
REPEAT_KIND = "repeat"
DAILY_EVERY = "1d"
# The daily time and the time of a plan that names only a day are defaults: flows/defaults.py.

# The engine's own questions: each is a dialogue flow (`kind: dialogue`) that says `serves:`
# one of these; the role is also the open question's name in the state (`Prompt.kind`).
CONSENT, FORGET, LANGUAGE, TIME, CRISIS = "consent", "forget", "language", "time", "crisis"
DIALOGUES = (CONSENT, FORGET, LANGUAGE, TIME, CRISIS)
# What a dialogue option may make the engine do (`do:`), besides saying its reply.
GIVE_CONSENT = "give-consent"  # consent given: enter the flow that asked for it
FORGET_EVERYTHING = "forget-everything"  # delete all that was stored, start afresh
SET_LANGUAGE = "set-language"  # the option's id is the language
LIFT_HOLD = "lift-hold"  # check-ins held after a crisis message may come again
HOLD_CHECKINS = "hold-checkins"  # "yes" to the gentle question: check-ins wait, as after a crisis
OPTION_ACTIONS = (GIVE_CONSENT, FORGET_EVERYTHING, SET_LANGUAGE, LIFT_HOLD, HOLD_CHECKINS)
# The steps of dialogues the engine opens by name, besides their start: the crisis dialogue's
# gentle question, asked when the crisis check is unsure (verdict "ask").
CRISIS_QUESTION = "vraag"
DIALOGUE_STEPS: dict[str, tuple[str, ...]] = {CRISIS: (CRISIS_QUESTION,)}
# What a dialogue step that expects text may do with it (`do:` on the step).
SET_TIME = "set-time"  # a clock time, a time zone or an "off" word for the daily check-in
STEP_ACTIONS = (SET_TIME,)
# What a person may type to /tijd to turn the daily check-in off.
OFF_WORDS = ("uit", "off", "stop", "geen", "none")
# `/tijd stil 23:00-07:00`: the quiet hours, in which check-ins wait for the morning.
QUIET_WORDS = ("stil", "quiet", "nacht", "night")
