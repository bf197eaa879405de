"""Settings resolved once, at the edge: an explicit argument, then a QA_* variable, then a default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SEEDS_ENV = "QA_SEEDS"
INDEX_ENV = "QA_INDEX"
MODEL_ENV = "QA_MODEL"
DEVICE_ENV = "QA_DEVICE"


@dataclass(frozen=True)
class Settings:
    """Where the documents and the index live, which model embeds them and on what.

    `seeds_dir` is None when neither a flag nor $QA_SEEDS names one: an existing index
    then keeps the folder it was built from. `model` is None for the bundled
    all-MiniLM-L6-v2, else a local sentence-transformers folder; `device` is None to pick
    CUDA, MPS or the CPU (qa.embedding.model).
    """

    seeds_dir: Path | None
    index_dir: Path
    model: str | None = None
    device: str | None = None


def resolve_index_dir(index_dir: str | os.PathLike[str] | None = None) -> Path:
    """The index folder: the argument, else $QA_INDEX, else ./index (absolute)."""
    return Path(index_dir or os.environ.get(INDEX_ENV) or "index").expanduser().resolve()


def resolve_seeds_dir(seeds_dir: str | os.PathLike[str] | None = None) -> Path:
    """The documents folder: the argument, else $QA_SEEDS, else ./seeds (absolute)."""
    return Path(seeds_dir or os.environ.get(SEEDS_ENV) or "seeds").expanduser().resolve()


def seeds_from_env() -> Path | None:
    """The documents folder $QA_SEEDS names, or None."""
    value = os.environ.get(SEEDS_ENV)
    return Path(value).expanduser().resolve() if value else None


def resolve_device() -> str | None:
    """The device $QA_DEVICE names, or None (picked when the model loads)."""
    return os.environ.get(DEVICE_ENV, "").strip() or None


def resolve_model(model: str | None = None) -> str | None:
    """The model: the argument, else $QA_MODEL, else None (the bundled model)."""
    return model or os.environ.get(MODEL_ENV) or None


def resolve_settings(
    seeds_dir: str | os.PathLike[str] | None = None,
    index_dir: str | os.PathLike[str] | None = None,
    model: str | None = None,
) -> Settings:
    """All settings at once, for front-ends that take them as flags: each flag, else its
    QA_* variable, else its default."""
    seeds = Path(seeds_dir).expanduser().resolve() if seeds_dir else seeds_from_env()
    return Settings(seeds, resolve_index_dir(index_dir), resolve_model(model), resolve_device())
