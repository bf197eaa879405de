"""Keeping an index fresh while its documents change: `qa watch`, and the app's own watcher.

The folder is watched with watchfiles (the operating system's file events, debounced),
and each burst of changes brings the index up to date with the ordinary incremental
build: only changed passages are embedded, and the new index replaces the old one
atomically, so answers given meanwhile come from the index as it was.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from qa.building.build import Progress, Stage, build_index
from qa.config import resolve_index_dir
from qa.errors import QAError
from qa.indexfiles.manifest import Manifest, read_manifest
from qa.indexfiles.store import current_generation
from qa.types import IndexStats

# Changes closer together than this are one update (an editor's save is several events).
DEBOUNCE_MS = 800
# How often the watcher looks at its stop event: the bound on how long stopping takes.
STOP_CHECK_MS = 200


def changes(seeds_dir: Path, index_dir: Path | None = None, stop: threading.Event | None = None) -> Iterator[int]:
    """Yields 0 once watching has begun (a change made before then is not reported: look
    now), then, after each burst of changes under `seeds_dir`, how many paths changed.

    Changes inside `index_dir` (an index kept in the documents folder) and in hidden
    files and folders are not documents and are left out. Returns when `stop` is set.
    """
    import watchfiles

    ignored = index_dir.resolve() if index_dir is not None else None

    def is_document(_change: watchfiles.Change, path: str) -> bool:
        resolved = Path(path)
        if ignored is not None and resolved.is_relative_to(ignored):
            return False
        relative = resolved.relative_to(seeds_dir) if resolved.is_relative_to(seeds_dir) else resolved
        return not any(part.startswith(".") for part in relative.parts)

    began = False
    for batch in watchfiles.watch(
        seeds_dir, watch_filter=is_document, debounce=DEBOUNCE_MS, stop_event=stop,
        rust_timeout=STOP_CHECK_MS, yield_on_timeout=True, raise_interrupt=True,
    ):
        if not began:  # the first wake-up, a change or a timeout: the watch is in place
            began = True
            yield 0
        if batch:
            yield len(batch)


def watch(
    seeds_dir: str | os.PathLike[str] | None = None,
    index_dir: str | os.PathLike[str] | None = None,
    *,
    on_update: Callable[[IndexStats], None] | None = None,
    on_error: Callable[[QAError], None] | None = None,
    progress: Progress | None = None,
    stage: Stage | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Bring the index up to date now, then again after every change to its documents,
    until `stop` is set (or KeyboardInterrupt). `on_update` gets each build's stats.

    The first build's errors are raised (nothing to watch yet); a later build that fails
    on the documents (a folder emptied, a file half-written) goes to `on_error`, the
    index in use is kept, and watching goes on.
    """
    index_path = resolve_index_dir(index_dir)
    stats = build_index(seeds_dir, index_path, progress=progress, stage=stage)
    if on_update is not None:
        on_update(stats)
    seeds = Path(_manifest(index_path).seeds_dir)
    for count in changes(seeds, index_path, stop):
        if count == 0 and not stale(index_path):
            continue
        try:
            stats = build_index(seeds, index_path, progress=progress, stage=stage)
        except QAError as e:
            if on_error is None:
                raise
            on_error(e)
            continue
        if on_update is not None:
            on_update(stats)


def stale(index_dir: Path) -> bool:
    """Whether the index no longer matches its documents folder, model or settings, or
    there is none (a walk of the folder; no file is read unless its time moved)."""
    from qa.building.freshness import stale_reasons
    from qa.embedding.modelfiles import model_of_index

    if current_generation(index_dir) is None:  # no index yet: whatever the folder holds is new
        return True
    manifest = _manifest(index_dir)
    info = model_of_index(manifest.model_path)
    return bool(stale_reasons(manifest, Path(manifest.seeds_dir), info))


def _manifest(index_dir: Path) -> Manifest:
    folder = current_generation(index_dir)
    if folder is None:
        raise FileNotFoundError(index_dir)
    return read_manifest(folder)
