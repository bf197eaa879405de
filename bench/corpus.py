"""The benchmark's corpora: the documentation strings of the installed Python standard library.

Every machine that runs qa has these sources, so figures can be compared across machines
without shipping a corpus. Each module becomes one text file: its qualified names as
headings, each followed by its docstring, as written (nothing is synthesised).
"""

from __future__ import annotations

import ast
import inspect
import shutil
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

# Test suites and vendored copies: many small docstrings that read like nobody's documentation.
SKIP_PARTS = frozenset({"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "turtledemo"})


def stdlib_sources() -> Iterator[tuple[str, Path]]:
    """(dotted module name, path) of every stdlib source file, in name order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if SKIP_PARTS & set(parts) or any(p.startswith(".") for p in parts):
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name:
            yield name, path


def docstrings(module: str, source: str) -> Iterator[tuple[str, str]]:
    """(qualified name, cleaned docstring) of a module and of its classes and functions."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}.{child.name}"
                doc = ast.get_docstring(child, clean=True)
                if doc:
                    yield name, doc
                yield from walk(child, name)

    doc = ast.get_docstring(tree, clean=True)
    if doc:
        yield module, doc
    yield from walk(tree, module)


def write_stdlib_corpus(dest: Path) -> Path:
    """Write one `.txt` per stdlib module with docstrings into `dest` (once; reused after)."""
    done = dest.with_name(dest.name + ".complete")  # beside the folder: qa would warn of a hidden file
    if done.is_file():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for module, path in stdlib_sources():
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        sections = [f"{name}\n{inspect.cleandoc(doc)}" for name, doc in docstrings(module, source)]
        if sections:
            (dest / f"{module}.txt").write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    done.write_text(f"Python {sys.version.split()[0]}\n", encoding="utf-8")
    return dest


def subset(source: Path, dest: Path, files: list[str]) -> Path:
    """A corpus folder holding `files` of `source`, hard-linked where the file system allows."""
    if dest.is_dir() and sorted(p.name for p in dest.glob("*.txt")) == sorted(files):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in files:
        try:
            (dest / name).hardlink_to(source / name)
        except OSError:
            shutil.copyfile(source / name, dest / name)
    return dest


def cache_dir() -> Path:
    """Where the benchmark keeps its corpora and indexes: $QA_BENCH_CACHE, else ~/.cache/qa/bench."""
    import os

    return Path(os.environ.get("QA_BENCH_CACHE") or Path.home() / ".cache" / "qa" / "bench")


def prepare(sizes: dict[str, int | None], *, progress: bool = True) -> dict[str, tuple[Path, Path, float]]:
    """Corpora and built indexes by label: {label: (seeds, index, seconds spent embedding)}.

    `sizes` maps a label to a passage count, None meaning the whole stdlib. The whole
    corpus is indexed first; smaller ones are whole files of it, drawn in a fixed random
    order until the count is reached, and their indexes start as copies of the whole one,
    so nothing is embedded twice. Indexes stay in the cache: a second run embeds nothing.
    """
    import random
    import time

    from qa import build_index
    from qa.indexfiles.store import open_index

    root = cache_dir()
    full = write_stdlib_corpus(root / "stdlib")
    began = time.perf_counter()
    from qa.cli import BuildBar

    with BuildBar() as bar:
        build_index(full, root / "index-all", progress=bar.progress if progress else None, stage=bar.stage if progress else None)
    embed_seconds = time.perf_counter() - began
    counts = {name: record.passages for name, record in open_index(root / "index-all").manifest.files.items()}
    order = sorted(counts)
    random.Random(0).shuffle(order)
    out: dict[str, tuple[Path, Path, float]] = {}
    for label, size in sorted(sizes.items(), key=lambda item: item[1] or sys.maxsize):
        if size is None or size >= sum(counts.values()):
            out[label] = (full, root / "index-all", embed_seconds)
            continue
        chosen, total = [], 0
        for name in order:
            if total >= size:
                break
            chosen.append(name)
            total += counts[name]
        seeds, index = subset(full, root / f"stdlib-{label}", chosen), root / f"index-{label}"
        if not index.is_dir():
            shutil.copytree(root / "index-all", index)
        build_index(seeds, index)
        out[label] = (seeds, index, 0.0)
    return out
