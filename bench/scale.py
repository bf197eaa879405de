"""`python -m bench --scale [--sizes 16000,100000,1000000] [--kinds auto]`: answering at scale.

What a process answering from N passages pays: peak RSS, the time to open the index (its
files alone, best of 3, and the whole engine with the question encoder), each question's
time (p50, p95, `qa.answering.search.rank` end to end: encoding, BM25, vectors, sentences, passages
read; median of 3 processes) and recall@10 of the vector search against exact search.

The corpus is synthetic, since embedding a million passages here would take a day: the
passages of the bench's stdlib index cycled, each with a unique marker; each passage's
vector is its original's plus Gaussian noise (norm NOISE, so a copy keeps a cosine of about
0.86 with its original), normalised; sentence vectors are the originals'. BM25 is built
over the marked texts. The questions are the bench's real ones (bench.questions), so the
vectors they are compared with are those of real text. Each measurement runs in a fresh
process with the files in the page cache (as on a machine that answers often).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import cache_dir
from bench.measure import run_python, save_results

NOISE = 0.6
QUESTIONS = 300
RUNS = 3  # answering processes per figure: the median is reported
BLOCK = 100_000  # vectors made, indexed and compared a block at a time

OPEN = r"""
import json, sys, time
from pathlib import Path
began = time.perf_counter()
from qa.indexfiles.store import open_index
imported = time.perf_counter()
open_index(Path(sys.argv[1]))
print(json.dumps({"open_s": round(time.perf_counter() - imported, 3), "import_s": round(imported - began, 3)}))
"""

ANSWER = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from bench.measure import peak_rss_mb
from qa.answering.search import get_engine, rank
index, out = Path(sys.argv[1]), Path(sys.argv[2])
questions = json.loads((out / "questions.json").read_text())
began = time.perf_counter()
engine = get_engine(index)
ready = time.perf_counter() - began
times = []
for question in questions:
    began = time.perf_counter()
    rank(question, 5, index_dir=index)
    times.append(time.perf_counter() - began)
vectors = np.stack([engine.question_vector(q) for q in questions])  # one at a time, as asked
nearest = [engine.nearest(v, 10).tolist() for v in vectors]
np.save(out / "queries.npy", vectors)
(out / "nearest.json").write_text(json.dumps(nearest))
print(json.dumps({"ready_s": round(ready, 3), "p50_ms": round(float(np.median(times)) * 1000, 2),
                  "p95_ms": round(float(np.percentile(times, 95)) * 1000, 2),
                  "peak_mb": round(peak_rss_mb(), 1)}))
"""


def source_index() -> Any:
    """The bench's stdlib index, opened: the passages, vectors and sentences cycled."""
    from qa.indexfiles.store import current_generation, open_generation

    source = current_generation(cache_dir() / "index-all")
    if source is None:
        raise SystemExit("run python -m bench once first: it builds the stdlib index this corpus is made from")
    return open_generation(source)


def corpus(size: int, root: Path) -> Path:
    """A folder of `size` synthetic passages with every file of a generation but the vector
    index: passages, sentence vectors, BM25, the exact passage vectors and a manifest."""
    from qa.building.build import lexical_text
    from qa.indexfiles.lexical import LexicalIndex
    from qa.indexfiles.manifest import MANIFEST
    from qa.indexfiles.passages import write_passages
    from qa.indexfiles.store import LEXICAL, SENTENCES
    from qa.indexfiles.vectors import EXACT

    folder = root / f"corpus-{size}"
    if (folder / MANIFEST).is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source = source_index()
    real = list(source.passages)
    records = []
    for i in range(size):
        r = real[i % len(real)]
        marker = f" [{i}]"
        records.append(replace(r, source=f"{i // 1000:04d}/{r.source}", text=r.text + marker, end=r.end + len(marker),
                               clean=None if r.clean is None else r.clean + marker))
    write_passages(folder, records)
    originals = source.passage_vectors()
    rng = np.random.default_rng(0)
    vectors = np.lib.format.open_memmap(folder / EXACT, mode="w+", dtype=np.float32, shape=(size, originals.shape[1]))
    for first in range(0, size, BLOCK):
        rows = np.arange(first, min(size, first + BLOCK))
        block = originals[rows % len(real)] + rng.standard_normal((len(rows), originals.shape[1]), dtype=np.float32) * np.float32(
            NOISE / np.sqrt(originals.shape[1]))
        vectors[rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    vectors.flush()
    cycles, rest = divmod(size, len(real))
    sentences = np.asarray(source.sentence_vectors())
    tail = int(source.sentence_start[rest]) if rest < len(real) else len(sentences)
    out = np.lib.format.open_memmap(folder / SENTENCES, mode="w+", dtype=np.float32,
                                    shape=(cycles * len(sentences) + tail, sentences.shape[1]))
    for cycle in range(cycles):
        out[cycle * len(sentences) : (cycle + 1) * len(sentences)] = sentences
    out[cycles * len(sentences) :] = sentences[:tail]
    out.flush()
    LexicalIndex.build([lexical_text(r) for r in records]).save(folder / LEXICAL)
    shaped = json.loads(source.manifest.to_json())
    shaped.update(passages=size, sentences=len(out), passages_sha256=None, seeds_dir=str(folder / "no-documents"),
                  files={"synthetic.txt": {"sha256": "0" * 64, "size": 0, "mtime_ns": 0, "passages": size}}, skipped={})
    (folder / MANIFEST).write_text(json.dumps(shaped), encoding="utf-8")
    return folder


def index_of(base: Path, kind: str) -> tuple[Path, float]:
    """An index folder over the corpus `base` with a vector index of `kind` (the corpus's
    files hard-linked into it); returns it and the seconds its vector index took to build."""
    from qa.indexfiles.manifest import MANIFEST
    from qa.indexfiles.store import CURRENT, VECTORS
    from qa.indexfiles.vectors import EXACT, import_faiss, make_vector_index

    index = base.with_name(f"{base.name}-{kind}")
    generation = index / "gen-synthetic"
    timing = index / "build_s"
    if (index / CURRENT).is_file():
        return index, float(timing.read_text())
    shutil.rmtree(index, ignore_errors=True)
    shutil.copytree(base, generation, copy_function=os.link)
    if kind != "ivfpq":
        (generation / EXACT).unlink()
    manifest = json.loads((base / MANIFEST).read_text(encoding="utf-8"))
    (generation / MANIFEST).unlink()
    (generation / MANIFEST).write_text(json.dumps({**manifest, "index_type": kind}), encoding="utf-8")
    vectors = np.load(base / EXACT, mmap_mode="r")
    began = time.perf_counter()
    built = make_vector_index(vectors if kind == "ivfpq" else np.ascontiguousarray(vectors), kind)
    seconds = time.perf_counter() - began
    import_faiss().write_index(built, str(generation / VECTORS))
    (index / CURRENT).write_text(generation.name + "\n", encoding="utf-8")
    timing.write_text(f"{seconds:.1f}")
    return index, seconds


def recall_at_10(base: Path, queries: np.ndarray, nearest: list[list[int]]) -> float:
    """Share of each question's ten exact nearest passages that the index found."""
    from qa.indexfiles.vectors import EXACT

    vectors = np.load(base / EXACT, mmap_mode="r")
    best = np.full((len(queries), 10), -np.inf, np.float32)
    rows = np.zeros((len(queries), 10), np.int64)
    for first in range(0, len(vectors), BLOCK):
        scores = queries @ np.asarray(vectors[first : first + BLOCK]).T
        merged = np.concatenate([best, scores], axis=1)
        ids = np.concatenate([rows, np.broadcast_to(np.arange(first, first + scores.shape[1]), scores.shape)], axis=1)
        top = np.argpartition(-merged, 9, axis=1)[:, :10]
        best, rows = np.take_along_axis(merged, top, 1), np.take_along_axis(ids, top, 1)
    return float(np.mean([len(set(r.tolist()) & set(found)) / 10 for r, found in zip(rows, nearest)]))


def measure(base: Path, kind: str, questions: list[str]) -> dict[str, Any]:
    """Every figure of one corpus size and vector index kind, each from a fresh process."""
    from qa.indexfiles.vectors import EXACT

    index, build_s = index_of(base, kind)
    opened = min((json.loads(run_python(["-c", OPEN, str(index)])[1]) for _ in range(3)), key=lambda m: m["open_s"])
    out = index / "answers"
    out.mkdir(exist_ok=True)
    (out / "questions.json").write_text(json.dumps(questions), encoding="utf-8")
    runs = [json.loads(run_python(["-c", ANSWER, str(index), str(out)])[1].strip().splitlines()[-1]) for _ in range(RUNS)]
    answered = {key: statistics.median(run[key] for run in runs) for key in runs[0]}  # the shared machine is noisy
    recall = recall_at_10(base, np.load(out / "queries.npy"), json.loads((out / "nearest.json").read_text()))
    held = (index / "gen-synthetic" / "vectors.faiss").stat().st_size
    return {"kind": kind, "build_s": build_s, **opened, **answered, "recall@10": round(recall, 4),
            "index_mb": round(held / 2**20), "exact_mb": round((base / EXACT).stat().st_size / 2**20)}


def main(argv: list[str] | None = None) -> int:
    from bench.questions import query_texts
    from qa.indexfiles.vectors import index_type_for

    parser = argparse.ArgumentParser(prog="python -m bench --scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16000,100000,1000000", help="passage counts, comma-separated")
    parser.add_argument("--kinds", default="auto", help="vector index kinds to measure (flat, hnsw, ivfpq), or auto: what a build picks")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "scale.json")
    args = parser.parse_args(argv)
    root = cache_dir() / "scale"
    questions = query_texts()[:QUESTIONS]
    results = json.loads(args.json.read_text()) if args.json.is_file() else {}
    print(f"{'passages':>10} {'kind':<6} {'build s':>8} {'open s':>7} {'ready s':>8} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'peak MB':>8} {'index MB':>9} {'recall@10':>9}")
    for size in [int(s) for s in args.sizes.split(",")]:
        base = corpus(size, root)
        for kind in [index_type_for(size)] if args.kinds == "auto" else args.kinds.split(","):
            m = measure(base, kind, questions)
            results[f"{size}-{kind}"] = {"passages": size, "date": time.strftime("%Y-%m-%d"), **m}
            save_results(args.json, results)
            print(f"{size:>10,} {kind:<6} {m['build_s']:>8.1f} {m['open_s']:>7.3f} {m['ready_s']:>8.3f} {m['p50_ms']:>7.2f} "
                  f"{m['p95_ms']:>7.2f} {m['peak_mb']:>8.0f} {m['index_mb']:>9} {m['recall@10']:>9.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
