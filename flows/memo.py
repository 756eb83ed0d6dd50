"""A bounded memory of findings about texts, keyed by a digest of the text, never the text.

The crisis check is a pure function of a message (its rules and its examples never change in a
running process), and by far the dearest part of a turn (docs/performance.md): a text checked
before is answered from here. The least recently used findings go first; what is kept says
nothing of what a person wrote. Thread-safe: a channel's turns run on several threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


def digest(text: str) -> bytes:
    """16 bytes that stand for `text` (BLAKE2b)."""
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


class DigestMemo(Generic[T]):
    def __init__(self, size: int):
        self.size = size
        self._found: OrderedDict[bytes, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> T | None:
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
            return found

    def put(self, key: bytes, found: T) -> None:
        with self._lock:
            self._found[key] = found
            self._found.move_to_end(key)
            while len(self._found) > self.size:
                self._found.popitem(last=False)

    def keys(self) -> list[bytes]:
        with self._lock:
            return list(self._found)

    def clear(self) -> None:
        with self._lock:
            self._found.clear()

    def __len__(self) -> int:
        return len(self._found)
