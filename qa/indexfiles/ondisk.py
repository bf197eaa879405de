"""Large index files read a piece at a time with positioned reads, not mapped into memory.

A question reads a few hundred rows scattered over files of gigabytes. Mapped, each row
read brought a whole run of the file's cached pages into the process (the kernel maps
page-cache folios whole, and MADV_RANDOM did not change it): 300 questions on a million
passages held 1.4 GB of the 1.5 GB exact vectors for 0.2 GB of rows read, and 1,024 rows
cost 2.4 ms. Read with pread they cost 1.7 ms and hold only what they return (bench.scale).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class FileBytes:
    """A file's bytes, read on demand: `data[start:stop]` is one positioned read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("rb", buffering=0)
        self._size = os.fstat(self._file.fileno()).st_size
        self._lock = threading.Lock()  # where there is no pread, seek and read must not interleave

    def __len__(self) -> int:
        return self._size

    def read(self, start: int, size: int) -> bytes:
        """`size` bytes from `start` (fewer at the end of the file)."""
        if hasattr(os, "pread"):
            return os.pread(self._file.fileno(), size, start)
        with self._lock:  # Windows
            self._file.seek(start)
            return self._file.read(size) or b""

    def __getitem__(self, part: slice) -> bytes:
        start, stop, step = part.indices(self._size)
        if step != 1:
            raise ValueError("only contiguous byte ranges are read")
        return self.read(start, max(0, stop - start))

    def close(self) -> None:
        self._file.close()


class Rows:
    """A float32 matrix in a `.npy` file whose rows are read when indexed: `rows[ids]`
    (an array of row numbers), `rows[i]` and `rows[a:b]` return numpy arrays. Runs of
    consecutive rows are read at once."""

    def __init__(self, path: Path, shape: tuple[int, int], offset: int) -> None:
        self.path, self.shape = path, shape
        self._offset, self._row = offset, shape[1] * 4
        self._bytes = FileBytes(path)

    def __len__(self) -> int:
        return self.shape[0]

    def whole(self) -> np.ndarray:
        """Every row, memory-mapped (for a build, which reads them all in order)."""
        import numpy as np

        return np.load(self.path, mmap_mode="r", allow_pickle=False)

    def _run(self, first: int, count: int) -> np.ndarray:
        import numpy as np

        data = self._bytes.read(self._offset + first * self._row, count * self._row)
        if len(data) != count * self._row:
            from qa.errors import IndexCorruptError

            raise IndexCorruptError(self.path, "the file is shorter than its header says")
        return np.frombuffer(data, np.float32).reshape(count, self.shape[1])

    def __getitem__(self, key: int | slice | np.ndarray) -> np.ndarray:
        import numpy as np

        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            whole = self._run(start, max(0, stop - start)) if stop > start else np.zeros((0, self.shape[1]), np.float32)
            return whole[::step] if step != 1 else whole
        if isinstance(key, (int, np.integer)):
            row = int(key) + (self.shape[0] if key < 0 else 0)
            if not 0 <= row < self.shape[0]:
                raise IndexError(key)
            return self._run(row, 1)[0]
        ids = np.asarray(key, dtype=np.int64).ravel()
        if len(ids) and (ids.min() < 0 or ids.max() >= self.shape[0]):
            raise IndexError("row out of range")
        order = np.argsort(ids, kind="stable")
        ordered = ids[order]
        starts = np.flatnonzero(np.diff(ordered, prepend=-2) != 1)  # where each run of consecutive rows begins
        counts = np.diff(np.append(starts, len(ordered)))
        # One read per run, joined: 1,024 scattered rows in 1.4 ms (3.2 ms filling an array run by run).
        data = b"".join([self._bytes.read(self._offset + first * self._row, count * self._row)
                         for first, count in zip(ordered[starts].tolist(), counts.tolist())])
        if len(data) != len(ids) * self._row:
            from qa.errors import IndexCorruptError

            raise IndexCorruptError(self.path, "the file is shorter than its header says")
        out = np.empty((len(ids), self.shape[1]), np.float32)
        out[order] = np.frombuffer(data, np.float32).reshape(len(ids), self.shape[1])
        return out
