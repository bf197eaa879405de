"""The lexical side of retrieval: BM25 over stemmed words, via bm25s.

Names, hashtags and short keyword queries are found exactly here even when the
embedding model blurs them. Scores are normalised into [0, 1] by the best score the
query could reach in this corpus (the sum of each query term's highest score), so
they can be mixed with cosine similarities and compared across questions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed words without English stopwords; a `#hashtag` is its word."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _stopwords() and (len(w) > 1 or w.isdigit())]
    return _stemmer().stemWords(words) if words else []


def matched_spans(text: str, question: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the words of `text` that match a word of `question`.

    Words match as BM25 sees them (stemmed, stopwords ignored), so a front-end can
    emphasise exactly what the lexical side found.
    """
    wanted = set(tokenize(question))
    if not wanted:
        return []
    words = list(_WORD.finditer(text))
    stems = _stemmer().stemWords([w.group().lower() for w in words]) if words else []
    return [w.span() for w, stem in zip(words, stems) if stem in wanted and w.group().lower() not in _stopwords()]


class LexicalIndex:
    """BM25 scores of every passage for a query, normalised into [0, 1]."""

    def __init__(self, retriever, term_max: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        self._bm25 = retriever
        self._term_max = term_max
        # A query word the corpus never uses still counts against the normaliser, as if
        # it were a word found in a single passage: the corpus has no passage about it.
        self._unknown_max = float(np.max(term_max)) if term_max.size else 1.0

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        """Index passage texts (the whole corpus at once; bm25s has no incremental add)."""
        import bm25s

        retriever = bm25s.BM25()
        retriever.index([tokenize(t) or [""] for t in texts], show_progress=False)
        return cls(retriever, _term_max(retriever))

    def save(self, folder: Path) -> None:
        """Write bm25s's own files (JSON and .npy, never pickle) into `folder`."""
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read what `save` wrote. Raises whatever bm25s raises on damaged files."""
        import bm25s

        retriever = bm25s.BM25.load(str(folder), load_corpus=False, mmap=False, allow_pickle=False)
        return cls(retriever, _term_max(retriever))

    @property
    def size(self) -> int:
        """Number of passages indexed."""
        return int(self._bm25.scores["num_docs"])

    def unknown_words(self, text: str) -> int:
        """How many of the words of `text` (as BM25 sees them) no passage uses."""
        vocab = self._bm25.vocab_dict
        return sum(token not in vocab for token in tokenize(text))

    def scores(self, query: str) -> np.ndarray:
        """Normalised BM25 score of every passage for `query`, float32 in [0, 1]."""
        tokens = tokenize(query)
        vocab = self._bm25.vocab_dict
        known = [vocab[t] for t in tokens if t in vocab]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        ceiling = float(self._term_max[known].sum()) + self._unknown_max * (len(tokens) - len(known))
        raw = self._bm25.get_scores_from_ids(known)
        return (raw / ceiling).astype(np.float32) if ceiling > 0 else np.zeros(self.size, dtype=np.float32)


def _term_max(retriever) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The highest BM25 score each vocabulary term reaches in any passage."""
    data = np.asarray(retriever.scores["data"])
    indptr = np.asarray(retriever.scores["indptr"])
    out = np.zeros(len(indptr) - 1, dtype=np.float64)
    nonempty = indptr[:-1] < indptr[1:]
    if data.size:
        out[nonempty] = np.maximum.reduceat(data, indptr[:-1][nonempty])
    return out
