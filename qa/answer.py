"""Picking the sentence that best answers a question from the top passage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from qa.lexical import tokenize
from qa.types import MAX_QUESTION_CHARS, Passage, Sentence

if TYPE_CHECKING:
    from qa.search import Engine

LEXICAL_WEIGHT = 0.3


def best_sentence(engine: Engine, question: str, passages: Sequence[Passage]) -> Sentence | None:
    """The unit of the best passage closest to the question, with offsets in its document.

    Units are the passage's sentences (across hard-wrapped lines), table rows and code
    blocks; headings and markup never are. Prose is preferred: code is the answer only
    in a passage of nothing else, or with the sentence that introduces it. Units are
    scored by the cosine of their stored vectors (embedded with the index) to the
    question's, plus the share of the question's words they contain; nothing is encoded
    here. For a follow-up, pass the question joined to the one before it.
    """
    if not passages:
        return None
    passage = passages[0]
    units = engine.units(passage)
    if not units:
        return None
    stored = engine.unit_vectors(passage)  # None: a passage of one unit, which is the answer
    if stored is not None and len(stored) == len(units):
        cosine = stored @ engine.question_vector(question[:MAX_QUESTION_CHARS])
    else:
        cosine = np.zeros(len(units), dtype=np.float32)
    words = set(tokenize(question[:MAX_QUESTION_CHARS]))
    prose = [i for i, (_, _, code) in enumerate(units) if not code] or list(range(len(units)))
    best = max(prose, key=lambda i: _score(cosine[i], passage.text[units[i][0] : units[i][1]], words))
    start, end, _ = units[best]
    # A lead-in ("This example adds a dependency on the time crate:") answers with the code
    # it introduces.
    following = [(s, e) for s, e, code in units if code and s >= end]
    if passage.text[start:end].rstrip().endswith(":") and following and _only_fence_between(passage.text[end : following[0][0]]):
        end = following[0][1]
    text = passage.text[start:end]
    line = passage.line_start + passage.text.count("\n", 0, start)
    return Sentence(text, passage.source, passage.start + start, passage.start + end, line, line + text.count("\n"), passage.page)


def _score(cosine: float, text: str, words: set[str]) -> float:
    overlap = len(words & set(tokenize(text))) / len(words) if words else 0.0
    return float(cosine) + LEXICAL_WEIGHT * overlap


def _only_fence_between(gap: str) -> bool:
    """Whether only blank lines and a code fence's opening line lie between two units."""
    lines = [line.strip() for line in gap.split("\n") if line.strip()]
    return len(lines) <= 1 and all(line.startswith(("```", "~~~")) for line in lines)
