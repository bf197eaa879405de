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

from qa.errors import IndexCorruptError

_WORD = re.compile(r"\w+")
# A name with a version, which BM25 reads as two unrelated words: HTTP/3, UTF-8, ES-2015,
# and with a space only a dotted version (Python 3.13), so "step 2" is not one.
_VERSIONED = re.compile(r"(?<![\w/.-])([A-Za-z][A-Za-z+#]*)(?:([/-])(\d+(?:\.\d+)*)|( )(\d+\.\d+(?:\.\d+)*))(?![\w/-]|\.\d)")
VERSIONED = "versioned.json"
METHOD = "lucene"
TERM_MAX = "term_max.npy"
IN_MEMORY_BYTES = 32 * 2**20  # larger arrays stay memory-mapped (as qa.indexfiles.store does for vectors)
# Vocabularies up to this many terms become a dict at open (18 ms at most): a bisection on
# disk cost 0.08 ms a question more at 16k passages (13k terms).
DICT_TERMS = 50_000


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
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
    words = [w for w in _WORD.findall(text.lower()) if w not in stopwords() and (len(w) > 1 or w.isdigit())]
    return _stemmer().stemWords(words) if words else []


def versioned_names(text: str) -> list[str]:
    """The names with a version in `text`, lower-cased, as written ("http/3", "python 3.13")."""
    return [m.group(0).lower() for m in _VERSIONED.finditer(text)]


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
    return [w.span() for w, stem in zip(words, stems) if stem in wanted and w.group().lower() not in stopwords()]


class LexicalIndex:
    """BM25 scores of every passage for a query, normalised into [0, 1]."""

    def __init__(
        self, vocab: dict[str, int] | SortedTerms, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, size: int,
        term_max: np.ndarray | None = None,
    ) -> None:
        self._vocab = vocab
        self._data, self._indices, self._indptr = data, indices, indptr
        self._size = size
        self._retriever = None  # the bm25s object of an index built here, which writes it
        self._folded: frozenset[str] | None = None  # accented terms without their accents (uses_folded)
        self._folder: Path | None = None  # where it was read from
        self._term_max = np.asarray(term_max) if term_max is not None else _term_max(data, indptr)
        # The corpus's names with a version (HTTP/2): None for an index written before format 6.
        self.versioned: frozenset[str] | None = None
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
        built.versioned = frozenset(name for text in texts for name in versioned_names(text))
        return built

    def save(self, folder: Path) -> None:
        """Write bm25s's own files (JSON and .npy, never pickle) into `folder` (an index just
        built), and each term's highest score (TERM_MAX), so that opening reads no column."""
        if self._retriever is None:
            raise ValueError("only an index built in this process is saved")
        self._retriever.save(str(folder), show_progress=False)
        np.save(folder / TERM_MAX, self._term_max, allow_pickle=False)
        SortedTerms.save(folder, self._vocab)
        (folder / VERSIONED).write_text(json.dumps(sorted(self.versioned or ())), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read what `save` wrote, with numpy and json only. Arrays above IN_MEMORY_BYTES
        stay memory-mapped: a question reads the columns of its own words. Raises
        ValueError (or OSError) on damaged files; a column found damaged only when a
        question reads it raises IndexCorruptError then."""
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method") != METHOD:
            raise ValueError(f"BM25 of kind {params.get('method')!r}, not {METHOD!r}")
        data, indices, indptr = [_load(folder / f"{name}.csc.index.npy") for name in ("data", "indices", "indptr")]
        size = int(params["num_docs"])
        if (
            data.ndim != 1 or indices.shape != data.shape or indptr.ndim != 1
            or len(indptr) < 1 or int(indptr[0]) != 0 or int(indptr[-1]) != len(data) or (np.diff(indptr) < 0).any()
        ):
            raise ValueError("the BM25 arrays do not fit together")
        vocab = _vocabulary(folder, len(indptr))
        if not isinstance(indices, np.memmap) and len(indices) and int(indices.max()) >= size:
            raise ValueError("the BM25 arrays name passages the index does not have")
        term_max = _load(folder / TERM_MAX) if (folder / TERM_MAX).is_file() else None  # none before format 5
        if term_max is not None and term_max.shape != (len(indptr) - 1,):
            raise ValueError("the BM25 term maxima do not fit the vocabulary")
        loaded = cls(vocab, data, indices, indptr, size, term_max)
        loaded._folder = folder
        if (folder / VERSIONED).is_file():  # none before format 6
            names = json.loads((folder / VERSIONED).read_text(encoding="utf-8"))
            if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
                raise ValueError("the versioned names are not a list of strings")
            loaded.versioned = frozenset(names)
        return loaded

    @property
    def size(self) -> int:
        """Number of passages indexed."""
        return self._size

    def unknown_words(self, text: str) -> int:
        """How many of the words of `text` (as BM25 sees them) no passage uses."""
        return sum(not self.uses(token) for token in tokenize(text))

    def uses(self, term: str) -> bool:
        """Whether some passage uses `term` (a stemmed word, as `tokenize` gives it)."""
        return self._vocab.get(term, len(self._indptr)) < len(self._indptr) - 1

    def weight(self, term: str) -> float:
        """How much `term` (a stemmed word) tells passages apart: its highest BM25 score in
        any passage, which grows with its rarity (0 for a word no passage uses)."""
        i = self._vocab.get(term, len(self._indptr))
        return float(self._term_max[i]) if i < len(self._indptr) - 1 else 0.0

    def uses_folded(self, term: str) -> bool:
        """Whether some passage uses a term that reads `term` once its accents are dropped
        ("hervé" for "herve"). Only a vocabulary held as a dict is searched this way (up to
        DICT_TERMS terms); a larger one answers False."""
        if self._folded is None:
            from qa.text import fold

            terms = self._vocab.keys() if isinstance(self._vocab, dict) else ()
            self._folded = frozenset(fold(t) for t in terms if not t.isascii())
        return term in self._folded

    def scores(self, query: str) -> np.ndarray:
        """Normalised BM25 score of every passage for `query`, float32 in [0, 1]."""
        tokens = tokenize(query)
        # bm25s gives the empty word (our stand-in for a passage without words) an id but no column.
        known = [i for i in (self._vocab.get(t, len(self._indptr)) for t in tokens) if i < len(self._indptr) - 1]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        ceiling = float(self._term_max[known].sum()) + self._unknown_max * (len(tokens) - len(known))
        raw = np.zeros(self.size, dtype=np.float32)
        for term in known:  # a term's column names each passage once, so += adds every score
            first, last = int(self._indptr[term]), int(self._indptr[term + 1])
            try:
                raw[self._indices[first:last]] += self._data[first:last]
            except IndexError:  # a memory-mapped column, checked as it is read
                raise IndexCorruptError(self._folder or Path("bm25"), "the BM25 arrays name passages the index does not have") from None
        if ceiling > 0:
            raw *= np.float32(1.0 / ceiling)
        return raw


def _vocabulary(folder: Path, ids: int) -> dict[str, int] | SortedTerms:
    """The vocabulary `save` wrote (bm25s's JSON object before format 5), every id below `ids`."""
    if (folder / SortedTerms.IDS).is_file():
        terms = SortedTerms.load(folder)
        if not terms.ids_below(ids):
            raise ValueError("the BM25 vocabulary names terms the arrays do not have")
        return terms.as_dict() if len(terms) <= DICT_TERMS else terms
    vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
    if not isinstance(vocab, dict) or any(not isinstance(i, int) or not 0 <= i < ids for i in vocab.values()):
        raise ValueError("the BM25 vocabulary does not fit the arrays")
    return {str(k): int(v) for k, v in vocab.items()}


class SortedTerms:
    """A vocabulary as three arrays on disk, read without parsing: the terms' UTF-8 bytes
    in byte order, one after another, where each begins, and each term's id; a term is
    found by binary search. bm25s's own vocabulary is a JSON object, which took 1.1 s to
    parse at a million terms (bench.scale), this 2 ms to open."""

    TERMS, STARTS, IDS = "vocab.terms.npy", "vocab.starts.npy", "vocab.ids.npy"

    def __init__(self, terms: np.ndarray, starts: np.ndarray, ids: np.ndarray) -> None:
        self._terms, self._starts, self._ids = terms, starts, ids

    @classmethod
    def save(cls, folder: Path, vocab: dict[str, int] | SortedTerms) -> None:
        """Write a vocabulary's arrays into `folder`."""
        if isinstance(vocab, SortedTerms):
            raise ValueError("only a vocabulary built in this process is saved")
        encoded = sorted((term.encode("utf-8"), i) for term, i in vocab.items())
        lengths = np.fromiter((len(term) for term, _ in encoded), np.int64, len(encoded))
        np.save(folder / cls.TERMS, np.frombuffer(b"".join(term for term, _ in encoded), np.uint8), allow_pickle=False)
        np.save(folder / cls.STARTS, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), allow_pickle=False)
        np.save(folder / cls.IDS, np.fromiter((i for _, i in encoded), np.int64, len(encoded)), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> SortedTerms:
        """Open the arrays `save` wrote. Raises ValueError when they do not fit together."""
        terms, starts, ids = (_load(folder / name) for name in (cls.TERMS, cls.STARTS, cls.IDS))
        if terms.ndim != 1 or starts.shape != (len(ids) + 1,) or int(starts[0]) != 0 or int(starts[-1]) != len(terms):
            raise ValueError("the BM25 vocabulary arrays do not fit together")
        if (np.diff(starts) < 0).any():
            raise ValueError("the BM25 vocabulary's terms overlap")
        return cls(terms, starts, ids)

    def __len__(self) -> int:
        return len(self._ids)

    def as_dict(self) -> dict[str, int]:
        """{term: id}: 0.36 us a term to make, then a lookup costs no bisection."""
        blob, starts = self._terms.tobytes(), self._starts.tolist()
        return dict(zip((blob[a:b].decode("utf-8") for a, b in zip(starts[:-1], starts[1:])), self._ids.tolist()))

    def ids_below(self, bound: int) -> bool:
        """Whether every id lies in [0, bound)."""
        return not len(self._ids) or (int(self._ids.min()) >= 0 and int(self._ids.max()) < bound)

    def _term(self, i: int) -> bytes:
        return self._terms[int(self._starts[i]) : int(self._starts[i + 1])].tobytes()

    def get(self, term: str, default: int) -> int:
        """The id of `term`, or `default` when the corpus does not use it."""
        key, low, high = term.encode("utf-8"), 0, len(self._ids)
        while low < high:
            middle = (low + high) // 2
            if self._term(middle) < key:
                low = middle + 1
            else:
                high = middle
        return int(self._ids[low]) if low < len(self._ids) and self._term(low) == key else default


def _load(path: Path) -> np.ndarray:
    """A .npy array, never unpickled: in memory when small, memory-mapped when large."""
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return np.array(array) if array.nbytes <= IN_MEMORY_BYTES else array


def _term_max(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """The highest BM25 score each vocabulary term reaches in any passage."""
    data = np.asarray(data)
    indptr = np.asarray(indptr)
    out = np.zeros(len(indptr) - 1, dtype=np.float64)
    nonempty = indptr[:-1] < indptr[1:]
    if data.size:
        out[nonempty] = np.maximum.reduceat(data, indptr[:-1][nonempty])
    return out
