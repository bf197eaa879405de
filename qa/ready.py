"""An index ready to answer: built on first use, brought up to date when its documents
changed. This is where answering meets the build path: the public API and the front-ends
call it before answering; qa.answering.search, the read path, only reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from qa.answering.search import Engine, get_engine, index_path, loaded, rank
from qa.building.freshness import stale_reasons
from qa.config import resolve_model, resolve_seeds_dir, seeds_from_env
from qa.embedding.modelfiles import model_of_index
from qa.indexfiles.manifest import described, read_manifest
from qa.indexfiles.store import current_generation
from qa.notices import notice, warn
from qa.types import IndexInfo, Passage

Progress = Callable[[int, int], None]
_first_use = threading.Lock()


def ready_engine(
    index_dir: str | Path | None = None,
    *,
    seeds_dir: str | Path | None = None,
    progress: Progress | None = None,
    stage: Callable[[str], None] | None = None,
) -> Engine:
    """The engine for `index_dir` (qa.answering.search.get_engine). On its first use in this process a
    missing index is built and a stale one is brought up to date (from `seeds_dir` when given,
    else the folder the index was built from); `progress` and `stage` then hear of it as in
    build_index. A fresh index is only read.

    Raises:
        IndexCorruptError: the index cannot be read (the message names the file and the fix).
        SeedsError, ModelError: as for build_index.
    """
    path = index_path(index_dir)
    with _first_use:
        if not loaded(path):
            _bring_up_to_date(path, progress, seeds_dir, stage)
        return get_engine(path)


def describe_index(index_dir: str | Path | None = None) -> IndexInfo:
    """What the index holds (documents, passages, model, its folders), built or brought up
    to date first as for retrieve.

    Example:
        >>> from qa import describe_index
        >>> str(describe_index())
        '1 document · 9 passages · all-MiniLM-L6-v2'
    """
    engine = ready_engine(index_dir)
    return described(engine.index.manifest, engine.index_dir)


def _bring_up_to_date(
    path: Path, progress: Progress | None, seeds_dir: str | Path | None = None, stage: Callable[[str], None] | None = None
) -> None:
    """Build a missing index, or bring a stale one up to date: the only place where
    answering writes, and it says so first. A fresh index costs one walk of the folder."""
    generation = current_generation(path)
    if generation is None:
        notice(f"no index in {path} yet; building it")
        from qa.building.build import build_index  # the build path loads only when it builds

        build_index(seeds_dir, path, progress=progress, stage=stage)
        return
    manifest = read_manifest(generation)
    seeds = resolve_seeds_dir(seeds_dir) if seeds_dir is not None or seeds_from_env() else Path(manifest.seeds_dir)
    if not seeds.is_dir():
        warn(f"the documents folder {seeds} is gone; answering from the index as it is")
        return
    info = model_of_index(manifest.model_path)
    reasons = stale_reasons(manifest, seeds, info)
    if reasons:
        notice(f"the index is out of date ({', '.join(reasons)}); updating it")
        model = info.path.as_posix() if manifest.model_path or resolve_model() else None
        from qa.building.build import build_index  # the build path loads only when it builds

        build_index(seeds, path, model=model, progress=progress, stage=stage)


def retrieve(
    question: str,
    k: int = 5,
    *,
    history: Sequence[str] = (),
    index_dir: str | Path | None = None,
    min_score: float | None = None,
) -> list[Passage]:
    """The passages that best answer `question`, best first; [] when nothing is relevant.

    Args:
        question: the question, in any words; a few keywords work too.
        k: how many passages at most.
        history: the conversation's earlier questions, oldest first, so that a follow-up
            ("what age were they?") is read in their light.
        index_dir: the index; default $QA_INDEX, else ./index. Built on first use if missing.
        min_score: a relevance bar to use instead of the one calibrated for this corpus
            (qa.building.refusal); passages below it are not returned. 0 turns abstention off.

    Returns:
        Up to k Passages that clear the relevance bar, with fused scores in [0, 1], best
        first; overlapping windows of one paragraph appear once.

    Raises:
        EmptyQuestionError: the question is empty or whitespace.
        IndexCorruptError, SeedsError, ModelError: the index cannot be read or built.

    Example:
        >>> from qa import retrieve
        >>> [p.citation for p in retrieve("Who signed the letter?", k=1)]
        ['tiktok-2020-community-letter.txt:9']
    """
    ready_engine(index_dir)
    return rank(question, k, history=history, index_dir=index_dir, min_score=min_score).found
