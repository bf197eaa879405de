"""The embedding model under sentence-transformers (torch), loaded once per process.

Which model and where its files are is qa.embedding.modelfiles. Nothing is ever fetched from a
model hub: `HF_HUB_OFFLINE` is set before sentence-transformers is imported.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import DEVICE_ENV, resolve_device
from qa.embedding.modelfiles import ModelInfo
from qa.embedding.wordpieces import WordPieces
from qa.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from qa.embedding.encoder import OnnxEncoder

def pick_device() -> str:
    """$QA_DEVICE if set, else CUDA, else Apple's MPS, else the CPU."""
    import torch

    chosen = resolve_device() or ""
    if chosen:
        try:
            torch.device(chosen)
        except RuntimeError:
            raise ModelError(f"{DEVICE_ENV}={chosen!r} is not a device torch knows: use cpu, cuda, cuda:1, mps ...") from None
        return chosen
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class Embedder:
    """A loaded sentence-transformers model: encodes text and counts its word pieces."""

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self._model = _load(info.path)
        length, dim = self._model.max_seq_length, self._model.get_embedding_dimension()
        if not length or not dim:
            raise ModelError(f"the model at {info.path} does not say how many word pieces it reads or how long its vectors are")
        self.max_tokens: int = int(length) - 2  # [CLS] and [SEP]
        self.dim: int = int(dim)
        self._pieces = WordPieces(info.path) if (info.path / "tokenizer.json").is_file() else None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without special tokens."""
        if not texts:
            return []
        if self._pieces is not None:
            return self._pieces.count_tokens(texts)
        ids = self._model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece of `text`."""
        if self._pieces is not None:
            return self._pieces.token_offsets(text)
        encoded = self._model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(x) for x in encoded["offset_mapping"]]

    def transformer(self) -> Any:
        """The model's transformer (a torch module), for export."""
        return self._model[0].auto_model

    def tokenize(self, texts: Sequence[str]) -> dict[str, Any]:
        """The model's own input features for `texts` (torch tensors)."""
        prepare = getattr(self._model, "preprocess", None) or self._model.tokenize
        return {k: v for k, v in prepare(list(texts)).items() if hasattr(v, "shape")}

    def encode_questions(self, texts: Sequence[str]) -> np.ndarray:
        """Like encode, for the one or two texts of a question: one forward pass, no batching.

        The same modules run on the same word pieces (the vectors agree with encode to
        1e-5); skipping encode's batching machinery saves about 1.5 ms of the 15 ms a
        question costs here.
        """
        import torch

        model = self._model
        if getattr(model, "default_prompt_name", None):  # a model that prefixes a prompt: encode knows how
            return self.encode(texts)
        prepare = getattr(model, "preprocess", None) or model.tokenize
        with torch.inference_mode():
            features = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in prepare(list(texts)).items()}
            vectors = torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)
        return vectors.float().cpu().numpy()

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, in order."""
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Longest first across the whole input, so batches hold texts of similar length.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for first in range(0, len(order), batch_size):
            rows = order[first : first + batch_size]
            out[rows] = self._model.encode(
                [texts[i] for i in rows],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if on_progress is not None:
                on_progress(min(first + batch_size, len(order)), len(order))
        return out


def embedding_model(info: ModelInfo) -> Embedder | OnnxEncoder:
    """What embeds a build's texts, here or on a Ray worker: the model's ONNX export on the
    CPU once that has been made (no torch to import, 6-15 s on a cold machine, and on this
    machine's CPU it embeds faster, with the same vectors to 1e-6); else, or when
    $QA_DEVICE names a device or an NVIDIA GPU is present, sentence-transformers on that
    device (which is also what makes the export)."""
    from qa.embedding.encoder import load_onnx_encoder

    if resolve_device() in (None, "cpu") and not _nvidia_gpu():
        exported = load_onnx_encoder(info)
        if exported is not None:
            return exported
    return get_embedder(info)


def _nvidia_gpu() -> bool:
    """Whether this machine has an NVIDIA driver (where torch builds on the GPU), told
    without importing torch."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def _load(path: Path) -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch  # noqa: F401  (torch before faiss: each brings an OpenMP pool, see docs/speed.md)
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(path), device=pick_device(), local_files_only=True)
    except Exception as e:  # any loader failure here means an unusable model folder
        raise ModelError(f"cannot load the model at {path}: {type(e).__name__}: {e}") from e


def word_pieces(info: ModelInfo) -> tuple[Any, int]:
    """A word-piece counter for the chunker and the number of word pieces the model reads
    (without its special tokens), from the model's own files; the model is loaded only
    when those files do not say (no `tokenizer.json` or no `max_seq_length`)."""
    config = info.path / "sentence_bert_config.json"
    try:
        length = int(json.loads(config.read_text(encoding="utf-8"))["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        length = 0
    if length and (info.path / "tokenizer.json").is_file():
        return WordPieces(info.path), length - 2  # [CLS] and [SEP]
    embedder = get_embedder(info)
    return embedder, embedder.max_tokens


_embedders: dict[ModelInfo, Embedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(info: ModelInfo) -> Embedder:
    """The loaded model for `info`, loaded on first call and kept for the process."""
    with _embedders_lock:
        if info not in _embedders:
            _embedders[info] = Embedder(info)
        return _embedders[info]
