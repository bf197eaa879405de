"""Questions asked before, kept across sessions in the user's data directory."""

from __future__ import annotations

import json
from pathlib import Path

from qa.files import write_atomic

LIMIT = 1000


def data_dir() -> Path:
    """Where the app keeps its data: $XDG_DATA_HOME/qa, else ~/.local/share/qa on Linux;
    the platform's own on macOS and Windows."""
    import platformdirs

    return Path(platformdirs.user_data_dir("qa", appauthor=False))


def history_file() -> Path:
    """The input history: one JSON string per line, oldest first."""
    return data_dir() / "history.jsonl"


class InputHistory:
    """Earlier questions, browsed newest first with `older` and `newer`.

    Reading or writing the file never fails the app: an unreadable line is skipped and
    an unwritable file only means the history is not kept.
    """

    def __init__(self, path: Path | None = None, limit: int = LIMIT) -> None:
        self.path = path
        self.limit = limit
        self.entries: list[str] = self._load()
        self._cursor = len(self.entries)

    def _load(self) -> list[str]:
        if self.path is None:
            return []
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        entries = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, str) and entry.strip():
                entries.append(entry)
        return entries[-self.limit :]

    def add(self, question: str) -> None:
        """Remember a question (not twice in a row) and go back to the end of the list."""
        if question.strip() and (not self.entries or self.entries[-1] != question):
            self.entries.append(question)
            self._save(question)
        self._cursor = len(self.entries)

    def _save(self, question: str) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if len(self.entries) > self.limit:
                self.entries = self.entries[-self.limit :]
                text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in self.entries)
                write_atomic(self.path, text)
            else:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(question, ensure_ascii=False) + "\n")
        except OSError:
            pass

    def older(self) -> str | None:
        """The question before the current one, or None at the oldest."""
        if self._cursor == 0:
            return None
        self._cursor -= 1
        return self.entries[self._cursor]

    def newer(self) -> str:
        """The question after the current one; "" past the newest (a fresh line)."""
        self._cursor = min(self._cursor + 1, len(self.entries))
        return self.entries[self._cursor] if self._cursor < len(self.entries) else ""
