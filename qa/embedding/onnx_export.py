"""Exporting the model to ONNX, once per model, for the read path (qa.embedding.encoder).

This is build-path code: it needs torch and sentence-transformers, which the build has
loaded anyway. The export is written into a staging folder, checked against
sentence-transformers on a fixed set of texts, and only then moved into place, so a
half-written or wrong export is never used.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.embedding.encoder import (
    EXPORT,
    META,
    WEIGHTS,
    OnnxEncoder,
    Unsupported,
    export_dir,
    export_sha256,
    file_stamps,
    read_meta,
    read_pipeline,
)
from qa.embedding.modelfiles import CACHE_HINT
from qa.errors import make_folder

if TYPE_CHECKING:
    from qa.embedding.model import Embedder

# Vectors of the export must match sentence-transformers' to this cosine on every text.
MIN_COSINE = 0.99999
OPSET = 17
CHECK_TEXTS = (
    "Who signed the letter?",
    "How do I add a dependency on the time crate?",
    "  émoji 🐝, tabs\tand ümlauts; 東京都庁舎の展望室 ",
    "x",
    "The quick brown fox jumps over the lazy dog. " * 60,  # longer than the model reads
)


class ExportFailed(Exception):
    """The model could not be exported, or its export does not give the model's vectors."""


def ensure_export(embedder: Embedder) -> dict[str, Any]:
    """The record of this model's ONNX export, exporting it first if there is none.

    Raises:
        ExportFailed: the model's pipeline cannot be reproduced, the exporter failed, or
            the export's vectors differ from sentence-transformers' (the reason says which).
    """
    info = embedder.info
    folder = export_dir(info)
    meta = read_meta(folder, info)
    if meta is not None:
        return meta
    try:
        pipeline = read_pipeline(info.path)
    except Unsupported as e:
        raise ExportFailed(str(e)) from None
    make_folder(folder.parent, "the cache folder", CACHE_HINT)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        inputs = _export(embedder, staging / EXPORT)
        meta = {
            "fingerprint": info.fingerprint,
            "sha256": export_sha256(staging),
            "files": file_stamps(staging),
            "inputs": inputs,
            "pooling": pipeline.pooling,
            "normalize": pipeline.normalize,
            "max_tokens": pipeline.max_tokens,
            "dim": embedder.dim,
            "opset": OPSET,
        }
        meta["min_cosine"] = _check(embedder, staging, meta)
        (staging / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)  # a damaged or older export of this model
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return meta


def _export(embedder: Embedder, path: Path) -> list[str]:
    """Write the transformer (without pooling) as ONNX; returns its input names."""
    import torch

    transformer = embedder.transformer()
    sample = embedder.tokenize(["A sample question to trace the model with.", "Two."])
    names: list[str] = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

    class ByKeyword(torch.nn.Module):
        """transformers 5 models take their inputs by keyword (positional tensors fail on use_cache)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = transformer

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, tensors))).last_hidden_state

    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                ByKeyword().eval(), tuple(sample[name].cpu() for name in names), str(path),
                input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                opset_version=OPSET, dynamo=False,
            )
        # The weights in a file of their own, which onnxruntime maps instead of parsing.
        import onnx

        graph = onnx.load(str(path))
        onnx.save_model(graph, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=WEIGHTS, size_threshold=0)
    except Exception as e:  # noqa: BLE001  (the exporter raises many kinds)
        raise ExportFailed(f"the ONNX exporter failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    return names


def _check(embedder: Embedder, folder: Path, meta: dict[str, Any]) -> float:
    """The smallest cosine between the export's vectors and sentence-transformers' on CHECK_TEXTS."""
    exported = OnnxEncoder(embedder.info, folder, meta).encode(list(CHECK_TEXTS))
    expected = embedder.encode(list(CHECK_TEXTS))
    worst = float((exported * expected).sum(axis=1).min())
    if not worst >= MIN_COSINE:
        raise ExportFailed(f"its vectors differ from the model's (cosine {worst:.6f} < {MIN_COSINE})")
    return round(worst, 8)
