"""The index folder, shared by both paths: its layout, reading and checking it, and writing
files so that a reader never sees half of one.

An index folder holds a pointer file `CURRENT` naming the live generation, a folder
`gen-*` holding the manifest, `passages.jsonl` (line i describes vector i), the FAISS
vectors, the vectors of the passages' units (`sentences.npy`, in passage order) and the
BM25 files. A build (qa.build) writes a new generation beside the live one and then
replaces `CURRENT` atomically, so an interrupted build leaves the previous index in
service. Builds take a lock; readers never need one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import IndexCorruptError, PathError
from qa.lexical import LexicalIndex
from qa.manifest import Manifest, read_manifest
from qa.notices import notice
from qa.vectors import HNSW_EF_SEARCH, import_faiss

if TYPE_CHECKING:
    import faiss
    import numpy as np

CURRENT = "CURRENT"
PASSAGES = "passages.jsonl"
VECTORS = "vectors.faiss"
SENTENCES = "sentences.npy"
LEXICAL = "bm25"
LOCK = ".lock"
INDEX_HINT = "pass --index DIR (or set QA_INDEX) naming a folder qa may create and write"
# Sentence vectors up to this size are read into memory; larger ones stay memory-mapped,
# so a large corpus costs only the rows its questions touch.
IN_MEMORY_BYTES = 32 * 2**20


@dataclass(frozen=True)
class PassageRecord:
    """One line of passages.jsonl."""

    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    text: str
    page: int | None = None
    sentences: int = 0  # rows of sentences.npy that belong to this passage
    headings: tuple[str, ...] = ()  # the path of headings above the passage
    clean: str | None = None  # what is embedded and indexed, when it differs from `text`
    # Sentences, table rows and code blocks: (start, end, is_code) within `text`.
    units: tuple[tuple[int, int, int], ...] = ()


@dataclass
class OpenIndex:
    """A loaded generation: manifest, passages, vectors and the lexical index.

    `sentences` holds the vectors of the passages' sentences, memory-mapped: passage i
    owns rows `sentence_start[i]` to `sentence_start[i] + passages[i].sentences`.
    """

    folder: Path
    manifest: Manifest
    passages: list[PassageRecord]
    vectors: faiss.Index
    lexical: LexicalIndex
    sentences: np.ndarray
    sentence_start: np.ndarray
    sentence_counts: np.ndarray  # passages[i].sentences, as an array


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


def read_passages(folder: Path, manifest: Manifest) -> list[PassageRecord]:
    """Read and validate passages.jsonl against the manifest. Raises IndexCorruptError."""
    path = folder / PASSAGES
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IndexCorruptError(path, "the passages file is missing") from None
    except OSError as e:
        raise IndexCorruptError(path, f"unreadable ({e})") from None
    if manifest.passages_sha256 is not None and sha256(data) != manifest.passages_sha256:
        raise IndexCorruptError(path, "it was changed after qa wrote it (its checksum is not the manifest's)")
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise IndexCorruptError(path, f"unreadable ({e})") from None
    if lines and lines[-1] == "":
        lines.pop()
    records: list[PassageRecord] = []
    for number, line in enumerate(lines, 1):
        try:
            d = json.loads(line)
            record = PassageRecord(
                str(d["source"]), int(d["start"]), int(d["end"]), int(d["line_start"]),
                int(d["line_end"]), str(d["text"]), None if d.get("page") is None else int(d["page"]),
                int(d.get("sentences", 0)),
                tuple(str(h) for h in d.get("headings") or ()),
                None if d.get("clean") is None else str(d["clean"]),
                tuple((int(u[0]), int(u[1]), int(u[2])) for u in d.get("units") or ()),
            )
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise IndexCorruptError(path, f"line {number} is not a valid passage ({e})") from None
        if (
            record.end - record.start != len(record.text) or record.line_start > record.line_end or record.sentences < 0
            or any(not 0 <= s < e <= len(record.text) for s, e, _ in record.units)
        ):
            raise IndexCorruptError(path, f"line {number} has offsets that do not fit its text")
        records.append(record)
    if len(records) != manifest.passages:
        raise IndexCorruptError(path, f"it holds {len(records)} passages, the manifest says {manifest.passages}")
    return records


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

    sentences, sentence_start = _read_sentences(folder, manifest, passages)
    counts = np.fromiter((r.sentences for r in passages), dtype=np.int64, count=len(passages))
    return OpenIndex(folder, manifest, passages, vectors, lexical, sentences, sentence_start, counts)


def _read_sentences(folder: Path, manifest: Manifest, passages: list[PassageRecord]) -> tuple[np.ndarray, np.ndarray]:
    """The sentence vectors (memory-mapped, never unpickled) and where each passage's begin."""
    import numpy as np

    path = folder / SENTENCES
    counts = np.fromiter((r.sentences for r in passages), dtype=np.int64, count=len(passages))
    if manifest.format_version < 2:  # written before sentence vectors: passages only
        if counts.any():
            raise IndexCorruptError(folder / PASSAGES, "it counts sentence vectors, which an index of format 1 has none of")
        return np.zeros((0, manifest.dim), np.float32), np.zeros(len(passages), np.int64)
    if (counts == 1).any():
        raise IndexCorruptError(folder / PASSAGES, "a passage claims one sentence vector (only passages of two or more have them)")
    try:
        sentences = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise IndexCorruptError(path, "the sentence vectors file is missing") from None
    except Exception as e:  # noqa: BLE001  (numpy raises many kinds on damaged files: EOFError, BadZipFile, ...)
        raise IndexCorruptError(path, f"the sentence vectors file is damaged ({type(e).__name__}: {e})") from None
    if not isinstance(sentences, np.ndarray) or sentences.ndim != 2:
        raise IndexCorruptError(path, "the sentence vectors file does not hold one matrix")
    if int(counts.sum()) != manifest.sentences:
        raise IndexCorruptError(folder / PASSAGES, f"its sentence counts add up to {counts.sum()}, the manifest says {manifest.sentences}")
    expected = (manifest.sentences, manifest.dim)
    if sentences.dtype != np.float32 or sentences.shape != expected:
        raise IndexCorruptError(
            path, f"it holds {sentences.dtype} vectors of shape {sentences.shape}, the passages call for {expected}"
        )
    if sentences.nbytes <= IN_MEMORY_BYTES:  # small: read once, no page faults per question
        sentences = np.array(sentences)
    return sentences, np.cumsum(counts) - counts


def _read_vectors(path: Path) -> faiss.Index:
    faiss = import_faiss()
    if not path.is_file():
        raise IndexCorruptError(path, "the vectors file is missing")
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as e:
        raise IndexCorruptError(path, f"the vectors file is damaged ({str(e).splitlines()[0][:120]})") from None
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def sha256(data: bytes) -> str:
    """The SHA-256 of `data`, in hex."""
    return hashlib.sha256(data).hexdigest()


def record_json(record: PassageRecord) -> dict[str, Any]:
    """A passage as one line of passages.jsonl; fields at their defaults are left out."""
    data = vars(record)
    return {k: v for k, v in data.items() if k in _REQUIRED or v not in (None, (), 0)}


_REQUIRED = frozenset({"source", "start", "end", "line_start", "line_end", "text"})


def fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename: readers see the old or the new file, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
