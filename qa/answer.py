"""Picking the sentence that best answers a question from the top passage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from qa.lexical import tokenize
from qa.markdown import clean_inline
from qa.types import MAX_QUESTION_CHARS, Passage, Sentence

if TYPE_CHECKING:
    from qa.search import Engine

LEXICAL_WEIGHT = 0.3


def best_sentence(engine: Engine, question: str, passages: Sequence[Passage]) -> Sentence | None:
    """The unit of the best passage closest to the question, with offsets in its document.

    Units are the passage's sentences (across hard-wrapped lines), table rows and code
    blocks; headings and markup never are. Prose is preferred: code is the answer only
    in a passage of nothing else, or with the sentence that introduces it. Units are scored by cosine similarity to the question
    plus the share of the question's words they contain. For a follow-up, pass the
    question joined to the one before it.
    """
    if not passages:
        return None
    passage = passages[0]
    units = engine.units(passage)
    candidates = [(s, e) for s, e, code in units if not code] or [(s, e) for s, e, _ in units]
    if not candidates:
        return None
    question = question[:MAX_QUESTION_CHARS]
    texts = [passage.text[s:e] for s, e in candidates]
    vectors = engine.embedder.encode([question, *(clean_inline(t) or t for t in texts)])
    cosine = vectors[1:] @ vectors[0]
    words = set(tokenize(question))
    best, best_score = 0, float("-inf")
    for i, text in enumerate(texts):
        overlap = len(words & set(tokenize(text))) / len(words) if words else 0.0
        score = float(cosine[i]) + LEXICAL_WEIGHT * overlap
        if score > best_score:
            best, best_score = i, score
    start, end = candidates[best]
    # A lead-in ("This example adds a dependency on the time crate:") answers with the code
    # it introduces.
    following = [(s, e) for s, e, code in units if code and s >= end]
    if texts[best].rstrip().endswith(":") and following and _only_fence_between(passage.text[end : following[0][0]]):
        end = following[0][1]
    text = passage.text[start:end]
    line = passage.line_start + passage.text.count("\n", 0, start)
    return Sentence(text, passage.source, passage.start + start, passage.start + end, line, line + text.count("\n"))


def _only_fence_between(gap: str) -> bool:
    """Whether only blank lines and a code fence's opening line lie between two units."""
    lines = [line.strip() for line in gap.split("\n") if line.strip()]
    return len(lines) <= 1 and all(line.startswith(("```", "~~~")) for line in lines)
