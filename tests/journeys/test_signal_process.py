"""The real `python -m bot signal` process against the fake signal-cli daemon: the whole of
exercise 1 and its week evaluation after a clock jump; killed with messages arriving while it is
down; the daemon restarted mid-conversation; Signal's refusals; groups, sync messages, /export
and /vergeet. On a SQLite file and on PostgreSQL. Logs never hold what was written."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.fakes.signal_cli import FakeSignalCli, SendFailure, TypingSent
from tests.journeys.processes import free_port, wait_for
from tests.journeys.signal_harness import ANSWERS, Person, SignalProcess, do_exercise


@pytest.fixture
def fake():
    with FakeSignalCli() as daemon:
        yield daemon


@pytest.fixture
def launch(fake, tmp_path, database_url, processes):
    """Starts coach processes; whatever still runs when the test ends is killed."""

    def start(**options: Any) -> SignalProcess:
        processes.append(SignalProcess(fake, tmp_path, database_url, **options))
        return processes[-1]

    return start


@pytest.fixture
def person(fake, database, library):
    return Person(fake, database, library)


def begin(person: Person) -> None:
    """Hello, the welcome, consent, the menu, exercise 1."""
    person.says("Hallo")
    person.chooses("_next")
    person.chooses("ja")
    person.says("/menu")
    person.chooses("oefening-1")


def test_exercise_one_and_its_week_evaluation_eight_days_later(fake, person, launch):
    coach = launch()
    begin(person)
    do_exercise(person, until_step="kies")
    answers = person.answers()
    assert answers["plan"] == ANSWERS["plan"]
    assert [answers["situaties"], answers["situaties.1"]] == ANSWERS["situaties"]
    assert coach.stop() == 0
    before = len(person.received())

    later = launch(clock_offset="8d")
    person.wait(
        lambda: any("Tijd om terug te kijken" in m.message for m in person.received()[before:]),
        "the evaluation",
    )
    person.wait(lambda: person.step() == "balans-nu", "its first question")
    evaluation = "\n".join(m.message for m in person.received()[before:])
    assert ANSWERS["plan"] in evaluation
    assert ANSWERS["toelichting"] in evaluation
    assert all(item in evaluation for item in ANSWERS["situaties"])
    person.wait(lambda: person.offers(ANSWERS["balans-nu"]), "the scale as numbered lines")
    person.chooses(ANSWERS["balans-nu"])
    assert person.answers()["balans-nu"] == ANSWERS["balans-nu"]
    assert later.stop() == 0
    logs = coach.output() + later.output()
    assert "Traceback" not in logs
    for text in (ANSWERS["geven"], ANSWERS["plan"], *ANSWERS["situaties"]):
        assert text not in logs


def no_content_in(logs: str, *texts: str) -> None:
    assert "Traceback" not in logs
    for text in texts:
        assert text not in logs


def test_killed_while_messages_arrive_loses_none_and_handles_none_twice(fake, person, launch):
    coach = launch()
    processes = [coach]
    begin(person)
    do_exercise(person, until_step="geven")

    # 1. Killed; two answers arrive while nobody is there: they wait on Signal's side.
    coach.kill()
    before = len(person.received())
    person.says(ANSWERS["geven"], settle=False)
    person.says(ANSWERS["nemen"], settle=False)
    assert fake.queued == 2
    coach = launch()
    processes.append(coach)
    person.settle(before)
    person.wait(lambda: person.step() == "balans", "the question after both answers")

    # 2. Killed after the turn was committed, while its reply was on its way to Signal.
    fake.hold_sends()
    person.says(ANSWERS["balans"], settle=False)
    person.wait(lambda: fake.sends_in_flight(), "a reply under way")
    person.wait(lambda: "balans" in person.answers(), "the answer committed")
    coach.kill()
    fake.release_sends()
    coach = launch()
    processes.append(coach)
    person.settle()  # the reply goes out once its lease runs out
    person.wait(lambda: person.step() == "toelichting", "the next question")
    person.says(ANSWERS["toelichting"])
    assert coach.stop() == 0

    answers = person.answers()
    for step in ("relatie", "geven", "nemen", "balans", "toelichting"):
        assert answers[step] == ANSWERS[step]
    assert not any(key.startswith(("geven.", "nemen.", "balans.")) for key in answers)
    kept = person.query("SELECT count(*), count(handled_at) FROM received_message")[0]
    recorded = person.query("SELECT count(*) FROM processed_update WHERE channel = 'signal'")
    assert kept[0] == kept[1] == len(person.written)  # every message kept, and handled
    assert recorded[0][0] == len(person.written)  # … each once
    assert person.query("SELECT count(*) FROM received_message WHERE content IS NOT NULL") == [
        (0,)
    ]  # what they wrote lives in their answers only
    no_content_in(
        "".join(p.output() for p in processes),
        ANSWERS["geven"],
        ANSWERS["nemen"],
        ANSWERS["toelichting"],
    )


def test_the_daemon_restarted_mid_conversation(fake, person, launch):
    coach = launch()
    begin(person)
    do_exercise(person, until_step="geven")

    # A reply under way when the daemon goes: sent again after it is back.
    fake.hold_sends()
    person.says(ANSWERS["geven"], settle=False)
    person.wait(lambda: fake.sends_in_flight(), "a reply under way")
    fake.stop_daemon()
    fake.release_sends()
    # Written while the daemon is down: it waits on Signal's side.
    person.says(ANSWERS["nemen"], settle=False)
    fake.start_daemon()
    person.wait(lambda: person.step() == "balans", "both answers handled after the restart")
    person.settle()
    assert fake.subscribe_calls >= 2  # subscribed again on the new connection
    person.chooses(ANSWERS["balans"])
    assert coach.stop() == 0
    answers = person.answers()
    assert [answers["geven"], answers["nemen"], answers["balans"]] == [
        ANSWERS["geven"],
        ANSWERS["nemen"],
        ANSWERS["balans"],
    ]
    no_content_in(coach.output(), ANSWERS["geven"], ANSWERS["nemen"])


def test_a_rate_limit_then_success_waits_as_long_as_signal_says(fake, person, launch):
    coach = launch()
    person.says("Hallo")
    fake.fail_next_send(person.uuid, SendFailure.RATE_LIMIT, retry_after_seconds=3)
    person.chooses("_next")
    attempts = [s for s in fake.sent if s.recipient == person.uuid]
    refused = [a for a in attempts if a.failure is not None]
    assert len(refused) == 1 and refused[0].failure is SendFailure.RATE_LIMIT
    # The refused message went once more, after the wait, and was delivered: not lost, not
    # tried in a loop.
    same = [a for a in attempts if a.message == refused[0].message]
    assert [a.failure for a in same] == [SendFailure.RATE_LIMIT, None]
    assert "rate limited sending item" in coach.output()
    person.chooses("ja")
    assert person.state()["consent"] == "given"
    assert coach.stop() == 0


def test_sync_messages_receipts_and_typing_are_ignored_and_a_group_gets_one_line(
    fake, person, launch
):
    coach = launch()
    person.says("Hallo")
    welcome, disclaimer = person.received()[:2]
    # Strong words as Signal's text styles, counted in UTF-16 units; "typing…" before the
    # long second message, and its option as a numbered line.
    styles = [s.split(":") for s in welcome.text_styles]
    assert styles and all(style == "BOLD" for _, _, style in styles)
    units = welcome.message.encode("utf-16-le")
    for start, length, _ in styles:
        bold = units[2 * int(start) : 2 * (int(start) + int(length))].decode("utf-16-le")
        assert bold.strip() and bold in welcome.message
    assert len(disclaimer.message) > 300 and disclaimer.message.endswith("\n\n1. Verder")
    assert TypingSent(person.uuid, False) in fake.typing_sent
    sent = len(fake.sent)
    fake.sync_message("Een bericht van mijn eigen telefoon", destination_uuid=person.uuid)
    fake.receipt(uuid=person.uuid, timestamps=[person.written[-1]])
    fake.typing(uuid=person.uuid)
    group = "Z3JvdXAtaWQtZm9yLXRlc3RzLW9ubHktMzItYnl0ZXM="
    other = "0b6e3c1e-8a2b-4c3d-9e1f-0a1b2c3d4e60"
    fake.group_message("Hallo allemaal, wat vinden jullie?", uuid=other, group_id=group)
    fake.group_message("Nog een bericht in de groep", uuid=other, group_id=group)
    person.wait(lambda: any(s.is_group for s in fake.sent), "the line in the group")
    person.says("/help")  # handled after all of the above: they were dealt with by then
    to_group = [s for s in fake.sent if s.is_group]
    assert [s.recipient for s in to_group] == [group]
    assert "privégesprek" in to_group[0].message
    assert {s.recipient for s in fake.sent[sent:]} == {group, person.uuid}
    people = person.query("SELECT address FROM person")
    assert people == [(person.uuid,)]  # nobody of the group, nobody for the sync message
    assert person.query("SELECT count(*) FROM answer") == [(0,)]
    assert coach.stop() == 0
    no_content_in(coach.output(), "Hallo allemaal", "eigen telefoon", "Nog een bericht")


def test_an_unregistered_person_is_unreachable_and_their_check_ins_are_held(fake, person, launch):
    coach = launch()
    begin(person)
    assert person.query("SELECT checkins_from IS NOT NULL FROM person") == [(True,)]
    fake.unregister(person.uuid)
    person.says("/menu", settle=False)
    person.wait(
        lambda: person.query("SELECT unreachable FROM person") == [(True,)], "marked unreachable"
    )
    person.wait(lambda: person.waiting() == 0, "what waited for them dropped")
    assert person.query("SELECT checkins_from FROM person") == [(None,)]  # no check-ins
    assert [s.failure for s in fake.sent if s.recipient == person.uuid][-1] is (
        SendFailure.UNREGISTERED
    )
    assert "no Signal account (any more)" in coach.output()
    assert coach.stop() == 0


def test_export_as_attachments_the_chart_as_an_image_and_vergeet(fake, person, launch):
    coach = launch()
    begin(person)
    do_exercise(person, until_step="toelichting")
    person.says("/mijn")
    person.wait(lambda: any(s.attachments for s in person.received()), "the chart")
    [chart] = [s for s in person.received() if s.attachments]
    assert chart.attachments[0].startswith("data:image/png;filename=balans.png;base64,")
    png = base64.b64decode(chart.attachments[0].split(",", 1)[1])
    assert png.startswith(b"\x89PNG")

    person.says("/export")
    person.wait(lambda: len([s for s in person.received() if s.attachments]) >= 3, "the files")
    files = {}
    for sent in person.received():
        for attachment in sent.attachments:
            head, data = attachment.split(",", 1)
            files[head] = base64.b64decode(data).decode("utf-8", errors="replace")
    text = next(v for k, v in files.items() if k.startswith("data:text/plain;"))
    exported = next(v for k, v in files.items() if k.startswith("data:application/json;"))
    assert ANSWERS["geven"] in text and ANSWERS["nemen"] in text
    assert ANSWERS["geven"] in exported

    person.says("/vergeet")
    person.chooses("ja")
    assert person.query("SELECT count(*) FROM person") == [(0,)]
    assert person.query("SELECT count(*) FROM answer") == [(0,)]
    assert person.query("SELECT count(*) FROM received_message") == [(0,)]
    assert person.waiting() == 0
    assert coach.stop() == 0
    no_content_in(coach.output(), ANSWERS["geven"], ANSWERS["nemen"])


def health(port: int, path: str = "/healthz") -> tuple[int, str]:
    """The status and body of a GET on the coach's health port; (0, "") while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def test_healthz_tells_the_operator_when_the_daemon_is_gone_and_when_it_is_back(
    fake, launch, person
):
    port, telegrams = free_port(), free_port()
    # The Telegram coach's variable, as in a shared /etc/kern-coach.env: not the Signal coach's.
    coach = launch(health_port=port, KERN_COACH_HEALTH_PORT=str(telegrams))
    status, body = wait_for(lambda: (s := health(port))[0] == 200 and s, "a healthy coach")
    report = json.loads(body)
    assert report["database"] == "ok" and report["scheduler"] == "running"
    assert report["signal_cli"] == "connected"
    assert health(telegrams) == (0, ""), "the Telegram coach's port is left to it"

    fake.stop_daemon()  # signal-cli went away: the coach runs on but cannot reach anyone
    status, body = wait_for(lambda: (s := health(port))[0] == 503 and s, "the coach unhealthy")
    assert json.loads(body)["signal_cli"] == "unreachable"

    fake.start_daemon()
    wait_for(lambda: health(port)[0] == 200, "the coach healthy again")
    person.says("Hallo")  # and it answers again
    assert person.received()

    status, metrics = health(port, "/metrics")
    assert status == 200 and "kern_coach_people" in metrics
    assert "Hallo" not in metrics and "Hallo" not in health(port)[1]
    assert coach.stop() == 0
