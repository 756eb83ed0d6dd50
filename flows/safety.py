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

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import yaml

from flows.diagnostics import Problem
from flows.errors import ContentError

SPEC_VERSION = 1
RULES_DIR = "flows/safety"  # the shell reads RULES_DIR/*.yaml
KINDS = ("suicide", "self-harm", "danger")
GAP_WORDS = 3  # "..." in a phrase stands for 0 to GAP_WORDS words

FILE_FIELDS = ("spec_version", "spellings", "not_if", "rules")
RULE_FIELDS = ("id", "kind", "why", "patterns", "not_if", "examples")
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
    """What the check found in one message: whether to answer with help first, and why.

    `rule_ids` are the ids of the rules that fired, in the order of the rule files; `kinds` their
    kinds (suicide, self-harm, danger), each once, in that order too. Never the text itself.
    """

    is_crisis: bool
    rule_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()


NOT_A_CRISIS = Assessment(is_crisis=False)


@dataclass(frozen=True, kw_only=True)
class SafetyRule:
    """One rule as the author wrote it (its patterns are compiled inside `SafetyRules`)."""

    id: str
    kind: str
    why: str
    path: str
    line: int


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
class _CompiledRule:
    rule: SafetyRule
    patterns: tuple[tuple[_Pattern, int], ...]  # (pattern, line)
    not_if: tuple[_Exception, ...]  # the rule's own, then every file's idioms (for `explain`)
    matcher: _Matcher  # the patterns
    exceptions: tuple[_Matcher, ...]  # the rule's own not_if, and the idioms (shared by all rules)


@dataclass(frozen=True, eq=False)
class SafetyRules:
    """Every rule file, compiled. Make it with `parse_safety_rules`; use it with `assess`."""

    rules: tuple[SafetyRule, ...]
    spellings: Mapping[str, str] = field(repr=False)
    _compiled: tuple[_CompiledRule, ...] = field(repr=False)
    _any: _Matcher = field(repr=False)  # every pattern of every rule: most messages stop here

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


def assess(text: str, rules: SafetyRules | DeferredRules) -> Assessment:
    """Whether `text` speaks of suicide, self-harm or acute danger, by every language's rules.

    Never raises on any text; tens of microseconds for a chat message (bench/safety.py).
    """
    if isinstance(rules, DeferredRules):
        rules = rules.get()
    padded = f" {_normalise(text, rules.spellings)} "
    starts = rules._any.starts(padded)  # one pass over the message for every pattern at once
    if not starts:
        return NOT_A_CRISIS
    spans = _SpanCache(padded)
    fired = [c.rule for c in rules._compiled if _fires(c, padded, starts, spans)]
    if not fired:
        return NOT_A_CRISIS
    kinds = tuple(dict.fromkeys(rule.kind for rule in fired))
    return Assessment(is_crisis=True, rule_ids=tuple(r.id for r in fired), kinds=kinds)


def explain(text: str, rules: SafetyRules) -> tuple[Hit, ...]:
    """Every pattern that matches `text`, and the exception that silenced it, if one did.

    For authors (and failing tests): slower than `assess`, and exact about lines.
    """
    padded = f" {_normalise(text, rules.spellings)} "
    hits: list[Hit] = []
    for compiled in rules._compiled:
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


def _fires(compiled: _CompiledRule, padded: str, starts: list[int], spans: _SpanCache) -> bool:
    """Whether a pattern of the rule matches at one of `starts` without overlapping a not_if."""
    silenced: list[tuple[int, int]] | None = None
    for start in starts:
        if not compiled.matcher.matches_at(padded, start):
            continue
        for pattern, _line in compiled.patterns:
            match = pattern.regex.match(padded, start)
            if match is None:
                continue
            if silenced is None:
                silenced = [span for m in compiled.exceptions for span in spans.of(m)]
            end = match.end()
            if not any(a < end and start < b for a, b in silenced):
                return True
    return False


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


@dataclass
class _RawFile:
    path: str
    spellings: list[tuple[_Text, _Text]]
    not_if: list[_Text]
    rules: list[_RawRule]


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
    seen: dict[str, _RawRule] = {}
    compiled: list[_CompiledRule] = []
    for raw_file in raw_files:
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
            rule = _compile_rule(raw, idioms, idiom_matcher, spellings, problems)
            if rule is not None:
                compiled.append(rule)

    rules = _assemble(compiled, spellings)
    for raw_file in raw_files:
        for raw in raw_file.rules:
            _check_examples(raw, rules, problems)
    return rules, problems


def _assemble(compiled: list[_CompiledRule], spellings: dict[str, str]) -> SafetyRules:
    return SafetyRules(
        rules=tuple(c.rule for c in compiled),
        spellings=dict(spellings),
        _compiled=tuple(compiled),
        _any=_Matcher.of([pattern for c in compiled for pattern, _ in c.patterns]),
    )


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
    return _RawFile(path=path, spellings=spellings, not_if=not_if, rules=rules)


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
    patterns = _texts(fields.get("patterns"), "patterns", problem)
    if not patterns:
        problem(_line(fields.get("patterns", node)), "this rule has no patterns")
        ok = False
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
    if not ok or len(own_not_if) != len(raw.not_if):
        return None
    rule = SafetyRule(id=raw.id.value, kind=raw.kind, why=raw.why, path=raw.path, line=raw.line)
    return _CompiledRule(
        rule=rule,
        patterns=tuple(patterns),
        not_if=tuple(own_not_if) + tuple(idioms),
        matcher=_Matcher.of([pattern for pattern, _ in patterns]),
        exceptions=(_Matcher.of([e.pattern for e in own_not_if]), idiom_matcher),
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
