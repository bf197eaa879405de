"""The passages of an index, read from disk when asked for, not held as Python objects.

`passages.jsonl` holds one passage per line (line i describes vector i); `passages.rows.npy`
says where each line begins, how many unit vectors the passage owns and the line's CRC-32.
An answering process reads only the lines of the passages it returns (one positioned
read each, qa.indexfiles.ondisk) and parses them, so a million passages cost the operating system's
page cache, not the process's memory.

A file up to CHECK_ALL_BYTES is checked whole when the index opens (its SHA-256 against
the manifest, every line parsed); a larger one line by line as lines are read (CRC-32),
so that opening stays fast however large the corpus.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from qa.errors import IndexCorruptError
from qa.indexfiles.ondisk import FileBytes

if TYPE_CHECKING:
    import numpy as np

    from qa.indexfiles.manifest import Manifest

PASSAGES = "passages.jsonl"
ROWS = "passages.rows.npy"
CHECK_ALL_BYTES = 32 * 2**20
CACHED = 4096  # parsed passages kept: those of the last questions, and their neighbours


@dataclass(frozen=True)
class PassageRecord:
    """One line of passages.jsonl."""

    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    text: str
    page: int | None = None
    sentences: int = 0  # rows of sentences.npy that belong to this passage
    headings: tuple[str, ...] = ()  # the path of headings above the passage
    clean: str | None = None  # what is embedded and indexed, when it differs from `text`
    # Sentences, table rows and code blocks: (start, end, is_code) within `text`.
    units: tuple[tuple[int, int, int], ...] = ()


def record_json(record: PassageRecord) -> dict[str, Any]:
    """A passage as one line of passages.jsonl; fields at their defaults are left out."""
    data = vars(record)
    return {k: v for k, v in data.items() if k in _REQUIRED or v not in (None, (), 0)}


_REQUIRED = frozenset({"source", "start", "end", "line_start", "line_end", "text"})


def write_passages(folder: Path, records: Sequence[PassageRecord]) -> bytes:
    """Write passages.jsonl and its rows file into `folder`; returns the JSONL bytes (to checksum)."""
    import numpy as np

    lines = [(json.dumps(record_json(r), ensure_ascii=False) + "\n").encode("utf-8") for r in records]
    rows = np.zeros((len(lines), 3), dtype=np.int64)
    offset = 0
    for i, (line, record) in enumerate(zip(lines, records)):
        rows[i] = (offset, record.sentences, zlib.crc32(line))
        offset += len(line)
    data = b"".join(lines)
    (folder / PASSAGES).write_bytes(data)
    np.save(folder / ROWS, rows, allow_pickle=False)
    return data


def parse_line(line: bytes, number: int, path: Path) -> PassageRecord:
    """One line of passages.jsonl as a checked record. Raises IndexCorruptError."""
    try:
        d = json.loads(line)
        record = PassageRecord(
            str(d["source"]), int(d["start"]), int(d["end"]), int(d["line_start"]),
            int(d["line_end"]), str(d["text"]), None if d.get("page") is None else int(d["page"]),
            int(d.get("sentences", 0)),
            tuple(str(h) for h in d.get("headings") or ()),
            None if d.get("clean") is None else str(d["clean"]),
            tuple((int(u[0]), int(u[1]), int(u[2])) for u in d.get("units") or ()),
        )
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise IndexCorruptError(path, f"line {number} is not a valid passage ({e})") from None
    if (
        record.end - record.start != len(record.text) or record.line_start > record.line_end or record.sentences < 0
        or any(not 0 <= s < e <= len(record.text) for s, e, _ in record.units)
    ):
        raise IndexCorruptError(path, f"line {number} has offsets that do not fit its text")
    return record


class PassageTable(Sequence[PassageRecord]):
    """The passages of one generation, in vector order; `table[i]` reads line i from disk.

    `sentence_counts[i]` is passage i's number of unit vectors, held as one array.
    """

    def __init__(self, path: Path, data: bytes | FileBytes, starts: np.ndarray, counts: np.ndarray, crcs: np.ndarray | None) -> None:
        self.path = path
        self._data = data
        self._starts = starts  # n + 1 byte offsets: line i is data[starts[i]:starts[i + 1]]
        self.sentence_counts = counts
        self._crcs = crcs  # None when every line was checked at open
        self._read = lru_cache(maxsize=CACHED)(self._parse)

    def __len__(self) -> int:
        return len(self.sentence_counts)

    @overload
    def __getitem__(self, row: int) -> PassageRecord: ...

    @overload
    def __getitem__(self, row: slice) -> list[PassageRecord]: ...

    def __getitem__(self, row: int | slice) -> PassageRecord | list[PassageRecord]:
        if isinstance(row, slice):
            return [self._read(i) for i in range(*row.indices(len(self)))]
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self._read(int(row))

    def __iter__(self) -> Iterator[PassageRecord]:
        for row in range(len(self)):
            yield self._parse(row)  # a pass over every passage (a build) leaves the cache alone

    def _parse(self, row: int) -> PassageRecord:
        line = self._data[int(self._starts[row]) : int(self._starts[row + 1])]
        if self._crcs is not None and zlib.crc32(line) != int(self._crcs[row]):
            raise IndexCorruptError(self.path, f"line {row + 1} was changed after qa wrote it (its CRC-32 is not the one recorded)")
        record = parse_line(line, row + 1, self.path)
        if record.sentences != int(self.sentence_counts[row]):
            raise IndexCorruptError(self.path, f"line {row + 1} disagrees with {ROWS} on its sentence count")
        return record


def read_passages(folder: Path, manifest: Manifest) -> PassageTable:
    """Open passages.jsonl and its rows file, checked against the manifest (whole when
    small, line by line as read when large). Raises IndexCorruptError."""
    import numpy as np

    path = folder / PASSAGES
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            data: bytes | FileBytes = f.read() if size <= CHECK_ALL_BYTES else FileBytes(path)
    except FileNotFoundError:
        raise IndexCorruptError(path, "the passages file is missing") from None
    except OSError as e:
        raise IndexCorruptError(path, f"unreadable ({e})") from None
    rows = _read_rows(folder, manifest, size)
    if rows is None or isinstance(data, bytes):  # small, or format 3 (no rows): check it all now
        return _checked_whole(path, data if isinstance(data, bytes) else data[0 : len(data)], manifest, rows)
    starts = np.append(rows[:, 0], size)
    if len(rows) != manifest.passages:
        raise IndexCorruptError(folder / ROWS, f"it holds {len(rows)} rows, the manifest says {manifest.passages}")
    if len(rows) and (rows[0, 0] != 0 or (np.diff(starts) <= 0).any()):
        raise IndexCorruptError(folder / ROWS, "its line offsets do not fit the passages file")
    return PassageTable(path, data, starts, _counts(folder, manifest, rows[:, 1]), rows[:, 2])


def _read_rows(folder: Path, manifest: Manifest, size: int) -> np.ndarray | None:
    """The rows file (memory-mapped), or None for an index of format 3 (it had none)."""
    import numpy as np

    path = folder / ROWS
    if manifest.format_version < 4 and not path.exists():
        return None
    try:
        rows = np.load(path, mmap_mode="r" if size > CHECK_ALL_BYTES else None, allow_pickle=False)
    except FileNotFoundError:
        raise IndexCorruptError(path, "the file of passage rows is missing") from None
    except Exception as e:  # noqa: BLE001  (numpy raises many kinds on damaged files)
        raise IndexCorruptError(path, f"the file of passage rows is damaged ({type(e).__name__}: {e})") from None
    if not isinstance(rows, np.ndarray) or rows.ndim != 2 or rows.shape[1] != 3 or rows.dtype != np.int64:
        raise IndexCorruptError(path, "it does not hold one table of passage rows")
    return rows


def _checked_whole(path: Path, data: bytes, manifest: Manifest, rows: np.ndarray | None) -> PassageTable:
    import numpy as np

    from qa.files import sha256

    if manifest.passages_sha256 is not None and sha256(data) != manifest.passages_sha256:
        raise IndexCorruptError(path, "it was changed after qa wrote it (its checksum is not the manifest's)")
    starts, counts, offset = [], [], 0
    for number, line in enumerate(data.splitlines(keepends=True), 1):
        record = parse_line(line, number, path)
        starts.append(offset)
        counts.append(record.sentences)
        offset += len(line)
    if len(starts) != manifest.passages:
        raise IndexCorruptError(path, f"it holds {len(starts)} passages, the manifest says {manifest.passages}")
    found = np.array(starts, dtype=np.int64).reshape(-1)
    sentence_counts = np.array(counts, dtype=np.int64).reshape(-1)
    if rows is not None and (rows.shape[0] != len(found) or not np.array_equal(rows[:, 0], found) or not np.array_equal(rows[:, 1], sentence_counts)):
        raise IndexCorruptError(path.parent / ROWS, "its rows disagree with the passages file")
    return PassageTable(path, data, np.append(found, len(data)), _counts(path.parent, manifest, sentence_counts), None)


def _counts(folder: Path, manifest: Manifest, counts: np.ndarray) -> np.ndarray:
    """Sentence counts, checked: none negative, never exactly one, adding up to the manifest's."""
    import numpy as np

    counts = np.asarray(counts, dtype=np.int64)
    if (counts < 0).any():
        raise IndexCorruptError(folder / PASSAGES, "a passage has a negative sentence count")
    if manifest.format_version >= 2 and (counts == 1).any():
        raise IndexCorruptError(folder / PASSAGES, "a passage claims one sentence vector (only passages of two or more have them)")
    if manifest.format_version < 2 and counts.any():
        raise IndexCorruptError(folder / PASSAGES, "it counts sentence vectors, which an index of format 1 has none of")
    if manifest.format_version >= 2 and int(counts.sum()) != manifest.sentences:
        raise IndexCorruptError(folder / PASSAGES, f"its sentence counts add up to {counts.sum()}, the manifest says {manifest.sentences}")
    return counts
