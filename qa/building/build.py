"""Building the index: read the documents, cut passages, embed what is new, write a generation.

This is the build path: it owns sentence-transformers (qa.embedding.model), chunking and writing.
A process that only answers a fresh index never imports it (qa.answering.search).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.building.chunking import embedding_prefix, page_spans, split_passages
from qa.building.freshness import HEADING_WEIGHT, chunk_settings, encoder_reasons, same_chunking
from qa.building.refusal import calibrated
from qa.config import resolve_index_dir, resolve_model, resolve_seeds_dir, seeds_from_env
from qa.embedding.model import Embedder, embedding_model, get_embedder, word_pieces
from qa.embedding.modelfiles import ModelInfo, resolve_model_info
from qa.errors import IndexCorruptError, NoDocumentsError, PathError, SeedsError, make_folder
from qa.files import sha256, write_atomic
from qa.formats.documents import FORMATS, UnreadableDocument, find_documents, load_document, read_bytes
from qa.indexfiles.lexical import LexicalIndex
from qa.indexfiles.manifest import FORMAT_VERSION, FileRecord, Manifest, SkippedFile
from qa.indexfiles.passages import PassageRecord, write_passages
from qa.indexfiles.store import (
    CURRENT,
    INDEX_HINT,
    LEXICAL,
    SENTENCES,
    VECTORS,
    OpenIndex,
    build_lock,
    current_generation,
    fsync_tree,
    open_generation,
    open_index,
)
from qa.indexfiles.vectors import index_type_for, write_vector_index
from qa.inline import clean_inline
from qa.notices import warn
from qa.text import counted
from qa.types import IndexStats

if TYPE_CHECKING:
    import numpy as np

    from qa.embedding.encoder import OnnxEncoder

Progress = Callable[[int, int], None]
Stage = Callable[[str], None]
Encode = Callable[..., "np.ndarray"]  # (texts, on_progress=...) -> their vectors, in order


def build_index(
    seeds_dir: str | os.PathLike[str] | None = None,
    index_dir: str | os.PathLike[str] | None = None,
    *,
    model: str | None = None,
    progress: Progress | None = None,
    rebuild: bool = False,
    naive: bool = False,
    stage: Stage | None = None,
    ray: bool | str = False,
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
        progress: called with (done, total) texts embedded (passages and their units) as
            the embedding goes; the library draws nothing.
        rebuild: embed everything again, reusing nothing.
        naive: cut Markdown into plain sections between headings, no other structure:
            the baseline that `qa eval --baseline` measures the shipped chunker against.
        stage: called with a few words as each step begins ("reading 24 documents",
            "embedding 1,538 texts", ...), from the start of the build.
        ray: embed on a Ray cluster (qa.building.cluster): True for $RAY_ADDRESS's or a Ray runtime
            started on this machine, or the cluster's address. The index is the same.

    Returns:
        IndexStats with files, passages, embedded-now and reused counts, and seconds.

    Raises:
        SeedsError: the folder is missing or holds no readable document.
        ModelError: the model cannot be found, verified or loaded.

    Example:
        >>> stats = build_index("seeds", "index")
        >>> stats.passages > 0
        True
    """
    began = time.perf_counter()
    stage = stage or (lambda _: None)
    stage("checking the documents")
    index_path = resolve_index_dir(index_dir)
    make_folder(index_path, "the index folder", INDEX_HINT)
    with build_lock(index_path):
        previous = _previous(index_path)
        seeds_path = _seeds_for(seeds_dir, previous)
        info = resolve_model_info(resolve_model(model) or (previous.manifest.model_path if previous else None))
        return _build(seeds_path, index_path, info, previous, progress, rebuild, began, naive, stage, _encoder(ray, info))


def _model_path(info: ModelInfo) -> str | None:
    """How the index (and a Ray worker) names the model: None for the bundled one, which
    every install has, else its folder."""
    return None if info.fingerprint.startswith("sha256:") else str(info.path)


def _encoder(ray: bool | str, info: ModelInfo) -> Encode | None:
    """What embeds a build's new texts: the model in this process (None), or a Ray cluster."""
    if ray is False:
        return None
    from qa.building.cluster import connect, encode_on_ray

    address = None if ray is True else str(ray)
    connect(address)  # before the documents are read: a wrong address is said at once
    return partial(encode_on_ray, info=info, model=_model_path(info), address=address)


def _seeds_for(seeds_dir: str | os.PathLike[str] | None, previous: OpenIndex | None) -> Path:
    if seeds_dir is None and seeds_from_env() is None and previous is not None:
        path = Path(previous.manifest.seeds_dir)
    else:
        path = resolve_seeds_dir(seeds_dir)
    if not path.is_dir():
        raise SeedsError(f"no documents folder at {path}: create it and add {FORMATS} files, or pass --seeds DIR")
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


@dataclass(frozen=True)
class Plan:
    """What a build starts from: the documents, the model, the index it may reuse, how it cuts."""

    seeds_path: Path
    index_path: Path
    info: ModelInfo
    previous: OpenIndex | None
    rebuild: bool
    naive: bool
    began: float

    @property
    def old(self) -> Manifest | None:
        return self.previous.manifest if self.previous is not None else None

    @property
    def same_model(self) -> bool:
        """Whether the previous index's vectors may be reused (same model, no --rebuild)."""
        return not self.rebuild and self.old is not None and self.old.model_fingerprint == self.info.fingerprint

    @property
    def reusable(self) -> bool:
        """Whether the previous index's passages may be reused: same model and same cutting."""
        old = self.old
        return self.same_model and old is not None and same_chunking(old.chunking) and old.chunking.get("naive", False) == self.naive


@dataclass
class Read:
    """The documents as read and cut into passages, and what was skipped."""

    records: list[PassageRecord]
    files: dict[str, FileRecord]
    skipped: dict[str, SkippedFile]
    passed_over: list[str]  # what find_documents skipped: said when the index changes
    pieces: tuple[Any, int] | None  # the model's word-piece counter, if a document needed it

    @property
    def skipped_count(self) -> int:
        return len(self.passed_over) + len(self.skipped)


def _build(
    seeds_path: Path,
    index_path: Path,
    info: ModelInfo,
    previous: OpenIndex | None,
    on_progress: Progress | None,
    rebuild: bool,
    began: float,
    naive: bool = False,
    stage: Stage = lambda _: None,
    encode: Encode | None = None,
) -> IndexStats:
    """Plan, read and cut, then embed and write only if the passages changed."""
    plan = Plan(seeds_path, index_path, info, previous, rebuild, naive, began)
    read = _read_and_cut(plan, stage)
    if not read.records:
        for line in read.passed_over:
            warn(line)
        raise NoDocumentsError(seeds_path, FORMATS)
    if _unchanged(plan, read):
        return _refresh(plan, read)
    for line in read.passed_over:
        warn(line)
    return _embed_and_write(plan, read, on_progress, stage, encode)


def _read_and_cut(plan: Plan, stage: Stage) -> Read:
    """Every document's passages: those of unchanged files from the previous index, the rest
    read and cut anew. A file that cannot be read is skipped with a warning, once."""
    old = plan.old
    old_by_source: dict[str, list[PassageRecord]] = {}
    if plan.reusable and plan.previous is not None:
        for record in plan.previous.passages:
            old_by_source.setdefault(record.source, []).append(record)
    passed_over: list[str] = []
    files = find_documents(plan.seeds_path, on_skip=passed_over.append)
    read = Read([], {}, {}, passed_over, None)
    stage(f"reading {counted(len(files), 'document')}")
    for file in files:
        known_bad = old.skipped.get(file.source) if old is not None else None
        if known_bad is not None and (known_bad.size, known_bad.mtime_ns) == (file.size, file.mtime_ns):
            read.skipped[file.source] = known_bad  # said when it was first skipped
            continue
        kept = old.files.get(file.source) if plan.reusable and old is not None else None
        if kept is not None and kept.size == file.size and kept.mtime_ns == file.mtime_ns:
            read.records.extend(old_by_source.get(file.source, []))
            read.files[file.source] = kept
            continue
        try:
            data = read_bytes(file)
            digest = sha256(data)
            if kept is not None and kept.sha256 == digest:
                passages = old_by_source.get(file.source, [])
            else:
                if read.pieces is None:
                    read.pieces = word_pieces(plan.info)
                passages = _passages(file.source, data, read.pieces, plan.naive)
        except UnreadableDocument as e:
            warn(f"skipped {file.source}: {e}")
            read.skipped[file.source] = SkippedFile(file.size, file.mtime_ns, str(e))
            continue
        if not passages:
            warn(f"skipped {file.source}: no text")
            read.skipped[file.source] = SkippedFile(file.size, file.mtime_ns, "no text")
            continue
        read.records.extend(passages)
        read.files[file.source] = FileRecord(digest, file.size, file.mtime_ns, len(passages))
    return read


def _passages(source: str, data: bytes, pieces: tuple[Any, int], naive: bool) -> list[PassageRecord]:
    """A document's passages, each with its exact offsets, lines, page and units."""
    document = load_document(source, data)
    if document.warning:
        warn(f"{source}: {document.warning}")
    spans = split_passages(
        document.text, pieces[0], pieces[1],
        markdown=document.format == "markdown", title=document_title(source), naive=naive,
        regions=list(document.bodies) if document.pages else None,
    )
    paged = page_spans(document.text, document.pages, spans) if document.pages else [(None, s) for s in spans]
    return [
        PassageRecord(
            source, s.start, s.end, s.line_start, s.line_end, document.text[s.start : s.end],
            page=page, headings=s.headings, clean=s.clean,
            units=tuple((u.start - s.start, u.end - s.start, int(u.code)) for u in s.units),
        )
        for page, s in paged
    ]


def _unchanged(plan: Plan, read: Read) -> bool:
    """Whether the previous index already holds exactly these passages."""
    old = plan.old
    return (
        plan.reusable and old is not None
        and {k: v.sha256 for k, v in read.files.items()} == {k: v.sha256 for k, v in old.files.items()}
        and Path(old.seeds_dir) == plan.seeds_path
        and old.format_version == FORMAT_VERSION
    )


def _refresh(plan: Plan, read: Read) -> IndexStats:
    """The same passages: rewrite only what the manifest lacks (a calibration, the export's
    record, the files' timestamps and skips), in place."""
    old, previous, info = plan.old, plan.previous, plan.info
    assert old is not None and previous is not None  # _unchanged holds
    current = old
    if not calibrated(old.refusal):  # same passages, an older bank of off-topic questions: calibrate only
        current = replace(current, refusal=_calibrate(previous.folder, embedding_model(info)))
    if encoder_reasons(old, info):  # same passages, no usable export of the model: export only
        current = replace(current, question_encoder=question_encoder_record(get_embedder(info)))
    if read.files != old.files or read.skipped != old.skipped:  # timestamps moved, or skips: no re-read next time
        current = replace(current, files=read.files, skipped=read.skipped)
    if current != old:
        write_atomic(previous.folder / "manifest.json", current.to_json())
    records = read.records
    duplicates = len(records) - len({embedding_text(r) for r in records})
    return IndexStats(
        len(read.files), len(records), 0, len(records) - duplicates, read.skipped_count, time.perf_counter() - plan.began, False,
        sentences=old.sentences, duplicates=duplicates,
    )


def _embed_and_write(plan: Plan, read: Read, on_progress: Progress | None, stage: Stage, encode: Encode | None) -> IndexStats:
    """Embed what the previous index does not hold, then write a new generation."""
    info = plan.info
    stage("loading the model")
    embedder = embedding_model(info)
    sentence_lists = [sentence_texts(r) for r in read.records]
    records = [replace(r, sentences=len(texts)) for r, texts in zip(read.records, sentence_lists)]
    # Vectors are reused by the exact text embedded, so passages cut by other settings or an
    # older qa still reuse every text that has not changed; only another model embeds anew.
    stage("preparing the question encoder")  # the model's ONNX export: made once per model
    encoder = question_encoder_record(embedder)
    if isinstance(embedder, Embedder) and encoder["kind"] == "onnx":  # just exported: it embeds faster
        embedder = embedding_model(info)
    vectors, sentences, counts = _vectors_for(
        records, sentence_lists, embedder, plan.previous if plan.same_model else None, on_progress, stage, encode or embedder.encode
    )
    manifest = Manifest(
        seeds_dir=str(plan.seeds_path),
        model_name=info.name,
        model_path=_model_path(info),
        model_fingerprint=info.fingerprint,
        dim=embedder.dim,
        chunking=chunk_settings((read.pieces or word_pieces(info))[1], naive=plan.naive),
        passages=len(records),
        index_type=index_type_for(len(records)),
        files=read.files,
        sentences=len(sentences),
        question_encoder=encoder,
        skipped=read.skipped,
    )
    stage("writing the index")
    _write_generation(plan.index_path, manifest, records, vectors, sentences, embedder)
    return IndexStats(
        len(read.files), len(records), counts.passages, len(records) - counts.passages - counts.duplicates,
        read.skipped_count, time.perf_counter() - plan.began, True,
        sentences=len(sentences), texts_embedded=counts.texts, duplicates=counts.duplicates,
    )


def question_encoder_record(embedder: Embedder | OnnxEncoder) -> dict[str, Any]:
    """What will encode this index's questions, made ready: the model's ONNX export, made
    once per model, or sentence-transformers when the model cannot be exported (said once)."""
    from qa.embedding.encoder import OnnxEncoder
    from qa.embedding.onnx_export import ExportFailed, ensure_export

    if isinstance(embedder, OnnxEncoder):  # the export itself: made and checked before
        return {"kind": "onnx", "sha256": embedder.sha256}

    try:
        meta = ensure_export(embedder)
    except ExportFailed as e:
        warn(f"questions will be encoded by sentence-transformers, not its ONNX export: {e}")
        return {"kind": "sentence-transformers", "why": str(e)}
    return {"kind": "onnx", "sha256": meta["sha256"]}


def _vectors_for(
    records: list[PassageRecord],
    sentence_lists: list[list[str]],
    embedder: Any,
    previous: OpenIndex | None,
    on_progress: Progress | None,
    stage: Stage,
    encode: Encode,
) -> tuple[np.ndarray, np.ndarray, Embedded]:
    """Passage and sentence vectors, reused where the same text was embedded before.

    Every text not embedded before is embedded once, passages and sentences in one pass.
    Returns (passage vectors, sentence vectors, what was embedded).
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
    if missing:
        stage(f"embedding {counted(len(missing), 'text')} (passages and their sentences)")
    fresh = encode(missing, on_progress=on_progress) if missing else np.zeros((0, embedder.dim), np.float32)
    fresh_row = {text: i for i, text in enumerate(missing)}
    old = (
        previous.passage_vectors() if previous is not None and known else None,
        previous.sentence_vectors() if previous is not None else None,
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

    unique = set(passage_texts)
    counts = Embedded(len(missing), len(unique & fresh_row.keys()), len(passage_texts) - len(unique))
    return vectors(passage_texts), vectors(all_sentences), counts


@dataclass(frozen=True)
class Embedded:
    """What a build embedded: texts in all, distinct passages among them, and passages
    whose text repeats another passage's (embedded once)."""

    texts: int
    passages: int
    duplicates: int


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
    scores a passage by its own vector and by its best sentence (see qa.answering.search). A passage
    of one unit needs no second vector.
    """
    if len(record.units) < 2:
        return []
    prefix = embedding_prefix(document_title(record.source), record.headings)
    return [f"{prefix}: {unit_text(record, unit)}" for unit in record.units]


def _write_generation(
    index_path: Path,
    manifest: Manifest,
    records: list[PassageRecord],
    vectors: np.ndarray,
    sentences: np.ndarray,
    embedder: Embedder | OnnxEncoder,
) -> None:
    """Write a new generation beside the live one, calibrate its relevance bar, then make it live."""
    import numpy as np

    try:
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=index_path))
    except OSError as e:
        raise PathError(f"cannot write the index folder {index_path}: {e.strerror or e}; {INDEX_HINT}") from None
    try:
        manifest = replace(manifest, passages_sha256=sha256(write_passages(staging, records)))
        write_vector_index(staging, vectors, VECTORS, manifest.index_type)  # the kind the manifest records
        np.save(staging / SENTENCES, sentences, allow_pickle=False)
        LexicalIndex.build([lexical_text(r) for r in records]).save(staging / LEXICAL)
        (staging / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        refusal = _calibrate(staging, embedder)
        (staging / "manifest.json").write_text(replace(manifest, refusal=refusal).to_json(), encoding="utf-8")
        fsync_tree(staging)
        generation = index_path / f"gen-{time.time_ns()}"
        staging.rename(generation)
    except OSError as e:  # a full disk, a folder made read-only meanwhile: the live index stays
        shutil.rmtree(staging, ignore_errors=True)
        raise PathError(f"cannot write the index in {index_path}: {e.strerror or e}; the previous index is kept") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        previous = current_generation(index_path)
    except IndexCorruptError:
        previous = None
    write_atomic(index_path / CURRENT, generation.name + "\n")
    # The generation just replaced stays until the next build: a reader in another process
    # that read CURRENT a moment ago can still open it. Older ones, and debris, go.
    for stale in index_path.iterdir():
        if stale not in (generation, previous) and stale.is_dir() and stale.name.startswith(("gen-", ".building-")):
            shutil.rmtree(stale, ignore_errors=True)


def _calibrate(folder: Path, embedder: Embedder | OnnxEncoder) -> dict[str, Any]:
    """The relevance bar of the corpus in `folder`, measured with the search that will serve it."""
    from qa.answering.search import Engine
    from qa.building.refusal import calibrate

    return calibrate(Engine(folder.parent, folder, open_generation(folder), embedder))
