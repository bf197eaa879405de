"""A txtai "peer" for the benchmark: the same model and texts, indexed and searched by txtai.

txtai is optional (the ``bench`` extra); this module imports it only inside functions, so
it imports fine without it. The CLI reads a JSON request and writes a JSON result::

    python -m bench.peer INPUT.json OUTPUT.json

INPUT.json holds ``{"model_dir", "texts", "questions", "k"}``. OUTPUT.json holds what
:func:`run_txtai` returns plus ``peak_rss_mb``. When txtai is missing the CLI prints one
line to stderr and exits 3.

Settled against txtai 9.14.0:

* ``hybrid=True`` expands to ``dense=True`` plus ``scoring={"method": "bm25",
  "terms": True, "normalize": True}``: a BM25 terms index beside the dense Faiss index,
  fused by a convex combination (0.5 * cosine + 0.5 * normalised BM25).
* A folder path with no ``method`` uses txtai's own transformers pooling
  (``HFVectors`` -> ``MeanPooling``, read from ``1_Pooling/config.json``), L2-normalised.
  Its default max length is the tokenizer's (512), not sentence-transformers'
  ``max_seq_length`` (256): ``maxlength=True`` makes txtai read ``sentence_bert_config.json``.
* txtai spools vectors and its SQLite stores to the temp dir: the run points ``TMPDIR``
  and :data:`tempfile.tempdir` at a private temporary directory, removed afterwards.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.measure import peak_rss_mb

MISSING_MESSAGE = "txtai is not installed: pip install -e '.[bench]'"
EXIT_MISSING = 3
WARMUP_SEARCHES = 3


class TxtaiMissing(RuntimeError):
    """txtai itself (not one of its dependencies) cannot be imported."""


def txtai_config(model_dir: str) -> dict[str, Any]:
    """The Embeddings configuration the peer uses for the model folder ``model_dir``.

    ``method="transformers"`` is what txtai picks for a local folder anyway; it is spelled
    out so the backend is explicit. ``maxlength=True`` truncates at the folder's
    ``max_seq_length`` (256) as sentence-transformers does.
    """
    return {
        "path": model_dir,
        "method": "transformers",
        "maxlength": True,
        "content": True,
        "hybrid": True,
    }


def import_txtai() -> ModuleType:
    """Import txtai offline, with torch imported first (before anything loads faiss).

    Raises:
        TxtaiMissing: txtai is not installed.
    """
    try:
        found = importlib.util.find_spec("txtai") is not None
    except ValueError:  # txtai in sys.modules as None: blocked, so missing
        found = False
    if not found:
        raise TxtaiMissing(MISSING_MESSAGE)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    importlib.import_module("torch")  # OpenMP pools: torch must load before faiss.

    try:
        import txtai
    except ModuleNotFoundError as error:
        if error.name == "txtai":
            raise TxtaiMissing(MISSING_MESSAGE) from error
        raise
    return txtai


def txtai_version(txtai: ModuleType) -> str:
    """txtai's version: 9.x keeps ``__version__`` in ``txtai.version``, not on the package."""
    if hasattr(txtai, "__version__"):
        return str(txtai.__version__)
    from txtai.version import __version__

    return str(__version__)


@contextmanager
def private_tempdir() -> Iterator[str]:
    """Point ``TMPDIR`` and :mod:`tempfile` at a fresh directory, restore and remove it after."""
    saved_env, saved_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="qa-bench-txtai-") as path:
        os.environ["TMPDIR"] = path
        tempfile.tempdir = path
        try:
            yield path
        finally:
            tempfile.tempdir = saved_tempdir
            if saved_env is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = saved_env


def run_txtai(model_dir: str, texts: list[str], questions: list[str], k: int = 10) -> dict[str, Any]:
    """Index ``texts`` with a hybrid txtai Embeddings and search each question singly.

    Returns:
        ``{"version", "config", "effective_config", "load_s", "build_s", "query_s",
        "encode_s", "ranked"}`` (``encode_s``: encoding each question alone, timed
        just before its search, the floor its search time is compared with): ``config`` is the dict given to ``Embeddings``, ``effective_config``
        the one txtai expanded it to; ``load_s`` covers importing txtai and constructing
        Embeddings (the model load); ``ranked`` holds, per question, indices into
        ``texts``, best first.

    Raises:
        TxtaiMissing: txtai is not installed.
    """
    with private_tempdir():
        start = time.perf_counter()
        txtai = import_txtai()
        config = txtai_config(model_dir)
        embeddings = txtai.Embeddings(**config)
        load_s = time.perf_counter() - start
        try:
            start = time.perf_counter()
            embeddings.index([(i, text, None) for i, text in enumerate(texts)])
            build_s = time.perf_counter() - start

            warmup = (questions or ["warm up"]) * WARMUP_SEARCHES
            for question in warmup[:WARMUP_SEARCHES]:
                embeddings.search(question, k)

            query_s: list[float] = []
            encode_s: list[float] = []  # its floor: encoding the question alone, interleaved
            ranked: list[list[int]] = []
            for question in questions:
                start = time.perf_counter()
                embeddings.transform(question)
                encode_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                results = embeddings.search(question, k)
                query_s.append(time.perf_counter() - start)
                ranked.append([int(result["id"]) for result in results])
            effective = json.loads(json.dumps(embeddings.config, default=str))
        finally:
            embeddings.close()
    return {
        "version": txtai_version(txtai),
        "config": config,
        "effective_config": effective,
        "load_s": load_s,
        "build_s": build_s,
        "query_s": query_s,
        "encode_s": encode_s,
        "ranked": ranked,
    }


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m bench.peer INPUT.json OUTPUT.json``; returns the exit code (3: txtai missing)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bench.peer INPUT.json OUTPUT.json", file=sys.stderr)
        return 2
    request = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    try:
        result = run_txtai(
            str(request["model_dir"]),
            list(request["texts"]),
            list(request["questions"]),
            int(request.get("k", 10)),
        )
    except TxtaiMissing:
        print(MISSING_MESSAGE, file=sys.stderr)
        return EXIT_MISSING
    result["peak_rss_mb"] = peak_rss_mb()
    Path(args[1]).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
