"""Small frozen records that travel as JSON, found again by their `type` string.

Events, effects and messages are written to the database (the outbox, the state) and read back
after a restart, so each kind registers under a stable name, as goflow's events do.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from datetime import datetime
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


class Record:
    """Base of a registry of frozen dataclasses keyed by their `type` name."""

    type_name: ClassVar[str]
    _registry: ClassVar[dict[str, type]]

    def __init_subclass__(cls, type_name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if type_name is None:  # an intermediate base: it starts a registry of its own
            cls._registry = {}
            return
        cls.type_name = type_name
        if type_name in cls._registry:
            raise TypeError(f"two records are called {type_name!r}")
        cls._registry[type_name] = cls

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type_name}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            data[field.name] = _dump(getattr(self, field.name))
        return data

    @classmethod
    def from_json(cls: type[T], data: dict[str, Any]) -> T:
        kind = cls._registry[data["type"]]  # type: ignore[attr-defined]
        hints = _hints(kind)
        values = {}
        for name, raw in data.items():
            if name == "type":
                continue
            values[name] = _load(raw, hints[name])
        record: T = kind(**values)
        return record


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    """The fields' types as classes, not strings, so a field holding a value with its own
    `from_json` (a `flows.checkin.Checkin`) is read back as one."""
    return typing.get_type_hints(kind)


def _dump(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    return value


def _load(raw: Any, annotation: Any) -> Any:
    text = str(annotation)
    if raw is None:
        return None
    if isinstance(annotation, type) and hasattr(annotation, "from_json"):
        return annotation.from_json(raw)
    if "datetime" in text and isinstance(raw, str):
        return datetime.fromisoformat(raw)
    if text.startswith("tuple") and isinstance(raw, list):
        item = next(iter(typing.get_args(annotation)), None)
        if isinstance(item, type) and hasattr(item, "from_json"):  # tuple[Checkin, ...]
            return tuple(item.from_json(r) for r in raw)
        return tuple(raw)
    return raw
