"""Shared fixtures: the real model, loaded once per session, and real indexes under tmp_path."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
LETTER = "tiktok-2020-community-letter.txt"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True, scope="session")
def _notices_on_stderr() -> None:
    """The library's notices written to stderr, as the `qa` command writes them (tests read them there)."""
    from qa.notices import log_to_stderr

    log_to_stderr()


@pytest.fixture(autouse=True)
def _no_default_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests name their folders: never fall back on the repository's ./index or a user's QA_* settings."""
    for name in ("QA_SEEDS", "QA_INDEX", "QA_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedder():
    """The bundled all-MiniLM-L6-v2, loaded once."""
    from qa.embedding.model import get_embedder
    from qa.embedding.modelfiles import resolve_model_info

    return get_embedder(resolve_model_info(None))


@pytest.fixture(scope="session")
def build_encoder(embedder):
    """What a build embeds with: the model's ONNX export (made here if this machine has none yet)."""
    from qa.embedding.encoder import load_onnx_encoder
    from qa.embedding.onnx_export import ensure_export

    ensure_export(embedder)
    encoder = load_onnx_encoder(embedder.info)
    assert encoder is not None
    return encoder


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """An index of the seed letter, built once per session (read-only for tests)."""
    from qa import build_index

    seeds = tmp_path_factory.mktemp("seeds")
    shutil.copy(SEEDS / LETTER, seeds / LETTER)
    index = tmp_path_factory.mktemp("seed-index")
    build_index(seeds, index)
    return index


@pytest.fixture(scope="session")
def stdlib_index(tmp_path_factory, embedder):
    """More passages than search's candidate depth: four modules' documentation strings."""
    import inspect

    from bench.corpus import docstrings, stdlib_sources
    from qa import build_index
    from qa.answering.search import CANDIDATES
    from qa.indexfiles.store import open_index

    seeds = tmp_path_factory.mktemp("stdlib")
    for module, path in stdlib_sources():
        if module in ("json.decoder", "textwrap", "shlex", "fractions"):
            sections = [f"{name}\n{inspect.cleandoc(doc)}" for name, doc in docstrings(module, path.read_text(encoding="utf-8"))]
            (seeds / f"{module}.txt").write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    index = tmp_path_factory.mktemp("stdlib-index")
    build_index(seeds, index)
    assert len(open_index(index).passages) > 2 * CANDIDATES
    return index


def run_qa(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, input: str = "", timeout: float = 300):
    """Run the real `qa` command in a fresh process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd or REPO, timeout=timeout, input=input,
    )


@contextlib.contextmanager
def busy_cores():
    """Every core kept busy by a spinning process (at most 8) while the block runs: the
    load of a laptop doing something else, under which timing races show themselves."""
    count = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2, 8)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait(timeout=30)


def read_line(process: subprocess.Popen, timeout: float = 120) -> str:
    """The next line `process` writes on its stdout (a pipe). Past `timeout` seconds the
    process is killed and the test fails, instead of waiting on the pipe for ever."""
    with concurrent.futures.ThreadPoolExecutor(1) as reader:
        line = reader.submit(process.stdout.readline)  # type: ignore[union-attr]
        try:
            return line.result(timeout)
        except concurrent.futures.TimeoutError:
            process.kill()  # the pipe closes, and the reader returns
            raise AssertionError(f"{process.args!r} wrote no line within {timeout:g} s") from None
