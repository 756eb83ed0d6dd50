"""Every text the coach says, as Jinja2 templates keyed by `file:dotted.key`, per language.

Templates are autoescaped for Telegram's HTML subset: the author's markup is kept, and whatever a
person wrote is escaped when a template quotes it. Undefined names fail loudly (`flows check`
renders every template once).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from flows import moments
from flows.messages import plain_text

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


def _as_datetime(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters["datum"] = _datum
    env.filters["moment"] = _moment
    return env


class Texts:
    """The catalogue of one or more languages; renders a key with a context."""

    def __init__(self, catalogs: Mapping[str, Mapping[str, TextSource]]):
        self.catalogs = {lang: dict(keys) for lang, keys in catalogs.items()}
        self._env = make_environment()
        self._compiled: dict[tuple[str, str], jinja2.Template] = {}
        self._fixed: dict[tuple[str, str], str] = {}
        self._labels: dict[tuple[str, str], str] = {}

    def has(self, lang: str, key: str) -> bool:
        return key in self.catalogs.get(lang, {})

    def source(self, lang: str, key: str) -> TextSource:
        return self.catalogs[lang][key]

    def template(self, lang: str, key: str) -> jinja2.Template:
        compiled = self._compiled.get((lang, key))
        if compiled is None:
            compiled = self._env.from_string(self.catalogs[lang][key].source)
            self._compiled[(lang, key)] = compiled
        return compiled

    def quotes(self, lang: str, key: str) -> bool:
        """Whether the text can repeat something the person wrote (it uses their answers)."""
        return "answers" in self.catalogs[lang][key].source

    def label(self, lang: str, key: str, tz: ZoneInfo) -> str:
        """A button label: the text as plain words (labels take no variables)."""
        cached = self._labels.get((lang, key))
        if cached is None:
            cached = self._labels[(lang, key)] = plain_text(self.render(lang, key, tz))
        return cached

    def render(self, lang: str, key: str, tz: ZoneInfo, **context: Any) -> str:
        """The text for `key` in `lang`, as Telegram HTML (trailing white space trimmed)."""
        fixed = self._fixed.get((lang, key))
        if fixed is not None:
            return fixed
        text = self.template(lang, key).render(_lang=lang, _tz=tz, **context).strip()
        if not _JINJA_SYNTAX.search(self.catalogs[lang][key].source):
            self._fixed[(lang, key)] = text  # no variables: the same text every time
        return text
