"""Files mapped into memory, read as an answering process reads them."""

from __future__ import annotations

import mmap
from typing import Any


def read_at_random(mapped: Any) -> None:
    """Tell the OS that a mapped file (an mmap, or a numpy memmap) is read a few rows at a
    time, at random. Without it each row read pulls in the pages around it too: 300
    questions on a million passages held 1.4 GB of the 1.5 GB of exact vectors, though
    they read 0.2 GB of rows (bench.scale)."""
    mapped = getattr(mapped, "_mmap", mapped)  # numpy's memmap keeps its mmap there
    if isinstance(mapped, mmap.mmap) and hasattr(mmap, "MADV_RANDOM"):  # not on Windows
        mapped.madvise(mmap.MADV_RANDOM)
