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
# The largest file read. Embedding runs at tens of passages a second on a laptop, so a
# file of this size already takes most of an hour; anything larger is almost always a
# data dump or a log, not prose, and reading it whole would hold the memory too.
MAX_DOCUMENT_BYTES = 20_000_000
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
    format: str  # "text", "markdown" (Markdown, and HTML and Word written as Markdown) or "pdf"
    warning: str | None = None  # read, but not cleanly (undecodable bytes replaced)
    # Paged formats: where each page starts in `text`, and the part of each page that
    # passages are cut from (without running headers and footers).
    pages: tuple[int, ...] = ()
    bodies: tuple[tuple[int, int], ...] = ()


class UnreadableDocument(Exception):
    """A file that is skipped, with the reason shown to the user."""


def decode(data: bytes) -> tuple[str, str | None]:
    """Bytes to text: a BOM decides the encoding, else UTF-8 with undecodable bytes replaced.

    Returns the text and, when bytes had to be replaced, a warning saying where.

    Raises:
        UnreadableDocument: the bytes look binary (a NUL byte without a UTF-16/32 BOM).
    """
    encoding = next((encoding for bom, encoding in _BOMS if data.startswith(bom)), None)
    if encoding is None and b"\x00" in data[:_BINARY_SNIFF]:
        raise UnreadableDocument("binary content (or UTF-16 without a byte-order mark)")
    if encoding is None and _mostly_not_text(data[:_BINARY_SNIFF]):
        raise UnreadableDocument("binary content (most of its first bytes are neither UTF-8 text nor line breaks)")
    encoding = encoding or "utf-8"
    try:
        return data.decode(encoding), None
    except UnicodeDecodeError as e:
        return data.decode(encoding, errors="replace"), f"not valid {encoding.upper()} from byte {e.start}; undecodable bytes read as \ufffd"


def _mostly_not_text(sample: bytes) -> bool:
    """Whether over a third of what `sample` decodes to is undecodable bytes or control
    characters other than whitespace and ESC: random bytes, compressed data. Text in
    another 8-bit encoding (Latin-1, say) has an undecodable byte per accented letter,
    a few in a hundred, and is read with a warning instead."""
    text = sample.decode("utf-8", errors="replace")
    if len(text) < 16:  # too little to tell ("\xe9t\xe9" is Latin-1 for "été")
        return False
    odd = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f\v\x1b"))
    return odd * 3 > len(text)


def _load_plain(source: str, data: bytes) -> Document:
    text, warning = decode(data)
    return Document(source, text, "text", warning)


def _load_markdown(source: str, data: bytes) -> Document:
    text, warning = decode(data)
    return Document(source, text, "markdown", warning)


def _load_pdf(source: str, data: bytes) -> Document:
    from qa.formats.pdf import PdfUnreadable, read_pdf

    try:
        paged = read_pdf(data)
    except PdfUnreadable as e:
        raise UnreadableDocument(str(e)) from None
    return Document(source, paged.text, "pdf", pages=paged.starts, bodies=paged.bodies)


def _load_html(source: str, data: bytes) -> Document:
    from qa.formats.html_text import HtmlUnreadable, html_to_markdown

    text, warning = decode(data)
    try:
        return Document(source, html_to_markdown(text), "markdown", warning)
    except HtmlUnreadable as e:
        raise UnreadableDocument(str(e)) from None


def _load_docx(source: str, data: bytes) -> Document:
    from qa.formats.word import WordUnreadable, docx_to_markdown

    try:
        return Document(source, docx_to_markdown(data), "markdown")
    except WordUnreadable as e:
        raise UnreadableDocument(str(e)) from None


LOADERS: dict[str, Callable[[str, bytes], Document]] = {
    ".txt": _load_plain,
    ".text": _load_plain,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".pdf": _load_pdf,
    ".html": _load_html,
    ".htm": _load_html,
    ".docx": _load_docx,
}
# The formats as a person is told them: each loader once, by its usual suffix.
FORMATS = ".txt, .md, .pdf, .html or .docx"


def find_documents(seeds_dir: Path, *, on_skip: Callable[[str], None] = warn) -> list[DocumentFile]:
    """Every readable document under `seeds_dir`, sorted by source; skipped files get a warning.

    Hidden files and folders, unknown extensions, non-regular files, files over
    MAX_DOCUMENT_BYTES and symlinks that lead outside the folder are skipped. Symlinked
    folders are not followed (no loops). Folders are walked without recursion, so any
    depth the file system allows is fine. Each skip is reported to `on_skip` (default: a
    one-line warning on stderr).
    """
    root = seeds_dir.resolve()
    found: list[DocumentFile] = []
    pending = [root]
    while pending:
        here = pending.pop()
        try:
            with os.scandir(here) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as e:
            on_skip(f"skipped {_relative(here, root)}: {e.strerror}")
            continue
        folders = []
        for entry in entries:
            path = here / entry.name
            try:
                is_folder = entry.is_dir()  # follows a symlink, as the checks below need
            except OSError:
                is_folder = False
            if is_folder and entry.name.startswith("."):
                on_skip(f"skipped hidden folder {_relative(path, root)}")
            elif is_folder and entry.is_symlink():
                on_skip(f"skipped {_relative(path, root)}: symlinked folders are not followed")
            elif is_folder:
                folders.append(path)
            else:
                document = _document_file(path, root, on_skip)
                if document is not None:
                    found.append(document)
        pending.extend(reversed(folders))  # popped in name order, so warnings come in order
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
    if info.st_size > MAX_DOCUMENT_BYTES:
        on_skip(
            f"skipped {source}: {info.st_size / 1e6:.0f} MB, over the {MAX_DOCUMENT_BYTES // 10**6} MB qa reads from one file"
            " (split it into smaller files to index it)"
        )
        return None
    return DocumentFile(source, path, info.st_size, info.st_mtime_ns)


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def read_bytes(file: DocumentFile) -> bytes:
    """The file's bytes. Raises UnreadableDocument (permission, vanished file)."""
    try:
        return file.path.read_bytes()
    except FileNotFoundError:
        raise UnreadableDocument("it was deleted while indexing") from None
    except OSError as e:
        raise UnreadableDocument(e.strerror or str(e)) from None


# Files whose lines are the lines qa cites (an editor can open them at a passage's line);
# the others (PDF, HTML, Word) are read into a text of qa's own and open in a viewer.
TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})


def load_document(source: str, data: bytes) -> Document:
    """Parse bytes with the loader for the file's extension. Raises UnreadableDocument
    (an unknown extension included)."""
    loader = LOADERS.get(Path(source).suffix.lower())
    if loader is None:
        raise UnreadableDocument(f"unknown file type (qa reads {', '.join(sorted(LOADERS))})")
    return loader(source, data)


def read_document(path: str | os.PathLike[str]) -> str:
    """The text of a document exactly as indexed: offsets in passages point into this string."""
    path = Path(path)
    data = path.read_bytes()
    return load_document(path.name, data).text
