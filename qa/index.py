"""Building the index on disk, and opening it.

An index folder holds a pointer file `CURRENT` naming the live generation, a folder
`gen-*` holding the manifest, `passages.jsonl` (line i describes vector i), the FAISS
vectors, the vectors of the passages' sentences (`sentences.npy`, in passage order) and
the BM25 files. A build writes a new generation beside the live one and
then replaces `CURRENT` atomically, so an interrupted build leaves the previous index
in service. Builds take a lock; readers never need one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.chunking import MAX_PREFIX_CHARS, UNWRAPPED_LINE, embedding_prefix, split_passages
from qa.markdown import clean_inline
from qa.config import resolve_index_dir, resolve_model, resolve_seeds_dir
from qa.documents import UnreadableDocument, find_documents, load_document, read_bytes
from qa.errors import IndexCorruptError, SeedsError
from qa.lexical import LexicalIndex
from qa.manifest import FORMAT_VERSION, FileRecord, Manifest, read_manifest
from qa.model import Embedder, ModelInfo, get_embedder, resolve_model_info
from qa.notices import notice, warn
from qa.refusal import calibrated
from qa.types import IndexStats

if TYPE_CHECKING:
    import faiss
    import numpy as np

CURRENT = "CURRENT"
PASSAGES = "passages.jsonl"
VECTORS = "vectors.faiss"
SENTENCES = "sentences.npy"
LEXICAL = "bm25"
LOCK = ".lock"
# 2: Markdown by its structure (sections, blocks, markup left out), sentences by sentencex.
# 3: code spans kept whole in clean text; admonition markers only at block level.
CHUNKER_VERSION = 3
# The heading path counts this many times in a passage's BM25 document: a question that
# names a section's subject should find the section. Calibrated in the README, "Scores".
HEADING_WEIGHT = 1
# Exact search costs about 0.13 ms per thousand passages here (one thread): beyond 50k it
# nears half the time of encoding the question, and a graph index takes over. Its settings
# hold recall@10 at 0.99 against exact search even for questions the corpus does not
# cover (the hardest case for a graph); `python -m bench` measures it (README).
APPROXIMATE_ABOVE = 50_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 200, 512
Progress = Callable[[int, int], None]


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


# ---------------------------------------------------------------- reading


def current_generation(index_dir: Path) -> Path | None:
    """The live generation folder, or None when no index was ever built here."""
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
    if manifest.passages_sha256 is not None and _sha256(data) != manifest.passages_sha256:
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
    sentences, sentence_start = _read_sentences(folder, manifest, passages)
    return OpenIndex(folder, manifest, passages, vectors, lexical, sentences, sentence_start)


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


def import_faiss():  # type: ignore[no-untyped-def]
    """faiss, imported after torch so the two OpenMP pools start in the order that is fast."""
    import torch  # noqa: F401

    import faiss

    return faiss


# ---------------------------------------------------------------- freshness


def stale_reasons(manifest: Manifest, seeds_dir: Path, model: ModelInfo) -> list[str]:
    """Why the index no longer matches the documents or model; [] when it is up to date.

    Files whose size and modification time match the manifest are not read.
    """
    reasons = []
    if manifest.model_fingerprint != model.fingerprint:
        reasons.append(f"it was built with {manifest.model_name}, not {model.name}")
    if not same_chunking(manifest.chunking):
        reasons.append("passage settings changed")
    if Path(manifest.seeds_dir) != seeds_dir:
        reasons.append(f"it was built from {manifest.seeds_dir}")
    if manifest.format_version < FORMAT_VERSION:
        reasons.append("it was built by an older qa")
    if not calibrated(manifest.refusal):
        reasons.append("its relevance bar is not calibrated for this qa")
    if reasons:
        return reasons
    # The build that follows walks the folder again and names what it skips; once is enough.
    files = {f.source: f for f in find_documents(seeds_dir, on_skip=lambda _: None)} if seeds_dir.is_dir() else {}
    added = files.keys() - manifest.files.keys()
    removed = manifest.files.keys() - files.keys()
    changed = [
        s for s in files.keys() & manifest.files.keys()
        if not _same_file(files[s].path, files[s].size, files[s].mtime_ns, manifest.files[s])
    ]
    for label, names in (("new", added), ("deleted", removed), ("changed", changed)):
        if names:
            reasons.append(f"{len(names)} {label} file{'s' if len(names) > 1 else ''}")
    return reasons


def _same_file(path: Path, size: int, mtime_ns: int, record: FileRecord) -> bool:
    if size != record.size:
        return False
    if mtime_ns == record.mtime_ns:
        return True
    try:
        return _sha256(path.read_bytes()) == record.sha256
    except OSError:
        return False


# ---------------------------------------------------------------- building


def chunk_settings(max_tokens: int | None, *, naive: bool = False) -> dict[str, Any]:
    """The chunking settings recorded in the manifest (max_tokens comes from the model)."""
    settings: dict[str, Any] = {
        "chunker": CHUNKER_VERSION, "unwrapped_line": UNWRAPPED_LINE, "overlap_sentences": 1,
        "prefix_chars": MAX_PREFIX_CHARS, "heading_weight": HEADING_WEIGHT,
    }
    if naive:
        settings["naive"] = True
    if max_tokens is not None:
        settings["max_tokens"] = max_tokens
    return settings


def same_chunking(recorded: dict[str, Any]) -> bool:
    """Whether passages recorded with these settings are what this qa would cut now
    (a baseline index, built with `naive=True`, is judged as one)."""
    naive = recorded.get("naive") is True
    return {k: v for k, v in recorded.items() if k != "max_tokens"} == chunk_settings(None, naive=naive)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_index(
    seeds_dir: str | os.PathLike[str] | None = None,
    index_dir: str | os.PathLike[str] | None = None,
    *,
    model: str | None = None,
    progress: bool | Progress = False,
    rebuild: bool = False,
    naive: bool = False,
) -> IndexStats:
    """Build or bring up to date the index of the documents in `seeds_dir`.

    Only new or changed passages are embedded: vectors of unchanged text are reused from
    the previous index. The new index replaces the old one atomically.

    Args:
        seeds_dir: the documents folder; default $QA_SEEDS, else the folder the existing
            index was built from, else ./seeds.
        index_dir: where the index lives; default $QA_INDEX, else ./index.
        model: a local sentence-transformers folder; default $QA_MODEL, else the bundled
            all-MiniLM-L6-v2.
        progress: True draws a bar on stderr; a callable gets (done, total) texts embedded
            (passages and their sentences).
        rebuild: embed everything again, reusing nothing.
        naive: cut Markdown into plain sections between headings, no other structure:
            the baseline that `qa eval --baseline` measures the shipped chunker against.

    Returns:
        IndexStats with files, passages, embedded-now and reused counts, and seconds.

    Raises:
        SeedsError: the folder is missing or holds no readable document.
        ModelError: the model cannot be found, verified or loaded.

    Example:
        >>> stats = build_index("seeds", "index")  # doctest: +SKIP
        >>> stats.passages > 0
        True
    """
    began = time.perf_counter()
    index_path = resolve_index_dir(index_dir)
    index_path.mkdir(parents=True, exist_ok=True)
    with _build_lock(index_path):
        previous = _previous(index_path)
        seeds_path = _seeds_for(seeds_dir, previous)
        info = resolve_model_info(resolve_model(model) or (previous.manifest.model_path if previous else None))
        on_progress = _progress_bar() if progress is True else (progress or None)
        return _build(seeds_path, index_path, info, previous, on_progress, rebuild, began, naive)


def _seeds_for(seeds_dir: str | os.PathLike[str] | None, previous: OpenIndex | None) -> Path:
    if seeds_dir is None and not os.environ.get("QA_SEEDS") and previous is not None:
        path = Path(previous.manifest.seeds_dir)
    else:
        path = resolve_seeds_dir(seeds_dir)
    if not path.is_dir():
        raise SeedsError(f"no documents folder at {path}: create it and add .txt or .md files, or pass --seeds DIR")
    return path


def _previous(index_path: Path) -> OpenIndex | None:
    """The live index, if it can be read; a damaged one is rebuilt from scratch."""
    try:
        return open_index(index_path)
    except FileNotFoundError:
        return None
    except IndexCorruptError as e:
        warn(f"{e}; building a new one")
        return None


def _build(
    seeds_path: Path,
    index_path: Path,
    info: ModelInfo,
    previous: OpenIndex | None,
    on_progress: Progress | None,
    rebuild: bool,
    began: float,
    naive: bool = False,
) -> IndexStats:
    files = find_documents(seeds_path)
    old = previous.manifest if previous is not None else None
    reusable = (
        not rebuild
        and old is not None
        and old.model_fingerprint == info.fingerprint
        and same_chunking(old.chunking)
        and old.chunking.get("naive", False) == naive
    )
    old_by_source: dict[str, list[PassageRecord]] = {}
    if reusable and previous is not None:
        for record in previous.passages:
            old_by_source.setdefault(record.source, []).append(record)

    embedder = None
    records: list[PassageRecord] = []
    file_records: dict[str, FileRecord] = {}
    skipped = 0
    for file in files:
        kept = old.files.get(file.source) if reusable and old is not None else None
        if kept is not None and kept.size == file.size and kept.mtime_ns == file.mtime_ns:
            records.extend(old_by_source.get(file.source, []))
            file_records[file.source] = kept
            continue
        try:
            data = read_bytes(file)
            digest = _sha256(data)
            if kept is not None and kept.sha256 == digest:
                passages = old_by_source.get(file.source, [])
            else:
                document = load_document(file.source, data)
                if document.warning:
                    warn(f"{file.source}: {document.warning}")
                if embedder is None:
                    embedder = get_embedder(info)
                spans = split_passages(
                    document.text, embedder, embedder.max_tokens,
                    markdown=document.format == "markdown", title=document_title(file.source), naive=naive,
                )
                passages = [
                    PassageRecord(
                        file.source, s.start, s.end, s.line_start, s.line_end, document.text[s.start : s.end],
                        headings=s.headings, clean=s.clean,
                        units=tuple((u.start - s.start, u.end - s.start, int(u.code)) for u in s.units),
                    )
                    for s in spans
                ]
        except UnreadableDocument as e:
            warn(f"skipped {file.source}: {e}")
            skipped += 1
            continue
        if not passages:
            warn(f"skipped {file.source}: no text")
            skipped += 1
            continue
        records.extend(passages)
        file_records[file.source] = FileRecord(digest, file.size, file.mtime_ns, len(passages))

    if not records:
        raise SeedsError(f"no readable documents in {seeds_path}: add .txt or .md files")

    unchanged = (
        reusable and old is not None and previous is not None
        and {k: v.sha256 for k, v in file_records.items()} == {k: v.sha256 for k, v in old.files.items()}
        and Path(old.seeds_dir) == seeds_path
        and old.format_version == FORMAT_VERSION
    )
    if unchanged and previous is not None and old is not None:
        current = old
        if not calibrated(old.refusal):  # same passages, an older bank of off-topic questions: calibrate only
            current = replace(current, refusal=_calibrate(previous.folder, get_embedder(info)))
        if file_records != old.files:  # only timestamps moved: remember them, so no re-hash next time
            current = _replace_files(current, file_records)
        if current != old:
            _write_atomic(previous.folder / "manifest.json", current.to_json())
        return IndexStats(len(file_records), len(records), 0, len(records), skipped, time.perf_counter() - began, False)

    if embedder is None:
        embedder = get_embedder(info)
    sentence_lists = [sentence_texts(r) for r in records]
    records = [replace(r, sentences=len(texts)) for r, texts in zip(records, sentence_lists)]
    # Vectors are reused by the exact text embedded, so passages cut by other settings or an
    # older qa still reuse every text that has not changed; only another model embeds anew.
    same_model = not rebuild and old is not None and old.model_fingerprint == info.fingerprint
    vectors, sentences, embedded = _vectors_for(records, sentence_lists, embedder, previous if same_model else None, on_progress)
    manifest = Manifest(
        seeds_dir=str(seeds_path),
        model_name=info.name,
        model_path=None if info.fingerprint.startswith("sha256:") else str(info.path),
        model_fingerprint=info.fingerprint,
        dim=embedder.dim,
        chunking=chunk_settings(embedder.max_tokens, naive=naive),
        passages=len(records),
        index_type=index_type_for(len(records)),
        files=file_records,
        sentences=len(sentences),
    )
    _write_generation(index_path, manifest, records, vectors, sentences, embedder)
    return IndexStats(
        len(file_records), len(records), embedded, len(records) - embedded, skipped, time.perf_counter() - began, True
    )


def _replace_files(manifest: Manifest, files: dict[str, FileRecord]) -> Manifest:
    return replace(manifest, files=files)


def _vectors_for(
    records: list[PassageRecord],
    sentence_lists: list[list[str]],
    embedder: Any,
    previous: OpenIndex | None,
    on_progress: Progress | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Passage and sentence vectors, reused where the same text was embedded before.

    Every text not embedded before is embedded once, passages and sentences in one pass.
    Returns (passage vectors, sentence vectors, passages embedded now).
    """
    import numpy as np

    known: dict[str, tuple[int, int]] = {}  # text -> (0 passage | 1 sentence, row)
    if previous is not None:
        # The text a vector was made from is rebuilt from its record with today's rules, so
        # only an index cut by the same settings lends all its vectors. One cut otherwise
        # lends those of passages without headings: their text is the title and the text
        # as stored, as every version of qa embedded it.
        same = same_chunking(previous.manifest.chunking)
        for row, record in enumerate(previous.passages):
            if same or not record.headings:
                known.setdefault(embedding_text(record), (0, row))
        units = previous.passages if same else []
        for record, start in zip(units, previous.sentence_start.tolist()):
            texts = sentence_texts(record) if record.sentences else []
            if len(texts) == record.sentences:  # else the rows cannot be trusted: embed again
                for offset, text in enumerate(texts):
                    known.setdefault(text, (1, start + offset))
    passage_texts = [embedding_text(r) for r in records]
    all_sentences = [t for texts in sentence_lists for t in texts]
    missing = list(dict.fromkeys(t for t in passage_texts + all_sentences if t not in known))
    fresh = embedder.encode(missing, on_progress=on_progress) if missing else np.zeros((0, embedder.dim), np.float32)
    fresh_row = {text: i for i, text in enumerate(missing)}
    old = (
        previous.vectors.reconstruct_n(0, previous.vectors.ntotal) if previous is not None and known else None,
        previous.sentences if previous is not None else None,
    )

    def vectors(texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), embedder.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            if text in fresh_row:
                out[i] = fresh[fresh_row[text]]
            else:
                kind, row = known[text]
                out[i] = old[kind][row]  # type: ignore[index]
        return out

    embedded = len({t for t in passage_texts if t in fresh_row})
    return vectors(passage_texts), vectors(all_sentences), embedded


def document_title(source: str) -> str:
    """A file's name as words ("tiktok-2020-community-letter.txt" -> "tiktok 2020 community letter")."""
    stem = Path(source).stem
    return " ".join(stem.replace("_", " ").replace("-", " ").split())


def embedding_text(record: PassageRecord) -> str:
    """What the model embeds for a passage: its document's title and heading path, then
    its text without markup.

    The title and path tell the model which document and section a short passage (a
    signature, a line of code) belongs to, and which of several documents it is about.
    """
    return f"{embedding_prefix(document_title(record.source), record.headings)}: {record.clean or record.text}"


def lexical_text(record: PassageRecord) -> str:
    """What BM25 indexes for a passage: its text without markup, and its heading path."""
    return "\n".join([record.clean or record.text, *[" ".join(record.headings)] * HEADING_WEIGHT])


def unit_text(record: PassageRecord, unit: tuple[int, int, int]) -> str:
    """A unit's text as the model reads it: prose without markup, code as it is."""
    text = record.text[unit[0] : unit[1]]
    return text if unit[2] else clean_inline(text)


def sentence_texts(record: PassageRecord) -> list[str]:
    """What the model embeds for each unit (sentence, row, code) of a passage of two or more.

    A question usually asks about one sentence, which a passage-wide vector blurs; search
    scores a passage by its own vector and by its best sentence (see qa.search). A passage
    of one unit needs no second vector.
    """
    if len(record.units) < 2:
        return []
    prefix = embedding_prefix(document_title(record.source), record.headings)
    return [f"{prefix}: {unit_text(record, unit)}" for unit in record.units]


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


def _write_generation(
    index_path: Path,
    manifest: Manifest,
    records: list[PassageRecord],
    vectors: np.ndarray,
    sentences: np.ndarray,
    embedder: Embedder,
) -> None:
    """Write a new generation beside the live one, calibrate its relevance bar, then make it live."""
    import numpy as np

    faiss = import_faiss()
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=index_path))
    try:
        passages = "".join(json.dumps(_record_json(r), ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        (staging / PASSAGES).write_bytes(passages)
        manifest = replace(manifest, passages_sha256=_sha256(passages))
        faiss.write_index(make_vector_index(vectors), str(staging / VECTORS))
        np.save(staging / SENTENCES, sentences, allow_pickle=False)
        LexicalIndex.build([lexical_text(r) for r in records]).save(staging / LEXICAL)
        (staging / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        refusal = _calibrate(staging, embedder)
        (staging / "manifest.json").write_text(replace(manifest, refusal=refusal).to_json(), encoding="utf-8")
        _fsync_tree(staging)
        generation = index_path / f"gen-{time.time_ns()}"
        staging.rename(generation)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _write_atomic(index_path / CURRENT, generation.name + "\n")
    for stale in index_path.iterdir():
        if stale != generation and stale.is_dir() and stale.name.startswith(("gen-", ".building-")):
            shutil.rmtree(stale, ignore_errors=True)


def _calibrate(folder: Path, embedder: Embedder) -> dict[str, Any]:
    """The relevance bar of the corpus in `folder`, measured with the search that will serve it."""
    from qa.refusal import calibrate
    from qa.search import Engine

    return calibrate(Engine(folder.parent, folder, open_generation(folder), embedder))


def _record_json(record: PassageRecord) -> dict[str, Any]:
    """A passage as one line of passages.jsonl; fields at their defaults are left out."""
    data = vars(record)
    return {k: v for k, v in data.items() if k in _REQUIRED or v not in (None, (), 0)}


_REQUIRED = frozenset({"source", "start", "end", "line_start", "line_end", "text"})


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())


def _write_atomic(path: Path, text: str) -> None:
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
def _build_lock(index_path: Path) -> Iterator[None]:
    """One build at a time per index folder; a second one waits and says so."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; builds are still atomic
        yield
        return
    with (index_path / LOCK).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            notice(f"another qa is building the index in {index_path}; waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _progress_bar() -> Progress:
    """A one-line bar on stderr, redrawn in place."""

    def draw(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\rembedding [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return draw


