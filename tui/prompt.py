"""The question input: up and down walk through earlier questions; page keys scroll the transcript."""

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
        # Enter typed before the app took the terminal arrives as a line feed (ctrl+j).
        Binding("ctrl+j", "submit", "Ask", show=False),
        # The transcript scrolls from here, so reading never needs the focus moved.
        Binding("pageup", "app.scroll_transcript('page_up')", "Scroll up", show=False),
        Binding("pagedown", "app.scroll_transcript('page_down')", "Scroll down", show=False),
        Binding("ctrl+home", "app.scroll_transcript('home')", "Transcript start", show=False),
        Binding("ctrl+end", "app.scroll_transcript('end')", "Transcript end", show=False),
        # Tab goes to the citations of the latest answer: tab, then enter, opens its source.
        Binding("tab", "app.to_citations", "Citations", show=False),
    ]

    def __init__(self, history: InputHistory, **kwargs: object) -> None:
        # Coming back to a half-typed question must not select it (the next key would replace it).
        super().__init__(placeholder=PLACEHOLDER, select_on_focus=False, **kwargs)  # type: ignore[arg-type]
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
