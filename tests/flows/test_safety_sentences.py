"""The crisis check reads sentences, not phrases: concepts in one clause, in any word order, with
room for modals and adverbs; context that changes a clause; a semantic layer for paraphrases;
three verdicts. The rules are the real files in flows/safety/, the model the real one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.content import load_library
from flows.safety import ASK, CRISIS, OK, assess, check_safety_rules, parts, semantic_score
from flows.safety_rules import MAX_PIECES

ROOT = Path(__file__).resolve().parents[2]
CHECK = load_library().safety
RULES, SEMANTIC = parts(CHECK)


def verdict(text: str) -> str:
    return assess(text, CHECK).verdict


@pytest.mark.parametrize(
    "text",
    [
        "Ik merk dat ik eigenlijk niet meer wil leven.",  # subordinate clause: the verb last
        "Vannacht zet ik er een punt achter.",  # inversion
        "ik weet niet hoe ik er een einde aan kan maken",  # a modal inside the phrase
        "ik wil mezelf echt iets aandoen",  # a modal the old slot did not allow
        "kzie het ni meer zitten, kwil dood",  # chat and Flemish spelling
        "kben het leven zo beu",
        "Ik heb een strop klaarliggen.",  # means without the verb
        "Hij dreigt dat hij me afmaakt.",  # danger without a listed verb
        "I have been saving up pills.",
        "gonna end it",
    ],
)
def test_wordings_the_phrases_missed_get_help_first(text):
    assert verdict(text) == CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "Gisteren keken we een film over iemand die zelfmoord pleegt, mooi gemaakt.",
        "I was so embarrassed I wanted to die.",
        "Ik zie het niet meer zitten met die verbouwing.",
        "Het hoeft voor mij niet meer, dat etentje bij zijn ouders.",
        "Ik heb mijn afscheidsbrief voor mijn collega's geschreven, ik ga met pensioen.",
        "We bought a rope for the swing in the garden.",
        "Ik heb me gesneden aan een glas, niks ernstigs.",
    ],
)
def test_context_in_the_clause_keeps_ordinary_sentences_ordinary(text):
    assert verdict(text) == OK


def test_someone_elses_suicide_long_ago_gets_the_gentle_question_not_the_alarm():
    assert verdict("Mijn oom heeft dertig jaar geleden zelfmoord gepleegd.") == ASK


def test_a_date_chosen_for_nothing_named_is_not_let_pass():
    assert assess("Ik heb een datum gekozen.", RULES).verdict == ASK
    assert verdict("Ik heb een datum gekozen.") != OK
    assert assess("Ik heb een datum gekozen voor het feest van mijn moeder.", RULES).verdict == OK


def test_one_risky_sentence_in_a_long_reflection_still_gets_help():
    text = (
        "Bij de vraag over geven dacht ik aan mijn zus, zij helpt me altijd met verhuizen. "
        "Ik geef haar weinig terug en dat voelt niet goed. Ik denk er de laatste tijd vaak "
        "over om er een eind aan te maken. Verder wil ik volgende week voor haar koken."
    )
    assert verdict(text) == CRISIS


def test_a_film_in_one_sentence_does_not_silence_a_risky_one_without_a_full_stop():
    assert verdict("ik keek een film over de oorlog ik denk de hele tijd aan zelfmoord") == CRISIS


# --- the semantic layer --------------------------------------------------------------------------


def test_the_semantic_layer_catches_a_paraphrase_no_rule_knows():
    text = "Het zou voor iedereen fijner zijn als ik er gewoon nooit meer was."
    assert assess(text, RULES).verdict == OK, "a rule catches this now: pick another paraphrase"
    score = semantic_score(text, RULES, SEMANTIC)
    assert score is not None and score.verdict in (ASK, CRISIS)
    assert verdict(text) != OK


def test_the_semantic_layer_does_not_read_an_idiom_as_a_wish_to_die():
    score = semantic_score("ik schaam me dood als ik eraan terugdenk", RULES, SEMANTIC)
    assert score is None or score.verdict == OK


def test_the_semantic_score_names_an_example_never_the_message():
    text = "Het zou voor iedereen fijner zijn als ik er gewoon nooit meer was."
    result = assess(text, CHECK, complete=True)
    assert result.semantic is not None
    assert result.semantic.nearest.path.startswith("flows/safety/semantic/")
    assert "fijner" not in repr(result)


def test_the_model_loads_from_the_installed_package_with_the_network_cut_off():
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('no network')\n"
        "socket.socket = refuse; socket.create_connection = refuse\n"
        "from bot.safety_model import UseEncoder\n"
        "v = UseEncoder().encode(['ik wil dood', 'I want to die'])\n"
        "assert v.shape == (2, 512) and float(v[0] @ v[1]) > 0.5, v.shape\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


# --- the rule file format: concepts and `all` rules ----------------------------------------------

CONCEPT_FILE = """\
spec_version: 1
concepts:
  self:
    - ik
  wish:
    - (wil|wou)
  dead:
    - dood
  past:
    - vroeger
rules:
  - id: nl-test
    kind: suicide
    why: a test
    all: [self, wish, dead]
    unless: [past]
    examples:
      - Dood, dat wil ik.
"""


def test_a_good_concept_file_has_no_problems():
    assert check_safety_rules({"flows/safety/nl.yaml": CONCEPT_FILE}) == []


def test_an_unknown_concept_names_its_line():
    text = CONCEPT_FILE.replace("unless: [past]", "unless: [pastt]")
    [problem] = check_safety_rules({"flows/safety/nl.yaml": text})
    assert problem.line == text.splitlines().index("    unless: [pastt]") + 1
    assert "concept 'pastt' is not in this file's concepts" in problem.message


def test_a_rule_with_both_patterns_and_concepts_is_refused():
    text = CONCEPT_FILE.replace(
        "    all: [self, wish, dead]\n", "    all: [self]\n    patterns: [x]\n"
    )
    [problem] = check_safety_rules({"flows/safety/nl.yaml": text})
    assert "either patterns" in problem.message


def test_an_unknown_verdict_is_refused():
    text = CONCEPT_FILE.replace("    why: a test\n", "    why: a test\n    verdict: maybe\n")
    [problem] = check_safety_rules({"flows/safety/nl.yaml": text})
    assert "verdict 'maybe' is unknown" in problem.message


def test_an_example_that_an_unless_silences_names_its_line():
    text = CONCEPT_FILE + "      - Vroeger wilde ik dood.\n"
    [problem] = check_safety_rules({"flows/safety/nl.yaml": text})
    assert problem.line == len(text.splitlines())
    assert "does not fire rule 'nl-test'" in problem.message


def test_a_semantic_example_labelled_both_ways_is_a_problem():
    from flows.safety_semantic import read_examples

    text = (
        "spec_version: 1\nrisky:\n  suicide:\n    - ik wil dood\n"
        "ordinary:\n  x:\n    - ik wil dood\n"
    )
    _, problems = read_examples({"flows/safety/semantic/nl.yaml": text})
    assert [p.line for p in problems] == [7]
    assert "labelled the other way" in problems[0].message


# --- long exercise answers: one clause inside a long sentence (issue 11, second round) -----------


def test_a_risky_clause_is_scored_apart_from_the_rest_of_its_sentence():
    text = (
        "We hebben samen boodschappen gedaan en daarna koffie gedronken bij haar thuis, het zou "
        "voor iedereen fijner zijn als ik er nooit meer was."
    )
    assert assess(text, RULES).verdict == OK, "a rule catches this now: pick another paraphrase"
    sentences = [" ".join(RULES.without_idioms(s).split()) for s in RULES.sentences(text)]
    whole = SEMANTIC.score(sentences, [RULES.has_evidence(s) for s in sentences])
    assert whole is not None and whole.verdict == OK, "the whole sentence alone now suffices"
    assert verdict(text) == CRISIS


def test_a_sentence_that_names_its_context_is_not_cut_into_clauses():
    text = "Ik maak er vanavond een einde aan, aan die eeuwige ruzie met mijn broer."
    assert RULES.pieces(text) == []
    assert verdict(text) == OK


def test_a_near_copy_of_a_risky_example_gets_help_first_without_a_risk_word():
    text = "Jullie horen niets meer van me, ik wil iedereen bedanken."
    assert assess(text, RULES).verdict == OK, "a rule catches this now: pick another one"
    assert not RULES.has_evidence(RULES.normalise(text)), "it names a risk word now"
    assert verdict(text) == CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "Ik weet nu precies hoe ik het ga doen en wanneer.",
        "I know exactly how I'm going to do it and when.",
    ],
)
def test_knowing_how_one_will_do_it_gets_the_question_not_the_alarm(text):
    """The common answer about planning a talk with a sister; also a plan to die."""
    assert verdict(text) == ASK


def test_a_plan_that_names_what_it_is_stays_ordinary():
    text = "Ik weet al hoe ik het ga doen: ik schrijf hem een brief en die geef ik zaterdag."
    assert verdict(text) == OK


@pytest.mark.parametrize(
    "text",
    [
        # a party or a talk in one clause says nothing of the next (review of branch safety)
        "We hebben samen boodschappen gedaan en daarna koffie gedronken op haar verjaardag, het "
        "zou voor iedereen fijner zijn als ik er nooit meer was.",
        "Na het gesprek met mijn moeder voelde ik me leeg, het zou voor iedereen fijner zijn als "
        "ik er nooit meer was.",
    ],
)
def test_an_ordinary_occasion_in_one_clause_does_not_hide_the_next(text):
    assert assess(text, RULES).verdict == OK, "a rule catches this now: pick another paraphrase"
    assert verdict(text) == CRISIS


def test_a_kitchen_cut_in_its_own_clause_is_not_scored_apart():
    text = "Ik heb me gesneden aan een blikje, dom."
    assert "ik heb me gesneden aan een blikje" not in RULES.pieces(text)
    assert verdict(text) == OK


@pytest.mark.parametrize(
    "text",
    [
        "long ago I tried, and tonight I will again",
        "Years ago I tried to end it, and tonight I will try again.",
        "Vroeger heb ik het geprobeerd, en vanavond doe ik het weer.",
        "Vroeger heb ik het geprobeerd, en nu ga ik het weer doen.",
    ],
)
def test_an_attempt_long_ago_and_again_now_is_not_let_pass(text):
    assert verdict(text) != OK


@pytest.mark.parametrize(
    "text",
    [
        "My last chemo is on Friday, then it will all be over.",
        "Tomorrow it will be over, the surgery I mean.",
        "Vroeger heb ik geprobeerd te stoppen met roken, en nu probeer ik het weer.",
    ],
)
def test_treatment_and_old_habits_stay_ordinary(text):
    assert verdict(text) == OK


def test_a_message_of_many_risky_clauses_scores_a_bounded_number_of_them():
    text = ", ".join(f"ik heb de pillen nummer {i} liggen" for i in range(600))
    assert len(RULES.pieces(text)) == MAX_PIECES
    assert verdict(text) == CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "Hij zei dat hij mijn broertje iets aandoet als ik het aan iemand vertel.",
        "Ik heb afscheid van mijn vader genomen zonder dat hij het wist.",
        "Ik ben er eigenlijk liever niet meer.",
        "Ik denk dat ik mijn leven wil beëindigen.",
        "Ik denk dat ik niet lang meer hier ben.",
        "Als ik voorgoed verdwijn, hebben mijn ouders het makkelijker.",
        "Mijn ex staat voor de deur en hij heeft een honkbalknuppel bij zich, hij wil me pakken.",
        "Soms bonk ik met mijn hoofd tegen de kast tot het stopt.",
        "Ik heb mijn spullen verdeeld en een brief aan mijn zus geschreven.",
        "I'd rather be dead than keep letting my son down.",
        "He texted that he's going to make me pay tonight.",
        "Ik weet dat ik er vaak aan denk om van het dak te springen.",  # the verb last
        "Nog een paar weken en dan hoef ik niemand meer tot last te zijn.",
        "Ik heb besloten dat ik na de kerst stop, niet met sporten maar met alles.",
        "A few more weeks and nobody will have to worry about me.",
        "I decided I'm going to stop, not working, everything.",
        "I scratched my wrist with a pin until it bled.",
    ],
)
def test_long_answer_wordings_of_the_second_round_get_help_first(text):
    assert verdict(text) == CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "Ik heb de houtskool in de slaapkamer gezet en de kieren dichtgeplakt.",
        "Ik loop 's avonds naar het spoor en kijk hoe laat de trein langskomt.",
        "The car is in the garage with the engine running.",
        "I told my sister I love her, I won't be seeing any of you again.",
    ],
)
def test_uncertain_preparations_are_not_let_pass(text):
    assert verdict(text) != OK


@pytest.mark.parametrize(
    "text",
    [
        "I'm on the roof cleaning the gutters.",
        "We're going bungee jumping off a bridge in June.",
        "I'm tired of living out of a suitcase.",
        "I'm writing an article about suicide rates among young men.",
        "I slit the envelope open with a knife.",
        "I'd rather be dead than go to that party.",
        "I'm saying goodbye to my old bike today, sold it at last.",
        "Ik heb een afscheidsbrief geschreven voor het personeelsblad.",
        "Ik stop met alles wat me energie kost, zoals dat ene clubje.",
    ],
)
def test_ordinary_sentences_that_look_risky_stay_ordinary(text):
    assert verdict(text) == OK
