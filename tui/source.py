"""The source panel: the whole document (a PDF: the passage's page) with line numbers, the passage highlighted."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static, TextArea
from textual.widgets.text_area import Selection

from qa.formats.documents import TEXT_SUFFIXES
from qa.types import Passage
from tui.literal import literal, visible


def location(text: str, offset: int) -> tuple[int, int]:
    """(row, column), both 0-based, of a character offset in `text`."""
    row = text.count("\n", 0, offset)
    return row, offset - (text.rfind("\n", 0, offset) + 1)


def editor_command(path: Path, line: int) -> list[str] | None:
    """The command that opens `path` at `line` in $VISUAL or $EDITOR, or None if neither is set."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor or not editor.strip():
        return None
    return [*shlex.split(editor), f"+{line}", str(path)]


def viewer_command(path: Path) -> list[str] | None:
    """The command that opens a document that is not text (a PDF): $QA_VIEWER, else the
    system's opener (xdg-open, or open on macOS); None if there is none."""
    viewer = os.environ.get("QA_VIEWER", "").strip()
    if viewer:
        return [*shlex.split(viewer), str(path)]
    opener = shutil.which("xdg-open") or shutil.which("open")
    return [opener, str(path)] if opener else None


def page_text(text: str, page: int | None) -> tuple[str, int]:
    """The text shown for a passage: its page (in a paged document) or the whole text,
    and where that begins in the document's text."""
    if page is None:
        return text, 0
    from qa.formats.pdf import PAGE_BREAK

    pages = text.split(PAGE_BREAK)
    if not 1 <= page <= len(pages):
        return text, 0
    return pages[page - 1], sum(len(p) + len(PAGE_BREAK) for p in pages[: page - 1])


class SourceScreen(Screen[None]):
    """Shows `passage` in its document; escape goes back to the conversation."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("e", "edit", "Open in $EDITOR"),
        Binding("c", "copy", "Copy citation and passage"),
    ]

    def __init__(self, passage: Passage, path: Path) -> None:
        super().__init__()
        self.passage = passage
        self.path = path
        self.line = passage.line_start

    def compose(self) -> ComposeResult:
        yield Static(literal(self.passage.citation), id="source-title")
        yield Static("Reading…", id="source-note")
        yield TextArea(read_only=True, show_line_numbers=True, soft_wrap=True, id="source-text")
        yield Footer()

    def on_mount(self) -> None:
        self._read()

    @work(thread=True, exit_on_error=False)
    def _read(self) -> None:
        from qa.formats.documents import UnreadableDocument, read_document

        try:
            text = read_document(self.path)
        except (OSError, UnreadableDocument, KeyError) as e:
            self.app.call_from_thread(self._show_problem, f"Cannot read {self.path}: {e}")
            return
        self.app.call_from_thread(self._show, text)

    def _show_problem(self, message: str) -> None:
        self.query_one("#source-note", Static).update(literal(message))
        self.query_one("#source-note").add_class("error")

    def _show(self, text: str) -> None:
        p = self.passage
        note = self.query_one("#source-note", Static)
        text, offset = page_text(text, p.page)  # a PDF's passage: its page, lines counted on it
        start = p.start - offset
        if text[start : start + len(p.text)] != p.text:
            found = text.find(p.text)
            if found < 0:
                note.update("The file changed since it was indexed and no longer holds this passage: /reindex to update.")
                note.add_class("error")
                start = -1
            else:
                note.update("The file changed since it was indexed; the passage moved. /reindex to update.")
                start = found
        else:
            note.display = False
        area = self.query_one("#source-text", TextArea)
        area.cursor_blink = False
        area.load_text(visible(text))
        if start >= 0:
            first, last = location(text, start), location(text, start + len(p.text))
            self.line = first[0] + 1
            # The cursor sits at the passage's start, so scrolling to it shows the passage.
            area.selection = Selection(last, first)
            self.call_after_refresh(area.scroll_cursor_visible, center=True, animate=False)
        area.focus()

    def action_close(self) -> None:
        self.dismiss()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(f"{self.passage.citation}\n{self.passage.text}")
        self.notify(f"Copied {visible(self.passage.citation)}", markup=False)

    def action_edit(self) -> None:
        if self.path.suffix.lower() not in TEXT_SUFFIXES:  # PDF, HTML, Word: the system's viewer
            command = viewer_command(self.path)
            if command is None:
                self.notify("Set $QA_VIEWER to open PDF, HTML and Word documents.", severity="warning", markup=False)
                return
        else:
            command = editor_command(self.path, self.line)
        if command is None:
            self.notify("Set $EDITOR (or $VISUAL) to open documents in your editor.", severity="warning", markup=False)
            return
        try:
            with self.app.suspend():
                subprocess.run(command, check=False)
        except OSError as e:
            self.notify(f"Could not start {command[0]}: {e.strerror or e}", severity="error", markup=False)
        except Exception as e:  # noqa: BLE001  (SuspendNotSupported: no terminal to hand over)
            self.notify(f"Cannot open an editor here ({type(e).__name__}).", severity="error", markup=False)
