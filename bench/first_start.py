"""`python -m bench.first_start [--runs N]`: the app's first start on a machine that has never run qa.

Each run starts `qa` in a 100x30 pseudo-terminal with an empty cache folder
(XDG_CACHE_HOME) and no index, on a copy of the seed letter, and types a question as soon
as the first frame is drawn: the first start extracts the bundled model, imports torch to
export the model to ONNX once, embeds the letter and calibrates. Then ctrl+q, timed until
the process has ended. A second start on the same cache and index (what every later
start is) is timed beside it. `--drop-caches` also empties the operating system's file
cache before each first start (Linux, as root), as on a machine just switched on.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.measure import REPO, app_in_pty

LETTER = REPO / "seeds" / "tiktok-2020-community-letter.txt"
QUESTION = "Which charity did #isolationgames raise funds for?"
FRAME = "Ask a question about your documents"
ANSWER = "British Red Cross"


def start(folder: Path, timeout: float = 300) -> dict[str, float]:
    """Seconds to the first frame, to the first cited answer, and from ctrl+q to the end of
    the process, for the app started in `folder` (its seeds/, index/ and cache/)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(TERM="xterm-256color", XDG_CACHE_HOME=str(folder / "cache"), XDG_DATA_HOME=str(folder / "data"))
    args = ["-m", "qa", "--seeds", str(folder / "seeds"), "--index", str(folder / "index")]
    began = time.perf_counter()
    out: dict[str, float] = {}
    with app_in_pty(args, env) as app:
        while time.perf_counter() - began < timeout:
            app.read(0.02)
            if "frame_s" not in out and FRAME in app.seen:
                out["frame_s"] = time.perf_counter() - began
                app.seen = ""
                os.write(app.fd, QUESTION.encode() + b"\r")
            elif "frame_s" in out and ANSWER in app.seen:
                out["answer_s"] = time.perf_counter() - began
                break
        else:
            raise RuntimeError(f"no answer within {timeout} s")
        app.read(0.5)  # what follows the answer on screen
        os.write(app.fd, b"\x11")  # ctrl+q
        pressed = time.perf_counter()
        while not app.has_ended():
            if time.perf_counter() - pressed > 60:
                raise RuntimeError("the app did not quit within 60 s")
            app.read(0.01)
        out["quit_s"] = time.perf_counter() - pressed
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.first_start", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drop-caches", action="store_true", help="empty the OS's file cache before each first start (root)")
    args = parser.parse_args(argv)
    first, later = [], []
    for run in range(args.runs):
        folder = Path(tempfile.mkdtemp(prefix="qa-first-start-"))
        try:
            (folder / "seeds").mkdir()
            shutil.copy(LETTER, folder / "seeds" / LETTER.name)
            if args.drop_caches:
                os.sync()
                Path("/proc/sys/vm/drop_caches").write_text("3\n")
            first.append(start(folder))
            later.append(start(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"run {run + 1}: first start {first[-1]}, second start {later[-1]}", flush=True)
    for label, runs in (("first start, empty cache", first), ("second start", later)):
        medians = {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}
        print(f"{label} (median of {len(runs)}): first frame {medians['frame_s']} s, first cited answer "
              f"{medians['answer_s']} s, ctrl+q to exit {medians['quit_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
