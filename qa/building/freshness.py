"""Whether an index still describes its documents, model and settings: one check, used by
the first question (qa.answering.search) and by the build (qa.building.build)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa.building.chunking import MAX_PREFIX_CHARS, UNWRAPPED_LINE
from qa.building.refusal import calibrated
from qa.embedding.encoder import export_dir, read_meta
from qa.embedding.modelfiles import ModelInfo
from qa.files import sha256
from qa.formats.documents import find_documents
from qa.indexfiles.manifest import FORMAT_VERSION, FileRecord, Manifest

# 2: Markdown by its structure (sections, blocks, markup left out), sentences by sentencex.
# 3: code spans kept whole in clean text; admonition markers only at block level.
CHUNKER_VERSION = 3
# The heading path counts this many times in a passage's BM25 document: a question that
# names a section's subject should find the section. Calibrated in docs/quality.md, "Scores".
HEADING_WEIGHT = 1


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


def settings_reasons(manifest: Manifest, seeds_dir: Path, model: ModelInfo) -> list[str]:
    """Why the index was built under other settings (model, passages, folder, format,
    calibration); [] when they are this qa's."""
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
    return reasons + encoder_reasons(manifest, model)


def encoder_reasons(manifest: Manifest, model: ModelInfo) -> list[str]:
    """Why the recorded question encoder cannot serve: its ONNX export is gone or changed."""
    recorded = manifest.question_encoder
    if recorded is None:
        return ["its question encoder was never made"]
    if recorded.get("kind") == "onnx":
        meta = read_meta(export_dir(model), model)
        if meta is None or meta.get("sha256") != recorded.get("sha256"):
            return ["the ONNX export of its model is missing or changed"]
    return []


def stale_reasons(manifest: Manifest, seeds_dir: Path, model: ModelInfo) -> list[str]:
    """Why the index no longer matches the documents or model; [] when it is up to date.

    Files whose size and modification time match the manifest are not read.
    """
    reasons = settings_reasons(manifest, seeds_dir, model)
    if reasons:
        return reasons
    # The build that follows walks the folder again and names what it skips; once is enough.
    files = {f.source: f for f in find_documents(seeds_dir, on_skip=lambda _: None)} if seeds_dir.is_dir() else {}
    unreadable = {  # skipped by the build that made the index, and not changed since
        s for s, f in files.items()
        if s in manifest.skipped and (manifest.skipped[s].size, manifest.skipped[s].mtime_ns) == (f.size, f.mtime_ns)
    }
    added = files.keys() - manifest.files.keys() - unreadable
    removed = manifest.files.keys() - files.keys()
    changed = [
        s for s in files.keys() & manifest.files.keys()
        if not same_file(files[s].path, files[s].size, files[s].mtime_ns, manifest.files[s])
    ]
    for label, names in (("new", added), ("deleted", removed), ("changed", changed)):
        if names:
            reasons.append(f"{len(names)} {label} file{'s' if len(names) > 1 else ''}")
    return reasons


def same_file(path: Path, size: int, mtime_ns: int, record: FileRecord) -> bool:
    """Whether a file is still what the manifest recorded (read only when its time moved)."""
    if size != record.size:
        return False
    if mtime_ns == record.mtime_ns:
        return True
    try:
        return sha256(path.read_bytes()) == record.sha256
    except OSError:
        return False
