"""The manifest: an index describes itself, and is checked against that description on load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import IndexCorruptError
from qa.types import IndexInfo

# 2: sentence vectors beside the passage vectors (sentences.npy). A format-1 index is
# still read, and brought up to date on first use by embedding only its sentences.
# 3: passages carry their heading path, their text without markup and their units.
# 4: passages.rows.npy says where each passage's line begins (read on demand), with its CRC-32.
# 5: above 200,000 passages, compressed codes with the exact vectors beside them
# (vectors.npy); BM25's term maxima and vocabulary as arrays (bm25/term_max.npy, vocab.*.npy),
# so opening parses nothing and reads no more than it must.
# 6: the corpus's names with a version (HTTP/2, UTF-8, Python 3.13) in bm25/versioned.json,
# so a question about one it never mentions (HTTP/3) is known to be (qa.answering.missing).
FORMAT_VERSION = 6
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class FileRecord:
    """What the index knows of one document: enough to tell whether it changed."""

    sha256: str
    size: int
    mtime_ns: int
    passages: int


@dataclass(frozen=True)
class SkippedFile:
    """A document qa could not read: remembered so it is reported once, not on every use."""

    size: int
    mtime_ns: int
    reason: str


@dataclass(frozen=True)
class Manifest:
    """Format version, corpus, model and settings of one built index."""

    seeds_dir: str
    model_name: str
    model_path: str | None  # None: the bundled model
    model_fingerprint: str
    dim: int
    chunking: dict[str, Any]
    passages: int
    index_type: str
    files: dict[str, FileRecord] = field(default_factory=dict)
    sentences: int = 0  # sentence vectors, in sentences.npy
    format_version: int = FORMAT_VERSION
    # SHA-256 of passages.jsonl as written: a hand edit (even one that keeps every offset
    # consistent) is caught on load instead of being served. None in indexes written
    # before it was recorded.
    passages_sha256: str | None = None
    # The relevance bar calibrated on this corpus at build time (qa.building.refusal): {"strength",
    # "cosine", ...}. None in indexes written before it was; the floors apply then.
    refusal: dict[str, Any] | None = None
    # What encodes questions: {"kind": "onnx", "sha256": of the export} or
    # {"kind": "sentence-transformers", "why": ...}. None in indexes written before it was.
    question_encoder: dict[str, Any] | None = None
    # Documents that could not be read (binary, no text): not read again until they change.
    skipped: dict[str, SkippedFile] = field(default_factory=dict)

    def to_json(self) -> str:
        """The manifest as pretty JSON."""
        data = {
            "format_version": self.format_version,
            "seeds_dir": self.seeds_dir,
            "model": {"name": self.model_name, "path": self.model_path, "fingerprint": self.model_fingerprint},
            "dim": self.dim,
            "chunking": self.chunking,
            "passages": self.passages,
            "sentences": self.sentences,
            "passages_sha256": self.passages_sha256,
            "index_type": self.index_type,
            "refusal": self.refusal,
            "question_encoder": self.question_encoder,
            "files": {k: vars(v) for k, v in sorted(self.files.items())},
            "skipped": {k: vars(v) for k, v in sorted(self.skipped.items())},
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _refusal(data: Any) -> dict[str, Any] | None:
    """The recorded relevance bar, checked: two numbers in [0, 1]."""
    if data is None or "calibration" not in data:  # none, or an earlier layout: calibrated anew
        return None
    bars = (float(data["strength"]), float(data["cosine"]))
    if not all(0.0 <= bar <= 1.0 for bar in bars):
        raise ValueError(f"relevance bars out of range: {bars}")
    return dict(data)


def _question_encoder(data: Any) -> dict[str, Any] | None:
    if data is None:
        return None
    if data.get("kind") not in ("onnx", "sentence-transformers") or (data["kind"] == "onnx" and not isinstance(data.get("sha256"), str)):
        raise ValueError(f"unknown question encoder {data!r}")
    return dict(data)


def read_manifest(folder: Path) -> Manifest:
    """Read and validate `folder/manifest.json`.

    Raises:
        IndexCorruptError: missing, not JSON, of a newer format, or missing fields.
    """
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(path, "the manifest is missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise IndexCorruptError(path, f"the manifest is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise IndexCorruptError(path, "the manifest is not a JSON object")
    version = data.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise IndexCorruptError(path, f"it was written by a newer qa (format {version}; this qa reads {FORMAT_VERSION})")
    try:
        model = data["model"]
        files = {
            str(name): FileRecord(str(r["sha256"]), int(r["size"]), int(r["mtime_ns"]), int(r["passages"]))
            for name, r in data["files"].items()
        }
        manifest = Manifest(
            seeds_dir=str(data["seeds_dir"]),
            model_name=str(model["name"]),
            model_path=None if model["path"] is None else str(model["path"]),
            model_fingerprint=str(model["fingerprint"]),
            dim=int(data["dim"]),
            chunking=dict(data["chunking"]),
            passages=int(data["passages"]),
            index_type=str(data["index_type"]),
            files=files,
            sentences=int(data.get("sentences", 0)),
            format_version=int(version),  # type: ignore[arg-type]
            passages_sha256=None if data.get("passages_sha256") is None else str(data["passages_sha256"]),
            refusal=_refusal(data.get("refusal")),
            question_encoder=_question_encoder(data.get("question_encoder")),
            skipped={
                str(name): SkippedFile(int(r["size"]), int(r["mtime_ns"]), str(r["reason"]))
                for name, r in (data.get("skipped") or {}).items()
            },
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise IndexCorruptError(path, f"the manifest lacks or mangles a field ({type(e).__name__}: {e})") from None
    if manifest.passages != sum(r.passages for r in files.values()):
        raise IndexCorruptError(path, "its passage counts do not add up")
    return manifest


def described(manifest: Manifest, index_dir: Path) -> IndexInfo:
    """What the index at `index_dir` holds, from its manifest."""
    return IndexInfo(len(manifest.files), manifest.passages, manifest.model_name, Path(manifest.seeds_dir), index_dir)
