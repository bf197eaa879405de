"""Encoding questions without torch: an ONNX export of the model, run by onnxruntime.

The read path (a question against a fresh index) loads numpy, faiss, onnxruntime and
tokenizers, nothing more: about half a second in a new process, where sentence-transformers
takes 6-15 s to import. The export is made once per model by the build path (qa.embedding.onnx_export),
beside the extracted model in the user's cache, and checked against sentence-transformers
when it is made. Tokenisation, pooling and normalisation follow the model's own files
(`tokenizer.json`, `modules.json`, the pooling config); a model whose pipeline has other
modules (a dense layer, say) is not exported, and its questions are encoded by
sentence-transformers, with a notice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

    from qa.embedding.modelfiles import ModelInfo

EXPORT = "model.onnx"
BATCH = 8  # texts per run when encoding many (see OnnxEncoder.encode)
WEIGHTS = "weights.bin"  # the export's weights, beside its graph: onnxruntime maps them (0.1 s to load, not 0.26)
META = "export.json"
# Module types of a sentence-transformers pipeline this encoder reproduces.
TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"
POOLING_MODES = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
}


@dataclass(frozen=True)
class Pipeline:
    """What follows the transformer in the model's own pipeline, and how it reads text."""

    pooling: str  # "mean", "cls", "max" or "mean_sqrt_len"
    normalize: bool
    max_tokens: int  # word pieces read, special tokens included


class Unsupported(Exception):
    """The model's pipeline is not one this encoder reproduces exactly (the reason says why)."""


def read_pipeline(model_dir: Path) -> Pipeline:
    """The model's pipeline from its own files.

    Raises:
        Unsupported: modules other than Transformer, Pooling and Normalize, several
            pooling modes, a default prompt, or no `tokenizer.json`.
    """
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        types = [m["type"] for m in sorted(modules, key=lambda m: m["idx"])]
        pooling_path = next(m["path"] for m in modules if m["type"] == POOLING)
        pooling_config = json.loads((model_dir / pooling_path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, StopIteration) as e:
        raise Unsupported(f"its modules cannot be read ({type(e).__name__})") from None
    if types not in ([TRANSFORMER, POOLING], [TRANSFORMER, POOLING, NORMALIZE]):
        raise Unsupported(f"its pipeline is {', '.join(t.rsplit('.', 1)[-1] for t in types)}")
    modes = [mode for key, mode in POOLING_MODES.items() if pooling_config.get(key)]
    if len(modes) != 1 or any(v for k, v in pooling_config.items() if k.startswith("pooling_mode") and k not in POOLING_MODES):
        raise Unsupported(f"its pooling is {pooling_config}")
    settings = _read_json(model_dir / "config_sentence_transformers.json")
    if settings.get("default_prompt_name"):
        raise Unsupported("it prefixes a default prompt")
    if not (model_dir / "tokenizer.json").is_file():
        raise Unsupported("it has no tokenizer.json")
    max_tokens = int(_read_json(model_dir / "sentence_bert_config.json").get("max_seq_length") or 512)
    return Pipeline(modes[0], types[-1] == NORMALIZE, max_tokens)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def export_dir(info: ModelInfo) -> Path:
    """Where the ONNX export of this model lives: the model cache, keyed by its fingerprint."""
    from qa.embedding.modelfiles import cache_dir

    return cache_dir() / "onnx" / hashlib.sha256(info.fingerprint.encode()).hexdigest()[:24]


def read_meta(folder: Path, info: ModelInfo) -> dict[str, Any] | None:
    """The export's record, if the export is there, whole and of this model; else None.

    Its files' sizes and modification times are compared with the record, which holds
    their SHA-256: a truncated or replaced export is never used.
    """
    meta = _read_json(folder / META)
    if meta.get("fingerprint") != info.fingerprint or not isinstance(meta.get("files"), dict):
        return None
    stamps = file_stamps(folder)
    if stamps is None or {n: s["size"] for n, s in stamps.items()} != {n: s.get("size") for n, s in meta["files"].items()}:
        return None
    if any(stamps[n]["mtime_ns"] != meta["files"][n].get("mtime_ns") for n in stamps):  # touched, copied: read again
        if export_sha256(folder) != meta.get("sha256"):
            return None
    return meta


def file_stamps(folder: Path) -> dict[str, dict[str, int]] | None:
    """Size and modification time of the export's files, or None if one is missing."""
    stamps = {}
    for name in (EXPORT, WEIGHTS):
        try:
            stat = (folder / name).stat()
        except OSError:
            return None
        stamps[name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return stamps


def export_sha256(folder: Path) -> str:
    """One SHA-256 over the export's graph and weights."""
    digest = hashlib.sha256()
    for name in (EXPORT, WEIGHTS):
        with (folder / name).open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class OnnxEncoder:
    """Questions to vectors with the exported model: the same vectors as sentence-transformers."""

    def __init__(self, info: ModelInfo, folder: Path, meta: dict[str, Any]) -> None:
        from tokenizers import Tokenizer

        self.info = info
        self.sha256: str = str(meta["sha256"])
        self.pipeline = Pipeline(str(meta["pooling"]), bool(meta["normalize"]), int(meta["max_tokens"]))
        self.dim: int = int(meta["dim"])
        self._inputs: list[str] = list(meta["inputs"])
        self._tokenizer = Tokenizer.from_file(str(info.path / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.pipeline.max_tokens)
        self._tokenizer.no_padding()
        self._path = folder / EXPORT
        # One question is small: spread over two cores it was slower here (docs/speed.md, "Benchmark").
        self._session = self._open(int(os.environ.get("QA_ONNX_THREADS", "1")))
        self._bulk: Any = None  # a session on every core, for encode's many texts (opened on first use)

    def _open(self, threads: int) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            return onnxruntime.InferenceSession(str(self._path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001  (onnxruntime raises its own kinds on a bad file)
            raise ModelError(f"cannot load the ONNX export at {self._path}: {e}; delete the folder to export again") from None

    def encode_questions(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text (a question or two: one pass, one core)."""
        return self._run(self._session, [self._tokenizer.encode(text) for text in texts])

    def encode(
        self, texts: Sequence[str], *, batch_size: int = BATCH, on_progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, in order: many texts, on every core.

        Texts go in batches of similar length (sorted by word pieces), so little is padded:
        small batches were fastest here (a 260 KB set of passages and their sentences: 13 s
        in batches of 4 or 8, 16.5 s in batches of 32, 19.5 s with sentence-transformers).
        """
        import numpy as np

        if self._bulk is None:
            self._bulk = self._open(_cores())
        encodings = self._tokenizer.encode_batch(list(texts)) if texts else []
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for first in range(0, len(order), batch_size):
            rows = order[first : first + batch_size]
            out[rows] = self._run(self._bulk, [encodings[i] for i in rows])
            if on_progress is not None:
                on_progress(min(first + batch_size, len(order)), len(order))
        return out

    def _run(self, session: Any, encodings: list[Any]) -> np.ndarray:
        import numpy as np

        width = max(len(e.ids) for e in encodings)
        feeds = {
            "input_ids": np.zeros((len(encodings), width), np.int64),
            "attention_mask": np.zeros((len(encodings), width), np.int64),
            "token_type_ids": np.zeros((len(encodings), width), np.int64),
        }
        for row, e in enumerate(encodings):
            feeds["input_ids"][row, : len(e.ids)] = e.ids
            feeds["attention_mask"][row, : len(e.ids)] = e.attention_mask
            feeds["token_type_ids"][row, : len(e.ids)] = e.type_ids
        hidden = session.run(None, {name: feeds[name] for name in self._inputs})[0]
        return pool(hidden, feeds["attention_mask"], self.pipeline)


def _cores() -> int:
    """The cores this process may use: $OMP_NUM_THREADS when set (Ray sets it to each
    actor's share of the CPUs; two actors on two cores each running two threads were
    slower), else the cores it may run on."""
    share = os.environ.get("OMP_NUM_THREADS", "")
    if share.isdigit() and int(share) > 0:
        return int(share)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def pool(hidden: np.ndarray, mask: np.ndarray, pipeline: Pipeline) -> np.ndarray:
    """Token vectors to one vector per text, as sentence-transformers' Pooling and Normalize do."""
    import numpy as np

    weights = mask[..., None].astype(np.float32)
    if pipeline.pooling == "cls":
        vectors = hidden[:, 0]
    elif pipeline.pooling == "max":
        vectors = np.where(weights > 0, hidden, -1e9).max(axis=1)
    else:
        summed = (hidden * weights).sum(axis=1)
        counts = np.maximum(weights.sum(axis=1), 1e-9)
        vectors = summed / (np.sqrt(counts) if pipeline.pooling == "mean_sqrt_len" else counts)
    if pipeline.normalize:
        vectors = vectors / np.maximum(np.sqrt((vectors * vectors).sum(axis=1, keepdims=True)), 1e-12)
    return vectors.astype(np.float32)


def load_onnx_encoder(info: ModelInfo) -> OnnxEncoder | None:
    """The ONNX encoder of this model, or None when no usable export has been made."""
    folder = export_dir(info)
    meta = read_meta(folder, info)
    if meta is None:
        return None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    return OnnxEncoder(info, folder, meta)
