"""The crisis check: does a message speak of suicide, self-harm or acute danger?

Before the engine handles any text a person sends, it calls `assess(text, rules)`. When
`is_crisis` is true, the coach answers with help first (113, 0800-0113, 1813, 112) and only then
offers to go on ("Tone and care" in the design).

The rules are data, written by the author in `flows/safety/<lang>.yaml`; the header of those files
explains the format. Every language's rules are applied to every message, whatever the person's
language: people switch languages, and a Dutch message may carry an English sentence.

This module is pure: it reads no files. The shell reads the rule files and hands their text in:
`parse_safety_rules({"flows/safety/nl.yaml": text, ...})`. Everything is compiled once, there.

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
3. No rule looks at negation: "ik wil niet dood" and "ik ben niet suïcidaal" fire. A person who
   brings up the subject is the moment to show where help is; the reply is gentle and lets them
   go on. (See the header of the rule files.)

Assessments carry rule ids only, never the text, so they may be logged.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import yaml

from flows.diagnostics import Problem
from flows.errors import ContentError
from flows.safety_semantic import SemanticLayer, SemanticScore

SPEC_VERSION = 1
RULES_DIR = "flows/safety"  # the shell reads RULES_DIR/*.yaml
KINDS = ("suicide", "self-harm", "danger")
CRISIS, ASK, OK = "crisis", "ask", "ok"  # the verdicts: help first, the gentle question, nothing
# Internally, a rule that would give help first but whose context (`ask_if`) made it the question:
# the context already said "probably not now", so the semantic layer agreeing does not turn it back.
_SOFT = "ask, softened by context"
VERDICTS = (CRISIS, ASK)  # what a rule can give
GAP_WORDS = 3  # "..." in a phrase stands for 0 to GAP_WORDS words
WITHIN_WORDS = 12  # the concepts of an `all` rule lie within this many words (unless `within`)
# `unless` and `ask_if` look this many words around what the rule matched, in its clause: chat
# often has no full stops, and a film named in the previous "sentence" must not silence this one.
CONTEXT_WORDS = 8

FILE_FIELDS = ("spec_version", "spellings", "not_if", "clause_breaks", "concepts", "rules")
RULE_FIELDS = (
    "id",
    "kind",
    "verdict",
    "why",
    "patterns",
    "all",
    "within",
    "not_if",
    "unless",
    "ask_if",
    "examples",
)
REGEX_PREFIX = "re:"

_RULE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`\u00b4\u02bc\u2032")
_NON_WORD = re.compile(r"[\W_]+")
# The end of a sentence: . ! ? ; before a space or the end, and a line break; not "..." or "…",
# which in chat are a pause ("ik wil... dood"). Phrases and exceptions do not run across it.
SENTENCE_BREAK = "|"  # how a sentence end shows in the normalised text
_BREAK_CHARS = frozenset("!?;|.\n")
_TOKEN = re.compile(r"[^\W_]+|(?:[!?;|]+\.*|(?<![.\u2026])\.(?!\.))(?=\s|$)|\n")
_REPEATED_LETTER = re.compile(r"([a-z])\1\1+")  # after folding: Dutch and English letters
_PHRASE_TOKEN = re.compile(r"\.\.\.|\u2026|[()\[\]|]|[^\s()\[\]|]+")
_REGEX_LOOKING = set("?+{}\\^$")
_END = "(?= )"  # a phrase ends at the end of a word (the text is padded with spaces)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present; same marks


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
class SafetyRule:
    """One rule as the author wrote it (its patterns are compiled inside `SafetyRules`)."""

    id: str
    kind: str
    why: str
    path: str
    line: int
    verdict: str = CRISIS


@dataclass(frozen=True, kw_only=True)
class Hit:
    """One match of a pattern, for authors finding out why a message fires (or does not)."""

    rule_id: str
    path: str
    line: int  # the line of the pattern
    suppressed_by: tuple[str, int] | None  # (path, line) of the not_if that silenced it


@dataclass(frozen=True, eq=False)
class _Exception:
    pattern: _Pattern
    path: str
    line: int


@dataclass(frozen=True, eq=False)
class _Matcher:
    """Many regexes, searched as one.

    Every phrase regex is " <body>(?= )", so all phrases become one alternation: one pass over
    the message instead of one per phrase. A `re:` regex is searched on its own (its groups
    could clash with the others'). Where a pass matches, each regex is tried anchored there.
    """

    regexes: tuple[re.Pattern[str], ...]
    passes: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, patterns: list[_Pattern]) -> _Matcher:
        branches = [branch for p in patterns for branch in p.branches]
        passes = [p.regex for p in patterns if not p.branches]
        if branches:
            passes.insert(0, re.compile(f" (?:{_trie(branches)}){_END}"))
        return cls(regexes=tuple(p.regex for p in patterns), passes=tuple(passes))

    def matches_at(self, padded: str, start: int) -> bool:
        return any(regex.match(padded, start) for regex in self.passes)

    def starts(self, padded: str) -> list[int]:
        """Every position where at least one of the regexes matches, in order."""
        found: set[int] = set()
        for regex in self.passes:
            match = regex.search(padded)
            while match:
                found.add(match.start())
                match = regex.search(padded, match.start() + 1)
        return sorted(found)

    def spans(self, padded: str) -> list[tuple[int, int]]:
        """(start, furthest end) of the matches at every position where one matches."""
        spans = []
        for start in self.starts(padded):
            ends = [m.end() for regex in self.regexes if (m := regex.match(padded, start))]
            if ends:
                spans.append((start, max(ends)))
        return spans


@dataclass(frozen=True, eq=False)
class _Pattern:
    regex: re.Pattern[str]
    branches: tuple[str, ...]  # a phrase as alternatives (see `_Phrase.compile`); () for `re:`


@dataclass(frozen=True, eq=False)
class _Concept:
    """A named set of phrases ("self", "wish", "not-living"), matched within one clause."""

    name: str
    matcher: _Matcher


@dataclass(frozen=True, eq=False)
class _CompiledRule:
    rule: SafetyRule
    patterns: tuple[tuple[_Pattern, int], ...]  # (pattern, line); () for an `all` rule
    not_if: tuple[_Exception, ...]  # the rule's own, then every file's idioms (for `explain`)
    matcher: _Matcher  # the patterns
    exceptions: tuple[_Matcher, ...]  # the rule's own not_if, and the idioms (shared by all rules)
    all: tuple[_Concept, ...] = ()  # an `all` rule: every one of these within one clause
    within: int = WITHIN_WORDS
    unless: tuple[_Concept, ...] = ()  # silenced in a clause that has one of these
    ask_if: tuple[_Concept, ...] = ()  # the question, not help first, in a clause with one


@dataclass(frozen=True, eq=False)
class SafetyRules:
    """Every rule file, compiled. Make it with `parse_safety_rules`; use it with `assess`."""

    rules: tuple[SafetyRule, ...]
    spellings: Mapping[str, str] = field(repr=False)
    _compiled: tuple[_CompiledRule, ...] = field(repr=False)
    _any: _Matcher = field(repr=False)  # every pattern of every rule: most messages stop here
    clause_breaks: frozenset[str] = field(default=frozenset(), repr=False)
    _idioms: _Matcher | None = field(default=None, repr=False)

    def clauses(self, text: str) -> list[str]:
        """The message's clauses, normalised: split at sentence ends and at `clause_breaks`
        ("maar", "but"). What the `all` rules and the semantic layer look at, one by one."""
        padded = f" {_normalise(text, self.spellings)} "
        return [clause.strip() for _, _, clause in _clauses(padded, self.clause_breaks)]

    def sentences(self, text: str) -> list[str]:
        """The message's sentences, normalised (what the semantic layer compares)."""
        padded = f" {_normalise(text, self.spellings)} "
        return [s.strip() for _, _, s in _clauses(padded, frozenset()) if s.strip()]

    def without_idioms(self, clause: str) -> str:
        """`clause` with the words of every idiom in it left out ("ik schaam me dood als..."
        becomes "ik als..."): the semantic layer must not read an idiom as a wish to die."""
        if self._idioms is None:
            return clause
        padded = f" {clause} "
        spans = self._idioms.spans(padded)
        if not spans:
            return clause
        kept = [c for i, c in enumerate(padded) if not any(a <= i < b for a, b in spans)]
        return " ".join("".join(kept).split())

    def normalise(self, text: str) -> str:
        """The message as the patterns see it: words separated by single spaces, sentences by
        " | " (a phrase, and so an exception, never runs across the end of a sentence)."""
        return _normalise(text, self.spellings)

    def rule(self, rule_id: str) -> SafetyRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


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

    @property
    def rules(self) -> SafetyRules:
        return self._rules.get() if isinstance(self._rules, DeferredRules) else self._rules

    def warm(self) -> None:
        rules = self.rules
        if self.semantic is not None:
            self.semantic.warm(rules.normalise)

    def without_semantic(self) -> SafetyCheck:
        """The rules alone (for comparing the layers)."""
        return SafetyCheck(self._rules)


Check = SafetyCheck | SafetyRules | DeferredRules


def assess(text: str, check: Check, *, complete: bool = False) -> Assessment:
    """The verdict on `text` (crisis, ask or ok), by every language's rules and the semantic layer.

    The rules speak first; when they say crisis, the semantic layer is not consulted unless
    `complete` (for authors who want every score). Never raises on any text; well under a
    millisecond for the rules, a few for the semantic layer (bench/safety.py).
    """
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
    for sentence in rules.sentences(text):
        words = rules.without_idioms(sentence).split()
        if len(words) < _MIN_WORDS:
            continue
        if len(words) <= _UNIT_WORDS:
            units.append(" ".join(words))
        else:  # a long run-on chat sentence: overlapping pieces, so one risky part stands out
            step = _UNIT_WORDS // 2
            units += [
                " ".join(words[i : i + _UNIT_WORDS]) for i in range(0, len(words) - step, step)
            ]
    return semantic.score(units)


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
    padded = f" {_normalise(text, rules.spellings)} "
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
    padded = f" {_normalise(text, rules.spellings)} "
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
            for start in _Matcher.of([pattern]).starts(padded):
                match = pattern.regex.match(padded, start)
                if match is None:
                    continue
                silencer = next(
                    (
                        e
                        for e in compiled.not_if
                        for a, b in _Matcher.of([e.pattern]).spans(padded)
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


def _fires(
    compiled: _CompiledRule, padded: str, starts: list[int], message: _Message
) -> str | None:
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


def _all_fires(compiled: _CompiledRule, message: _Message) -> str | None:
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
            self._clauses = _clauses(self.padded, self.rules.clause_breaks)
        return self._clauses

    def has(self, matcher: _Matcher, index: int) -> bool:
        return bool(matcher.starts(self.clauses[index][2]))

    def concept(self, concept: _Concept, index: int) -> list[tuple[int, int]]:
        """Where `concept` is in clause `index`, as (first word, last word + 1), idioms left out."""
        key = (id(concept), index)
        if key not in self._concepts:
            clause = self.clauses[index][2]
            idioms = self._idiom_spans(index)
            self._concepts[key] = [
                _word_span(clause, a, b)
                for a, b in concept.matcher.spans(clause)
                if not any(x < b and a < y for x, y in idioms)
            ]
        return self._concepts[key]

    def _idiom_spans(self, index: int) -> list[tuple[int, int]]:
        if index not in self._idioms:
            idioms = self.rules._idioms
            self._idioms[index] = idioms.spans(self.clauses[index][2]) if idioms else []
        return self._idioms[index]

    def near(self, concepts: tuple[_Concept, ...], index: int, first: int, last: int) -> bool:
        """Whether one of `concepts` is in clause `index`, within CONTEXT_WORDS of the words
        first..last (what a rule matched)."""
        return any(
            a < last + CONTEXT_WORDS and first - CONTEXT_WORDS < b
            for concept in concepts
            for a, b in self.concept(concept, index)
        )

    def clause_verdict(self, compiled: _CompiledRule, start: int, end: int) -> str | None:
        """The verdict of a phrase rule matched at start..end of the padded message, after its
        `unless` and `ask_if`."""
        if not compiled.unless and not compiled.ask_if:
            return compiled.rule.verdict
        index = next(
            (i for i, (a, b, _) in enumerate(self.clauses) if a <= start < b),
            len(self.clauses) - 1,
        )
        offset, clause = self.clauses[index][0], self.clauses[index][2]
        first, last = _word_span(clause, max(0, start - offset), max(0, end - offset))
        if self.near(compiled.unless, index, first, last):
            return None
        if self.near(compiled.ask_if, index, first, last):
            return _SOFT if compiled.rule.verdict == CRISIS else ASK
        return compiled.rule.verdict


def _clauses(padded: str, breaks: frozenset[str]) -> list[tuple[int, int, str]]:
    """(start, end, " words ") of each clause of the padded text: a match that starts at a
    position in [start, end) lies in it. Clauses end at a sentence end and before a word of
    `breaks`."""
    clauses: list[tuple[int, int, str]] = []
    words: list[str] = []
    first = 0  # where the current clause's first word starts
    position = 1
    for word in padded[1:-1].split(" "):
        if word == SENTENCE_BREAK or word in breaks:
            if words:
                clauses.append((first - 1, position, f" {' '.join(words)} "))
            words = []
        elif word:
            if not words:
                first = position
            words.append(word)
        position += len(word) + 1
    if words:
        clauses.append((first - 1, position, f" {' '.join(words)} "))
    return clauses or [(0, len(padded), " ")]


def _word_span(clause: str, start: int, end: int) -> tuple[int, int]:
    """Character span of a match in a padded clause -> (first word, last word + 1)."""
    return clause.count(" ", 0, start + 1) - 1, clause.count(" ", 0, end)


class _SpanCache:
    """Where the exceptions match in one message; computed only when a pattern matched."""

    def __init__(self, padded: str):
        self.padded = padded
        self.cache: dict[int, list[tuple[int, int]]] = {}

    def of(self, matcher: _Matcher) -> list[tuple[int, int]]:
        key = id(matcher)
        if key not in self.cache:
            self.cache[key] = matcher.spans(self.padded)
        return self.cache[key]


# --- normalising ---------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lowercase, no accents, no apostrophes, no letter three times in a row."""
    if text.isascii():
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        text = "".join(c for c in text if not unicodedata.combining(c))
    return _REPEATED_LETTER.sub(r"\1\1", text.translate(_APOSTROPHES))


def _normalise_chars(text: str) -> str:
    """The words of `text`, folded, without spellings or sentence ends."""
    return _NON_WORD.sub(" ", _fold(text)).strip()


def _normalise(text: str, spellings: Mapping[str, str]) -> str:
    words: list[str] = []
    for token in _TOKEN.findall(_fold(text)):
        if token[0] in _BREAK_CHARS:
            if words and words[-1] != SENTENCE_BREAK:
                words.append(SENTENCE_BREAK)
        else:
            words.append(spellings.get(token, token))
    if words and words[-1] == SENTENCE_BREAK:
        words.pop()
    return " ".join(words)


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


@dataclass
class _Text:
    value: str
    line: int


@dataclass
class _RawRule:
    path: str
    line: int
    id: _Text
    kind: str
    why: str
    patterns: list[_Text]
    not_if: list[_Text]
    examples: list[_Text]
    verdict: str = CRISIS
    all: list[_Text] = field(default_factory=list)
    within: int = WITHIN_WORDS
    unless: list[_Text] = field(default_factory=list)
    ask_if: list[_Text] = field(default_factory=list)


@dataclass
class _RawFile:
    path: str
    spellings: list[tuple[_Text, _Text]]
    not_if: list[_Text]
    rules: list[_RawRule]
    clause_breaks: list[_Text] = field(default_factory=list)
    concepts: list[tuple[_Text, list[_Text]]] = field(default_factory=list)


def _build(sources: Mapping[str, str]) -> tuple[SafetyRules | None, list[Problem]]:
    problems: list[Problem] = []
    if not sources:
        problems.append(
            Problem(
                path=RULES_DIR,
                line=0,
                code="KC070",
                message=("no rule files: without them the crisis check never fires"),
            )
        )
        return None, problems
    files = [_read_file(path, sources[path], problems) for path in sorted(sources)]
    raw_files = [f for f in files if f is not None]

    spellings = _merge_spellings(raw_files, problems)
    idioms = [
        exception
        for raw_file in raw_files
        for exception in _compile_exceptions(raw_file.path, raw_file.not_if, spellings, problems)
    ]
    idiom_matcher = _Matcher.of([idiom.pattern for idiom in idioms])
    breaks = frozenset(
        word
        for raw_file in raw_files
        for text in raw_file.clause_breaks
        for word in _normalise(text.value, spellings).split()
    )
    seen: dict[str, _RawRule] = {}
    compiled: list[_CompiledRule] = []
    for raw_file in raw_files:
        concepts = _compile_concepts(raw_file, spellings, problems)
        for raw in raw_file.rules:
            if raw.id.value in seen:
                other = seen[raw.id.value]
                problems.append(
                    Problem(
                        path=raw.path,
                        line=raw.id.line,
                        code="KC071",
                        message=(
                            f"rule id '{raw.id.value}' is also used in {other.path}:{other.id.line}"
                        ),
                    )
                )
                continue
            seen[raw.id.value] = raw
            rule = _compile_rule(raw, idioms, idiom_matcher, spellings, concepts, problems)
            if rule is not None:
                compiled.append(rule)

    rules = _assemble(compiled, spellings, breaks, idiom_matcher if idioms else None)
    for raw_file in raw_files:
        for raw in raw_file.rules:
            _check_examples(raw, rules, problems)
    return rules, problems


def _assemble(
    compiled: list[_CompiledRule],
    spellings: dict[str, str],
    breaks: frozenset[str],
    idioms: _Matcher | None,
) -> SafetyRules:
    return SafetyRules(
        rules=tuple(c.rule for c in compiled),
        spellings=dict(spellings),
        _compiled=tuple(compiled),
        _any=_Matcher.of([pattern for c in compiled for pattern, _ in c.patterns]),
        clause_breaks=breaks,
        _idioms=idioms,
    )


def _compile_concepts(
    raw_file: _RawFile, spellings: Mapping[str, str], problems: list[Problem]
) -> dict[str, _Concept]:
    concepts: dict[str, _Concept] = {}
    for name, phrases in raw_file.concepts:
        if not _RULE_ID.fullmatch(name.value):
            problems.append(
                Problem(
                    path=raw_file.path,
                    line=name.line,
                    code="KC075",
                    message=f"concept '{name.value}': use lowercase words joined by '-'",
                )
            )
            continue
        if not phrases:
            problems.append(
                Problem(
                    path=raw_file.path,
                    line=name.line,
                    code="KC075",
                    message=f"concept '{name.value}' has no phrases",
                )
            )
            continue
        patterns = [_compile_pattern(raw_file.path, t, spellings, problems) for t in phrases]
        compiled = [p for p in patterns if p is not None]
        concepts[name.value] = _Concept(name=name.value, matcher=_Matcher.of(compiled))
    return concepts


def _check_examples(raw: _RawRule, rules: SafetyRules, problems: list[Problem]) -> None:
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


# --- reading one file (YAML nodes, so every problem has its line) --------------------------------


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _read_file(path: str, text: str, problems: list[Problem]) -> _RawFile | None:
    def problem(line: int, message: str) -> None:
        problems.append(Problem(path=path, line=line, code="KC070", message=message))

    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        reason = getattr(error, "problem", None) or str(error)
        problem(mark.line + 1 if mark else 0, f"not valid YAML: {reason}")
        return None
    if not isinstance(root, yaml.MappingNode):
        problem(_line(root) if root else 0, "a rule file is a mapping with spec_version and rules")
        return None
    fields = _mapping(root, FILE_FIELDS, "a rule file", problem)

    version = fields.get("spec_version")
    if version is None:
        problem(_line(root), f"spec_version is missing (this format is {SPEC_VERSION})")
    elif not (isinstance(version, yaml.ScalarNode) and version.value == str(SPEC_VERSION)):
        shown = version.value if isinstance(version, yaml.ScalarNode) else "?"
        problem(
            _line(version),
            f"spec_version {shown} is unknown; this version reads spec_version {SPEC_VERSION}",
        )
        return None

    spellings: list[tuple[_Text, _Text]] = []
    node = fields.get("spellings")
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            word, target = _text(key, problem), _text(value, problem)
            if word and target:
                spellings.append((word, target))
    elif node is not None:
        problem(_line(node), "spellings is a mapping: chat spelling -> the word it stands for")

    not_if = _texts(fields.get("not_if"), "not_if", problem)
    clause_breaks = _texts(fields.get("clause_breaks"), "clause_breaks", problem)

    concepts: list[tuple[_Text, list[_Text]]] = []
    node = fields.get("concepts")
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = _text(key, problem)
            if name is not None:
                concepts.append((name, _texts(value, f"concept '{name.value}'", problem)))
    elif node is not None:
        problem(_line(node), "concepts is a mapping: name -> list of phrases")

    rules: list[_RawRule] = []
    node = fields.get("rules")
    if node is None:
        problem(_line(root), "rules is missing")
    elif not isinstance(node, yaml.SequenceNode):
        problem(_line(node), "rules is a list of rules, each starting with '- id:'")
    else:
        for item in node.value:
            rule = _read_rule(path, item, problem)
            if rule is not None:
                rules.append(rule)
    return _RawFile(
        path=path,
        spellings=spellings,
        not_if=not_if,
        rules=rules,
        clause_breaks=clause_breaks,
        concepts=concepts,
    )


def _read_rule(path: str, node: yaml.Node, problem: Callable[[int, str], None]) -> _RawRule | None:
    if not isinstance(node, yaml.MappingNode):
        problem(_line(node), "a rule is a mapping with id, kind, why and patterns")
        return None
    fields = _mapping(node, RULE_FIELDS, "a rule", problem)
    ok = True
    rule_id = _text(fields["id"], problem) if "id" in fields else None
    if rule_id is None:
        problem(_line(node), "this rule has no id")
        ok = False
    elif not _RULE_ID.fullmatch(rule_id.value):
        problem(rule_id.line, f"rule id '{rule_id.value}': use lowercase words joined by '-'")
        ok = False
    kind = _text(fields["kind"], problem) if "kind" in fields else None
    if kind is None:
        problem(_line(node), f"this rule has no kind (one of: {', '.join(KINDS)})")
        ok = False
    elif kind.value not in KINDS:
        problem(kind.line, f"kind '{kind.value}' is unknown (one of: {', '.join(KINDS)})")
        ok = False
    why = _text(fields["why"], problem) if "why" in fields else None
    if why is None or not why.value.strip():
        problem(_line(node), "this rule has no why: say in one line what it catches")
        ok = False
    verdict = _text(fields["verdict"], problem) if "verdict" in fields else None
    if verdict is not None and verdict.value not in VERDICTS:
        problem(verdict.line, f"verdict '{verdict.value}' is unknown (one of: crisis, ask)")
        ok = False
    patterns = _texts(fields.get("patterns"), "patterns", problem)
    concepts = _texts(fields.get("all"), "all", problem)
    if bool(patterns) == bool(concepts):
        problem(
            _line(fields.get("patterns", fields.get("all", node))),
            "a rule has either patterns (phrases) or all (concepts in one clause), one of them",
        )
        ok = False
    within = WITHIN_WORDS
    if "within" in fields:
        text = _text(fields["within"], problem)
        if text is None or not text.value.isdigit() or int(text.value) < 1:
            problem(_line(fields["within"]), "within is a number of words, such as 8")
            ok = False
        else:
            within = int(text.value)
    not_if = _texts(fields.get("not_if"), "not_if", problem)
    examples = _texts(fields.get("examples"), "examples", problem)
    if not ok or rule_id is None or kind is None or why is None:
        return None
    return _RawRule(
        path=path,
        line=_line(node),
        id=rule_id,
        kind=kind.value,
        why=why.value.strip(),
        patterns=patterns,
        not_if=not_if,
        examples=examples,
        verdict=verdict.value if verdict else CRISIS,
        all=concepts,
        within=within,
        unless=_texts(fields.get("unless"), "unless", problem),
        ask_if=_texts(fields.get("ask_if"), "ask_if", problem),
    )


def _mapping(
    node: yaml.MappingNode, allowed: tuple[str, ...], what: str, problem: Callable[[int, str], None]
) -> dict[str, yaml.Node]:
    fields: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name not in allowed:
            problem(_line(key), f"unknown field '{name}' ({what} has: {', '.join(allowed)})")
        elif name in fields:
            problem(_line(key), f"'{name}' appears twice")
        else:
            fields[name] = value
    return fields


def _text(node: yaml.Node, problem: Callable[[int, str], None]) -> _Text | None:
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        problem(_line(node), "expected a text here")
        return None
    return _Text(node.value, _line(node))


def _texts(node: yaml.Node | None, name: str, problem: Callable[[int, str], None]) -> list[_Text]:
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        problem(_line(node), f"{name} is a list: one item per line, each starting with '- '")
        return []
    texts = [_text(item, problem) for item in node.value]
    return [t for t in texts if t is not None]


# --- compiling -----------------------------------------------------------------------------------


def _merge_spellings(files: list[_RawFile], problems: list[Problem]) -> dict[str, str]:
    merged: dict[str, tuple[str, str, int]] = {}  # word -> (target, path, line)
    for raw_file in files:
        for word, target in raw_file.spellings:
            key = _normalise_chars(word.value)
            value = _normalise_chars(target.value)
            if not key or " " in key:
                problems.append(
                    Problem(
                        path=raw_file.path,
                        line=word.line,
                        code="KC073",
                        message=(f"spelling '{word.value}': the chat spelling is one word"),
                    )
                )
                continue
            if not value:
                problems.append(
                    Problem(
                        path=raw_file.path,
                        line=target.line,
                        code="KC073",
                        message=(f"spelling '{word.value}': say which word(s) it stands for"),
                    )
                )
                continue
            if key in merged and merged[key][0] != value:
                _, other_path, other_line = merged[key]
                problems.append(
                    Problem(
                        path=raw_file.path,
                        line=word.line,
                        code="KC073",
                        message=(
                            f"spelling '{key}' already stands for '{merged[key][0]}' "
                            f"in {other_path}:{other_line}"
                        ),
                    )
                )
                continue
            merged[key] = (value, raw_file.path, word.line)
    return {key: value for key, (value, _, _) in merged.items()}


def _compile_rule(
    raw: _RawRule,
    idioms: list[_Exception],
    idiom_matcher: _Matcher,
    spellings: Mapping[str, str],
    concepts: Mapping[str, _Concept],
    problems: list[Problem],
) -> _CompiledRule | None:
    patterns: list[tuple[_Pattern, int]] = []
    ok = True
    for text in raw.patterns:
        pattern = _compile_pattern(raw.path, text, spellings, problems)
        if pattern is None:
            ok = False
        else:
            patterns.append((pattern, text.line))
    own_not_if = _compile_exceptions(raw.path, raw.not_if, spellings, problems)

    def named(texts: list[_Text], field_name: str) -> tuple[_Concept, ...]:
        nonlocal ok
        found = []
        for text in texts:
            if text.value in concepts:
                found.append(concepts[text.value])
            else:
                known = ", ".join(concepts) or "none"
                problems.append(
                    Problem(
                        path=raw.path,
                        line=text.line,
                        code="KC076",
                        message=(
                            f"{field_name}: concept '{text.value}' is not in this file's "
                            f"concepts ({known})"
                        ),
                    )
                )
                ok = False
        return tuple(found)

    all_of, unless, ask_if = (
        named(raw.all, "all"),
        named(raw.unless, "unless"),
        named(raw.ask_if, "ask_if"),
    )
    if not ok or len(own_not_if) != len(raw.not_if):
        return None
    rule = SafetyRule(
        id=raw.id.value,
        kind=raw.kind,
        why=raw.why,
        path=raw.path,
        line=raw.line,
        verdict=raw.verdict,
    )
    return _CompiledRule(
        rule=rule,
        patterns=tuple(patterns),
        not_if=tuple(own_not_if) + tuple(idioms),
        matcher=_Matcher.of([pattern for pattern, _ in patterns]),
        exceptions=(_Matcher.of([e.pattern for e in own_not_if]), idiom_matcher),
        all=all_of,
        within=raw.within,
        unless=unless,
        ask_if=ask_if,
    )


def _compile_exceptions(
    path: str, texts: list[_Text], spellings: Mapping[str, str], problems: list[Problem]
) -> list[_Exception]:
    exceptions = []
    for text in texts:
        pattern = _compile_pattern(path, text, spellings, problems)
        if pattern is not None:
            exceptions.append(_Exception(pattern=pattern, path=path, line=text.line))
    return exceptions


def _compile_pattern(
    path: str, pattern: _Text, spellings: Mapping[str, str], problems: list[Problem]
) -> _Pattern | None:
    source = pattern.value.strip()
    try:
        if source.startswith(REGEX_PREFIX):
            try:
                regex = re.compile(source[len(REGEX_PREFIX) :].strip())
            except re.error as error:
                raise _PatternError(f"the regular expression does not compile: {error}") from None
            if regex.search(" ") is not None:
                raise _PatternError("this regular expression matches every message")
            return _Pattern(regex=regex, branches=())
        body, branches = _Phrase(source, spellings).compile()
        return _Pattern(regex=re.compile(f" {body}{_END}"), branches=tuple(branches))
    except _PatternError as error:
        problems.append(
            Problem(path=path, line=pattern.line, code="KC074", message=f"'{source}': {error}")
        )
        return None


class _PatternError(Exception):
    pass


_Item = tuple[str, str, list[str]]  # (required | optional | gap, regex, the regex of each choice)


class _Phrase:
    """A phrase in the small syntax of the rule files, turned into a regular expression.

    words        whole words, in this order ("ik wil dood")
    (a|b c)      one of these
    [a|b c]      optionally one of these
    ...          0 to GAP_WORDS other words
    stem*        a word that starts with stem ("zelfmoord*": zelfmoordgedachten)

    The regex matches the normalised text without the leading space; words are joined by " ".
    """

    def __init__(self, source: str, spellings: Mapping[str, str]):
        self.tokens = _PHRASE_TOKEN.findall(source)
        self.position = 0
        self.spellings = spellings

    def compile(self) -> tuple[str, list[str]]:
        """The regex, and the same as branches that each start with a word where they can.

        Searching many phrases at once is much faster when every branch of the alternation
        starts with a letter (see `_Matcher`): "(ik wil|wil ik) dood" is searched as
        "ik wil dood" and "wil ik dood", "[het] leven" as "het leven" and "leven".
        """
        alternatives = self._alternatives()
        if self.position < len(self.tokens):
            raise _PatternError(f"'{self.tokens[self.position]}' has no opening bracket")
        regex = _choice([_join(items) for items in alternatives])
        return regex, [branch for items in alternatives for branch in _branches(items)]

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _alternatives(self) -> list[list[_Item]]:
        alternatives = [self._sequence()]
        while self._peek() == "|":
            self.position += 1
            alternatives.append(self._sequence())
        return alternatives

    def _sequence(self) -> list[_Item]:
        items: list[_Item] = []
        while (token := self._peek()) not in (None, "|", ")", "]"):
            self.position += 1
            if token in ("(", "["):
                closer = ")" if token == "(" else "]"
                choices = [_join(inner) for inner in self._alternatives()]
                if self._peek() != closer:
                    raise _PatternError(f"'{token}' has no closing '{closer}'")
                self.position += 1
                kind = "required" if token == "(" else "optional"
                items.append((kind, _choice(choices), choices))
            elif token in ("...", "\u2026"):
                items.append(("gap", "", []))
            else:
                word = self._word(token)
                if word:
                    items.append(("required", word, [word]))
        _check(items)
        return items

    def _word(self, token: str) -> str:
        if "..." in token or "\u2026" in token:
            raise _PatternError("write '...' with a space on each side")
        if _REGEX_LOOKING & set(token) or "*" in token[:-1]:
            raise _PatternError(
                f"'{token}' looks like a regular expression; in a phrase, write [word] for an "
                f"optional word, (a|b) for a choice, or start the pattern with '{REGEX_PREFIX}'"
            )
        if token.endswith("*"):
            stem = _normalise_chars(token[:-1])
            if not stem or " " in stem:
                raise _PatternError(f"'{token}': put '*' at the end of one word")
            return re.escape(stem) + r"\w*"
        words = _normalise(token, self.spellings)
        return " ".join(re.escape(word) for word in words.split(" ")) if words else ""


def _choice(choices: list[str]) -> str:
    return choices[0] if len(choices) == 1 else f"(?:{'|'.join(choices)})"


def _check(items: list[_Item]) -> None:
    kinds = [kind for kind, _, _ in items]
    if not items:
        raise _PatternError("empty brackets, or an empty choice such as (a|)")
    if "required" not in kinds:
        raise _PatternError("a phrase (and each choice in it) needs a word outside [ ]")
    for index, kind in enumerate(kinds):
        if kind == "gap" and not ("required" in kinds[:index] and "required" in kinds[index + 1 :]):
            raise _PatternError("'...' must stand between words")


def _join(items: list[_Item]) -> str:
    """The regex of a sequence of items: words joined by single spaces.

    Optional words and gaps are lazy: the shortest match is found first, and the shortest match
    is the one least likely to overlap an exception ("ik wil dood. Sinds de dood van mijn
    vader..." must not stretch "wil ... dood" to the second "dood", where "de dood van" is).
    """
    kinds = [kind for kind, _, _ in items]
    parts: list[str] = []
    separate = False  # whether the next item needs a space before it
    for index, (kind, regex, _) in enumerate(items):
        required_later = "required" in kinds[index + 1 :]
        if kind == "required":
            parts.append((" " if separate else "") + regex)
            separate = True
        elif kind == "optional" and not required_later:
            parts.append(f"(?: {regex})??")
        else:  # an optional word or a gap, before a required word: it brings its own space
            body = regex if kind == "optional" else r"\w+"
            repeat = "??" if kind == "optional" else f"{{0,{GAP_WORDS}}}?"
            parts.append((" " if separate else "") + f"(?:{body} ){repeat}")
            separate = False
    return "".join(parts)


def _branches(items: list[_Item]) -> list[str]:
    """`_join(items)` as alternatives that start with a letter (see `compile`).

    The choices of the first item are grouped by their first letter, so that the rest of the
    phrase is written once per letter, not once per choice: "(pillen|paracetamol|slaappillen)
    ..." becomes "p(?:illen|aracetamol) ..." and "slaappillen ...".
    """
    kind, _, choices = items[0]
    rest = items[1:]
    by_letter: dict[str, list[str]] = {}
    for choice in choices:
        key = choice[0] if choice[:1].isalnum() else choice
        by_letter.setdefault(key, []).append(choice)
    heads = [
        group[0] if len(group) == 1 else key + _choice([c[1:] for c in group])
        for key, group in by_letter.items()
    ]
    branches = [_join([("required", head, [head]), *rest]) for head in heads]
    return branches + _branches(rest) if kind == "optional" else branches


def _trie(branches: list[str]) -> str:
    """One alternation of `branches`, grouped by first letter: "a(?:...)|b(?:...)|(?:...)".

    Python's regex engine skips a branch that starts with a letter the text does not have in
    one step, so grouping by letter turns hundreds of attempts per word into a few dozen.
    """
    by_letter: dict[str, list[str]] = {}
    other: list[str] = []
    for branch in dict.fromkeys(branches):
        if branch[:1].isalnum():
            by_letter.setdefault(branch[0], []).append(branch[1:])
        else:
            other.append(branch)
    groups = [
        letter + _choice(rests) if rests != [""] else letter for letter, rests in by_letter.items()
    ]
    return "|".join(groups + other)
