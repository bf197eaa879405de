"""Timing and memory helpers: medians, percentiles, wall time and peak RSS of processes."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


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


def first_answer_s(
    args: Sequence[str], frame_text: str, question: str, answer_text: str, env: dict[str, str], timeout: float = 120.0
) -> tuple[float, float]:
    """Seconds from starting the app in a 100x30 pseudo-terminal until its first frame
    (`frame_text` drawn), and until a cited answer (`answer_text` drawn) to `question`,
    typed as soon as the frame is there."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios

    began = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes the app
        os.execve(sys.executable, [sys.executable, *args], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    seen, frame = "", None
    try:
        while True:
            if time.perf_counter() - began > timeout:
                raise RuntimeError(f"{answer_text!r} was not drawn within {timeout} s")
            if select.select([fd], [], [], 0.05)[0]:
                seen += os.read(fd, 65536).decode("utf-8", "replace")
            if frame is None and frame_text in seen:
                frame = time.perf_counter() - began
                seen = ""
                os.write(fd, question.encode() + b"\r")
            elif frame is not None and answer_text in seen:
                return frame, time.perf_counter() - began
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def quit_s(args: Sequence[str], ready_text: str, env: dict[str, str], timeout: float = 120.0) -> float:
    """Seconds from ctrl+q until the app's process has ended, pressed once `ready_text` is
    drawn (the app started in a 100x30 pseudo-terminal)."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios

    began = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes the app
        os.execve(sys.executable, [sys.executable, *args], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    seen, pressed = "", None
    try:
        while True:
            if time.perf_counter() - began > timeout:
                raise RuntimeError(f"the app did not {'quit' if pressed else 'draw ' + repr(ready_text)} within {timeout} s")
            if pressed is not None and os.waitpid(pid, os.WNOHANG)[0]:
                pid = 0
                return time.perf_counter() - pressed
            try:
                if select.select([fd], [], [], 0.01)[0]:
                    seen += os.read(fd, 65536).decode("utf-8", "replace")
            except OSError:  # the terminal closed with the process
                pass
            if pressed is None and ready_text in seen:
                os.write(fd, b"\x11")  # ctrl+q
                pressed = time.perf_counter()
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
