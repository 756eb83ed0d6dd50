"""Check-ins that arrive as one calm conversation, as a person reads them: after a week away
one message set, not four; the daily question read the morning after asks about yesterday;
a pause with an end; the quiet hours set with /tijd."""

from __future__ import annotations

from datetime import timedelta

from flows.state import State
from tests.conftest import MONDAY_EVENING
from tests.flows.conversation import Conversation
from tests.flows.test_listening import to_the_name, walk_to

LATE = "Dit bericht komt later dan gepland"


def consented(library, **state) -> Conversation:
    return Conversation(library, MONDAY_EVENING, State(consent="given", **state))


def planned_exercise(talk: Conversation, repeat: str = "elke-week") -> None:
    """Exercise 1 with a plan for Friday, an evaluation after a week and a weekly repeat."""
    to_the_name(talk)
    talk.say("Marieke")
    walk_to(talk, "plan")
    talk.say("Ik bel Marieke op vrijdag.")
    talk.say("vrijdag om 19:00")
    walk_to(talk, "evaluatie-moment")
    talk.press_option("week")
    walk_to(talk, "herhalen")
    talk.press_option(repeat)
    while talk.position and talk.position[0] == "oefening-1":
        talk.press_option("_next")


def test_after_a_week_of_downtime_one_calm_conversation_arrives(library):
    talk = consented(library)
    talk.command("time", "20:00")
    planned_exercise(talk)
    kinds = sorted(c.kind for c in talk.pending)
    assert kinds == ["daily", "evaluation", "reminder", "repeat"]

    talk.wait(timedelta(days=9, hours=14))  # the coach was down; Thursday morning, 09:00
    delivered = talk.deliver_due()
    assert len(delivered) == 1  # one turn, one conversation
    said = "\n".join(m.plain for m in delivered[0])
    assert said.count(LATE) == 1
    assert "wilde ik je al aan je plan herinneren" in said  # the reminder, folded in as a line
    assert "Ik bel Marieke op vrijdag." in said  # the evaluation quotes the plan
    assert "Hoe was de balans tussen geven en nemen" not in said  # the old daily is let go
    assert talk.position[0] == "oefening-1"  # in the evaluation, the reminder folded into it
    # Nothing more arrives now; the daily check-in and the repeat go on at their next times.
    assert talk.deliver_due() == []
    later = {c.kind: c.due_at for c in talk.pending}
    assert set(later) == {"daily", "repeat"}
    assert all(due > talk.now for due in later.values())


def test_choosing_every_week_in_two_runs_of_exercise_one_gives_one_series(library):
    talk = consented(library)
    planned_exercise(talk)
    talk.wait(timedelta(days=1))
    planned_exercise(talk)
    repeats = [c for c in talk.pending if c.kind == "repeat"]
    assert len(repeats) == 1
    invitations = []
    for _ in range(22):  # three weeks, day by day
        talk.wait(timedelta(days=1))
        delivered = [m for messages in talk.deliver_due() for m in messages]
        today = [m for m in delivered if m.key == "oefening-1:herhaling.vraag"]
        assert len(today) <= 1
        invitations += today
        assert len([c for c in talk.pending if c.kind == "repeat"]) == 1
    assert len(invitations) >= 2  # one series, week after week


def test_a_daily_checkin_planned_for_the_evening_and_read_next_morning_asks_about_yesterday(
    library,
):
    talk = consented(library)
    talk.command("time", "20:00")
    daily = next(c for c in talk.pending if c.kind == "daily")
    talk.now = daily.due_at + timedelta(hours=11, minutes=55)  # 07:55 the next morning
    (messages,) = talk.deliver_due()
    said = "\n".join(m.plain for m in messages)
    assert "gisteren" in said and "vandaag" not in said
    assert LATE not in said  # the greeting says it was meant for yesterday; once is enough
    talk.press_option("gelijk")
    assert "gisteren" in "\n".join(m.plain for m in talk.last)
    assert "vandaag" not in "\n".join(m.plain for m in talk.last)


def test_a_daily_checkin_on_time_asks_about_today(library):
    talk = consented(library)
    talk.command("time", "20:00")
    talk.now = next(c for c in talk.pending if c.kind == "daily").due_at
    (messages,) = talk.deliver_due()
    assert "vandaag" in "\n".join(m.plain for m in messages)


def test_pause_for_a_week_says_when_it_ends_and_ends_by_itself(library):
    talk = consented(library)
    (reply,) = talk.command("pause", "1 week")
    assert "tot maandag 9 maart om 08:00" in reply.plain
    assert "vanzelf" in reply.plain
    assert talk.state.paused and talk.state.paused_until is not None
    talk.wait(timedelta(days=7, hours=1))
    talk.say("hallo")
    assert not talk.state.paused and talk.state.paused_until is None


def test_pause_until_monday_and_an_unknown_length_in_both_languages(library):
    talk = consented(library)  # Monday evening: "tot maandag" is next Monday
    (reply,) = talk.command("pause", "tot maandag")
    assert "tot maandag 9 maart" in reply.plain
    (reply,) = talk.command("pause", "3 dagen")
    assert "tot donderdag 5 maart" in reply.plain
    (reply,) = talk.command("pause", "een poosje")
    assert "/pauze 1 week" in reply.plain and talk.state.paused
    assert talk.state.paused_until is None  # paused until /hervat
    english = consented(library, lang="en")
    (reply,) = english.command("pause", "until friday")
    assert "until Friday 6 March" in reply.plain
    (reply,) = english.command("resume")
    assert not english.state.paused


def test_quiet_hours_are_set_with_tijd_and_help_names_both_commands(library):
    talk = consented(library)
    talk.command("time")
    assert "Tussen 22:00 en 08:00 stuur ik niets" in talk.texts[-1]
    talk.say("stil 23:00-07:00")
    assert talk.state.quiet == "23:00-07:00"
    assert "Tussen 23:00 en 07:00 stuur ik niets" in talk.texts[0]
    talk.command("time", "stil uit")
    assert talk.state.quiet is None
    talk.command("help")
    assert "/tijd stil 23:00-07:00" in talk.texts[0] and "/pauze 1 week" in talk.texts[0]
    english = consented(library, lang="en")
    english.command("help")
    assert "/time quiet 23:00-07:00" in english.texts[0] and "/pause 1 week" in english.texts[0]


def test_two_daily_checkins_due_at_once_plan_one_next_one(library):
    talk = consented(library)
    talk.command("time", "20:00")
    (daily,) = [c for c in talk.pending if c.kind == "daily"]
    talk.pending.append(daily.again(id="c-extra", due_at=daily.due_at))  # an old double
    talk.now = daily.due_at
    talk.deliver_due()
    assert len([c for c in talk.pending if c.kind == "daily"]) == 1
