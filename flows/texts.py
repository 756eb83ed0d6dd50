"""Every text the coach says, as Jinja2 templates keyed by `file:dotted.key`, per language.

A rendered text is a message's paragraphs: the author's markup (`flows.markup`) is parsed, and
every value a template quotes comes out as literal words, the person's own marked as theirs, so
nothing they wrote is read as markup. Undefined names fail loudly (`flows check` renders every
template once).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from flows import markup, moments
from flows.messages import Paragraph, Theirs, plain_words

LANGUAGES = ("nl", "en")
_JINJA_SYNTAX = re.compile(r"\{[{%#]")
SOURCE_LANGUAGE = "nl"


@dataclass(frozen=True, kw_only=True)
class TextSource:
    source: str
    path: str
    line: int


@jinja2.pass_context
def _datum(context: Any, value: datetime | str) -> str:
    return moments.format_date(_as_datetime(value), context["_lang"], context["_tz"])


@jinja2.pass_context
def _moment(context: Any, value: datetime | str) -> str:
    return moments.format_moment(_as_datetime(value), context["_lang"], context["_tz"])


# "mijn zus" as the person wrote it is "je zus" when the coach says it.
_THEIR_POSSESSIVE = {
    "nl": re.compile(r"^(mijn|m'n|mn)\s+", re.IGNORECASE),
    "en": re.compile(r"^my\s+", re.IGNORECASE),
}
_OUR_POSSESSIVE = {"nl": "je ", "en": "your "}


@jinja2.pass_context
def _ander(context: Any, answer: Any, default: str) -> Any:
    """The name the person gave the other (`{{ answers.naam | ander('de ander') }}`), as the
    coach says it: their own words, with "mijn" turned into "je"; `default` when there is none."""
    if not answer:
        return default
    words = str(getattr(answer, "text", answer)).strip()
    if not words:
        return default
    lang = context["_lang"]
    pattern = _THEIR_POSSESSIVE.get(lang)
    if pattern is not None:
        words = pattern.sub(_OUR_POSSESSIVE[lang], words, count=1)
    return Theirs(words)


def _as_datetime(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _as_literal(value: Any) -> str:
    """Each `{{ … }}` of a template: its value as words, never markup."""
    if isinstance(value, Theirs):
        return markup.literal(value, theirs=True)
    text = value if isinstance(value, str) else str(value)  # an answer's str() is Theirs
    return markup.literal(text, theirs=isinstance(text, Theirs))


def _keeping_theirs(change: Callable[..., Any]) -> Callable[..., Any]:
    """A string filter whose result stays the person's when its input was."""

    def changed(value: Any, *args: Any, **kwargs: Any) -> Any:
        result = change(value, *args, **kwargs)
        if isinstance(value, Theirs) and isinstance(result, str):
            return Theirs(result)
        return result

    return changed


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        autoescape=False,  # values are kept apart by `finalize`, not escaped in one format
        finalize=_as_literal,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )
    for name in ("lower", "upper", "capitalize", "title", "trim"):
        env.filters[name] = _keeping_theirs(env.filters[name])
    env.filters["datum"] = _datum
    env.filters["moment"] = _moment
    env.filters["ander"] = _ander
    return env


class Texts:
    """The catalogue of one or more languages; renders a key with a context."""

    def __init__(self, catalogs: Mapping[str, Mapping[str, TextSource]]):
        self.catalogs = {lang: dict(keys) for lang, keys in catalogs.items()}
        self._env = make_environment()
        self._compiled: dict[tuple[str, str], jinja2.Template] = {}
        self._fixed: dict[tuple[str, str], tuple[Paragraph, ...]] = {}
        self._labels: dict[tuple[str, str], str] = {}
        self._variants: dict[tuple[str, str], tuple[str, ...]] = {}

    def has(self, lang: str, key: str) -> bool:
        return key in self.catalogs.get(lang, {})

    def variants(self, lang: str, group: str) -> tuple[str, ...]:
        """The keys of a group of variants (`common:ack.text` holds `common:ack.text.dank`, …),
        in the order of the file; the author adds one by adding a line."""
        cached = self._variants.get((lang, group))
        if cached is None:
            prefix = group + "."
            cached = tuple(k for k in self.catalogs.get(lang, {}) if k.startswith(prefix))
            self._variants[(lang, group)] = cached
        return cached

    def variant(self, lang: str, group: str, turn: int) -> str:
        """One key of a group, the same for the same `turn` (the engine reads no dice): a group
        that is a single text is that text."""
        keys = self.variants(lang, group)
        return keys[turn % len(keys)] if keys else group

    def source(self, lang: str, key: str) -> TextSource:
        return self.catalogs[lang][key]

    def template(self, lang: str, key: str) -> jinja2.Template:
        compiled = self._compiled.get((lang, key))
        if compiled is None:
            compiled = self._env.from_string(self.catalogs[lang][key].source)
            self._compiled[(lang, key)] = compiled
        return compiled

    def label(self, lang: str, key: str, tz: ZoneInfo) -> str:
        """A button label: the text as plain words (labels take no variables)."""
        cached = self._labels.get((lang, key))
        if cached is None:
            cached = self._labels[(lang, key)] = self.plain(lang, key, tz)
        return cached

    def render(self, lang: str, key: str, tz: ZoneInfo, **context: Any) -> tuple[Paragraph, ...]:
        """The text for `key` in `lang`, as paragraphs (white space around it trimmed)."""
        fixed = self._fixed.get((lang, key))
        if fixed is not None:
            return fixed
        paragraphs = self.parse(lang, key, tz, **context).paragraphs
        if not _JINJA_SYNTAX.search(self.catalogs[lang][key].source):
            self._fixed[(lang, key)] = paragraphs  # no variables: the same text every time
        return paragraphs

    def plain(self, lang: str, key: str, tz: ZoneInfo, **context: Any) -> str:
        """The text for `key` as plain words, for labels, lists and files."""
        return plain_words(self.render(lang, key, tz, **context))

    def parse(self, lang: str, key: str, tz: ZoneInfo, **context: Any) -> markup.Parsed:
        """The text rendered and parsed, with any markup no channel can show (for checks)."""
        return markup.parse(self.template(lang, key).render(_lang=lang, _tz=tz, **context))
