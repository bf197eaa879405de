"""The vector index: exact search while it is fast, a graph above that, compressed codes
re-scored exactly above 200,000 passages, and FAISS's threads.

faiss is imported without torch, so the read path never loads it. A build imports torch
first (qa.embedding.model); docs/index-format.md, "Index", says what the import order costs.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import faiss
    import numpy as np

# Exact search costs about 0.05-0.13 ms per thousand passages here (one thread): beyond 50k it
# nears half the time of encoding the question, and a graph index takes over. Its settings
# hold recall@10 at 0.99 against exact search even for questions the corpus does not
# cover (the hardest case for a graph); `python -m bench --scale` measures it (docs/speed.md, "Beyond one machine").
APPROXIMATE_ABOVE = 50_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 200, 512
# Above COMPRESSED_ABOVE passages the graph (every vector in memory, and its links) gives
# way to inverted lists of product-quantised codes (48 bytes a passage): the lists hold the
# codes, the exact vectors stay on disk (EXACT, read a few rows at a time: qa.indexfiles.ondisk) and
# only the SHORTLIST found by the codes is scored with them. Measured (`python -m bench
# --scale`, docs/speed.md, "Beyond one machine"): at 100k the graph found 0.968 of the exact top 10
# in 5.9 ms and the codes 0.959 in 7.2; at 400k the graph 0.866 (it opened in 0.40 s and
# held 690 MB of vectors) and the codes 0.977 (0.08 s, 25 MB). The bar lies between.
COMPRESSED_ABOVE = 200_000
PQ_SUBVECTORS = 48  # 8 dimensions each for the 384 of the bundled model
# Questions lie far from every passage (cosines of 0.3-0.6), so the lists nearest a question
# miss some of its nearest passages: at 100k (1,024 lists) probing 1/32 of them found 0.83
# of the exact top 10, 1/8 0.955, 1/4 0.975 (shortlist 512). At a million the codes are the
# limit: a shortlist of 512 found 0.956, of 1,024 0.982, in 3.8 ms (bench.scale).
PROBED_SHARE = 8  # 1/8 of the lists
SHORTLIST = 1024
TRAIN_PER_LIST = 64  # training sample: this many vectors per inverted list (faiss asks 39 or more)
EXACT = "vectors.npy"


def import_faiss() -> Any:
    """faiss, imported on first use."""
    import faiss

    return faiss


def index_type_for(passages: int) -> str:
    """"flat" (exact search) up to APPROXIMATE_ABOVE passages, "hnsw" (a graph) up to
    COMPRESSED_ABOVE, "ivfpq" (compressed codes re-scored exactly) above."""
    if passages > COMPRESSED_ABOVE:
        return "ivfpq"
    return "hnsw" if passages > APPROXIMATE_ABOVE else "flat"


def ivfpq_factory(passages: int, dim: int) -> str:
    """The faiss factory string of the compressed index for a corpus of this size: about
    4 * sqrt(n) inverted lists (4,096 at a million), codes of 8 bits per subvector (fewer
    when the corpus is too small to train 256 centroids on)."""
    lists = min(2 ** round(math.log2(4 * math.sqrt(max(passages, 1)))), max(1, passages // 39))
    bits = min(8, max(1, int(math.log2(max(2, passages // 39)))))
    subvectors = PQ_SUBVECTORS if dim % PQ_SUBVECTORS == 0 else math.gcd(dim, PQ_SUBVECTORS)
    return f"IVF{lists},PQ{subvectors}x{bits}"


def make_vector_index(vectors: np.ndarray, kind: str | None = None) -> faiss.Index:
    """Inner-product search over L2-normalised vectors (cosine similarity).

    `kind` is "flat" (exact), "hnsw" (a graph: approximate, recall@10 measured by
    `python -m bench`) or "ivfpq" (inverted lists of compressed codes, trained on a sample;
    its results must be re-scored with the exact vectors, see SHORTLIST); by default it
    follows the corpus size (index_type_for).
    """
    faiss = import_faiss()
    kind = kind or index_type_for(len(vectors))
    if kind == "ivfpq":
        index = faiss.index_factory(vectors.shape[1], ivfpq_factory(len(vectors), vectors.shape[1]), faiss.METRIC_INNER_PRODUCT)
        import numpy as np

        sample = min(len(vectors), TRAIN_PER_LIST * faiss.extract_index_ivf(index).nlist)
        chosen = np.sort(np.random.default_rng(0).choice(len(vectors), sample, replace=False))
        index.train(np.ascontiguousarray(vectors[chosen]))
        for first in range(0, len(vectors), 100_000):  # a memory-mapped matrix is read a block at a time
            index.add(np.ascontiguousarray(vectors[first : first + 100_000]))
        return prepare_for_search(index)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def write_vector_index(folder: Path, vectors: np.ndarray, name: str, kind: str) -> None:
    """Write the index of `kind` over `vectors` as `folder/name` (and, for a compressed
    one, the exact vectors as `folder/EXACT`)."""
    import numpy as np

    import_faiss().write_index(make_vector_index(vectors, kind), str(folder / name))
    if kind == "ivfpq":
        np.save(folder / EXACT, np.asarray(vectors, dtype=np.float32), allow_pickle=False)


def prepare_for_search(index: faiss.Index) -> faiss.Index:
    """Search settings, which a written index does not keep: the graph's breadth, the lists probed."""
    faiss = import_faiss()
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = max(1, ivf.nlist // PROBED_SHARE)
    return index


def search_depth(index: faiss.Index, wanted: int) -> int:
    """How many neighbours to ask an index for to keep the `wanted` nearest: a compressed
    index's distances are rough, so it proposes a SHORTLIST that exact vectors re-score."""
    return max(wanted, SHORTLIST) if import_faiss().try_extract_index_ivf(index) is not None else wanted


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
