"""The index folder, shared by both paths: its layout, reading and checking it, and writing
files so that a reader never sees half of one.

An index folder holds a pointer file `CURRENT` naming the live generation, a folder
`gen-*` holding the manifest, `passages.jsonl` (line i describes vector i) with
`passages.rows.npy` (where each line begins: passages are read on demand, see
qa.indexfiles.passages), the FAISS vectors, the vectors of the passages' units (`sentences.npy`,
in passage order) and the BM25 files. A build (qa.building.build) writes a new generation beside the live one and then
replaces `CURRENT` atomically, so an interrupted build leaves the previous index in
service. Builds take a lock; readers never need one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import IndexCorruptError, PathError
from qa.indexfiles.lexical import LexicalIndex
from qa.indexfiles.manifest import Manifest, read_manifest
from qa.indexfiles.ondisk import Rows
from qa.indexfiles.passages import PassageTable, read_passages
from qa.indexfiles.vectors import EXACT, import_faiss, prepare_for_search
from qa.notices import notice

if TYPE_CHECKING:
    import faiss
    import numpy as np

CURRENT = "CURRENT"
VECTORS = "vectors.faiss"
SENTENCES = "sentences.npy"
LEXICAL = "bm25"
LOCK = ".lock"
INDEX_HINT = "pass --index DIR (or set QA_INDEX) naming a folder qa may create and write"
# Vector files up to IN_MEMORY_BYTES are read into memory. Up to MAPPED_BYTES they are
# memory-mapped: rows read that way cost least (at 16k passages positioned reads of the
# 36 MB of sentence vectors made a question 0.2 ms slower), but a mapped file's pages come
# in in large runs (qa.indexfiles.ondisk), so the whole file may become resident. Above that, rows
# are read with positioned reads and only they are held.
IN_MEMORY_BYTES = 32 * 2**20
MAPPED_BYTES = 128 * 2**20


@dataclass
class OpenIndex:
    """A loaded generation: manifest, passages, vectors and the lexical index.

    `sentences` holds the vectors of the passages' sentences (on disk when large, see
    qa.indexfiles.ondisk): passage i owns rows `sentence_start[i]` to `sentence_start[i] + passages[i].sentences`.
    """

    folder: Path
    manifest: Manifest
    passages: PassageTable
    vectors: faiss.Index
    lexical: LexicalIndex
    sentences: np.ndarray | Rows
    sentence_start: np.ndarray
    sentence_counts: np.ndarray  # passages[i].sentences, as an array
    # The exact passage vectors when `vectors` holds only compressed codes.
    exact: np.ndarray | Rows | None = None

    def passage_vectors(self) -> np.ndarray:
        """Every passage's exact vector, in row order (memory-mapped when large)."""
        if self.exact is None:
            return self.vectors.reconstruct_n(0, self.vectors.ntotal)
        return self.exact.whole() if isinstance(self.exact, Rows) else self.exact

    def sentence_vectors(self) -> np.ndarray:
        """Every sentence vector, in row order (memory-mapped when large)."""
        return self.sentences.whole() if isinstance(self.sentences, Rows) else self.sentences


def current_generation(index_dir: Path) -> Path | None:
    """The live generation folder, or None when no index was ever built here."""
    if index_dir.exists() and not index_dir.is_dir():
        raise PathError(f"the index folder {index_dir} is a file, not a folder: {INDEX_HINT}")
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise IndexCorruptError(index_dir / CURRENT, f"unreadable ({e})") from None
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise IndexCorruptError(index_dir / CURRENT, "it does not name a generation folder")
    return index_dir / name


def open_index(index_dir: Path) -> OpenIndex:
    """Load the live generation of `index_dir`, checking every file against the manifest.

    Raises:
        IndexCorruptError: a file is missing, damaged or disagrees with the manifest.
        FileNotFoundError: no index was ever built in `index_dir`.
    """
    folder = current_generation(index_dir)
    if folder is None:
        raise FileNotFoundError(index_dir / CURRENT)
    return open_generation(folder)


def open_generation(folder: Path) -> OpenIndex:
    """Load one generation folder, checking every file against its manifest.

    Raises:
        IndexCorruptError: a file is missing, damaged or disagrees with the manifest.
    """
    manifest = read_manifest(folder)
    passages = read_passages(folder, manifest)
    vectors = _read_vectors(folder / VECTORS)
    if vectors.ntotal != manifest.passages or vectors.d != manifest.dim:
        raise IndexCorruptError(
            folder / VECTORS,
            f"it holds {vectors.ntotal} vectors of dimension {vectors.d}, "
            f"the manifest says {manifest.passages} of dimension {manifest.dim}",
        )
    try:
        lexical = LexicalIndex.load(folder / LEXICAL)
    except Exception as e:  # noqa: BLE001  (bm25s raises many kinds on damaged files)
        raise IndexCorruptError(folder / LEXICAL, f"the BM25 files are damaged ({type(e).__name__})") from None
    if lexical.size != manifest.passages:
        raise IndexCorruptError(folder / LEXICAL, f"it indexes {lexical.size} passages, the manifest says {manifest.passages}")
    import numpy as np

    sentences = _read_sentences(folder, manifest)
    exact = _read_matrix(folder / EXACT, "exact vectors", (manifest.passages, manifest.dim)) if manifest.index_type == "ivfpq" else None
    counts = passages.sentence_counts
    return OpenIndex(folder, manifest, passages, vectors, lexical, sentences, np.cumsum(counts) - counts, counts, exact)


def _read_sentences(folder: Path, manifest: Manifest) -> np.ndarray | Rows:
    """The sentence vectors; the passages' counts of them were checked against the
    manifest as the passages were opened."""
    import numpy as np

    if manifest.format_version < 2:  # written before sentence vectors: passages only
        return np.zeros((0, manifest.dim), np.float32)
    return _read_matrix(folder / SENTENCES, "sentence vectors", (manifest.sentences, manifest.dim))


def _read_matrix(path: Path, what: str, shape: tuple[int, int]) -> np.ndarray | Rows:
    """A float32 matrix of `shape` from a .npy file, never unpickled: read into memory up
    to IN_MEMORY_BYTES, memory-mapped up to MAPPED_BYTES, above that left on disk and read
    a few rows at a time (qa.indexfiles.ondisk)."""
    import numpy as np

    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise IndexCorruptError(path, f"the {what} file is missing") from None
    except Exception as e:  # noqa: BLE001  (numpy raises many kinds on damaged files: EOFError, BadZipFile, ...)
        raise IndexCorruptError(path, f"the {what} file is damaged ({type(e).__name__}: {e})") from None
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:
        raise IndexCorruptError(path, f"the {what} file does not hold one matrix")
    if matrix.dtype != np.float32 or matrix.shape != shape or not matrix.flags.c_contiguous:
        raise IndexCorruptError(path, f"it holds {matrix.dtype} vectors of shape {matrix.shape}, the passages call for {shape}")
    if matrix.nbytes <= IN_MEMORY_BYTES:  # small: read once, no reads per question
        return np.array(matrix)
    if matrix.nbytes <= MAPPED_BYTES:  # the whole file may end up mapped in: no more than this
        return matrix
    return Rows(path, shape, int(getattr(matrix, "offset", 0)))


def _read_vectors(path: Path) -> faiss.Index:
    faiss = import_faiss()
    if not path.is_file():
        raise IndexCorruptError(path, "the vectors file is missing")
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as e:
        raise IndexCorruptError(path, f"the vectors file is damaged ({str(e).splitlines()[0][:120]})") from None
    return prepare_for_search(index)


def fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())


@contextlib.contextmanager
def build_lock(index_path: Path) -> Iterator[None]:
    """One build at a time per index folder, on every platform; a second one waits and says so."""
    from filelock import FileLock, Timeout

    lock = FileLock(index_path / LOCK, thread_local=False)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            notice(f"another qa is building the index in {index_path}; waiting for it to finish")
            lock.acquire()
    except OSError as e:
        raise PathError(f"cannot write the index folder {index_path}: {e.strerror or e}; {INDEX_HINT}") from None
    try:
        yield
    finally:
        lock.release()
