"""The question input: up and down walk through earlier questions."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

from tui.history import InputHistory

PLACEHOLDER = "Ask a question about your documents (/help for commands)"


class QuestionInput(Input):
    """An Input with a history of earlier questions."""

    BINDINGS = [
        Binding("up", "older", "Earlier question", show=False),
        Binding("down", "newer", "Later question", show=False),
    ]

    def __init__(self, history: InputHistory, **kwargs: object) -> None:
        super().__init__(placeholder=PLACEHOLDER, **kwargs)  # type: ignore[arg-type]
        self.history = history

    async def action_submit(self) -> None:
        """Hand over the line and empty the input at once, so typing on is never lost."""
        value = self.value
        self.value = ""
        self.post_message(self.Submitted(self, value))

    def action_older(self) -> None:
        entry = self.history.older()
        if entry is not None:
            self._show(entry)

    def action_newer(self) -> None:
        self._show(self.history.newer())

    def _show(self, text: str) -> None:
        self.value = text
        self.cursor_position = len(text)
