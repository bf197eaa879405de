"""Retrieval quality on the question sets: hit@1, hit@5 and MRR@10, ours and the peer's."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qa.evaluate import Question
from qa.types import Passage

DEPTH = 10


def figures(questions: Sequence[Question], ranked: Sequence[Sequence[Passage]]) -> dict[str, float]:
    """hit@1, hit@5 and MRR@10 over the answerable questions."""
    hit1 = hit5 = 0
    reciprocal = 0.0
    answerable = [(q, r) for q, r in zip(questions, ranked) if q.expect is not None]
    for question, passages in answerable:
        ranks = [i for i, p in enumerate(passages[:DEPTH], 1) if question.is_hit(p)]
        if ranks:
            hit1 += ranks[0] == 1
            hit5 += ranks[0] <= 5
            reciprocal += 1 / ranks[0]
    n = max(len(answerable), 1)
    return {"hit@1": round(hit1 / n, 4), "hit@5": round(hit5 / n, 4), "mrr@10": round(reciprocal / n, 4)}


def ours(questions: Sequence[Question], index: Path) -> dict[str, dict[str, Any]]:
    """Dense-only, BM25-only and the shipped hybrid (with its abstention, timed) on one index."""
    from qa.answering.search import get_engine, rank
    from qa.evaluate import MODES

    encoder = get_engine(index).embedder
    out: dict[str, dict[str, Any]] = {}
    for mode, weight in MODES.items():
        ranked, seconds, floor = [], [], []
        for q in questions:
            if weight is None:  # the floor: encoding the question alone, interleaved
                began = time.perf_counter()
                encoder.encode_questions([q.q])
                floor.append(time.perf_counter() - began)
            began = time.perf_counter()
            if weight is None:
                ranked.append(rank(q.q, DEPTH, history=q.history, index_dir=index).found)
            else:
                ranked.append(rank(q.q, DEPTH, history=q.history, index_dir=index, min_score=0, dense_weight=weight).found)
            seconds.append(time.perf_counter() - began)
        out[mode] = figures(questions, ranked)
        if weight is None:
            out[mode]["query_s"], out[mode]["encode_s"] = seconds, floor
    return out


def encoder_parity(questions: Sequence[Question], index: Path, k: int) -> dict[str, Any]:
    """The shipped figures (qa eval's) with questions encoded by the ONNX export and by
    sentence-transformers, in one process: they must be the same."""
    from qa.answering.search import get_engine
    from qa.embedding.model import get_embedder
    from qa.evaluate import evaluate

    engine = get_engine(index)
    onnx = engine.embedder
    reports: dict[str, Any] = {"onnx": evaluate(questions, k, index_dir=index, sides=False).overall}
    engine.embedder = get_embedder(onnx.info)
    try:
        reports["sentence-transformers"] = evaluate(questions, k, index_dir=index, sides=False).overall
    finally:
        engine.embedder = onnx
    keys = ("hit@1", "hit@k", "abstention", "wrongly_abstained", "wrongly_answered")
    reports["same"] = all(reports["onnx"][key] == reports["sentence-transformers"][key] for key in keys)
    reports["encoder"] = type(onnx).__name__
    return reports


def peer(questions: Sequence[Question], index: Path, model_dir: Path) -> dict[str, Any] | None:
    """txtai over the same passages, in its own process (for its RSS); None if not installed."""
    from qa.indexfiles.store import open_index

    records = open_index(index).passages
    asked = [q for q in questions if q.expect is not None]
    with tempfile.TemporaryDirectory() as tmp:
        request, result = Path(tmp) / "in.json", Path(tmp) / "out.json"
        request.write_text(json.dumps({
            "model_dir": str(model_dir), "texts": [r.text for r in records], "questions": [q.q for q in asked], "k": DEPTH,
        }))
        done = subprocess.run([sys.executable, "-m", "bench.peer", str(request), str(result)], capture_output=True, text=True)
        if done.returncode == 3:
            return None
        if done.returncode != 0:
            raise RuntimeError(f"the txtai peer failed: {done.stderr[-800:]}")
        data = json.loads(result.read_text())
    passage: Callable[[int], Passage] = lambda i: Passage(
        records[i].text, 0.0, records[i].source, records[i].start, records[i].end, records[i].line_start, records[i].line_end
    )
    data["quality"] = figures(asked, [[passage(i) for i in ids] for ids in data.pop("ranked")])
    return data
