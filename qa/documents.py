"""Finding and reading documents: one small loader per format.

A loader turns a file's bytes into text. The text is what passages index into
(`text[start:end] == passage.text`), so every reader of a document, the app's source
panel included, must go through `read_document`.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.notices import warn

_BINARY_SNIFF = 8192
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class DocumentFile:
    """A file found under the seeds folder, before it is read."""

    source: str  # path relative to the seeds folder, with forward slashes
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Document:
    """A document's text and what the chunker needs to know about its format."""

    source: str
    text: str
    format: str  # "text" or "markdown"


class UnreadableDocument(Exception):
    """A file that is skipped, with the reason shown to the user."""


def decode(data: bytes) -> str:
    """Bytes to text: a BOM decides the encoding, else UTF-8 with undecodable bytes replaced.

    Raises:
        UnreadableDocument: the bytes look binary (a NUL byte without a UTF-16/32 BOM).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if b"\x00" in data[:_BINARY_SNIFF]:
        raise UnreadableDocument("binary content")
    return data.decode("utf-8", errors="replace")


def _load_plain(source: str, data: bytes) -> Document:
    return Document(source, decode(data), "text")


def _load_markdown(source: str, data: bytes) -> Document:
    return Document(source, decode(data), "markdown")


LOADERS: dict[str, Callable[[str, bytes], Document]] = {
    ".txt": _load_plain,
    ".text": _load_plain,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
}


def find_documents(seeds_dir: Path, *, on_skip: Callable[[str], None] = warn) -> list[DocumentFile]:
    """Every readable document under `seeds_dir`, sorted by source; skipped files get a warning.

    Hidden files and folders, unknown extensions, non-regular files and symlinks that lead
    outside the folder are skipped. Symlinked folders are not followed (no loops). Each
    skip is reported to `on_skip` (default: a one-line warning on stderr).
    """
    root = seeds_dir.resolve()
    found: list[DocumentFile] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: on_skip(f"skipped {e.filename}: {e.strerror}")):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if name.startswith("."):
                on_skip(f"skipped hidden folder {_relative(here / name, root)}")
                dirnames.remove(name)
            elif (here / name).is_symlink():
                on_skip(f"skipped {_relative(here / name, root)}: symlinked folders are not followed")
                dirnames.remove(name)
        dirnames.sort()
        for name in sorted(filenames):
            entry = _document_file(here / name, root, on_skip)
            if entry is not None:
                found.append(entry)
    return sorted(found, key=lambda f: f.source)


def _document_file(path: Path, root: Path, on_skip: Callable[[str], None]) -> DocumentFile | None:
    source = _relative(path, root)
    if path.name.startswith("."):
        on_skip(f"skipped hidden file {source}")
        return None
    if path.suffix.lower() not in LOADERS:
        on_skip(f"skipped {source}: unknown file type (qa reads {', '.join(sorted(LOADERS))})")
        return None
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            on_skip(f"skipped {source}: broken or looping symlink")
            return None
        if not target.is_relative_to(root):
            on_skip(f"skipped {source}: symlink points outside the documents folder")
            return None
    try:
        info = path.stat()
    except OSError as e:
        on_skip(f"skipped {source}: {e.strerror}")
        return None
    if not stat.S_ISREG(info.st_mode):
        on_skip(f"skipped {source}: not a regular file")
        return None
    return DocumentFile(source, path, info.st_size, info.st_mtime_ns)


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def read_bytes(file: DocumentFile) -> bytes:
    """The file's bytes. Raises UnreadableDocument (permission, vanished file)."""
    try:
        return file.path.read_bytes()
    except OSError as e:
        raise UnreadableDocument(e.strerror or str(e)) from None


def load_document(source: str, data: bytes) -> Document:
    """Parse bytes with the loader for the file's extension. Raises UnreadableDocument."""
    return LOADERS[Path(source).suffix.lower()](source, data)


def read_document(path: str | os.PathLike[str]) -> str:
    """The text of a document exactly as indexed: offsets in passages point into this string."""
    path = Path(path)
    data = path.read_bytes()
    return load_document(path.name, data).text
