"""The crisis check's semantic layer: how close is a sentence to risky examples, and to ordinary?

The rules (flows/safety.py) catch what an author wrote them for. This layer catches paraphrases:
every sentence of a message is turned into a multilingual sentence embedding and compared (cosine)
with labelled example sentences, written by the author in `flows/safety/semantic/<lang>.yaml`. A
sentence that lies close to a risky example and clearly closer to it than to any ordinary one
gives the gentle question; very close, help first.

The model is not loaded here: this module is pure, like the rest of flows/. The shell hands in an
`Encoder` (bot/safety_model.py loads one from a package that ships its weights) and the files'
text, as it does for the rules. Scores carry the example's file and line, never the person's text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import yaml

from flows.diagnostics import Problem
from flows.errors import ContentError
from flows.memo import DigestMemo, digest

if TYPE_CHECKING:  # numpy is imported when the layer first works: the console starts sooner
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

SPEC_VERSION = 1
EXAMPLES_DIR = "flows/safety/semantic"  # the shell reads EXAMPLES_DIR/*.yaml
RISKY_KINDS = ("suicide", "self-harm", "danger")
CRISIS, ASK, OK = "crisis", "ask", "ok"

# Where the verdicts start, tuned on tests/flows/safety_dev.yaml and safety_cases.yaml (never on
# the frozen set): `risky` is the cosine with the nearest risky example, `margin` how much nearer
# that is than the nearest ordinary example. Help first needs both high: a paraphrase of a risky
# example that resembles nothing ordinary. The question needs less. docs/safety.md has the figures.
CRISIS_RISKY, CRISIS_MARGIN = 0.70, 0.12
ASK_RISKY, ASK_MARGIN = 0.52, 0.07
# A sentence that names no risk concept of the rules (flows.safety_rules.EVIDENCE_CONCEPTS) needs
# a far higher bar, and gets help first from this layer alone only as a near copy (below): short
# ordinary answers to the exercises' questions ("Ze luistert naar me.") lie as close to short
# risky examples as real paraphrases do. Tuned on tests/flows/safety_exercise_dev.yaml
# (docs/safety.md).
BARE_RISKY, BARE_MARGIN = 0.75, 0.12
# Such a sentence gets help first only when it is all but a copy of a risky example and far from
# every ordinary one ("I'm sitting in the car in the garage with the engine running"): on the
# development sets no ordinary sentence without a risk concept came within 0.24 of this margin.
BARE_CRISIS_MARGIN = 0.25

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# How many sentences' findings a layer remembers (about 200 bytes each, whatever the number of
# examples). The model costs milliseconds per call, whatever the number of sentences in it; a
# sentence already scored costs a hash. The same sentence comes back in another message (a
# second message that repeats the first, an answer edited, the same few words from many
# people); see docs/performance.md.
MEMO_SIZE = 8192


class Encoder(Protocol):
    """Sentences in, one L2-normalised row per sentence out."""

    def encode(self, texts: list[str]) -> Vectors: ...


@dataclass(frozen=True, kw_only=True)
class Example:
    """One labelled example sentence, as the author wrote it."""

    text: str
    label: str  # a risky kind (suicide, self-harm, danger) or "ordinary"
    topic: str  # the heading it stands under, for the reader
    path: str
    line: int

    @property
    def risky(self) -> bool:
        return self.label != "ordinary"


@dataclass(frozen=True, kw_only=True)
class SemanticScore:
    """The layer's finding for one message: its riskiest sentence, and how risky that is."""

    verdict: str  # crisis, ask or ok
    risky: float  # cosine with the nearest risky example
    ordinary: float  # cosine with the nearest ordinary example
    nearest: Example  # that risky example (author text, never the person's)
    nearest_ordinary: Example
    sentence: int  # which sentence of the message (0-based), never its text

    @property
    def margin(self) -> float:
        return self.risky - self.ordinary


def verdict_for(risky: float, ordinary: float, *, evidence: bool = True) -> str:
    """The verdict for one sentence; `evidence`: whether it names a risk concept of the rules."""
    margin = risky - ordinary
    if not evidence:
        if risky >= BARE_RISKY and margin >= BARE_CRISIS_MARGIN:
            return CRISIS
        return ASK if risky >= BARE_RISKY and margin >= BARE_MARGIN else OK
    if risky >= CRISIS_RISKY and margin >= CRISIS_MARGIN:
        return CRISIS
    if risky >= ASK_RISKY and margin >= ASK_MARGIN:
        return ASK
    return OK


class SemanticLayer:
    """The examples and the encoder; the examples' embeddings are made once, on `warm`.

    `warm` may run in a background thread while the first message is being typed; `score` waits
    for it. Thread-safe: the embeddings are made under a lock and never change afterwards.

    Each sentence's finding (its nearest risky and ordinary example and their cosines) is
    remembered, keyed by a digest of the sentence, never its text: a sentence seen before does
    not reach the model again, and what the memory holds says nothing of what a person wrote.
    """

    def __init__(self, examples: Sequence[Example], encoder: Encoder):
        self.examples = tuple(examples)
        self.encoder = encoder
        self._risky = tuple(e for e in self.examples if e.risky)
        self._ordinary = tuple(e for e in self.examples if not e.risky)
        self._lock = threading.Lock()
        self._matrices: tuple[Vectors, Vectors] | None = None
        self._memo: DigestMemo[_Finding] = DigestMemo(MEMO_SIZE)

    def warm(self, normalise: Callable[[str], str]) -> None:
        """Embed the examples (normalised as messages are), once."""
        import numpy as np

        with self._lock:
            if self._matrices is not None:
                return
            risky = self.encoder.encode([normalise(e.text) for e in self._risky])
            ordinary = self.encoder.encode([normalise(e.text) for e in self._ordinary])
            self._matrices = (np.asarray(risky, np.float32), np.asarray(ordinary, np.float32))

    @property
    def ready(self) -> bool:
        return self._matrices is not None

    def clear_memo(self) -> None:
        """Forget every sentence's finding (bench/safety.py times messages never seen)."""
        self._memo.clear()

    def score(
        self, sentences: Sequence[str], evidence: Sequence[bool] | None = None
    ) -> SemanticScore | None:
        """The score of the riskiest of `sentences` (normalised text), None for no sentence.

        `evidence[i]`: whether sentence i names a risk concept of the rules (all do, without it).
        Call `warm` first (SafetyCheck does).
        """
        if self._matrices is None:
            raise RuntimeError("SemanticLayer.score before warm")
        kept = [i for i, s in enumerate(sentences) if s.strip()]
        texts = [sentences[i] for i in kept]
        named = [True if evidence is None else evidence[i] for i in kept]
        if not texts or not self._risky or not self._ordinary:
            return None
        findings = self._findings(texts)
        # The riskiest sentence: highest margin among those that reach a verdict, else highest.
        verdicts = [
            verdict_for(f.risky, f.ordinary, evidence=named[i]) for i, f in enumerate(findings)
        ]
        i = max(range(len(texts)), key=lambda i: (_RANK[verdicts[i]], findings[i].risky))
        found = findings[i]
        return SemanticScore(
            verdict=verdicts[i],
            risky=round(found.risky, 3),
            ordinary=round(found.ordinary, 3),
            nearest=self._risky[found.nearest],
            nearest_ordinary=self._ordinary[found.nearest_ordinary],
            sentence=i,
        )

    def _findings(self, texts: list[str]) -> list[_Finding]:
        """Each sentence's finding: remembered ones from the memo, the rest in one model call."""
        keys = [digest(t) for t in texts]
        known = {k: f for k in keys if (f := self._memo.get(k)) is not None}
        missing = list(dict.fromkeys(k for k in keys if k not in known))
        if missing:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            for key, finding in zip(
                missing, self._compute([texts[first[k]] for k in missing]), strict=True
            ):
                known[key] = finding
                self._memo.put(key, finding)
        return [known[k] for k in keys]

    def _compute(self, texts: list[str]) -> list[_Finding]:
        import numpy as np

        assert self._matrices is not None
        risky_matrix, ordinary_matrix = self._matrices
        vectors = np.asarray(self.encoder.encode(texts), np.float32)
        to_risky = vectors @ risky_matrix.T
        to_ordinary = vectors @ ordinary_matrix.T
        best_risky = to_risky.argmax(axis=1)
        best_ordinary = to_ordinary.argmax(axis=1)
        rows = np.arange(len(texts))
        risky = to_risky[rows, best_risky].tolist()
        ordinary = to_ordinary[rows, best_ordinary].tolist()
        return [
            _Finding(
                risky=risky[i],
                ordinary=ordinary[i],
                nearest=int(best_risky[i]),
                nearest_ordinary=int(best_ordinary[i]),
            )
            for i in range(len(texts))
        ]


@dataclass(frozen=True, slots=True)
class _Finding:
    """One sentence against the examples: the nearest of each kind (index) and its cosine."""

    risky: float
    ordinary: float
    nearest: int
    nearest_ordinary: int


_RANK = {OK: 0, ASK: 1, CRISIS: 2}


# --- the example files ---------------------------------------------------------------------------


def parse_examples(sources: Mapping[str, str]) -> list[Example]:
    """The examples of every file in `sources` (path -> YAML text), or ContentError."""
    examples, problems = read_examples(sources)
    if problems:
        raise ContentError(problems)
    return examples


def read_examples(sources: Mapping[str, str]) -> tuple[list[Example], list[Problem]]:
    """The examples, and every problem in the files, each with file and line."""
    examples: list[Example] = []
    problems: list[Problem] = []
    for path in sorted(sources):
        examples += _read_file(path, sources[path], problems)
    seen: dict[str, Example] = {}
    for example in examples:
        key = " ".join(example.text.casefold().split())
        other = seen.get(key)
        if other is not None and other.risky != example.risky:
            problems.append(
                Problem(
                    path=example.path,
                    line=example.line,
                    code="KC078",
                    message=f"this example is also labelled the other way at "
                    f"{other.path}:{other.line}",
                )
            )
        seen[key] = example
    if sources and not any(e.risky for e in examples):
        problems.append(
            Problem(path=EXAMPLES_DIR, line=0, code="KC077", message="no risky examples")
        )
    if sources and all(e.risky for e in examples):
        problems.append(
            Problem(path=EXAMPLES_DIR, line=0, code="KC077", message="no ordinary examples")
        )
    return examples, problems


def _read_file(path: str, text: str, problems: list[Problem]) -> list[Example]:
    def problem(line: int, message: str) -> None:
        problems.append(Problem(path=path, line=line, code="KC077", message=message))

    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem(mark.line + 1 if mark else 0, f"not valid YAML: {getattr(error, 'problem', error)}")
        return []
    if not isinstance(root, yaml.MappingNode):
        problem(0, "an example file is a mapping with spec_version, risky and ordinary")
        return []
    fields: dict[str, yaml.Node] = {}
    for key, value in root.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name not in ("spec_version", "risky", "ordinary") or name in fields:
            problem(
                _line(key), f"unknown or repeated field '{name}' (spec_version, risky, ordinary)"
            )
        else:
            fields[name] = value
    version = fields.get("spec_version")
    if not (isinstance(version, yaml.ScalarNode) and version.value == str(SPEC_VERSION)):
        problem(_line(version or root), f"spec_version must be {SPEC_VERSION}")
        return []
    examples: list[Example] = []
    for section in ("risky", "ordinary"):
        node = fields.get(section)
        if node is None:
            continue
        if not isinstance(node, yaml.MappingNode):
            problem(_line(node), f"{section} is a mapping: heading -> list of sentences")
            continue
        for key, value in node.value:
            topic = key.value if isinstance(key, yaml.ScalarNode) else ""
            if section == "risky" and topic not in RISKY_KINDS:
                problem(
                    _line(key),
                    f"risky kind '{topic}' is unknown (one of: suicide, self-harm, danger)",
                )
                continue
            if not isinstance(value, yaml.SequenceNode):
                problem(_line(value), f"'{topic}' is a list of sentences, each after '- '")
                continue
            for item in value.value:
                if not isinstance(item, yaml.ScalarNode) or not item.value.strip():
                    problem(_line(item), "an example is one sentence of text")
                    continue
                examples.append(
                    Example(
                        text=item.value.strip(),
                        label=topic if section == "risky" else "ordinary",
                        topic=topic,
                        path=path,
                        line=_line(item),
                    )
                )
    return examples


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1
