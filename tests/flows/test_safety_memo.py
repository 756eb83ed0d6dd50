"""The semantic layer remembers what it found for a sentence: the same sentence again gets the
same verdict without the model, a message of seen and new sentences asks the model only about
the new ones, and the memory holds digests, never a person's words. The model is the real one;
the examples the real files."""

from __future__ import annotations

from bot.content import read_sources
from bot.safety_model import ENCODER
from flows import safety_semantic
from flows.loader import parse_library
from flows.safety import assess, parts
from flows.safety_semantic import SemanticLayer, parse_examples

RISKY = "Het zou voor iedereen fijner zijn als ik er gewoon nooit meer was."
ORDINARY = "Ze luistert naar me als ik over mijn werk vertel."


class CountingEncoder:
    """The real model, counting the sentences it is asked about."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def encode(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.asked.append(len(texts))
        return ENCODER.encode(texts)


def fresh_check(encoder: CountingEncoder):  # type: ignore[no-untyped-def]
    library = parse_library(read_sources(), encoder=encoder)
    library.safety.warm()
    encoder.asked.clear()  # the examples' embeddings are not what is counted
    return library.safety


def test_a_sentence_seen_before_gets_the_same_verdict_without_the_model() -> None:
    encoder = CountingEncoder()
    check = fresh_check(encoder)
    first = assess(RISKY, check, complete=True)
    assert encoder.asked == [1]
    again = assess(RISKY, check, complete=True)
    assert encoder.asked == [1], "the model was asked again about a sentence it had seen"
    assert again == first
    assert first.verdict != "ok"


def test_a_message_of_seen_and_new_sentences_asks_only_about_the_new_ones() -> None:
    encoder = CountingEncoder()
    check = fresh_check(encoder)
    assess(ORDINARY, check)
    message = f"{ORDINARY} {RISKY}"
    remembered = assess(message, check, complete=True)
    assert encoder.asked == [1, 1]
    # The same message on a layer that has seen nothing: one call with both, the same finding.
    cold_encoder = CountingEncoder()
    cold = assess(message, fresh_check(cold_encoder), complete=True)
    assert cold_encoder.asked == [2]
    assert remembered == cold


def test_the_memory_holds_no_words_of_the_person_and_stays_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(safety_semantic, "MEMO_SIZE", 3)
    rules, layer = parts(fresh_check(CountingEncoder()))
    assert isinstance(layer, SemanticLayer)
    sentences = [f"Vandaag heb ik {n} keer aan haar gedacht." for n in range(5)]
    for sentence in sentences:
        layer.score([rules.normalise(sentence)])
    kept = layer._memo.keys()
    assert len(kept) == 3
    assert all(isinstance(key, bytes) and len(key) == 16 for key in kept)  # digests
    held = repr(kept)
    assert not any(word in held for word in ("Vandaag", "vandaag", "gedacht", "haar"))
    # The oldest went first: the newest three are what a new look finds.
    asked = CountingEncoder()
    layer.encoder = asked
    layer.score([rules.normalise(sentences[-1])])
    layer.score([rules.normalise(sentences[0])])
    assert asked.asked == [1]


def test_the_examples_are_embedded_once_per_layer() -> None:
    encoder = CountingEncoder()
    examples = parse_examples(
        {p: t for p, t in read_sources().items() if p.startswith(safety_semantic.EXAMPLES_DIR)}
    )
    layer = SemanticLayer(examples, encoder)
    layer.warm(str.casefold)
    layer.warm(str.casefold)
    assert encoder.asked == [sum(e.risky for e in examples), sum(not e.risky for e in examples)]
