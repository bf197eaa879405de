"""Picking the sentence that best answers a question from the top passages."""

from __future__ import annotations

from collections.abc import Sequence

from qa.chunking import sentence_spans
from qa.lexical import tokenize
from qa.model import Embedder
from qa.types import MAX_QUESTION_CHARS, Passage, Sentence

LEXICAL_WEIGHT = 0.3


def best_sentence(embedder: Embedder, question: str, passages: Sequence[Passage]) -> Sentence | None:
    """The sentence of the best passage closest to the question, with offsets in its document.

    Sentences are scored by cosine similarity to the question plus the share of the
    question's words they contain. For a follow-up, pass the question joined to the one
    before it.
    """
    question = question[:MAX_QUESTION_CHARS]
    candidates: list[tuple[Passage, int, int]] = []
    for passage in passages[:1]:
        for start, end in sentence_spans(passage.text):
            candidates.append((passage, start, end))
    if not candidates:
        return None
    texts = [p.text[s:e] for p, s, e in candidates]
    vectors = embedder.encode([question, *texts])
    cosine = vectors[1:] @ vectors[0]
    words = set(tokenize(question))
    best, best_score = 0, float("-inf")
    for i, text in enumerate(texts):
        overlap = len(words & set(tokenize(text))) / len(words) if words else 0.0
        score = float(cosine[i]) + LEXICAL_WEIGHT * overlap
        if score > best_score:
            best, best_score = i, score
    passage, start, end = candidates[best]
    line = passage.line_start + passage.text.count("\n", 0, start)
    return Sentence(
        texts[best], passage.source, passage.start + start, passage.start + end,
        line, line + texts[best].count("\n"),
    )
