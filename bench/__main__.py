"""`python -m bench [--quick] [--json PATH] [--no-peer]`: quality, speed, memory and growth in one run.

`python -m bench --scale [...]` measures answering from 16k to a million passages instead
(bench.scale; `python -m bench --scale --help`).

Prints a table and writes the same figures as JSON. The stdlib corpora and their indexes
are cached (see bench.corpus.cache_dir): the first full run embeds the whole stdlib's
docstrings once; later runs embed nothing for them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import formats, quality
from bench.corpus import cache_dir, prepare
from bench.measure import REPO, first_answer_s, quit_s, run_python, save_results, summary_ms
from bench.questions import query_texts, question_sets

FULL_SIZES: dict[str, int | None] = {"1k": 1_000, "10k": 10_000, "all": None}
QUICK_SIZES: dict[str, int | None] = {"1k": 1_000}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--scale" in argv:
        from bench import scale

        return scale.main([a for a in argv if a != "--scale"])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 1k corpus and the cheap figures: under a minute once cached")
    parser.add_argument("--json", type=Path, help="where to write the figures (default bench/results/quick.json or full.json)")
    parser.add_argument("--no-peer", action="store_true", help="skip txtai even if it is installed")
    args = parser.parse_args(argv)
    for name in ("QA_SEEDS", "QA_INDEX", "QA_MODEL"):  # the bench's own corpora and the bundled model, always
        os.environ.pop(name, None)
    args.json = args.json or REPO / "bench" / "results" / ("quick.json" if args.quick else "full.json")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"quick": args.quick, "date": time.strftime("%Y-%m-%d"), "cache": str(cache_dir())}
    began = time.perf_counter()
    corpora = prepare(QUICK_SIZES if args.quick else FULL_SIZES)
    results["corpora"] = {label: corpus_figures(index, seconds) for label, (_, index, seconds) in corpora.items()}
    results["speed"] = {label: query_speed(index, 100 if args.quick else 300) for label, (_, index, _) in corpora.items()}
    results["quality"] = quality_figures(quick=args.quick, with_peer=not args.no_peer)
    smallest = corpora["1k"]
    sample = build_sample(smallest[0], smallest[1], 50 if args.quick else None)
    reindexed = corpora.get("10k", smallest)
    results["build"] = build_figures(sample, smallest[1], reindexed[0], reindexed[1])
    if not args.quick:
        results["formats"] = formats.figures()  # the SQuAD articles as PDF, HTML and Word
        results["approximate"] = approximate_figures(corpora["all"][1])
        results["memory"] = {label: memory_figures(index) for label, (_, index, _) in corpora.items()}
    results["startup"] = startup_figures(smallest[1], smallest[0], runs=1 if args.quick else 3)
    results["seconds"] = round(time.perf_counter() - began, 1)
    save_results(args.json, results)
    print_table(results)
    print(f"\nfigures written to {args.json}; corpora and their embeddings are cached in {cache_dir()}")
    return 0


def corpus_figures(index: Path, embed_seconds: float) -> dict[str, Any]:
    from qa.indexfiles.store import open_index

    opened = open_index(index)
    return {
        "files": len(opened.manifest.files),
        "passages": opened.manifest.passages,
        "sentence_vectors": opened.manifest.sentences,
        "index_type": opened.manifest.index_type,
        "vectors_mb": round((opened.manifest.passages + opened.manifest.sentences) * opened.manifest.dim * 4 / 2**20, 1),
        "seconds_spent_building_now": round(embed_seconds, 1),
    }


def query_speed(index: Path, count: int) -> dict[str, Any]:
    """Warm retrieve() against the floor (bare ONNX encode + bare exact FAISS search on one
    thread), interleaved."""
    import faiss
    import numpy as np

    from qa import retrieve
    from qa.answering.search import get_engine
    from qa.indexfiles.vectors import one_search_thread

    engine = get_engine(index)
    encoder = engine.embedder  # the ONNX export, as answering uses it
    vectors = engine.index.vectors.reconstruct_n(0, engine.index.vectors.ntotal)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    questions = (query_texts() * 2)[: max(count, 1)]
    for q in questions[:5]:  # warm both paths
        retrieve(q, index_dir=index)
        flat.search(encoder.encode_questions([q]), 10)
    ours, floor = [], []
    for q in questions:
        t = time.perf_counter()
        vector = np.asarray(encoder.encode_questions([q]), dtype=np.float32)
        # One thread, the fastest way here to search for one question (two threads took
        # twice as long and left OpenMP spinning on the other core while the next ran).
        with one_search_thread():
            flat.search(vector, 10)
        floor.append(time.perf_counter() - t)
        t = time.perf_counter()
        retrieve(q, index_dir=index)
        ours.append(time.perf_counter() - t)
    out = {"questions": len(questions), "retrieve": summary_ms(ours), "floor": summary_ms(floor)}
    out["ratio_p50"] = round(statistics.median(ours) / statistics.median(floor), 3)
    return out


def quality_figures(*, quick: bool, with_peer: bool) -> dict[str, Any]:
    from qa import build_index
    from qa.embedding.modelfiles import resolve_model_info
    from qa.evaluate import load_questions

    out: dict[str, Any] = {}
    sets = question_sets()
    if quick:
        sets = {"seed": sets["seed"]}
    for name, (path, corpus, k) in sets.items():
        index = cache_dir() / f"index-questions-{name}"
        build_index(corpus, index)
        questions = load_questions(path)
        out[name] = quality.ours(questions, index)
        out[name]["parity"] = quality.encoder_parity(questions, index, k)
        if quick:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            build_index(corpus, Path(tmp) / "index")
            out[name]["hybrid"]["build_s"] = round(time.perf_counter() - t, 2)
        out[name]["hybrid"]["peak_rss_mb"] = json.loads(run_python(["-m", "bench.probe", "answer", str(index), "400"])[1])["peak_rss_mb"]
        if with_peer:
            out[name]["txtai"] = quality.peer(questions, index, resolve_model_info(None).path)
    return out


def build_sample(seeds: Path, index: Path, passages: int | None) -> Path:
    """`seeds`, or its first files holding at least `passages` passages (for --quick)."""
    from bench.corpus import subset
    from qa.indexfiles.store import open_index

    if passages is None:
        return seeds
    chosen, total = [], 0
    for name, record in sorted(open_index(index).manifest.files.items()):
        if total >= passages:
            break
        chosen.append(name)
        total += record.passages
    return subset(seeds, cache_dir() / "stdlib-build-sample", chosen)


def build_figures(seeds: Path, index: Path, corpus: Path, corpus_index: Path) -> dict[str, Any]:
    """build_index throughput on `seeds` (whose passages `index` holds) against bare
    `model.encode` of the same passages; re-index times of `corpus` in `corpus_index`."""
    from qa import build_index
    from qa.building.build import embedding_text
    from qa.embedding.model import get_embedder
    from qa.embedding.modelfiles import resolve_model_info
    from qa.indexfiles.store import open_index

    model = get_embedder(resolve_model_info(None))._model
    files = {p.name for p in seeds.glob("*.txt")}
    texts = [embedding_text(r) for r in open_index(index).passages if r.source in files]
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        model.encode(texts, batch_size=64, normalize_embeddings=True)
        encode_s = time.perf_counter() - t
        t = time.perf_counter()
        stats = build_index(seeds, Path(tmp) / "index", rebuild=True)
        build_s = time.perf_counter() - t
    out: dict[str, Any] = {
        "passages": len(texts),
        "bare_encode_passages_per_s": round(len(texts) / encode_s, 1),
        "build_passages_per_s": round(stats.passages / build_s, 1),
        "ratio": round(encode_s / build_s, 3),
    }
    seeds, index = corpus, corpus_index
    out["reindex_passages"] = open_index(index).manifest.passages
    t = time.perf_counter()
    unchanged = build_index(seeds, index)
    out["reindex_unchanged_s"] = round(time.perf_counter() - t, 3)
    out["reindex_unchanged_embedded"] = unchanged.embedded
    with tempfile.TemporaryDirectory() as tmp:
        copy_seeds, copy_index = Path(tmp) / "seeds", Path(tmp) / "index"
        shutil.copytree(seeds, copy_seeds)  # copies keep their mtimes
        shutil.copytree(index, copy_index)
        build_index(copy_seeds, copy_index)  # now rooted in the copy
        changed = sorted(copy_seeds.glob("*.txt"))[0]
        changed.write_text(changed.read_text(encoding="utf-8") + "\nA paragraph added by the benchmark.\n", encoding="utf-8")
        t = time.perf_counter()
        after = build_index(copy_seeds, copy_index)
        out["reindex_one_file_s"] = round(time.perf_counter() - t, 3)
        out["reindex_one_file_embedded"] = after.embedded
        out["reindex_one_file_passages"] = open_index(copy_index).manifest.files[changed.name].passages
    return out


def approximate_figures(index: Path) -> dict[str, Any]:
    """HNSW against exact search on the largest corpus: recall@10, build and search time."""
    import numpy as np

    from qa.answering.search import get_engine
    from qa.indexfiles.store import open_index
    from qa.indexfiles.vectors import make_vector_index, one_search_thread

    engine = get_engine(index)
    opened = open_index(index)
    vectors = opened.vectors.reconstruct_n(0, opened.vectors.ntotal)
    queries = engine.embedder.encode(query_texts())
    out: dict[str, Any] = {"passages": len(vectors), "queries": len(queries)}
    found = {}
    for kind in ("flat", "hnsw"):
        t = time.perf_counter()
        built = make_vector_index(vectors, kind)
        build_s = time.perf_counter() - t
        times, ids = [], []
        for q in queries:
            t = time.perf_counter()
            with one_search_thread():  # as retrieve() searches
                ids.append(built.search(q[None, :], 10)[1][0])
            times.append(time.perf_counter() - t)
        found[kind] = ids
        out[kind] = {"build_s": round(build_s, 2), **summary_ms(times)}
    hits = [len(set(a) & set(b)) / 10 for a, b in zip(found["flat"], found["hnsw"])]
    out["recall@10"] = round(float(np.mean(hits)), 4)
    # Questions the corpus covers: its own sentences, every 50th.
    own = np.asarray(opened.sentences[::50], dtype=np.float32)
    exact = make_vector_index(vectors, "flat").search(own, 10)[1]
    graph = make_vector_index(vectors, "hnsw").search(own, 10)[1]
    out["recall@10_own_sentences"] = round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, graph)])), 4)
    return out


def memory_figures(index: Path) -> dict[str, Any]:
    """Peak RSS of a process answering 50 questions from `index`: as shipped (ONNX), with
    questions encoded by sentence-transformers (as before), and a bare ONNX encoder."""
    _, bare = run_python(["-m", "bench.probe", "onnx"])
    _, ours = run_python(["-m", "bench.probe", "answer", str(index), "50"])
    _, before = run_python(["-m", "bench.probe", "answer", str(index), "50"], env={"QA_QUESTION_ENCODER": "sentence-transformers"})
    ours_mb, before_mb = json.loads(ours)["peak_rss_mb"], json.loads(before)["peak_rss_mb"]
    return {
        "bare_onnx_mb": json.loads(bare)["peak_rss_mb"], "ours_mb": ours_mb, "sentence_transformers_mb": before_mb,
        "ratio": round(ours_mb / before_mb, 3),
    }


def startup_figures(index: Path, seeds: Path, runs: int) -> dict[str, Any]:
    """Cold `qa ask --json` against bare imports of what answering needs and of
    sentence-transformers, interleaved; the app's first frame and first cited answer; how
    long ctrl+q takes, idle and during a build of `seeds`."""
    qa_times, bare_times, st_times = [], [], []
    for _ in range(runs):
        bare_times.append(run_python(["-c", "import numpy, faiss, onnxruntime, tokenizers"])[0])
        st_times.append(run_python(["-c", "import sentence_transformers"])[0])
        qa_times.append(run_python(["-m", "qa", "ask", "How do I read a file line by line?", "--json", "--index", str(index)])[0])
    qa_s, bare_s, st_s = (statistics.median(t) for t in (qa_times, bare_times, st_times))
    frames, answers = [], []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TERM": "xterm-256color", "XDG_DATA_HOME": tmp}
        for _ in range(runs):
            frame, answer = first_answer_s(["-m", "qa", "--index", str(index)], "Ask a question about your documents",
                                           "How do I read a file line by line?", "[1] ", env)
            frames.append(frame)
            answers.append(answer)
        # ctrl+q: once idle, and while a build embeds (the 1k corpus into an empty folder).
        idle: list[float] = []
        building: list[float] = []
        for _ in range(runs):
            idle.append(quit_s(["-m", "qa", "--index", str(index)], "Ask a question about your documents", env))
            empty = Path(tmp) / f"index-{len(building)}"
            building.append(quit_s(["-m", "qa", "--seeds", str(seeds), "--index", str(empty)], "embedding", env))
    frame_s, answer_s = statistics.median(frames), statistics.median(answers)
    return {
        "quit_idle_s": round(statistics.median(idle), 2), "quit_during_build_s": round(statistics.median(building), 2),
        "runs": runs, "qa_ask_s": round(qa_s, 2), "bare_import_s": round(bare_s, 2),
        "import_sentence_transformers_s": round(st_s, 2), "ratio_bare": round(qa_s / bare_s, 2),
        "ratio_sentence_transformers": round(qa_s / st_s, 3),
        "app_first_frame_s": round(frame_s, 2), "app_first_answer_s": round(answer_s, 2),
        "ratio_answer_frame": round(answer_s / frame_s, 2),
    }


def print_table(r: dict[str, Any]) -> None:
    print("\ncorpora (stdlib docstrings)")
    for label, c in r["corpora"].items():
        print(f"  {label:4} {c['files']:4} files {c['passages']:6} passages {c['sentence_vectors']:6} sentence vectors"
              f"  {c['index_type']}  {c['vectors_mb']} MB of vectors")
    print("\nwarm retrieve() vs floor (bare ONNX encode + bare exact FAISS), ms")
    for label, s in r["speed"].items():
        print(f"  {label:4} retrieve p50 {s['retrieve']['p50_ms']:7.2f} p95 {s['retrieve']['p95_ms']:7.2f}"
              f" | floor p50 {s['floor']['p50_ms']:7.2f} p95 {s['floor']['p95_ms']:7.2f} | ratio {s['ratio_p50']:.2f}x")
    print("\nquality (answerable questions; hybrid with abstention as shipped)")
    for name, modes in r["quality"].items():
        for mode, f in modes.items():
            if f is None:
                print(f"  {name:9} {mode:7} (not installed: pip install -e '.[bench]')")
                continue
            q = f.get("quality", f)
            extra = ""
            if "build_s" in f:
                p50, floor = statistics.median(f["query_s"]), statistics.median(f["encode_s"])
                extra = (f"  build {f['build_s']:.1f} s, query p50 {p50 * 1000:.1f} ms ="
                         f" {p50 / floor:.2f}x its bare encode, peak RSS {f['peak_rss_mb']:.0f} MB")
            if mode == "parity":
                print(f"  {name:9} ONNX vs sentence-transformers questions: {'the same' if f['same'] else 'DIFFERENT'}"
                      f" (hit@1 {f['onnx']['hit@1']} / {f['sentence-transformers']['hit@1']},"
                      f" abstention {f['onnx']['abstention']} / {f['sentence-transformers']['abstention']})")
                continue
            print(f"  {name:9} {mode:7} hit@1 {q['hit@1']:.3f} hit@5 {q['hit@5']:.3f} MRR@10 {q['mrr@10']:.3f}{extra}")
    b = r["build"]
    print(f"\nbuild ({b['passages']} passages): build_index {b['build_passages_per_s']}/s vs bare encode"
          f" {b['bare_encode_passages_per_s']}/s = {b['ratio']:.2f}x")
    print(f"  re-index at {b['reindex_passages']} passages: nothing changed {b['reindex_unchanged_s']} s"
          f" ({b['reindex_unchanged_embedded']} embedded); one file changed {b['reindex_one_file_s']} s"
          f" ({b['reindex_one_file_embedded']} embedded, the file has {b['reindex_one_file_passages']} passages)")
    if r.get("formats"):
        print("\nthe SQuAD articles as .txt, PDF, HTML and Word (python -m bench.formats)")
        formats.print_figures(r["formats"])
    if "approximate" in r:
        a = r["approximate"]
        print(f"\napproximate index at {a['passages']} passages: HNSW recall@10 {a['recall@10']:.3f} on the"
              f" {a['queries']} questions (none about the stdlib), {a['recall@10_own_sentences']:.3f} on its own sentences;"
              f" search p50 flat {a['flat']['p50_ms']:.2f} ms, hnsw {a['hnsw']['p50_ms']:.2f} ms;"
              f" build flat {a['flat']['build_s']} s, hnsw {a['hnsw']['build_s']} s")
    if "memory" in r:
        print("\npeak RSS answering 50 questions, MB")
        for label, m in r["memory"].items():
            print(f"  {label:4} ours (ONNX) {m['ours_mb']:.0f} | questions by sentence-transformers {m['sentence_transformers_mb']:.0f}"
                  f" = {m['ratio']:.2f}x | a bare ONNX encoder {m['bare_onnx_mb']:.0f}")
    s = r["startup"]
    print(f"\ncold start (median of {s['runs']}): qa ask --json {s['qa_ask_s']} s = {s['ratio_bare']:.2f}x a bare"
          f" import of numpy, faiss, onnxruntime, tokenizers ({s['bare_import_s']} s), {s['ratio_sentence_transformers']:.3f}x"
          f" import sentence_transformers ({s['import_sentence_transformers_s']} s)")
    print(f"  the app: first frame {s['app_first_frame_s']} s, first cited answer {s['app_first_answer_s']} s"
          f" = {s['ratio_answer_frame']:.2f}x")
    print(f"  ctrl+q to exit: idle {s['quit_idle_s']} s, during a build {s['quit_during_build_s']} s")
    print(f"\ntotal {r['seconds']} s")


if __name__ == "__main__":
    sys.exit(main())
