"""The coach's one path (event → engine → storage → outbox) on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import sqlalchemy as sa

from bot.coach import Coach
from bot.outbox import Document
from bot.storage.store import Store
from flows import safety as flows_safety
from flows.events import ChoiceMade, CommandGiven, MediaReceived, Started, TextReceived
from flows.messages import Message
from flows.tokens import option_of

CHANNEL = "test"


class Person:
    """Someone chatting through the coach; reads replies from the outbox like a channel does."""

    def __init__(self, coach: Coach, address: str = "p1"):
        self.coach = coach
        self.address = address
        self.replies: list[Message] = []
        self.documents: list[Document] = []
        self.update_id = 0

    def _send(self, event) -> list[Message]:
        self.update_id += 1
        self.coach.handle(CHANNEL, self.address, event)
        return self.take()

    def take(self) -> list[Message]:
        """What the coach sent this person, as a channel takes it from the outbox."""
        got: list[Message] = []
        outbox = self.coach.outbox(CHANNEL, lease=False)
        while True:
            ready = [o for o in outbox.take(50) if o.address == self.address]
            if not ready:
                break
            for outgoing in ready:
                if isinstance(outgoing.item, Document):
                    self.documents.append(outgoing.item)
                elif isinstance(outgoing.item, Message):
                    got.append(outgoing.item)
            outbox.sent([o.id for o in ready])
        self.replies += got
        return got

    def buttons(self):
        for message in reversed(self.replies):
            if message.buttons:
                return [b for row in message.buttons for b in row]
        return []

    def press(self, option: str) -> list[Message]:
        token = next(b.token for b in self.buttons() if option_of(b.token) == option)
        return self._send(ChoiceMade(token=token))

    def say(self, text: str) -> list[Message]:
        return self._send(TextReceived(text=text))

    def command(self, name: str, argument: str = "") -> list[Message]:
        return self._send(CommandGiven(name=name, argument=argument))

    def start(self, **kwargs) -> list[Message]:
        return self._send(Started(**kwargs))

    def agree(self) -> None:
        self.start(language="nl")
        self.press("_next")
        self.press("ja")


def go_to(person: Person, key: str) -> None:
    """Skip ahead until the coach asks the question with this text key."""
    for _ in range(80):
        if person.replies[-1].key == key:
            return
        options = [option_of(b.token) for b in person.buttons()]
        person.press(
            "morgen"
            if "morgen" in options
            else "week"
            if "week" in options
            else "_skip"
            if "_skip" in options
            else "_next"
        )
    raise AssertionError(f"never reached {key}")


def answers(coach: Coach) -> list[tuple[str, str]]:
    with coach.store.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT step, value FROM answer ORDER BY id"))
        return [(step, json.loads(value)) for step, value in rows]


def test_an_answer_is_stored_before_the_reply_is_sent(coach):
    person = Person(coach)
    person.agree()
    person.start(flow="oefening-1")
    person.press("_next")
    person.press("partner")
    person.press("_skip")  # how to call the other
    person.say("Ik geef tijd en aandacht.")
    assert ("geven", "Ik geef tijd en aandacht.") in answers(coach)


def test_an_update_delivered_twice_is_handled_once(coach):
    person = Person(coach)
    person.agree()
    first = coach.handle(CHANNEL, "p1", TextReceived(text="hallo"), update_id=77)
    again = coach.handle(CHANNEL, "p1", TextReceived(text="hallo"), update_id=77)
    assert first.new and not again.new


def test_week_evaluation_arrives_after_eight_days_and_quotes_the_answer(coach, clock):
    person = Person(coach)
    person.agree()
    person.start(flow="oefening-1")
    person.press("_next")
    person.press("partner")
    person.press("_skip")  # how to call the other
    go_to(person, "oefening-1:plan")
    person.say("Ik kook, ik luister, ik regel de vakanties.")
    go_to(person, "oefening-1:evaluatie-moment.vraag")
    person.press("week")
    clock.advance(timedelta(days=8))
    while coach.deliver_due():
        pass
    said = "\n".join(m.plain for m in person.take())
    assert "Ik kook, ik luister, ik regel de vakanties." in said
    assert "2 maart" in said


def test_a_sticker_is_answered_kindly_and_nothing_is_stored(coach):
    person = Person(coach)
    person.agree()
    replies = person._send(MediaReceived(kind="sticker"))
    assert replies[0].keys[0] == "common:media.sticker"
    assert answers(coach) == []


def test_a_very_long_message_is_stored_whole(coach):
    person = Person(coach)
    person.agree()
    person.start(flow="oefening-1")
    person.press("_next")
    person.press("partner")
    person.press("_skip")  # how to call the other
    long_text = ("Een lange zin over geven en nemen. " * 600)[:20000]
    replies = person.say(long_text)
    assert replies, "the coach answers normally"
    assert ("geven", long_text) in answers(coach)


def test_one_persons_events_are_handled_one_at_a_time(coach):
    person = Person(coach)
    person.agree()
    person.start(flow="oefening-1")
    person.press("_next")
    person.press("partner")
    person.press("_skip")  # how to call the other
    go_to(person, "oefening-1:situaties")
    errors: list[Exception] = []

    def send(i: int) -> None:
        try:
            coach.handle(CHANNEL, "p1", TextReceived(text=f"situatie {i}"), update_id=1000 + i)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    stored = sorted(value for step, value in answers(coach) if step == "situaties")
    assert stored == [f"situatie {i}" for i in range(8)], "each entry kept, none overwritten"


def test_blocked_person_gets_no_checkins_until_they_write_again(coach, clock):
    person = Person(coach)
    person.agree()
    person.command("time", "20:00")
    coach.outbox(CHANNEL).unreachable("p1")
    clock.advance(timedelta(days=2))
    assert coach.deliver_due() == 0
    person.say("hallo")
    assert coach.deliver_due() == 1


def test_paused_person_gets_no_checkins_until_resumed(coach, clock):
    person = Person(coach)
    person.agree()
    person.command("time", "20:00")
    person.command("pause")
    clock.advance(timedelta(days=1))
    assert coach.deliver_due() == 0
    person.command("resume")
    assert coach.deliver_due() == 1


def test_a_checkin_is_delivered_once_even_with_two_dispatchers(database, library, clock):
    coaches = [Coach(library, Store(database), clock) for _ in range(2)]
    person = Person(coaches[0])
    person.agree()
    person.command("time", "20:00")
    clock.advance(timedelta(days=1))
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda c=c: results.append(c.deliver_due())) for c in coaches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 1


def test_export_contains_every_answer_and_checkin(coach):
    person = Person(coach)
    person.agree()
    person.start(flow="oefening-1")
    person.press("_next")
    person.press("collega")
    written = ["Ik neem zijn diensten over.", "Hij helpt me met Excel."]
    for text in written:
        person.say(text)
    person.command("time", "20:00")
    person.command("export")
    names = [d.filename for d in person.documents]
    assert any(n.endswith(".txt") for n in names) and any(n.endswith(".json") for n in names)
    data = json.loads(next(d.content for d in person.documents if d.filename.endswith(".json")))
    values = [a["value"] for a in data["answers"]]
    assert values == ["collega", *written]
    assert [c["kind"] for c in data["checkins"]] == ["daily"]
    text = next(d.content for d in person.documents if d.filename.endswith(".txt"))
    for value in written:
        assert value in text


def test_forget_deletes_the_person_and_everything_of_theirs(coach):
    person = Person(coach)
    person.agree()
    person.start(flow="oefening-1")
    person.press("_next")
    person.press("partner")
    person.press("_skip")  # how to call the other
    person.say("Een geheim over mijn moeder.")
    person.command("time", "20:00")
    person.command("forget")
    person.press("ja")
    with coach.store.engine.connect() as connection:
        for table in ("person", "answer", "run", "checkin", "outbox"):
            count = connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
            assert count == 0, f"{table} still has rows"
    assert person.replies[-1].key == "common:forget.done", "the goodbye still went out"


def test_forgotten_words_cannot_be_read_from_the_sqlite_file(library, clock, sqlite_path):
    from bot.storage import db
    from bot.storage.migrations import upgrade_engine

    engine = db.make_engine(f"sqlite:///{sqlite_path}")
    upgrade_engine(engine)
    coach = Coach(library, Store(engine), clock)
    person = Person(coach)
    person.agree()
    person.start(flow="oefening-1")
    person.press("_next")
    person.press("partner")
    person.press("_skip")  # how to call the other
    marker = "Zeldzaam-woord-Q7XJ over mijn vader"
    person.say(marker)
    person.say(marker + " nogmaals")
    person.command("export")
    files = [sqlite_path, sqlite_path.with_name(sqlite_path.name + "-wal")]
    assert any(marker.encode() in f.read_bytes() for f in files if f.exists()), "sanity"
    person.command("forget")
    person.press("ja")
    for path in files:
        if path.exists():
            assert marker.encode() not in path.read_bytes(), f"{path.name} still holds the words"
    engine.dispose()


def test_someone_who_says_no_has_nothing_stored_but_that_they_said_no(coach):
    person = Person(coach)
    person.start(language="nl")
    person.press("_next")
    person.press("nee")
    assert any("gedicht" in m.key for m in person.replies)
    person.press("_next")
    person.say("Mijn moeder is ziek en ik voel me schuldig.")
    person.start(flow="oefening-1")
    person.press("nee")
    person.command("time", "20:00")
    with coach.store.engine.connect() as connection:
        for table in ("answer", "run", "checkin"):
            assert connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0
        consent, state = connection.execute(sa.text("SELECT consent, state FROM person")).one()
    assert consent == "declined"
    assert "schuldig" not in state


def test_a_passing_fault_delivering_a_checkin_is_tried_again_not_dropped(coach, clock, monkeypatch):
    from bot.coach import CHECKIN_ATTEMPTS, CHECKIN_RETRY

    person = Person(coach)
    person.agree()
    person.command("time", "20:00")
    clock.advance(timedelta(days=1))
    real_turn = coach._turn

    def broken_turn(*args, **kwargs):
        raise sa.exc.OperationalError("UPDATE", {}, Exception("database is locked"))

    monkeypatch.setattr(coach, "_turn", broken_turn)
    assert coach.deliver_due() == 0
    with coach.store.engine.connect() as connection:
        status, attempts = connection.execute(
            sa.text("SELECT status, attempts FROM checkin WHERE kind = 'daily'")
        ).one()
    assert (status, attempts) == ("pending", 1)
    monkeypatch.setattr(coach, "_turn", real_turn)
    clock.advance(CHECKIN_RETRY)
    assert coach.deliver_due() == 1
    assert CHECKIN_ATTEMPTS > 1


def test_one_persons_broken_checkin_leaves_the_rest_of_the_pass_delivered(
    coach, clock, monkeypatch
):
    """Two people due in one pass (one transaction, a savepoint each): the first one's turn
    fails, the second still gets their check-in, and the first one's waits for a retry."""
    first, second = Person(coach, "p1"), Person(coach, "p2")
    for person in (first, second):
        person.agree()
        person.command("time", "20:00")
        person.take()
    clock.advance(timedelta(days=1))
    real_turn = coach._turn

    def broken_for_the_first(session, person, event, now):
        if person.address == "p1":
            raise sa.exc.OperationalError("UPDATE", {}, Exception("database is locked"))
        return real_turn(session, person, event, now)

    monkeypatch.setattr(coach, "_turn", broken_for_the_first)
    assert coach.deliver_due() == 1
    assert second.take(), "the second person's check-in arrived"
    assert first.take() == []
    with coach.store.engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT p.address, c.status, c.attempts FROM checkin c"
                " JOIN person p ON p.id = c.person_id WHERE c.kind = 'daily' ORDER BY c.id"
            )
        ).all()
    assert [tuple(r) for r in rows if r[0] == "p1"] == [("p1", "pending", 1)]
    assert ("p2", "done", 0) in [tuple(r) for r in rows]


def test_the_migration_head_in_code_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from bot.storage.migrations import HEAD, SCRIPTS

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_two_senders_sharing_the_database_never_take_the_same_message(coach):
    coach.handle(CHANNEL, "p9", Started(language="nl"))
    first, second = coach.outbox(CHANNEL), coach.outbox(CHANNEL)  # as two processes
    try:
        taken = first.take(10)
        assert [o.address for o in taken] == ["p9"]
        assert second.take(10) == [], "the chat's first message is the other sender's"
        first.close()  # it stops: what it held is free at once
        assert [o.id for o in second.take(10)] == [o.id for o in taken]
    finally:
        first.close()
        second.close()


def test_notes_and_crisis_words_are_stored_and_shown_marked_in_mine_and_export(coach):
    person = Person(coach)
    person.agree()
    person.start(flow="oefening-1")
    person.say("Ik lees eerst even rustig.")  # on the "Verder" step: a note, nothing moves on
    person.press("_next")
    person.press("partner")
    person.press("_skip")  # how to call the other
    person.say("Ik wil niet meer leven.")
    person.press("continue")
    person.command("mine")
    shown = "\n".join(m.plain for m in person.replies[-6:])
    assert "Notitie bij:" in shown and "Ik lees eerst even rustig." in shown
    assert "Ik wil niet meer leven." in shown, "it stays the person's"
    assert "Dit schreef je op een zwaar moment" in shown
    person.command("export")
    data = json.loads(next(d.content for d in person.documents if d.filename.endswith(".json")))
    kept = {(a["step"], a["kind"], a["value"], a["crisis"]) for a in data["answers"]}
    assert ("doel", "note", "Ik lees eerst even rustig.", False) in kept
    assert ("geven", "text", "Ik wil niet meer leven.", True) in kept
    text = next(d.content for d in person.documents if d.filename.endswith(".txt"))
    assert "Notitie bij:" in text and "Dit schreef je op een zwaar moment" in text


def test_a_turn_tells_the_channel_when_the_alarm_clock_must_be_set_again(coach):
    person = Person(coach)
    person.agree()

    def handled(event) -> object:
        result = coach.handle(CHANNEL, person.address, event)
        person.take()
        return result

    assert not handled(CommandGiven(name="help", argument="")).plans_changed
    assert handled(CommandGiven(name="time", argument="20:00")).plans_changed  # a daily check-in
    assert handled(CommandGiven(name="pause", argument="")).plans_changed  # check-ins held
    assert handled(CommandGiven(name="resume", argument="")).plans_changed  # and free again


def test_a_turn_tells_the_channel_when_the_button_pressed_was_not_the_current_question(coach):
    person = Person(coach)
    person.start(language="nl")
    old = next(b.token for b in person.buttons() if option_of(b.token) == "_next")
    first = coach.handle(CHANNEL, person.address, ChoiceMade(token=old))
    person.take()
    assert not first.stale_choice
    again = coach.handle(CHANNEL, person.address, ChoiceMade(token=old))  # a second tap
    assert again.stale_choice


def test_a_message_checked_ahead_of_its_turn_is_answered_as_without(coach, monkeypatch):
    """Channels run the crisis check before the turn, off the database thread: the turn then
    finds the finding ready (the check does not run again in it), and still decides. A text
    checked ahead that is not the one sent changes nothing: each finding belongs to one text."""
    checked: list[str] = []
    real = flows_safety._assess

    def counting(text, check, **options):
        checked.append(text)
        return real(text, check, **options)

    monkeypatch.setattr(flows_safety, "_assess", counting)
    coach.library.safety.clear_memo()  # the library is shared: another test may have said this
    person = Person(coach)
    person.agree()
    words = TextReceived(text="Ik wil niet meer leven.")
    coach.check_ahead(words)
    coach.check_ahead(CommandGiven(name="menu"))  # nothing to check; nothing happens
    assert checked == [words.text]
    person._send(words)
    assert checked == [words.text], "the turn found the finding ready"
    assert person.replies[-2].key == "common:crisis.help"

    ordinary = TextReceived(text="Ik heb vandaag lekker gewandeld.")
    coach.check_ahead(ordinary)
    assert "common:crisis.help" not in {m.key for m in person._send(ordinary)}

    # Checked ahead, then another text sent: the sent one is what the turn judges.
    coach.check_ahead(TextReceived(text="Het was een rustige dag met mijn zus."))
    assert "common:crisis.help" in {
        m.key for m in person._send(TextReceived(text="Ik wil er niet meer zijn."))
    }
    coach.check_ahead(TextReceived(text="Ik wil mezelf van het leven beroven."))
    assert "common:crisis.help" not in {
        m.key for m in person._send(TextReceived(text="We hebben samen gekookt."))
    }
