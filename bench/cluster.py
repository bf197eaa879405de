"""`python -m bench.cluster [--runs 2]`: `qa index --ray` on a local Ray runtime against `qa index`.

Both build the bench's 1k stdlib corpus (about 1,000 passages and 1,500 sentences) from
nothing, each in a fresh `qa index` process, the Ray one starting its runtime on this
machine's cores (an actor per core, each loading the model). Then the two indexes are
compared: the same passages, byte for byte, and the largest difference between vectors.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import cache_dir, prepare
from bench.measure import REPO, run_python, save_results


def compare(local: Path, clustered: Path) -> dict[str, float | bool]:
    """Whether two indexes hold the same passages, and how far apart their vectors are."""
    import numpy as np

    from qa.indexfiles.passages import PASSAGES
    from qa.indexfiles.store import open_index

    one, two = open_index(local), open_index(clustered)
    same = (one.folder / PASSAGES).read_bytes() == (two.folder / PASSAGES).read_bytes()
    return {
        "same_passages": same and one.manifest.passages == two.manifest.passages,
        "passages": one.manifest.passages,
        "sentences": one.manifest.sentences,
        "max_vector_difference": float(np.abs(one.passage_vectors() - two.passage_vectors()).max()),
        "max_sentence_difference": float(np.abs(one.sentence_vectors() - two.sentence_vectors()).max()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="builds of each kind (the median is reported)")
    args = parser.parse_args(argv)
    seeds = prepare({"1k": 1_000}, progress=False)["1k"][0]
    results: dict[str, object] = {"date": time.strftime("%Y-%m-%d"), "seeds": str(seeds)}
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        walls: dict[str, list[float]] = {"local": [], "ray": []}
        for run in range(args.runs):
            for kind, extra in (("local", []), ("ray", ["--ray"])):
                index = Path(tmp) / f"{kind}-{run}"
                wall, _ = run_python(["-m", "qa", "index", "--seeds", str(seeds), "--index", str(index), *extra], cwd=REPO)
                walls[kind].append(wall)
                print(f"{kind:<6} build {run + 1}: {wall:6.1f} s", flush=True)
        results.update({f"{kind}_s": round(statistics.median(w), 1) for kind, w in walls.items()})
        results["ratio"] = round(statistics.median(walls["ray"]) / statistics.median(walls["local"]), 2)
        results.update(compare(Path(tmp) / "local-0", Path(tmp) / "ray-0"))
    print(json.dumps(results, indent=2))
    out = REPO / "bench" / "results" / "cluster.json"
    save_results(out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
