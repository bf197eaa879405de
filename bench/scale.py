"""`python -m bench.scale [--sizes 16000,100000,1000000]`: the passage store at scale.

What an answering process pays for the passages of a corpus of N passages: the time to
open them and the memory they hold, and the time to read the k passages of an answer,
for the store of format 4 (passages mapped, lines parsed on demand) against the list of
parsed records that format 3 held. The corpus is synthetic, made from the real passages
of the bench's stdlib index cycled with a unique marker in each (no model runs: the
figures are of the store, not of embedding). Each measurement runs in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from bench.corpus import cache_dir

MEASURE = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
folder, mode = Path(sys.argv[1]), sys.argv[2]
from qa.manifest import read_manifest
from qa.passages import PASSAGES, parse_line, read_passages
manifest = read_manifest(folder)
before = rss()
began = time.perf_counter()
if mode == "records":  # what format 3 held: every passage parsed into a record
    passages = [parse_line(line, i, folder / PASSAGES) for i, line in enumerate((folder / PASSAGES).read_bytes().splitlines(), 1)]
else:
    passages = read_passages(folder, manifest)
opened = time.perf_counter() - began
held = rss() - before
rows = np.random.default_rng(0).integers(0, len(passages), size=(200, 5))
times = []
for answer in rows:
    began = time.perf_counter()
    texts = [passages[int(row)].text for row in answer]
    times.append(time.perf_counter() - began)
print(json.dumps({"open_s": round(opened, 3), "held_mb": round(held, 1), "read5_ms": round(float(np.median(times)) * 1000, 3),
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def synthetic(size: int, dest: Path) -> Path:
    """A generation folder of `size` passages cycled from the stdlib index, each marked unique."""
    from qa.manifest import MANIFEST, read_manifest
    from qa.passages import write_passages
    from qa.store import current_generation, open_generation

    folder = dest / f"passages-{size}"
    if (folder / MANIFEST).is_file():
        return folder
    source = current_generation(cache_dir() / "index-all")
    if source is None:
        raise SystemExit("run python -m bench once first: it builds the stdlib index this corpus is made from")
    real = list(open_generation(source).passages)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(size):
        r = real[i % len(real)]
        marker = f" [{i}]"
        records.append(replace(r, source=f"{i // 1000:04d}/{r.source}", text=r.text + marker, end=r.end + len(marker),
                               clean=None if r.clean is None else r.clean + marker))
    manifest = read_manifest(source)
    write_passages(folder, records)
    data = manifest.to_json()
    shaped = json.loads(data)
    shaped.update(passages=size, sentences=sum(r.sentences for r in records), passages_sha256=None, format_version=4,
                  files={"synthetic.txt": {"sha256": "0" * 64, "size": 0, "mtime_ns": 0, "passages": size}}, skipped={})
    (folder / MANIFEST).write_text(json.dumps(shaped), encoding="utf-8")
    return folder


def measure(folder: Path, mode: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", MEASURE, str(folder), mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16000,100000,1000000", help="passage counts, comma-separated")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic corpora in the bench cache")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = cache_dir() / "scale" if args.keep else Path(tmp)
        print(f"{'passages':>10}  {'store':<8} {'open s':>7} {'held MB':>8} {'5 read ms':>9} {'file MB':>8}")
        for size in sizes:
            folder = synthetic(size, root)
            megabytes = (folder / "passages.jsonl").stat().st_size / 2**20
            for mode in ("records", "table"):
                m = measure(folder, mode)
                print(f"{size:>10,}  {mode:<8} {m['open_s']:>7.3f} {m['held_mb']:>8.1f} {m['read5_ms']:>9.3f} {megabytes:>8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
