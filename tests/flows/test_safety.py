"""The crisis check: help first for every risky message, and not for sadness, guilt or idioms.

The rules are the real files in flows/safety/; the messages are in safety_cases.yaml beside this
file. When a case fails, the message says which rule fired (or that none did), so an author can
fix the rule file without reading Python.
"""

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.errors import ContentError
from flows.safety import (
    KINDS,
    Assessment,
    SafetyRules,
    assess,
    check_safety_rules,
    explain,
    parse_safety_rules,
)
from flows.safety_rules import MAX_PIECES

ROOT = Path(__file__).resolve().parents[2]
CASES_FILE = Path(__file__).with_name("safety_cases.yaml")
FALSE_ALARM_LIMIT = 0.05


def rule_sources() -> dict[str, str]:
    return {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((ROOT / "flows" / "safety").glob("*.yaml"))
    }


CASE_FILE = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
CASES: list[dict] = CASE_FILE["cases"]
KNOWN_MISSES: list[dict] = CASE_FILE.get("known_misses") or []
RULES: SafetyRules = parse_safety_rules(rule_sources())


def fires(text: str) -> bool:
    return assess(text, RULES).is_crisis


def why(text: str) -> str:
    """Which rule fired, from which pattern line, or that none did."""
    hits = [f"{h.rule_id} ({h.path}:{h.line})" for h in explain(text, RULES) if not h.suppressed_by]
    silenced = [
        f"{h.rule_id} silenced by {h.suppressed_by[0]}:{h.suppressed_by[1]}"
        for h in explain(text, RULES)
        if h.suppressed_by
    ]
    return "; ".join(hits) or "; ".join(silenced) or "no pattern matches"


# --- the rule files and the case file ------------------------------------------------------------


def test_the_rule_files_have_no_problems():
    assert check_safety_rules(rule_sources()) == []


def test_every_rule_has_a_kind_and_a_why():
    assert RULES.rules, "no rules loaded"
    for rule in RULES.rules:
        assert rule.kind in KINDS
        assert rule.why


@pytest.mark.parametrize("lang, at_least", [("nl", 70), ("en", 30)])
def test_the_case_file_is_big_varied_and_balanced(lang, at_least):
    cases = [c for c in CASES if c["lang"] == lang]
    assert len(cases) >= at_least
    risky = sum(1 for c in cases if c["risk"])
    assert 0.4 <= risky / len(cases) <= 0.6, f"{lang}: {risky} of {len(cases)} risky"
    assert len({c["text"] for c in cases}) == len(cases), "a message appears twice"
    assert any(len(c["text"]) > 150 for c in cases if c["risk"]), "no long reflection answer"


# --- the figures ---------------------------------------------------------------------------------


def test_every_risky_message_gets_help_first():
    missed = [c["text"] for c in CASES if c["risk"] and not fires(c["text"])]
    assert not missed, "missed (add a pattern, or check a not_if):\n" + "\n".join(
        f"  - {text!r}: {why(text)}" for text in missed
    )


@pytest.mark.parametrize("text", [case["text"] for case in KNOWN_MISSES])
@pytest.mark.xfail(strict=True, reason="a known miss: when it passes, move it to `cases`")
def test_known_misses_are_still_missed(text):
    assert fires(text)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_false_alarms_stay_under_five_percent(lang):
    ordinary = [c["text"] for c in CASES if c["lang"] == lang and not c["risk"]]
    alarms = [text for text in ordinary if fires(text)]
    listing = "\n".join(f"  - {text!r}: {why(text)}" for text in alarms)
    if alarms:
        print(f"false alarms ({lang}, {len(alarms)} of {len(ordinary)}):\n{listing}")
    assert len(alarms) <= FALSE_ALARM_LIMIT * len(ordinary), f"too many false alarms:\n{listing}"


# --- idioms and ordinary sadness: what a person would notice -------------------------------------


def test_ik_schaam_me_dood_is_not_a_crisis():
    assert not fires("Ik schaam me dood als ik eraan denk.")


def test_ik_lach_me_dood_is_not_a_crisis():
    assert not fires("haha ik lach me dood")


def test_ik_verveel_me_dood_is_not_a_crisis():
    assert not fires("Ik verveel me dood op die verjaardagen.")


def test_doodmoe_is_not_a_crisis():
    assert not fires("Ik ben doodmoe.")
    assert not fires("ik ben dood moe")


def test_doodziek_van_is_not_a_crisis():
    assert not fires("Ik word doodziek van dat gezeur.")


def test_een_einde_maken_aan_die_relatie_is_not_a_crisis():
    assert not fires("Ik wil een einde maken aan die relatie.")
    assert not fires("Ik wil er een eind aan maken, aan die relatie.")


def test_mijn_vader_is_overleden_is_not_a_crisis():
    assert not fires("Mijn vader is overleden.")


def test_ik_voel_me_schuldig_is_not_a_crisis():
    assert not fires("Ik voel me schuldig.")


def test_ik_ben_zo_moe_van_alles_is_not_a_crisis():
    assert not fires("Ik ben zo moe van alles.")


def test_dit_maakt_me_kapot_is_not_a_crisis():
    """Borderline, decided: distress without death in it is listened to, not referred."""
    assert not fires("Dit maakt me kapot.")


def test_mezelf_in_de_vingers_snijden_is_an_idiom():
    assert not fires("Als ik altijd ja zeg, snijd ik mezelf in de vingers.")
    assert fires("Ik snij mezelf in mijn armen.")


def test_mezelf_voor_mijn_kop_slaan_is_an_idiom():
    assert not fires("Ik kan mezelf wel voor mijn kop slaan.")


def test_er_zijn_voor_iemand_is_not_wanting_to_die():
    assert not fires("Ik wil er niet meer zijn voor haar als ze alleen belt als ze iets wil.")


def test_i_could_kill_him_for_that_is_not_a_crisis():
    assert not fires("I could kill him for that.")


def test_im_dying_to_see_her_is_not_a_crisis():
    assert not fires("I'm dying to see her.")


def test_dead_tired_is_not_a_crisis():
    assert not fires("dead tired")


def test_my_mother_died_last_year_is_not_a_crisis():
    assert not fires("My mother died last year.")


def test_that_joke_killed_me_is_not_a_crisis():
    assert not fires("That joke killed me.")


def test_social_suicide_is_an_idiom_in_both_languages():
    """Idioms apply to every language's rules: the Dutch suicid* must not fire on English."""
    assert not fires("It would be social suicide to say that.")
    assert not fires("Dat zou sociale zelfmoord zijn.")


# --- what must fire ------------------------------------------------------------------------------


def test_a_risky_sentence_after_an_idiom_still_fires():
    assert fires("Ik schaam me dood. Eerlijk gezegd wil ik dood.")
    assert fires("That joke killed me. But honestly, I want to die.")


def test_negation_still_fires():
    """Decided: whoever raises suicide sees where help is; the reply assumes nothing."""
    assert fires("ik wil niet dood")
    assert fires("Ik ben niet suïcidaal hoor.")
    assert fires("I'm not suicidal.")


def test_every_language_is_checked_whatever_the_person_writes():
    assert fires("Mijn therapeut vroeg het in het Engels: I want to end it all, zei ik.")
    assert fires("My Dutch friend says 'ik wil er niet meer zijn' a lot and so do I.")


@pytest.mark.parametrize(
    "text",
    [
        "k wil der nie meer zijn",
        "ik denk aan zelfmrd",
        "IK WIL DOOD!!!",
        "ik wil dooooood",
        "suïcidaal",
        "suicidaal",
        "ik ga mij van kant maken",
        "i wanna die",
        "i dont want to wake up",
        "kms",
        "I've been self-harming",
    ],
)
def test_chat_spellings_and_typos_fire(text):
    assert fires(text), why(text)


def test_the_assessment_names_rules_and_kinds_never_the_text():
    text = "Hij heeft gedreigd me te vermoorden en ik wil er niet meer zijn."
    result = assess(text, RULES)
    assert result.is_crisis
    assert set(result.kinds) == {"danger", "suicide"}
    assert all(rule_id in {r.id for r in RULES.rules} for rule_id in result.rule_ids)
    assert "vermoorden" not in repr(result) and "zijn" not in repr(result)


def test_an_ordinary_message_is_not_a_crisis():
    assert assess("Ik heb mijn zus gebeld.", RULES) == Assessment(verdict="ok")


# --- broken rule files: a Problem with file and line ---------------------------------------------

GOOD_RULE = """\
spec_version: 1
rules:
  - id: nl-test
    kind: suicide
    why: a test
    patterns:
      - ik wil dood
"""


def problems_in(text: str, path: str = "flows/safety/nl.yaml") -> list:
    return check_safety_rules({path: text})


def line_of(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)


def test_a_good_rule_file_has_no_problems():
    assert problems_in(GOOD_RULE) == []


def test_a_regex_that_does_not_compile_names_its_line():
    text = GOOD_RULE + "      - 're: ik wil (dood'\n"
    [problem] = problems_in(text)
    assert problem.path == "flows/safety/nl.yaml"
    assert problem.line == line_of(text, "re: ik wil (dood")
    assert "does not compile" in problem.message


def test_an_unknown_field_names_its_line():
    text = GOOD_RULE.replace("    why: a test\n", "    why: a test\n    pattern: oops\n")
    [problem] = problems_in(text)
    assert problem.line == line_of(text, "pattern: oops")
    assert "unknown field 'pattern'" in problem.message


def test_an_unknown_top_level_field_names_its_line():
    text = GOOD_RULE.replace("spec_version: 1\n", "spec_version: 1\nexceptions: []\n")
    [problem] = problems_in(text)
    assert problem.line == 2 and "unknown field 'exceptions'" in problem.message


@pytest.mark.parametrize(
    "pattern, words",
    [
        ("ik wil (dood", "no closing ')'"),
        ("ik wil dood)", "no opening bracket"),
        ("[echt]", "needs a word outside"),
        ("ik wil ...", "between words"),
        ("ik wil dood?", "looks like a regular expression"),
        ("(dood|)", "empty choice"),
    ],
)
def test_a_broken_phrase_names_its_line(pattern, words):
    text = GOOD_RULE + f"      - '{pattern}'\n"
    [problem] = problems_in(text)
    assert problem.line == line_of(text, pattern)
    assert words in problem.message


def test_a_regex_that_matches_everything_is_refused():
    text = GOOD_RULE + "      - 're: .*'\n"
    [problem] = problems_in(text)
    assert problem.line == 8 and "every message" in problem.message


def test_invalid_yaml_names_its_line():
    text = GOOD_RULE + "    not_if: [unclosed\n"
    [problem] = problems_in(text)
    assert problem.line >= 8 and "not valid YAML" in problem.message


def test_an_unknown_spec_version_is_refused():
    [problem] = problems_in(GOOD_RULE.replace("spec_version: 1", "spec_version: 2"))
    assert problem.line == 1 and "spec_version 2" in problem.message


def test_a_rule_without_kind_or_why_is_refused():
    text = GOOD_RULE.replace("    kind: suicide\n", "").replace("    why: a test\n", "")
    messages = [p.message for p in problems_in(text)]
    assert any("no kind" in m for m in messages) and any("no why" in m for m in messages)


def test_a_rule_id_used_twice_is_refused():
    problems = check_safety_rules(
        {"flows/safety/en.yaml": GOOD_RULE, "flows/safety/nl.yaml": GOOD_RULE}
    )
    [problem] = problems
    assert problem.path == "flows/safety/nl.yaml" and problem.line == 3
    assert "also used in flows/safety/en.yaml:3" in problem.message


def test_an_example_that_does_not_fire_names_its_line():
    text = (
        GOOD_RULE + "    not_if:\n      - dood van schaamte\n    examples:\n"
        "      - ik wil dood\n      - ik wil dood van schaamte\n"
    )
    [problem] = problems_in(text)
    assert problem.line == line_of(text, "- ik wil dood van schaamte")
    assert "silenced by not_if at flows/safety/nl.yaml:" in problem.message


def test_conflicting_spellings_are_refused():
    other = "spec_version: 1\nspellings:\n  k: ok\nrules: []\n"
    mine = "spec_version: 1\nspellings:\n  k: ik\nrules: []\n"
    [problem] = check_safety_rules({"flows/safety/en.yaml": other, "flows/safety/nl.yaml": mine})
    assert problem.path == "flows/safety/nl.yaml" and problem.line == 3


def test_no_rule_files_at_all_is_a_problem():
    """Without rule files the check would never fire: refuse to start rather than go blind."""
    assert check_safety_rules({})
    with pytest.raises(ContentError):
        parse_safety_rules({})


def test_parse_raises_with_every_problem():
    text = GOOD_RULE + "      - 're: ('\n      - '(a'\n"
    with pytest.raises(ContentError) as error:
        parse_safety_rules({"flows/safety/nl.yaml": text})
    assert [p.line for p in error.value.problems] == [8, 9]


# --- never raises, whatever a person sends -------------------------------------------------------

VOCABULARY = sorted({word for case in CASES for word in case["text"].split()})
PUNCTUATION = [
    ".",
    ",",
    "!",
    "?",
    "'",
    "’",
    "...",
    "\n",
    "😢",
    "-",
    "(",
    ")",
    "[",
    "*",
    "\\",
    ":",
    " — ",
    " - ",
    "1,5",
]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_assess_never_raises_on_arbitrary_text(text):
    result = assess(text, RULES)
    assert result.is_crisis == bool(result.rule_ids)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY + PUNCTUATION), max_size=40))
def test_assess_never_raises_on_messages_made_of_real_words(words):
    result = assess(" ".join(words), RULES)
    assert result.is_crisis == bool(result.rule_ids)
    assert set(result.kinds) <= set(KINDS)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(st.sampled_from(VOCABULARY + PUNCTUATION), max_size=60)))
def test_pieces_never_raise_and_stay_within_their_sentences(text_or_words):
    """The clauses the semantic layer scores apart: any text, at most MAX_PIECES of them, each
    one words of a sentence of the message."""
    text = text_or_words if isinstance(text_or_words, str) else " ".join(text_or_words)
    pieces = RULES.pieces(text)
    assert len(pieces) <= MAX_PIECES
    sentences = [f" {s} " for s in RULES.sentences(text)]
    assert all(any(f" {p} " in s for s in sentences) for p in pieces)


def test_a_risky_message_inside_an_ordinary_answer_still_fires():
    """Every risky case after and before many ordinary ones: an idiom's exception, or a phrase,
    must never reach across the end of a sentence and silence the risky part."""
    ordinary = [c["text"] for c in CASES if not c["risk"]][::4]
    missed = [
        (before, after)
        for risky in (c["text"] for c in CASES if c["risk"])
        for text in ordinary
        for before, after in ((text, risky), (risky, text))
        if not fires(f"{before} {after}")
    ]
    assert not missed, "\n".join(f"  - {b!r} + {a!r}" for b, a in missed[:20])


@pytest.mark.parametrize(
    "word",
    [
        "en",
        "maar",
        "want",
        "omdat",
        "dus",
        "hoor",
        "eigenlijk",
        "bij",
        "and",
        "but",
        "because",
        "so",
        "honestly",
        "sometimes",
        "with",
    ],
)
def test_a_risky_message_goes_on_without_punctuation_and_still_fires(word):
    """Chat has no full stops: an exception must not start where a risky phrase ends and eat
    the next word ("... omdat ..." gives the reason; it does not take the risk away)."""
    missed = [
        c["text"]
        for c in CASES
        if c["risk"]
        if not fires(f"{c['text'].rstrip(' .!?')} {word} ik weet het niet")
    ]
    assert not missed, "\n".join(f"  - {text!r}: {why(text)}" for text in missed)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_normalising_twice_changes_nothing(text):
    once = RULES.normalise(text)
    assert RULES.normalise(once) == once


def test_deferred_rules_compile_on_first_use_and_still_refuse_broken_files():
    from flows.errors import ContentError
    from flows.safety import DeferredRules, assess

    rules = DeferredRules({"flows/safety/nl.yaml": "spec_version: 1\nrules:\n  - id: x\n"})
    with pytest.raises(ContentError):
        assess("ik wil dood", rules)
