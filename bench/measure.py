"""Timing and memory helpers: medians, percentiles, wall time and peak RSS of processes; saving figures."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def save_results(path: Path, results: object) -> None:
    """Write a benchmark's figures as JSON (bench/results/...), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, nearest rank (one of the values)."""
    import numpy as np

    return float(np.percentile(values, q, method="inverted_cdf"))


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of durations, in milliseconds."""
    return {"p50_ms": round(statistics.median(seconds) * 1000, 3), "p95_ms": round(percentile(seconds, 95) * 1000, 3)}


def run_python(args: Sequence[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> tuple[float, str]:
    """Run `python ARGS` in a fresh process: (wall seconds, stdout). Raises if it fails."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)[:80]} failed ({done.returncode}): {done.stderr[-800:]}")
    return wall, done.stdout


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB.

    VmHWM where Linux has it: getrusage's ru_maxrss survives exec, so a process started by
    a large parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def app_in_pty(args: Sequence[str], env: dict[str, str]) -> Iterator[_Pty]:
    """`python ARGS` started in a 100x30 pseudo-terminal; killed on leaving, unless ended."""
    import fcntl
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child becomes the app
        os.execve(sys.executable, [sys.executable, *args], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    app = _Pty(pid, fd)
    try:
        yield app
    finally:
        if not app.ended:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


class _Pty:
    """An app in a pseudo-terminal: what it has drawn, and whether it has ended."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd, self.seen, self.ended = pid, fd, "", False

    def read(self, seconds: float) -> None:
        try:
            if select.select([self.fd], [], [], seconds)[0]:
                self.seen += os.read(self.fd, 65536).decode("utf-8", "replace")
        except OSError:  # the terminal closed with the process
            pass

    def has_ended(self) -> bool:
        self.ended = self.ended or bool(os.waitpid(self.pid, os.WNOHANG)[0])
        return self.ended


def first_answer_s(
    args: Sequence[str], frame_text: str, question: str, answer_text: str, env: dict[str, str], timeout: float = 120.0
) -> tuple[float, float]:
    """Seconds from starting the app in a 100x30 pseudo-terminal until its first frame
    (`frame_text` drawn), and until a cited answer (`answer_text` drawn) to `question`,
    typed as soon as the frame is there."""
    began = time.perf_counter()
    frame = None
    with app_in_pty(args, env) as app:
        while time.perf_counter() - began < timeout:
            app.read(0.05)
            if frame is None and frame_text in app.seen:
                frame = time.perf_counter() - began
                app.seen = ""
                os.write(app.fd, question.encode() + b"\r")
            elif frame is not None and answer_text in app.seen:
                return frame, time.perf_counter() - began
    raise RuntimeError(f"{answer_text!r} was not drawn within {timeout} s")


def quit_s(args: Sequence[str], ready_text: str, env: dict[str, str], timeout: float = 120.0) -> float:
    """Seconds from ctrl+q until the app's process has ended, pressed once `ready_text` is
    drawn (the app started in a 100x30 pseudo-terminal)."""
    began = time.perf_counter()
    pressed = None
    with app_in_pty(args, env) as app:
        while time.perf_counter() - began < timeout:
            if pressed is not None and app.has_ended():
                return time.perf_counter() - pressed
            app.read(0.01)
            if pressed is None and ready_text in app.seen:
                os.write(app.fd, b"\x11")  # ctrl+q
                pressed = time.perf_counter()
    raise RuntimeError(f"the app did not {'quit' if pressed else 'draw ' + repr(ready_text)} within {timeout} s")
