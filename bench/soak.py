"""Soak: many retrieve() calls in one process, to see memory grow or latency drift.

    python -m bench.soak                  # 10,000 calls on the cached 10k stdlib index
    python -m bench.soak --calls 2000 --index DIR

Every question of the benchmark's sets is asked in turn, one in five with the question
before it as history (a follow-up). After a warm-up, resident memory is read every
tenth of the run; p95 latency is compared between the first and the last tenth.
Targets: RSS growth under 5%, p95 drift under 20% (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.measure import REPO, percentile

RSS_GROWTH_LIMIT = 0.05
P95_DRIFT_LIMIT = 0.20
WARM_UP = 200


def rss_mb() -> float:
    """This process's resident set size now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def soak(index: Path, calls: int, questions: list[str]) -> dict[str, Any]:
    """Ask `calls` questions of `index`, cycling through `questions`; figures as a dict."""
    from qa import retrieve

    def ask(i: int) -> float:
        question = questions[i % len(questions)]
        history = [questions[(i - 1) % len(questions)]] if i % 5 == 4 else []
        began = time.perf_counter()
        retrieve(question, k=5, history=history, index_dir=index)
        return time.perf_counter() - began

    for i in range(WARM_UP):
        ask(i)
    tenth = max(1, calls // 10)
    seconds: list[float] = []
    rss = [rss_mb()]
    for i in range(calls):
        seconds.append(ask(WARM_UP + i))
        if (i + 1) % tenth == 0:
            rss.append(rss_mb())
    first, last = seconds[:tenth], seconds[-tenth:]
    out: dict[str, Any] = {
        "index": str(index),
        "calls": calls,
        "questions": len(questions),
        "rss_mb": [round(r, 1) for r in rss],
        "rss_growth": round(rss[-1] / rss[0] - 1, 4),
        "p50_ms": round(statistics.median(seconds) * 1000, 2),
        "p95_first_ms": round(percentile(first, 95) * 1000, 2),
        "p95_last_ms": round(percentile(last, 95) * 1000, 2),
    }
    out["p95_drift"] = round(out["p95_last_ms"] / out["p95_first_ms"] - 1, 4)
    out["ok"] = out["rss_growth"] < RSS_GROWTH_LIMIT and out["p95_drift"] < P95_DRIFT_LIMIT
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000, help="retrieve() calls after the warm-up (default 10,000)")
    parser.add_argument("--index", type=Path, help="the index to ask (default: the cached 10k stdlib index)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "soak.json", help="where to write the figures")
    args = parser.parse_args(argv)
    if args.calls < 10:
        parser.error("--calls must be at least 10")
    for name in ("QA_SEEDS", "QA_INDEX", "QA_MODEL"):
        os.environ.pop(name, None)
    import torch  # noqa: F401  (before faiss, as qa does)

    from bench.questions import query_texts

    if args.index is None:
        from bench.corpus import prepare

        args.index = prepare({"10k": 10_000})["10k"][1]
    began = time.perf_counter()
    figures = soak(args.index, args.calls, query_texts())
    figures["seconds"] = round(time.perf_counter() - began, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"soak: {figures['calls']} retrieve() calls on {figures['index']} in {figures['seconds']} s, p50 {figures['p50_ms']} ms")
    print(f"  RSS {figures['rss_mb'][0]} -> {figures['rss_mb'][-1]} MB ({figures['rss_growth']:+.1%}; limit +{RSS_GROWTH_LIMIT:.0%})")
    print(f"  p95 first tenth {figures['p95_first_ms']} ms, last tenth {figures['p95_last_ms']} ms"
          f" ({figures['p95_drift']:+.1%}; limit +{P95_DRIFT_LIMIT:.0%})")
    print(f"  {'within both limits' if figures['ok'] else 'OUTSIDE A LIMIT'}; figures written to {args.json}")
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
