"""The crisis check: does a message speak of suicide, self-harm or acute danger?

Before the engine handles any text a person sends, it calls `assess(text, rules)`. When
`is_crisis` is true, the coach answers with help first (113, 0800-0113, 1813, 112) and only then
offers to go on ("Tone and care" in the design).

The rules are data, written by the author in `flows/safety/<lang>.yaml`; the header of those files
explains the format. Every language's rules are applied to every message, whatever the person's
language: people switch languages, and a Dutch message may carry an English sentence.

This module is pure: it reads no files. The shell reads the rule files and hands their text in:
`parse_safety_rules({"flows/safety/nl.yaml": text, ...})`. Everything is compiled once, there:
the files are read and compiled in `flows.safety_rules`, the phrase syntax and the normalising are
`flows.safety_phrases`, the semantic layer is `flows.safety_semantic`; this module matches and
gives the verdict (crisis, ask or ok; docs/safety.md).

How a message is matched:

1. The message is normalised (`SafetyRules.normalise`): lowercase, accents stripped ("suïcide" is
   "suicide"), apostrophes removed ("m'n" is "mn", "don't" is "dont"), every other character that
   is not a letter or digit becomes a space, except the end of a sentence (. ! ? ; or a line
   break, not "..."), which becomes " | " so that no phrase runs across it; a letter repeated
   three or more times counts twice ("dooood" is "dood"), and the files' `spellings` replace chat
   spellings word by word ("k" is "ik", "wanna" is "want to"). Patterns are normalised the same
   way, so an author writes ordinary words.
2. A rule fires when one of its patterns matches whole words, and that match does not overlap a
   match of one of its exceptions: the rule's own `not_if`, and the idioms in the top-level
   `not_if` of every file (an idiom is an idiom whichever language's rule it touches: "social
   suicide" must not fire the Dutch "suicid*"). Overlap, not "anywhere in the message":
   "ik schaam me dood, ik wil dood" still fires on "ik wil dood".
3. Sentence rules (`all:`) combine concepts within one clause in any order, with context
   (`unless`, `ask_if`) that silences them or makes them the question.
4. No phrase rule looks at negation: "ik wil niet dood" and "ik ben niet suïcidaal" fire. A
   person who brings up the subject is the moment to show where help is; the reply is gentle and
   lets them go on. (See the header of the rule files.)

Assessments carry rule ids only, never the text, so they may be logged.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flows.diagnostics import Problem
from flows.errors import ContentError
from flows.memo import DigestMemo, digest
from flows.safety_phrases import Matcher, normalise_text, split_clauses, word_span
from flows.safety_rules import (
    ASK,
    CRISIS,
    KINDS,
    OK,
    CompiledRule,
    Concept,
    RawRule,
    SafetyRule,
    SafetyRules,
    build,
)
from flows.safety_semantic import SemanticLayer, SemanticScore

__all__ = [  # what callers use; the rest lives in flows.safety_rules and flows.safety_phrases
    "ASK",
    "CRISIS",
    "KINDS",
    "OK",
    "Assessment",
    "Check",
    "DeferredRules",
    "Hit",
    "SafetyCheck",
    "SafetyRule",
    "SafetyRules",
    "assess",
    "check_safety_rules",
    "combine",
    "explain",
    "parse_safety_rules",
    "parts",
    "semantic_score",
]

# `unless` and `ask_if` look this many words around what the rule matched, in its clause: chat
# often has no full stops, and a film named in the previous "sentence" must not silence this one.
CONTEXT_WORDS = 8
# Internally, a rule that would give help first but whose context (`ask_if`) made it the question:
# the context already said "probably not now", so the semantic layer agreeing does not turn it back.
_SOFT = "ask, softened by context"
# How many messages' assessments a check remembers (a few hundred bytes each).
MEMO_SIZE = 8192


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Assessment:
    """What the check found in one message: the verdict, and why.

    `verdict`: "crisis" (strong evidence: help first), "ask" (uncertain: one gentle question with
    the helplines in a line) or "ok". `rule_ids` are the ids of the rules that fired, in the order
    of the rule files; `kinds` their kinds (suicide, self-harm, danger), each once, in that order
    too; `rules_verdict` what the rules alone say; `semantic` the semantic layer's score (None
    without a model). Never the text itself: an assessment may be logged.
    """

    verdict: str = OK
    rule_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    rules_verdict: str = OK
    semantic: SemanticScore | None = None

    @property
    def is_crisis(self) -> bool:
        """Whether the message needs a safety answer at all: help first, or the question.

        For callers that have one answer only: they give help first for both, the safe side.
        """
        return self.verdict != OK


NOT_A_CRISIS = Assessment()


@dataclass(frozen=True, kw_only=True)
class Hit:
    """One match of a pattern, for authors finding out why a message fires (or does not)."""

    rule_id: str
    path: str
    line: int  # the line of the pattern
    suppressed_by: tuple[str, int] | None  # (path, line) of the not_if that silenced it


# --- assessing -----------------------------------------------------------------------------------


class DeferredRules:
    """Rule files read but not yet compiled: compiling the patterns is most of a start-up, and the
    first message of a conversation needs no crisis check. `get()` compiles them once (raising
    ContentError when they are broken, as `parse_safety_rules` does)."""

    def __init__(self, sources: Mapping[str, str]):
        self._sources = dict(sources)
        self._rules: SafetyRules | None = None

    def get(self) -> SafetyRules:
        if self._rules is None:
            self._rules = parse_safety_rules(self._sources)
        return self._rules


class SafetyCheck:
    """The whole crisis check: the rules and, when the shell handed in a model, the semantic layer.

    Both take a moment to get ready (compiling the rules, loading the model and embedding the
    examples). `warm()` does it; the console calls it in a thread right after its first message,
    and the first `assess` waits for it: a first message that speaks of suicide must meet the
    whole check, not half of it.
    """

    def __init__(self, rules: SafetyRules | DeferredRules, semantic: SemanticLayer | None = None):
        self._rules = rules
        self.semantic = semantic
        # Each message's assessment, by a digest of its text (flows/memo.py): a turn asks about
        # the same text more than once, and the same short texts come from many people.
        self._memo: DigestMemo[Assessment] = DigestMemo(MEMO_SIZE)

    @property
    def rules(self) -> SafetyRules:
        return self._rules.get() if isinstance(self._rules, DeferredRules) else self._rules

    def warm(self) -> None:
        rules = self.rules
        if self.semantic is not None:
            self.semantic.warm(rules.normalise)

    def assessed(self, text: str, complete: bool = False) -> Assessment:
        """`assess(text, self)`, remembered."""
        key = digest(f"{int(complete)}{text}")
        found = self._memo.get(key)
        if found is None:
            found = _assess(text, self, complete=complete)
            self._memo.put(key, found)
        return found

    def clear_memo(self) -> None:
        """Forget every message's assessment and sentence's score (for timing a cold check)."""
        self._memo.clear()
        if self.semantic is not None:
            self.semantic.clear_memo()

    def without_semantic(self) -> SafetyCheck:
        """The rules alone (for comparing the layers)."""
        return SafetyCheck(self._rules)


Check = SafetyCheck | SafetyRules | DeferredRules


def assess(text: str, check: Check, *, complete: bool = False) -> Assessment:
    """The verdict on `text` (crisis, ask or ok), by every language's rules and the semantic layer.

    The rules speak first; when they say crisis, the semantic layer is not consulted unless
    `complete` (for authors who want every score). Never raises on any text; well under a
    millisecond for the rules, a few for the semantic layer (bench/safety.py); a text a
    `SafetyCheck` assessed before costs a hash.
    """
    if isinstance(check, SafetyCheck):
        return check.assessed(text, complete)
    return _assess(text, check, complete=complete)


def _assess(text: str, check: Check, *, complete: bool) -> Assessment:
    rules, semantic = parts(check)
    found = _fired(text, rules)
    fired = [(rule, ASK if verdict == _SOFT else verdict) for rule, verdict in found]
    rules_verdict = _strongest(verdict for _, verdict in fired)
    score: SemanticScore | None = None
    if semantic is not None and (complete or rules_verdict != CRISIS):
        score = semantic_score(text, rules, semantic)
    verdict = combine(
        rules_verdict,
        score.verdict if score else OK,
        escalate=any(verdict == ASK for _, verdict in found),
    )
    if verdict == OK and not fired:
        return NOT_A_CRISIS if score is None else Assessment(semantic=score)
    kinds = [rule.kind for rule, _ in fired]
    if score is not None and score.verdict != OK:
        kinds.append(score.nearest.label)
    return Assessment(
        verdict=verdict,
        rule_ids=tuple(rule.id for rule, _ in fired),
        kinds=tuple(dict.fromkeys(kinds)),
        rules_verdict=rules_verdict,
        semantic=score,
    )


def combine(rules_verdict: str, semantic_verdict: str, *, escalate: bool = True) -> str:
    """Help first when either layer is sure, or when both are unsure about the same message (two
    independent signals, unless the rules were unsure only because of the context: `escalate`
    false); the question when one is unsure; otherwise nothing."""
    verdicts = (rules_verdict, semantic_verdict)
    if CRISIS in verdicts or (escalate and verdicts == (ASK, ASK)):
        return CRISIS
    return ASK if ASK in verdicts else OK


def semantic_score(text: str, rules: SafetyRules, semantic: SemanticLayer) -> SemanticScore | None:
    """The semantic layer's score for `text`: its sentences, idioms left out, long ones in pieces.

    A sentence of fewer than _MIN_WORDS words is left to the rules: three words share too much
    with any short risky example ("ik wil wel" lies close to "ik wil dood").
    """
    semantic.warm(rules.normalise)
    units: list[str] = []
    evidence: list[bool] = []
    for sentence in rules.sentences(text):
        words = rules.without_idioms(sentence).split()
        if len(words) < _MIN_WORDS:
            continue
        if len(words) <= _UNIT_WORDS:
            found = [" ".join(words)]
        else:  # a long run-on chat sentence: overlapping pieces, so one risky part stands out
            step = _UNIT_WORDS // 2
            found = [
                " ".join(words[i : i + _UNIT_WORDS]) for i in range(0, len(words) - step, step)
            ]
        units += found
        evidence += [rules.has_evidence(unit) for unit in found]
    # A risky clause inside a long sentence ("Het was fijn, maar ik weet dat het de laatste keer
    # was") is diluted by its neighbours in the sentence's embedding; the clause alone is not.
    # Only clauses that name a risk concept are added (the model's time grows with every unit),
    # and none of a sentence that names a context (`SafetyRules.pieces`).
    for clause in rules.pieces(text):
        words = rules.without_idioms(clause).split()
        piece = " ".join(words)
        fits = _MIN_WORDS <= len(words) <= _UNIT_WORDS
        if fits and piece not in units and rules.has_evidence(piece):
            units.append(piece)
            evidence.append(True)
    return semantic.score(units, evidence)


_UNIT_WORDS = 16
_MIN_WORDS = 4
_RANK = {OK: 0, _SOFT: 1, ASK: 2, CRISIS: 3}


def _strongest(verdicts: Iterable[str]) -> str:
    return max(verdicts, key=_RANK.__getitem__, default=OK)


def parts(check: Check) -> tuple[SafetyRules, SemanticLayer | None]:
    """The compiled rules and the semantic layer (None without a model) of any kind of check."""
    if isinstance(check, SafetyCheck):
        return check.rules, check.semantic
    if isinstance(check, DeferredRules):
        return check.get(), None
    return check, None


def _fired(text: str, rules: SafetyRules) -> list[tuple[SafetyRule, str]]:
    """Every rule that fires on `text`, with the verdict it gives, in the order of the files."""
    padded = f" {normalise_text(text, rules.spellings)} "
    starts = rules._any.starts(padded)  # one pass over the message for every pattern at once
    message = _Message(padded, rules)
    fired: list[tuple[SafetyRule, str]] = []
    for compiled in rules._compiled:
        if compiled.all:
            verdict = _all_fires(compiled, message)
        elif starts:
            verdict = _fires(compiled, padded, starts, message)
        else:
            verdict = None
        if verdict is not None:
            fired.append((compiled.rule, verdict))
    return fired


def explain(text: str, rules: SafetyRules) -> tuple[Hit, ...]:
    """Every pattern that matches `text`, and the exception that silenced it, if one did; and
    every `all` rule that fires (its line is the rule's).

    For authors (and failing tests): slower than `assess`, and exact about lines.
    """
    padded = f" {normalise_text(text, rules.spellings)} "
    hits: list[Hit] = []
    message = _Message(padded, rules)
    for compiled in rules._compiled:
        if compiled.all:
            if _all_fires(compiled, message) is not None:
                rule = compiled.rule
                hits.append(
                    Hit(rule_id=rule.id, path=rule.path, line=rule.line, suppressed_by=None)
                )
            continue
        for pattern, line in compiled.patterns:
            for start in Matcher.of([pattern]).starts(padded):
                match = pattern.regex.match(padded, start)
                if match is None:
                    continue
                silencer = next(
                    (
                        e
                        for e in compiled.not_if
                        for a, b in Matcher.of([e.pattern]).spans(padded)
                        if a < match.end() and start < b
                    ),
                    None,
                )
                where = (silencer.path, silencer.line) if silencer else None
                hits.append(
                    Hit(
                        rule_id=compiled.rule.id,
                        path=compiled.rule.path,
                        line=line,
                        suppressed_by=where,
                    )
                )
    return tuple(hits)


def _fires(compiled: CompiledRule, padded: str, starts: list[int], message: _Message) -> str | None:
    """The verdict of the rule when a pattern matches at one of `starts` without overlapping a
    not_if (nor standing in a clause with one of its `unless`); None when it does not fire."""
    silenced: list[tuple[int, int]] | None = None
    found: str | None = None
    for start in starts:
        if not compiled.matcher.matches_at(padded, start):
            continue
        for pattern, _line in compiled.patterns:
            match = pattern.regex.match(padded, start)
            if match is None:
                continue
            if silenced is None:
                silenced = [span for m in compiled.exceptions for span in message.spans.of(m)]
            end = match.end()
            if any(a < end and start < b for a, b in silenced):
                continue
            verdict = message.clause_verdict(compiled, start, end)
            if verdict == CRISIS:
                return CRISIS
            if verdict is not None:
                found = _strongest([verdict, found or OK])
    return found


def _all_fires(compiled: CompiledRule, message: _Message) -> str | None:
    """The verdict of an `all` rule: its concepts in one clause, in any order, within
    `within` words, none overlapping an idiom; None when it does not fire."""
    found: str | None = None
    for index in range(len(message.clauses)):
        if message.has(compiled.exceptions[0], index):
            continue
        lists = []
        for concept in compiled.all:
            spans = message.concept(concept, index)
            if not spans:
                break
            lists.append(spans)
        else:
            for first, last in _together(lists, compiled.within):
                if message.near(compiled.unless, index, first, last):
                    continue
                if compiled.rule.verdict != CRISIS:
                    found = ASK
                elif not message.near(compiled.ask_if, index, first, last):
                    return CRISIS
                else:
                    found = _strongest([_SOFT, found or OK])
    return found


def _together(lists: list[list[tuple[int, int]]], within: int) -> list[tuple[int, int]]:
    """Every way to choose one word span from each list, no two starting at the same word, all
    within `within` words from the first word to the last: (first word, last word + 1) of each.

    A span may contain another: "niet meer ... leven" holds the "wil" of "niet meer wil leven",
    and "hoeveel ... nodig" the pills of "hoeveel pillen heb je nodig".
    """
    found: list[tuple[int, int]] = []
    for choice in itertools.product(*(spans[:8] for spans in lists)):
        if len({start for start, _ in choice}) < len(choice):
            continue
        first, last = min(start for start, _ in choice), max(end for _, end in choice)
        if last - first <= within and (first, last) not in found:
            found.append((first, last))
    return found


class _Message:
    """One message, normalised, and what was found in it so far (computed only when needed)."""

    def __init__(self, padded: str, rules: SafetyRules):
        self.padded = padded
        self.rules = rules
        self.spans = _SpanCache(padded)
        self._clauses: list[tuple[int, int, str]] | None = None
        self._concepts: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._idioms: dict[int, list[tuple[int, int]]] = {}

    @property
    def clauses(self) -> list[tuple[int, int, str]]:
        if self._clauses is None:
            self._clauses = split_clauses(self.padded, self.rules.clause_breaks)
        return self._clauses

    def has(self, matcher: Matcher, index: int) -> bool:
        return bool(matcher.starts(self.clauses[index][2]))

    def concept(self, concept: Concept, index: int) -> list[tuple[int, int]]:
        """Where `concept` is in clause `index`, as (first word, last word + 1), idioms left out."""
        key = (id(concept), index)
        if key not in self._concepts:
            clause = self.clauses[index][2]
            idioms = self._idiom_spans(index)
            self._concepts[key] = [
                word_span(clause, a, b)
                for a, b in concept.matcher.spans(clause)
                if not any(x < b and a < y for x, y in idioms)
            ]
        return self._concepts[key]

    def _idiom_spans(self, index: int) -> list[tuple[int, int]]:
        if index not in self._idioms:
            idioms = self.rules._idioms
            self._idioms[index] = idioms.spans(self.clauses[index][2]) if idioms else []
        return self._idioms[index]

    def near(self, concepts: tuple[Concept, ...], index: int, first: int, last: int) -> bool:
        """Whether one of `concepts` is in clause `index`, within CONTEXT_WORDS of the words
        first..last (what a rule matched)."""
        return any(
            a < last + CONTEXT_WORDS and first - CONTEXT_WORDS < b
            for concept in concepts
            for a, b in self.concept(concept, index)
        )

    def clause_verdict(self, compiled: CompiledRule, start: int, end: int) -> str | None:
        """The verdict of a phrase rule matched at start..end of the padded message, after its
        `unless` and `ask_if`."""
        if not compiled.unless and not compiled.ask_if:
            return compiled.rule.verdict
        index = next(
            (i for i, (a, b, _) in enumerate(self.clauses) if a <= start < b),
            len(self.clauses) - 1,
        )
        offset, clause = self.clauses[index][0], self.clauses[index][2]
        first, last = word_span(clause, max(0, start - offset), max(0, end - offset))
        if self.near(compiled.unless, index, first, last):
            return None
        if self.near(compiled.ask_if, index, first, last):
            return _SOFT if compiled.rule.verdict == CRISIS else ASK
        return compiled.rule.verdict


class _SpanCache:
    """Where the exceptions match in one message; computed only when a pattern matched."""

    def __init__(self, padded: str):
        self.padded = padded
        self.cache: dict[int, list[tuple[int, int]]] = {}

    def of(self, matcher: Matcher) -> list[tuple[int, int]]:
        key = id(matcher)
        if key not in self.cache:
            self.cache[key] = matcher.spans(self.padded)
        return self.cache[key]


# --- parsing -------------------------------------------------------------------------------------


def parse_safety_rules(sources: Mapping[str, str]) -> SafetyRules:
    """The rules of every file in `sources` (path -> YAML text), or ContentError with problems."""
    rules, problems = _build(sources)
    if problems or rules is None:
        raise ContentError(problems)
    return rules


def check_safety_rules(sources: Mapping[str, str]) -> list[Problem]:
    """Every problem in the rule files, each with file and line; empty when all is well."""
    return _build(sources)[1]


def _build(sources: Mapping[str, str]) -> tuple[SafetyRules | None, list[Problem]]:
    rules, problems, raw_rules = build(sources)
    if rules is not None:
        for raw in raw_rules:
            _check_examples(raw, rules, problems)
    return rules, problems


def _check_examples(raw: RawRule, rules: SafetyRules, problems: list[Problem]) -> None:
    if not any(rule.id == raw.id.value and rule.path == raw.path for rule in rules.rules):
        return  # the rule itself is broken; that problem is already reported
    for example in raw.examples:
        if raw.id.value not in assess(example.value, rules).rule_ids:
            hits = [h for h in explain(example.value, rules) if h.rule_id == raw.id.value]
            why = next(
                (
                    f" (silenced by not_if at {h.suppressed_by[0]}:{h.suppressed_by[1]})"
                    for h in hits
                    if h.suppressed_by
                ),
                " (no pattern matches it)",
            )
            problems.append(
                Problem(
                    path=raw.path,
                    line=example.line,
                    code="KC072",
                    message=(f"this example does not fire rule '{raw.id.value}'{why}"),
                )
            )
