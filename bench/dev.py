"""`python -m bench.dev [--loco]`: the dev question sets, as `qa eval` scores them, in one run.

The three documentation sets in ../shared/data/docs-dev (Cargo, FastAPI, the open-source
guide) with the questions in tests/data, pooled as the targets are stated; then the seed
letter and squad-dev. Each set's index is built (or brought up to date) in the bench
cache. `--loco` also chooses the constants that decide "not sure" (qa.answering.missing's
SPECIFIC_ZIPF and NAME_ZIPF, qa.answering.search's SURE) leave-one-corpus-out: on two documentation
sets (with the seed letter and squad-dev), most near off-topic questions not answered
with no answerable one unsure, then measured on the third.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.corpus import cache_dir
from bench.measure import REPO, save_results

SHARED = REPO.parent / "shared" / "data"
DOCS = {
    "cargo": (SHARED / "docs-dev" / "cargo-book", REPO / "tests" / "data" / "cargo_questions.jsonl"),
    "fastapi": (SHARED / "docs-dev" / "fastapi-tutorial", REPO / "tests" / "data" / "fastapi_questions.jsonl"),
    "opensource": (SHARED / "docs-dev" / "opensource-guide", REPO / "tests" / "data" / "opensource_questions.jsonl"),
}
OTHERS = {
    "seed": (REPO / "seeds", REPO / "tests" / "data" / "seed_questions.jsonl"),
    "squad": (SHARED / "squad-dev" / "corpus", SHARED / "squad-dev" / "questions.jsonl"),
}


def index_for(name: str, seeds: Path) -> Path:
    """The set's index in the bench cache, built or brought up to date."""
    from qa import build_index

    index = cache_dir() / f"dev-{name}"
    build_index(seeds, index)
    return index


def scores(sets: dict[str, tuple[Path, Path]], k: int = 3) -> dict[str, Any]:
    """qa eval's report of each set, and the three documentation sets pooled."""
    from dataclasses import asdict

    from qa.evaluate import evaluate, load_questions

    out: dict[str, Any] = {}
    for name, (seeds, questions) in sets.items():
        out[name] = asdict(evaluate(load_questions(questions), k, index_dir=index_for(name, seeds), sides=False))
    docs = [out[name] for name in DOCS if name in out]
    if docs:
        out["docs pooled"] = pooled(docs)
    return out


def pooled(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """hit@1, hit@k and the answer sentence's rate over the answerable questions of several
    sets, and what became of the near and far off-topic questions."""
    answerable = sum(r["overall"]["answerable"] for r in reports)
    hit1 = sum(round(r["overall"]["hit@1"] * r["overall"]["answerable"]) for r in reports)
    hitk = sum(round(r["overall"]["hit@k"] * r["overall"]["answerable"]) for r in reports)
    sentence = sum(round((r["overall"]["sentence"] or 0) * round(r["overall"]["hit@1"] * r["overall"]["answerable"])) for r in reports)
    out: dict[str, Any] = {
        "answerable": answerable, "hit@1": round(hit1 / answerable, 4), "hit@k": round(hitk / answerable, 4),
        "sentence": round(sentence / max(hit1, 1), 4),
        "answerable not answered": sum(r["overall"]["wrongly_abstained"] for r in reports),
    }
    for kind in ("near_out_of_scope", "far_out_of_scope"):
        kinds = [r["kinds"][kind] for r in reports if kind in r["kinds"]]
        total = sum(f["questions"] for f in kinds)
        out[kind] = {
            "questions": total, "not answered": sum(f["unsure"] + f["not_found"] for f in kinds),
            "refused": sum(f["not_found"] for f in kinds),
        }
    return out


@dataclass
class Case:
    """What decides one question's outcome: whether its best passage clears the bar, by how
    much, and its missing words (Zipf, name)."""

    corpus: str
    kind: str
    answerable: bool
    clears: bool
    evidence: float
    missing: list[tuple[float, bool]]

    def outcome(self, specific_zipf: float, name_zipf: float, sure: float) -> str:
        if not self.clears:
            return "not_found"
        specific = any(z < specific_zipf or (name and z < name_zipf) for z, name in self.missing)
        return "unsure" if specific and self.evidence < sure else "answer"


def cases(sets: dict[str, tuple[Path, Path]]) -> list[Case]:
    """Every question without history, with what decides its outcome (as qa.answering.search.rank decides it)."""
    from qa.answering.missing import missing_words
    from qa.answering.search import get_engine
    from qa.evaluate import load_questions

    out = []
    for name, (seeds, questions) in sets.items():
        engine = get_engine(index_for(name, seeds))
        for q in load_questions(questions):
            if q.history:
                continue
            found = engine.scores([q.q])[0]
            best = found.best()
            if best is None:
                continue
            missing = [(m.zipf, m.name) for m in missing_words(q.q, engine.index.lexical)]
            out.append(Case(name, q.kind, q.expect is not None, best in found.clearing(engine.bar), found.evidence(best, engine.bar), missing))
    return out


GRID = list(itertools.product((1.5, 2.0, 2.5, 3.0), (0.0, 3.0, 3.5, 4.0, 5.0), (1.6, 1.8, 2.0, 2.2, 2.5)))


def loco(all_cases: list[Case]) -> dict[str, Any]:
    """For each documentation set: the constants chosen on the others, and what they do to it."""

    def tally(chosen: list[Case], params: tuple[float, float, float]) -> dict[str, int]:
        outcomes = [(c, c.outcome(*params)) for c in chosen]
        return {
            "answerable": sum(c.answerable for c, _ in outcomes),
            "answerable not answered": sum(c.answerable and o != "answer" for c, o in outcomes),
            "near": sum(c.kind == "near_out_of_scope" for c, _ in outcomes),
            "near not answered": sum(c.kind == "near_out_of_scope" and o != "answer" for c, o in outcomes),
        }

    out: dict[str, Any] = {}
    for held in DOCS:
        train = [c for c in all_cases if c.corpus != held]

        def key(params: tuple[float, float, float]) -> tuple[bool, int, float]:
            t = tally(train, params)
            return (t["answerable not answered"] <= 1, t["near not answered"], -params[2])

        params = max(GRID, key=key)
        out[held] = {"chosen": params, "trained on": tally(train, params), "held out": tally([c for c in all_cases if c.corpus == held], params)}
    return out


def peer() -> dict[str, Any]:
    """LlamaIndex's hit@1 and hit@3 on each documentation set and pooled, beside ours (bench.llamaindex)."""
    from bench import llamaindex
    from qa.evaluate import load_questions

    if not llamaindex.available():
        print(f"peer: {llamaindex.MISSING}", file=sys.stderr)
        return {}
    out: dict[str, Any] = {}
    for name, (seeds, path) in DOCS.items():
        questions = load_questions(path)
        out[name] = llamaindex.hits(questions, llamaindex.ranked(seeds, questions))
        print(f"LlamaIndex {name:<11} hit@1 {out[name]['hit@1']}  hit@3 {out[name]['hit@3']}", flush=True)
    answerable = sum(f["answerable"] for f in out.values())
    out["docs pooled"] = {
        key: round(sum(f[key] * f["answerable"] for f in out.values()) / answerable, 4) for key in ("hit@1", "hit@3")
    }
    print(f"LlamaIndex docs pooled  hit@1 {out['docs pooled']['hit@1']}  hit@3 {out['docs pooled']['hit@3']}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dev", description=__doc__.splitlines()[0])
    parser.add_argument("--loco", action="store_true", help="also choose the 'not sure' constants leave-one-corpus-out")
    parser.add_argument("--peer", action="store_true", help="also run LlamaIndex's no-LLM pipeline on the documentation sets")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "dev.json")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    sets = {**DOCS, **OTHERS}
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "sets": scores(sets)}
    for name, report in results["sets"].items():
        overall = report.get("overall", report)
        print(f"{name:<12} hit@1 {overall['hit@1']}  hit@3 {overall['hit@k']}  sentence {overall['sentence']}", end="")
        if name == "docs pooled":
            print(f"  near not answered {overall['near_out_of_scope']['not answered']}/{overall['near_out_of_scope']['questions']}"
                  f"  far refused {overall['far_out_of_scope']['refused']}/{overall['far_out_of_scope']['questions']}"
                  f"  answerable not answered {overall['answerable not answered']}")
        else:
            print(f"  answered/unsure/refused {overall['answer']}/{overall['unsure']}/{overall['not_found']}")
    if args.peer:
        results["peer"] = peer()
    if args.loco:
        results["loco"] = loco(cases(sets))
        for held, figures in results["loco"].items():
            print(f"held out {held}: constants {figures['chosen']} (SPECIFIC_ZIPF, NAME_ZIPF, SURE); held-out near off-topic not "
                  f"answered {figures['held out']['near not answered']}/{figures['held out']['near']}, answerable not answered "
                  f"{figures['held out']['answerable not answered']}/{figures['held out']['answerable']}")
    save_results(args.json, results)
    print(f"{time.perf_counter() - began:.0f} s; figures in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
