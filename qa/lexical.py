"""The lexical side of retrieval: BM25 over stemmed words.

Names, hashtags and short keyword queries are found exactly here even when the
embedding model blurs them. Scores are normalised into [0, 1] by the best score the
query could reach in this corpus (the sum of each query term's highest score), so
they can be mixed with cosine similarities and compared across questions.

bm25s builds and writes the index (the build path); answering reads its files with
numpy alone, since importing bm25s costs a third of a second a question does not need.
BM25 scores of the "lucene" kind are a sum over the query's terms of each term's
precomputed score in each passage: one sparse column per term.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

_WORD = re.compile(r"\w+")
METHOD = "lucene"


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    """bm25s's English stopwords (STOPWORDS_EN_PLUS), kept in qa/data so that the words
    a build indexed and the words a question is read with never drift apart."""
    from importlib import resources

    return frozenset(resources.files("qa").joinpath("data", "stopwords_en.txt").read_text(encoding="utf-8").split())


@lru_cache(maxsize=1)
def _stemmer() -> Any:
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

    def __init__(self, vocab: dict[str, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, size: int) -> None:
        self._vocab = vocab
        self._data, self._indices, self._indptr = data, indices, indptr
        self._size = size
        self._retriever = None  # the bm25s object of an index built here, which writes it
        self._term_max = _term_max(data, indptr)
        # A query word the corpus never uses still counts against the normaliser, as if
        # it were a word found in a single passage: the corpus has no passage about it.
        self._unknown_max = float(np.max(self._term_max)) if self._term_max.size else 1.0

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        """Index passage texts (the whole corpus at once; bm25s has no incremental add)."""
        import bm25s

        retriever = bm25s.BM25(method=METHOD)
        retriever.index([tokenize(t) or [""] for t in texts], show_progress=False)
        scores = retriever.scores
        built = cls(dict(retriever.vocab_dict), scores["data"], scores["indices"], scores["indptr"], int(scores["num_docs"]))
        built._retriever = retriever
        return built

    def save(self, folder: Path) -> None:
        """Write bm25s's own files (JSON and .npy, never pickle) into `folder` (an index just built)."""
        if self._retriever is None:
            raise ValueError("only an index built in this process is saved")
        self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read what `save` wrote, with numpy and json only. Raises ValueError (or
        OSError) on damaged files."""
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method") != METHOD:
            raise ValueError(f"BM25 of kind {params.get('method')!r}, not {METHOD!r}")
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        arrays = [np.load(folder / f"{name}.csc.index.npy", allow_pickle=False) for name in ("data", "indices", "indptr")]
        data, indices, indptr = arrays
        size = int(params["num_docs"])
        if (
            not isinstance(vocab, dict) or data.ndim != 1 or indices.shape != data.shape or indptr.ndim != 1
            or len(indptr) < 1 or int(indptr[-1]) != len(data) or (len(indices) and int(indices.max()) >= size)
            or any(not isinstance(i, int) or not 0 <= i < len(indptr) for i in vocab.values())
        ):
            raise ValueError("the BM25 arrays do not fit together")
        return cls({str(k): int(v) for k, v in vocab.items()}, data, indices, indptr, size)

    @property
    def size(self) -> int:
        """Number of passages indexed."""
        return self._size

    def unknown_words(self, text: str) -> int:
        """How many of the words of `text` (as BM25 sees them) no passage uses."""
        return sum(self._vocab.get(token, len(self._indptr)) >= len(self._indptr) - 1 for token in tokenize(text))

    def scores(self, query: str) -> np.ndarray:
        """Normalised BM25 score of every passage for `query`, float32 in [0, 1]."""
        tokens = tokenize(query)
        # bm25s gives the empty word (our stand-in for a passage without words) an id but no column.
        known = [self._vocab[t] for t in tokens if self._vocab.get(t, len(self._indptr)) < len(self._indptr) - 1]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        ceiling = float(self._term_max[known].sum()) + self._unknown_max * (len(tokens) - len(known))
        raw = np.zeros(self.size, dtype=np.float32)
        for term in known:  # a term's column names each passage once, so += adds every score
            first, last = int(self._indptr[term]), int(self._indptr[term + 1])
            raw[self._indices[first:last]] += self._data[first:last]
        if ceiling > 0:
            raw *= np.float32(1.0 / ceiling)
        return raw


def _term_max(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """The highest BM25 score each vocabulary term reaches in any passage."""
    data = np.asarray(data)
    indptr = np.asarray(indptr)
    out = np.zeros(len(indptr) - 1, dtype=np.float64)
    nonempty = indptr[:-1] < indptr[1:]
    if data.size:
        out[nonempty] = np.maximum.reduceat(data, indptr[:-1][nonempty])
    return out
