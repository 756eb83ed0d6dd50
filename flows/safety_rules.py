"""The crisis rule files (flows/safety/<lang>.yaml) read and compiled: spellings, idioms, clause
breaks, concepts, and the rules, phrase rules and `all` rules, each problem with file and line.

Pure: the shell hands the files' text in. `flows.safety` matches messages against the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import yaml

from flows.diagnostics import Problem
from flows.safety_phrases import (
    Matcher,
    Pattern,
    PatternError,
    compile_pattern,
    normalise_chars,
    normalise_text,
    split_clauses,
)

CRISIS, ASK, OK = "crisis", "ask", "ok"  # the verdicts: help first, the gentle question, nothing
VERDICTS = (CRISIS, ASK)  # what a rule can give
SPEC_VERSION = 1
RULES_DIR = "flows/safety"  # the shell reads RULES_DIR/*.yaml
KINDS = ("suicide", "self-harm", "danger")
# The concepts that count as evidence of risk for the semantic layer: a sentence the model finds
# close to a risky example gets the question only when it also names one of these (death, not
# living, an ending, means, a place to jump, a goodbye, violence, fear, harm to oneself ...).
# Short ordinary answers ("Ze luistert naar me.", "Hij geeft me ruimte.") lie close to short
# risky examples in the model's space; they name none of these. Names of concepts in the rule
# files; a file need not have them all.
EVIDENCE_CONCEPTS = frozenset(
    {
        "dead",
        "not-living",
        "deserve",
        "ending",
        "end-it",
        "pointless-life",
        "means",
        "place",
        "goodbye",
        "arranged",
        "date-plan",
        "letters",
        "burden-gone",
        "reason-gone",
        "no-further",
        "no-future",
        "farewell",
        "own-funeral",
        "violence",
        "fear",
        "drunk",
        "threat-hint",
        "harm-self",
        "injuries",
        "risk-hint",  # in the rule files for this alone
    }
)
# The context concepts: a sentence that names one of these is not cut into clauses for the
# semantic layer (`SafetyRules.pieces`), because the context may sit in the other clause: in "Ik
# maak er vanavond een einde aan, aan die vriendschap" the friendship is what ends. Only the
# narrow ones: a work of fiction, long ago, someone else's death, and `clause-context` in each rule
# file (a relationship being ended, "met hem", "niet meer zo"). Not a job, a party, a birthday or
# the kitchen (`work-life`, `harmless`): "na het gesprek met mijn moeder" or "op haar
# verjaardag" sits in nearly every exercise answer, and says nothing of the other clause.
CONTEXT_CONCEPTS = frozenset(
    {
        "long-ago",
        "fiction",
        "death-of-other",
        "clause-context",  # in the rule files for this alone
    }
)
# The broader context concepts: a clause that names one of these is not scored apart (its
# sentence still is, whole), but the other clauses of its sentence are. "Ik heb me gesneden aan
# een blikje" is the kitchen; "koffie gedronken op haar verjaardag" says nothing of the clause
# after the comma.
CLAUSE_CONTEXT_CONCEPTS = frozenset(
    {
        "work-life",
        "harmless",
        "living-how",
        "last-to-other",
        "joking",
        "committed",
        "ordinary-wake",
    }
)
# At most this many clauses of a message are scored apart (`SafetyRules.pieces`): the model's
# time grows with every one, and a message of hundreds of distinct clauses must not take seconds.
MAX_PIECES = 32
WITHIN_WORDS = 12  # the concepts of an `all` rule lie within this many words (unless `within`)

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

# Where a sentence falls into clauses for the semantic layer (`SafetyRules.pieces`): a comma, a
# colon, a dash between spaces; not a comma inside a number ("1,5").
_CLAUSE_MARKS = re.compile(r"(?<!\d),|,(?!\d)|:| [-\u2013\u2014] ")
_RULE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present; same marks


# --- the compiled rules --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SafetyRule:
    """One rule as the author wrote it (its patterns are compiled inside `SafetyRules`)."""

    id: str
    kind: str
    why: str
    path: str
    line: int
    verdict: str = CRISIS


@dataclass(frozen=True, eq=False)
class NotIf:
    pattern: Pattern
    path: str
    line: int


@dataclass(frozen=True, eq=False)
class Concept:
    """A named set of phrases ("self", "wish", "not-living"), matched within one clause."""

    name: str
    matcher: Matcher


@dataclass(frozen=True, eq=False)
class CompiledRule:
    rule: SafetyRule
    patterns: tuple[tuple[Pattern, int], ...]  # (pattern, line); () for an `all` rule
    not_if: tuple[NotIf, ...]  # the rule's own, then every file's idioms (for `explain`)
    matcher: Matcher  # the patterns
    exceptions: tuple[Matcher, ...]  # the rule's own not_if, and the idioms (shared by all rules)
    all: tuple[Concept, ...] = ()  # an `all` rule: every one of these within one clause
    within: int = WITHIN_WORDS
    unless: tuple[Concept, ...] = ()  # silenced in a clause that has one of these
    ask_if: tuple[Concept, ...] = ()  # the question, not help first, in a clause with one


@dataclass(frozen=True, eq=False)
class SafetyRules:
    """Every rule file, compiled. Make it with `parse_safety_rules`; use it with `assess`."""

    rules: tuple[SafetyRule, ...]
    spellings: Mapping[str, str] = field(repr=False)
    _compiled: tuple[CompiledRule, ...] = field(repr=False)
    _any: Matcher = field(repr=False)  # every pattern of every rule: most messages stop here
    clause_breaks: frozenset[str] = field(default=frozenset(), repr=False)
    _idioms: Matcher | None = field(default=None, repr=False)
    _evidence: Matcher | None = field(default=None, repr=False)  # EVIDENCE_CONCEPTS, all files
    _context: Matcher | None = field(default=None, repr=False)  # CONTEXT_CONCEPTS, all files
    _clause_context: Matcher | None = field(default=None, repr=False)  # CLAUSE_CONTEXT_CONCEPTS

    def clauses(self, text: str) -> list[str]:
        """The message's clauses, normalised: split at sentence ends and at `clause_breaks`
        ("maar", "but"). What the `all` rules and the semantic layer look at, one by one."""
        padded = f" {normalise_text(text, self.spellings)} "
        return [clause.strip() for _, _, clause in split_clauses(padded, self.clause_breaks)]

    def sentences(self, text: str) -> list[str]:
        """The message's sentences, normalised (what the semantic layer compares)."""
        padded = f" {normalise_text(text, self.spellings)} "
        return [s.strip() for _, _, s in split_clauses(padded, frozenset()) if s.strip()]

    def pieces(self, text: str) -> list[str]:
        """The clauses of the message's sentences, normalised: each sentence split at commas,
        colons and dashes, and at `clause_breaks`. What the semantic layer scores besides whole
        sentences, so that one risky clause is not diluted by the rest of a long sentence. A
        sentence that names a context concept (CONTEXT_CONCEPTS) is not split: its context may
        be in the other clause ("Ik maak er vanavond een einde aan, aan die vriendschap"); a
        clause that names a broader one (CLAUSE_CONTEXT_CONCEPTS) is left out. At most
        MAX_PIECES clauses."""
        sentences = self.sentences(text)
        ordinary = {i for i, sentence in enumerate(sentences) if self.has_context(sentence)}
        owner = [i for i, sentence in enumerate(sentences) for _ in sentence.split()]
        found: list[str] = []
        position = 0
        for piece in self.sentences(_CLAUSE_MARKS.sub(" ; ", text)):
            words = len(piece.split())
            if position < len(owner) and owner[position] not in ordinary:
                parts = split_clauses(f" {piece} ", self.clause_breaks)
                found += [
                    part.strip()
                    for _, _, part in parts
                    if part.strip() and not _names(self._clause_context, part)
                ]
            position += words
        return [piece for piece in dict.fromkeys(found) if piece not in sentences][:MAX_PIECES]

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

    def has_context(self, sentence: str) -> bool:
        """Whether `sentence` (normalised) names a concept of CONTEXT_CONCEPTS."""
        return _names(self._context, sentence)

    def has_evidence(self, sentence: str) -> bool:
        """Whether `sentence` (normalised, idioms left out) names a concept of EVIDENCE_CONCEPTS."""
        return _names(self._evidence, sentence)

    def normalise(self, text: str) -> str:
        """The message as the patterns see it: words separated by single spaces, sentences by
        " | " (a phrase, and so an exception, never runs across the end of a sentence)."""
        return normalise_text(text, self.spellings)

    def rule(self, rule_id: str) -> SafetyRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def _names(matcher: Matcher | None, text: str) -> bool:
    """Whether one of `matcher`'s phrases is in `text` (normalised)."""
    return matcher is not None and bool(matcher.starts(f" {text.strip()} "))


# --- reading and compiling -----------------------------------------------------------------------


@dataclass
class _Text:
    value: str
    line: int


@dataclass
class RawRule:
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
    rules: list[RawRule]
    clause_breaks: list[_Text] = field(default_factory=list)
    concepts: list[tuple[_Text, list[_Text]]] = field(default_factory=list)


def build(
    sources: Mapping[str, str],
) -> tuple[SafetyRules | None, list[Problem], list[RawRule]]:
    """The compiled rules of every file, the problems found, and the rules as written (whose
    examples `flows.safety` then checks: checking them needs the matching)."""
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
        return None, problems, []
    files = [_read_file(path, sources[path], problems) for path in sorted(sources)]
    raw_files = [f for f in files if f is not None]

    spellings = _merge_spellings(raw_files, problems)
    idioms = [
        exception
        for raw_file in raw_files
        for exception in _compile_exceptions(raw_file.path, raw_file.not_if, spellings, problems)
    ]
    idiom_matcher = Matcher.of([idiom.pattern for idiom in idioms])
    breaks = frozenset(
        word
        for raw_file in raw_files
        for text in raw_file.clause_breaks
        for word in normalise_text(text.value, spellings).split()
    )
    seen: dict[str, RawRule] = {}
    compiled: list[CompiledRule] = []
    evidence: list[Matcher] = []
    context: list[Matcher] = []
    clause_context: list[Matcher] = []
    for raw_file in raw_files:
        concepts = _compile_concepts(raw_file, spellings, problems)
        evidence += [c.matcher for name, c in concepts.items() if name in EVIDENCE_CONCEPTS]
        context += [c.matcher for name, c in concepts.items() if name in CONTEXT_CONCEPTS]
        clause_context += [
            c.matcher for name, c in concepts.items() if name in CLAUSE_CONTEXT_CONCEPTS
        ]
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
    if evidence:
        rules = replace(rules, _evidence=_joined(evidence))
    if context:
        rules = replace(rules, _context=_joined(context))
    if clause_context:
        rules = replace(rules, _clause_context=_joined(clause_context))
    return rules, problems, [raw for raw_file in raw_files for raw in raw_file.rules]


def _joined(matchers: list[Matcher]) -> Matcher:
    """One matcher for the phrases of several concepts."""
    return Matcher(
        regexes=tuple(r for m in matchers for r in m.regexes),
        passes=tuple(p for m in matchers for p in m.passes),
    )


def _assemble(
    compiled: list[CompiledRule],
    spellings: dict[str, str],
    breaks: frozenset[str],
    idioms: Matcher | None,
) -> SafetyRules:
    return SafetyRules(
        rules=tuple(c.rule for c in compiled),
        spellings=dict(spellings),
        _compiled=tuple(compiled),
        _any=Matcher.of([pattern for c in compiled for pattern, _ in c.patterns]),
        clause_breaks=breaks,
        _idioms=idioms,
    )


def _compile_concepts(
    raw_file: _RawFile, spellings: Mapping[str, str], problems: list[Problem]
) -> dict[str, Concept]:
    concepts: dict[str, Concept] = {}
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
        concepts[name.value] = Concept(name=name.value, matcher=Matcher.of(compiled))
    return concepts


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

    rules: list[RawRule] = []
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


def _read_rule(path: str, node: yaml.Node, problem: Callable[[int, str], None]) -> RawRule | None:
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
    return RawRule(
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
            key = normalise_chars(word.value)
            value = normalise_chars(target.value)
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
    raw: RawRule,
    idioms: list[NotIf],
    idiom_matcher: Matcher,
    spellings: Mapping[str, str],
    concepts: Mapping[str, Concept],
    problems: list[Problem],
) -> CompiledRule | None:
    patterns: list[tuple[Pattern, int]] = []
    ok = True
    for text in raw.patterns:
        pattern = _compile_pattern(raw.path, text, spellings, problems)
        if pattern is None:
            ok = False
        else:
            patterns.append((pattern, text.line))
    own_not_if = _compile_exceptions(raw.path, raw.not_if, spellings, problems)

    def named(texts: list[_Text], field_name: str) -> tuple[Concept, ...]:
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
    return CompiledRule(
        rule=rule,
        patterns=tuple(patterns),
        not_if=tuple(own_not_if) + tuple(idioms),
        matcher=Matcher.of([pattern for pattern, _ in patterns]),
        exceptions=(Matcher.of([e.pattern for e in own_not_if]), idiom_matcher),
        all=all_of,
        within=raw.within,
        unless=unless,
        ask_if=ask_if,
    )


def _compile_exceptions(
    path: str, texts: list[_Text], spellings: Mapping[str, str], problems: list[Problem]
) -> list[NotIf]:
    exceptions = []
    for text in texts:
        pattern = _compile_pattern(path, text, spellings, problems)
        if pattern is not None:
            exceptions.append(NotIf(pattern=pattern, path=path, line=text.line))
    return exceptions


def _compile_pattern(
    path: str, pattern: _Text, spellings: Mapping[str, str], problems: list[Problem]
) -> Pattern | None:
    try:
        return compile_pattern(pattern.value, spellings)
    except PatternError as error:
        problems.append(
            Problem(
                path=path,
                line=pattern.line,
                code="KC074",
                message=f"'{pattern.value.strip()}': {error}",
            )
        )
        return None
