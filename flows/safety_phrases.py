"""The crisis rules' text: how a message and a phrase are normalised, the small phrase syntax of
the rule files turned into regular expressions, and a message cut into clauses.

Pure, like the rest of flows/: `flows.safety_rules` compiles the files with it, `flows.safety`
matches with it. The rule files' header (flows/safety/nl.yaml) describes the syntax for authors.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

GAP_WORDS = 3  # "..." in a phrase stands for 0 to GAP_WORDS words
REGEX_PREFIX = "re:"

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


@dataclass(frozen=True, eq=False)
class Matcher:
    """Many regexes, searched as one.

    Every phrase regex is " <body>(?= )", so all phrases become one alternation: one pass over
    the message instead of one per phrase. A `re:` regex is searched on its own (its groups
    could clash with the others'). Where a pass matches, each regex is tried anchored there.
    """

    regexes: tuple[re.Pattern[str], ...]
    passes: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, patterns: list[Pattern]) -> Matcher:
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
class Pattern:
    regex: re.Pattern[str]
    branches: tuple[str, ...]  # a phrase as alternatives (see `_Phrase.compile`); () for `re:`


def compile_pattern(source: str, spellings: Mapping[str, str]) -> Pattern:
    """A pattern of a rule file (a phrase, or `re:` and a regular expression); PatternError says
    what is wrong with it, in words for the author."""
    source = source.strip()
    if source.startswith(REGEX_PREFIX):
        try:
            regex = re.compile(source[len(REGEX_PREFIX) :].strip())
        except re.error as error:
            raise PatternError(f"the regular expression does not compile: {error}") from None
        if regex.search(" ") is not None:
            raise PatternError("this regular expression matches every message")
        return Pattern(regex=regex, branches=())
    body, branches = _Phrase(source, spellings).compile()
    return Pattern(regex=re.compile(f" {body}{_END}"), branches=tuple(branches))


# --- a message cut into clauses ------------------------------------------------------------------


def split_clauses(padded: str, breaks: frozenset[str]) -> list[tuple[int, int, str]]:
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


def word_span(clause: str, start: int, end: int) -> tuple[int, int]:
    """Character span of a match in a padded clause -> (first word, last word + 1)."""
    return clause.count(" ", 0, start + 1) - 1, clause.count(" ", 0, end)


# --- normalising ----------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lowercase, no accents, no apostrophes, no letter three times in a row."""
    if text.isascii():
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        text = "".join(c for c in text if not unicodedata.combining(c))
    return _REPEATED_LETTER.sub(r"\1\1", text.translate(_APOSTROPHES))


def normalise_chars(text: str) -> str:
    """The words of `text`, folded, without spellings or sentence ends."""
    return _NON_WORD.sub(" ", _fold(text)).strip()


def normalise_text(text: str, spellings: Mapping[str, str]) -> str:
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


# --- the phrase syntax ----------------------------------------------------------------------------


class PatternError(Exception):
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
        starts with a letter (see `Matcher`): "(ik wil|wil ik) dood" is searched as
        "ik wil dood" and "wil ik dood", "[het] leven" as "het leven" and "leven".
        """
        alternatives = self._alternatives()
        if self.position < len(self.tokens):
            raise PatternError(f"'{self.tokens[self.position]}' has no opening bracket")
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
                    raise PatternError(f"'{token}' has no closing '{closer}'")
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
            raise PatternError("write '...' with a space on each side")
        if _REGEX_LOOKING & set(token) or "*" in token[:-1]:
            raise PatternError(
                f"'{token}' looks like a regular expression; in a phrase, write [word] for an "
                f"optional word, (a|b) for a choice, or start the pattern with '{REGEX_PREFIX}'"
            )
        if token.endswith("*"):
            stem = normalise_chars(token[:-1])
            if not stem or " " in stem:
                raise PatternError(f"'{token}': put '*' at the end of one word")
            return re.escape(stem) + r"\w*"
        words = normalise_text(token, self.spellings)
        return " ".join(re.escape(word) for word in words.split(" ")) if words else ""


def _choice(choices: list[str]) -> str:
    return choices[0] if len(choices) == 1 else f"(?:{'|'.join(choices)})"


def _check(items: list[_Item]) -> None:
    kinds = [kind for kind, _, _ in items]
    if not items:
        raise PatternError("empty brackets, or an empty choice such as (a|)")
    if "required" not in kinds:
        raise PatternError("a phrase (and each choice in it) needs a word outside [ ]")
    for index, kind in enumerate(kinds):
        if kind == "gap" and not ("required" in kinds[:index] and "required" in kinds[index + 1 :]):
            raise PatternError("'...' must stand between words")


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
