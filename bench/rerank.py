"""`python -m bench.rerank`: would a small learned reranker order the candidates better?

For every answerable question of the dev sets (bench.dev), the 30 best candidates of the
shipped fusion, each described by features search already has or can compute cheaply:
the fused score and its parts (passage cosine, best unit cosine, BM25), the rank, how
strongly the rest of its document answers (its best other candidate), the share of the
question's words in its heading path and in its text (weighted by rarity), whether its
heading is a generic one (a recap, a summary), its length and its count of units. A
logistic regression (numpy, L2) learns from the candidates which is the passage that
answers, trained leave-one-corpus-out: on every set but one documentation set, then
measured on that one (hit@1, hit@3), beside the shipped order, in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.dev import DOCS, OTHERS, index_for
from bench.measure import REPO, save_results

DEPTH = 30
GENERIC = frozenset("recap summary conclusion conclusions overview introduction intro next steps wrap up".split())
FEATURES = (
    "fused", "cosine", "unit", "lexical", "reciprocal rank", "document", "heading words", "text words",
    "generic heading", "log length", "units",
)


@dataclass
class Question:
    corpus: str
    features: np.ndarray  # (candidates, FEATURES)
    hits: np.ndarray  # (candidates,) bool


def candidates(sets: dict[str, tuple[Path, Path]]) -> list[Question]:
    """Every answerable question's candidates with their features, as the shipped search scores them."""
    from qa.answering.search import get_engine, rank
    from qa.evaluate import load_questions
    from qa.indexfiles.lexical import tokenize

    out = []
    for name, (seeds, questions) in sets.items():
        index = index_for(name, seeds)
        engine = get_engine(index)
        lexical = engine.index.lexical
        for q in load_questions(questions):
            if q.expect is None:
                continue
            found = rank(q.q, DEPTH, history=q.history, index_dir=index, min_score=0).found
            if not found:
                continue
            text = q.q if not q.history else f"{q.history[-1]} {q.q}"
            scores = engine.scores([text])[0]
            where = {int(row): i for i, row in enumerate(scores.ids)}
            unit = _best_units(engine, scores)
            weights = {w: lexical.weight(w) for w in tokenize(q.q)}
            total = sum(weights.values()) or 1.0
            rows = [engine.row_of(p) for p in found]
            best_by_source: dict[str, list[float]] = {}
            for p in found:
                best_by_source.setdefault(p.source, []).append(p.score)
            feats = []
            for rank_, (p, row) in enumerate(zip(found, rows), 1):
                i = where.get(row) if row is not None else None
                record = engine.index.passages[row] if row is not None else None
                others = sorted(best_by_source[p.source], reverse=True)
                other = others[1] if others[0] == p.score and len(others) > 1 else others[0] if others[0] != p.score else 0.0
                heading = set(tokenize(" ".join(p.headings)))
                body = set(tokenize(record.clean or record.text)) if record is not None else set()
                feats.append([
                    p.score,
                    float(scores.cosine[i]) if i is not None else 0.0,
                    float(unit[i]) if i is not None else 0.0,
                    float(scores.fused[i] - 0.55 * (0.5 * scores.cosine[i] + 0.5 * unit[i])) / 0.45 if i is not None else 0.0,
                    1.0 / rank_,
                    other,
                    sum(weights[w] for w in heading & weights.keys()) / total,
                    sum(weights[w] for w in body & weights.keys()) / total,
                    float(bool(GENERIC & {w.lower() for h in p.headings[-1:] for w in h.split()})),
                    float(np.log1p(len(p.text))),
                    float(len(record.units)) if record is not None else 0.0,
                ])
            out.append(Question(name, np.array(feats, dtype=np.float64), np.array([q.is_hit(p) for p in found])))
    return out


def _best_units(engine: Any, scores: Any) -> np.ndarray:
    """Each candidate's best unit cosine, recovered from the fused score's definition."""
    from qa.answering.search import DENSE_WEIGHT, PASSAGE_WEIGHT

    lexical = (scores.strength - DENSE_WEIGHT * scores.cosine) / (1 - DENSE_WEIGHT)
    dense = (scores.fused - (1 - DENSE_WEIGHT) * lexical) / DENSE_WEIGHT
    return (dense - PASSAGE_WEIGHT * scores.cosine) / (1 - PASSAGE_WEIGHT)


def train(questions: list[Question], l2: float = 0.01, steps: int = 2000, rate: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A linear scorer on standardised features, trained listwise: for each question, a
    softmax over its candidates should put the passage that answers first (each corpus
    weighing the same, L2-regularised). Returns (weights, feature means, feature scales)."""
    x = np.concatenate([q.features for q in questions])
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    corpora = sorted({q.corpus for q in questions})
    share = {c: 1.0 / sum(q.corpus == c for q in questions) / len(corpora) for c in corpora}
    usable = [q for q in questions if q.hits.any()]
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        grad = l2 * w
        for q in usable:
            z = (q.features - mean) / std
            logits = z @ w
            p = np.exp(logits - logits.max())
            p /= p.sum()
            target = q.hits / q.hits.sum()
            grad += share[q.corpus] * (z.T @ (p - target))
        w -= rate * grad
    return w, mean, std


def hits(questions: list[Question], order: Any) -> tuple[int, int, int]:
    """(hit@1, hit@3, questions) when each question's candidates are put in `order`."""
    one = three = 0
    for q in questions:
        ranked = q.hits[order(q)]
        one += bool(ranked[:1].any())
        three += bool(ranked[:3].any())
    return one, three, len(questions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rerank", description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "rerank.json")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    questions = candidates({**DOCS, **OTHERS})
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "features": FEATURES, "held out": {}}
    totals = np.zeros((2, 3), dtype=int)
    for held in DOCS:
        model, mean, std = train([q for q in questions if q.corpus != held])
        test = [q for q in questions if q.corpus == held]
        shipped = hits(test, lambda q: np.arange(len(q.hits)))
        learned = hits(test, lambda q: np.argsort(-(((q.features - mean) / std) @ model), kind="stable"))
        totals += np.array([shipped, learned])
        results["held out"][held] = {"shipped": shipped, "reranked": learned, "weights": dict(zip(FEATURES, np.round(model, 3).tolist()))}
        print(f"{held:<11} shipped hit@1 {shipped[0]}/{shipped[2]} hit@3 {shipped[1]}/{shipped[2]};  reranked (trained without it) "
              f"hit@1 {learned[0]}/{learned[2]} hit@3 {learned[1]}/{learned[2]}")
    print(f"{'pooled':<11} shipped hit@1 {totals[0][0]}/{totals[0][2]} hit@3 {totals[0][1]}/{totals[0][2]};  reranked "
          f"hit@1 {totals[1][0]}/{totals[1][2]} hit@3 {totals[1][1]}/{totals[1][2]}")
    results["pooled"] = {"shipped": totals[0].tolist(), "reranked": totals[1].tolist()}
    save_results(args.json, results)
    print(f"{time.perf_counter() - began:.0f} s; figures in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
