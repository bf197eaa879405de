"""The errors a user of qa can meet, each worded to say what to do next.

The CLI prints them as one line on stderr; the app shows them in the transcript.
Anything that is not a `QAError` is a bug, not a user error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class QAError(Exception):
    """Base class for every error qa raises on purpose."""


class EmptyQuestionError(QAError, ValueError):
    """The question was empty or only whitespace."""

    def __init__(self) -> None:
        super().__init__("the question is empty: type a question, e.g. qa ask \"who signed the letter?\"")


class SeedsError(QAError):
    """The documents folder is missing or holds nothing readable."""


class NoDocumentsError(SeedsError):
    """The documents folder is there, but holds no document qa can read (yet)."""

    def __init__(self, folder: Path, formats: str) -> None:
        self.folder = folder
        self.formats = formats
        super().__init__(f"no readable documents in {folder}: add {formats} files")


class ModelError(QAError):
    """The embedding model is missing, unreadable or fails its checksum."""


class IndexCorruptError(QAError):
    """An index on disk cannot be read or does not describe itself correctly."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        super().__init__(f"cannot read the index at {self.path}: {problem}; rebuild it with: qa index --rebuild")


class PathError(QAError):
    """A folder qa needs cannot be created, read or written (or is a file)."""


def make_folder(path: Path, what: str, hint: str) -> Path:
    """Create `path` (and its parents) if missing; a path that cannot serve as a folder is
    a PathError naming it, the reason and what to do (`hint`), never a traceback."""
    if path.exists() and not path.is_dir():
        raise PathError(f"{what} {path} is a file, not a folder: {hint}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PathError(f"cannot create {what} {path}: {e.strerror or e}; {hint}") from None
    return path
