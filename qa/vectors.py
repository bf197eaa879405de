"""The vector index: exact search while it is fast, a graph above that, and FAISS's threads.

faiss is imported without torch, so the read path never loads it. A build imports torch
first (qa.model); README, "Index", says what the import order costs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import faiss
    import numpy as np

# Exact search costs about 0.05-0.13 ms per thousand passages here (one thread): beyond 50k it
# nears half the time of encoding the question, and a graph index takes over. Its settings
# hold recall@10 at 0.99 against exact search even for questions the corpus does not
# cover (the hardest case for a graph); `python -m bench` measures it (README).
APPROXIMATE_ABOVE = 50_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 200, 512


def import_faiss() -> Any:
    """faiss, imported on first use."""
    import faiss

    return faiss


def index_type_for(passages: int) -> str:
    """"flat" (exact search) up to APPROXIMATE_ABOVE passages, "hnsw" (approximate) above."""
    return "hnsw" if passages > APPROXIMATE_ABOVE else "flat"


def make_vector_index(vectors: np.ndarray, kind: str | None = None) -> faiss.Index:
    """Inner-product search over L2-normalised vectors (cosine similarity).

    `kind` is "flat" (exact) or "hnsw" (a graph: approximate, recall@10 measured by
    `python -m bench`); by default it follows the corpus size (index_type_for).
    """
    faiss = import_faiss()
    kind = kind or index_type_for(len(vectors))
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def exact_matrix(index: faiss.Index) -> np.ndarray | None:
    """The vectors of an exact (flat) index as a numpy view of FAISS's own storage (no
    copy), or None for a graph index. One matrix-vector product over it scores every
    passage: at 1k passages 0.11 ms against 0.24 ms for a FAISS search plus fetching the
    candidates' vectors, at 16k 0.8 against 1.3 ms (here, `python -m bench` checks it)."""
    faiss = import_faiss()
    if not isinstance(index, faiss.IndexFlat) or index.ntotal == 0:
        return None
    return faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)


@contextlib.contextmanager
def one_search_thread() -> Iterator[None]:
    """One OpenMP thread for a single query's search, then the thread count as it was.

    faiss spreads one query over every core, which here doubles its time (2.0 vs 3.5 ms at
    16k passages); torch shares the OpenMP runtime, so the setting must not outlive the
    search, or every later build in the process runs on one core.
    """
    faiss = import_faiss()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
