"""The messages of the conversation: questions, answers with cited passages, notes."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from qa.indexfiles.lexical import matched_spans
from qa.types import MAX_QUESTION_CHARS, NOT_FOUND, NOT_SURE, UNSURE, Passage, Reply, never_mentioned
from tui.literal import emphasised, literal, literal_line

NOT_FOUND_HINT = "Nothing in them is close enough to answer it. Try other words, or ask about something they cover."
UNSURE_HINT = "The closest passages follow; they may be unrelated."
NEARBY_TITLE = "Nearest passages (low relevance, not an answer)"
BELOW_BAR_TITLE = "More passages, below the relevance bar (not an answer)"
RELEVANCE_STEPS = 5
# A fused score of this much or more fills the relevance bar (see docs/quality.md, "Scores").
FULL_RELEVANCE = 0.8


def relevance_bar(score: float) -> str:
    """A small bar for a fused score in [0, 1], e.g. ●●●○○."""
    filled = max(0, min(RELEVANCE_STEPS, round(score / FULL_RELEVANCE * RELEVANCE_STEPS)))
    return "●" * filled + "○" * (RELEVANCE_STEPS - filled)


def passage_content(passage: Passage, reply: Reply) -> Content:
    """A passage's text with the question's words and the answer sentence emphasised."""
    content = emphasised(passage.text, matched_spans(passage.text, reply.question), "underline")
    answer = reply.answer
    if answer is not None and answer.source == passage.source:
        start, end = max(answer.start, passage.start), min(answer.end, passage.end)
        if start < end:
            content = content.stylize("bold $text-accent", start - passage.start, end - passage.start)
    return content


# A question longer than this is shown cut short (a paste of a whole file would fill
# the transcript and cost seconds to lay out); search reads MAX_QUESTION_CHARS of it.
SHOWN_QUESTION_CHARS = 500


ASKED_AGAIN = "(asked again on the updated index)"


class QuestionMessage(Static):
    """A question as the person typed it (the start of it, if it is very long); `again`
    when the app asks it again on an updated index."""

    def __init__(self, question: str, *, again: bool = False) -> None:
        shown = literal(question[:SHOWN_QUESTION_CHARS])
        if len(question) > SHOWN_QUESTION_CHARS:
            read = f"; the first {MAX_QUESTION_CHARS:,} are read" if len(question) > MAX_QUESTION_CHARS else ""
            shown = Content.assemble(shown, (f" … ({len(question):,} characters{read})", "italic"))
        if again:
            shown = Content.assemble(shown, (f"  {ASKED_AGAIN}", "dim italic"))
        super().__init__(Content.assemble(("› ", "bold"), shown))


class NoteMessage(Static):
    """A line from the app itself: help, a command's result, an error (class "error")."""

    def __init__(self, text: str | Content, *, error: bool = False) -> None:
        super().__init__(literal(text) if isinstance(text, str) else text, classes="error" if error else "")


SEARCHING = "Searching…"
WAITING_FOR_MODEL = "Waiting for the model to load…"


def waiting_for_documents(folder: Path) -> str:
    return f"Waiting for documents in {folder}…"


class PendingMessage(Static):
    """Stands in for an answer until it arrives, saying what it waits for."""

    def __init__(self, waiting_for: str) -> None:
        super().__init__(literal(waiting_for))


class CitationLink(Static, can_focus=True):
    """`[n] file:lines`: click it, or focus it and press enter, to open the source."""

    BINDINGS = [Binding("enter", "choose", "Open source")]

    class Chosen(Message):
        """A citation was chosen: open its passage in the source panel."""

        def __init__(self, passage: Passage) -> None:
            super().__init__()
            self.passage = passage

    def __init__(self, number: int, passage: Passage) -> None:
        super().__init__(Content.assemble((f"[{number}] ", "bold"), literal(passage.citation)))
        self.passage = passage
        self.tooltip = "Open the source"

    def action_choose(self) -> None:
        self.post_message(self.Chosen(self.passage))

    def on_click(self) -> None:
        self.action_choose()


def _answer_lines(text: str) -> Content:
    """The answer as it reads: each of its lines (a list's items, code) on one line of its own."""
    return Content("\n").join(literal_line(line) for line in text.strip().split("\n"))


class PassageView(Vertical):
    """One cited passage: citation, relevance, text."""

    def __init__(self, number: int, passage: Passage, reply: Reply) -> None:
        super().__init__()
        self.number = number
        self.passage = passage
        self.reply = reply

    def compose(self) -> ComposeResult:
        with Horizontal(classes="passage-head"):
            yield CitationLink(self.number, self.passage)
            yield Static(f"{relevance_bar(self.passage.score)} {self.passage.score:.2f}", classes="relevance")
            if self.passage.section:
                yield Static(literal_line(self.passage.section), classes="section")
        yield Static(passage_content(self.passage, self.reply), classes="passage-text")


UPDATING_NOTE = "The index is being updated: this answer comes from it as it was. If the update changes it, the question is asked again."


class AnswerMessage(Vertical):
    """A reply: the answer sentence, then the numbered passages; or a plain "not found".
    `updating`: answered from the index as it was while an update runs, and said so."""

    def __init__(self, reply: Reply, *, updating: bool = False) -> None:
        super().__init__(classes="found" if reply.found else "unsure" if reply.outcome == NOT_SURE else "not-found")
        self.reply = reply
        self.updating = updating

    def compose(self) -> ComposeResult:
        reply = self.reply
        if self.updating:
            yield Static(UPDATING_NOTE, classes="answer-note")
        missing = literal(f" {never_mentioned(reply.missing)}") if reply.missing else ""
        if reply.outcome == NOT_SURE:  # the closest passages, shown, and said to be possibly unrelated
            yield Static(Content.assemble((UNSURE, "bold"), missing, " ", UNSURE_HINT), classes="answer-sentence")
            for number, passage in enumerate(reply.nearby, 1):
                yield PassageView(number, passage, reply)
            return
        if not reply.found:
            yield Static(Content.assemble((NOT_FOUND, "bold"), missing or f" {NOT_FOUND_HINT}"), classes="answer-sentence")
            if reply.nearby:
                with Collapsible(title=NEARBY_TITLE, collapsed=True):
                    for number, passage in enumerate(reply.nearby, 1):
                        yield PassageView(number, passage, reply)
            return
        if reply.answer is not None:
            yield Static(
                Content.assemble(_answer_lines(reply.answer.plain or reply.answer.text), "  ", literal(reply.answer.citation).stylize("dim")),
                classes="answer-sentence",
            )
        for number, passage in enumerate(reply.passages, 1):
            yield PassageView(number, passage, reply)
        if reply.nearby:
            with Collapsible(title=BELOW_BAR_TITLE, collapsed=True):
                for number, passage in enumerate(reply.nearby, len(reply.passages) + 1):
                    yield PassageView(number, passage, reply)


class Transcript(VerticalScroll):
    """The conversation, read from the newest exchange down.

    What was said last (a question, a note) is pinned: after every layout of the screen it
    is scrolled to the top of the view, or as high as the text below it allows. So an
    answer is in view however long its passages take to lay out, because the scroll is
    decided after the layout that gave them their size, not before. The person takes the
    view back by scrolling, clicking in the transcript or moving the focus into it; from
    then on nothing moves until something new is said.
    """

    def __init__(self, *children: Widget, id: str | None = None) -> None:
        super().__init__(*children, id=id)
        self.pinned: Widget | None = None

    def on_mount(self) -> None:
        # Published after each layout of the screen, once every widget has its region.
        self.screen.screen_layout_refresh_signal.subscribe(self, self._laid_out, immediate=True)

    def say(self, *widgets: Widget) -> None:
        """Add `widgets` at the end and read from the first of them down."""
        self.mount_all(widgets)
        self.pin(widgets[0])

    def pin(self, widget: Widget) -> None:
        """Keep `widget` at the top of the view until the person scrolls."""
        self.pinned = widget
        self._laid_out(self.screen)

    def release(self) -> None:
        """Stop moving the view: the person is reading where they chose."""
        self.pinned = None

    @property
    def at_end(self) -> bool:
        """Whether the view shows the end of the conversation."""
        return self.scroll_y >= self.max_scroll_y - 1

    def shows_top_of(self, widget: Widget) -> bool:
        """Whether the first line of `widget` is in view."""
        region = widget.virtual_region
        return bool(region.height) and self.scroll_y <= region.y < self.scroll_y + self.scrollable_content_region.height

    def _laid_out(self, _screen: Screen) -> None:
        widget = self.pinned
        if widget is None or not widget.is_attached:
            return
        region = widget.virtual_region_with_margin
        if not region.height:  # not laid out yet: the next layout will place it
            return
        target = min(region.y, self.max_scroll_y)
        if round(self.scroll_y) != target:
            self.scroll_to(y=target, animate=False, immediate=True)

    def read(self, where: str) -> None:
        """The person scrolls: "page_up", "page_down", "home" or "end"."""
        self.release()
        {"page_up": self.scroll_page_up, "page_down": self.scroll_page_down, "home": self.scroll_home, "end": self.scroll_end}[where](
            animate=False
        )

    # Everything the person does in the transcript releases the pin: a key while the focus
    # is in it (arrows, page keys, home, end: the key arrives before its binding runs), the
    # wheel, a click (a citation, a fold, the scrollbar), the focus moving to a citation.

    def on_key(self, _event: events.Key) -> None:
        self.release()

    def on_mouse_scroll_down(self, _event: events.MouseScrollDown) -> None:
        self.release()

    def on_mouse_scroll_up(self, _event: events.MouseScrollUp) -> None:
        self.release()

    def on_mouse_down(self, _event: events.MouseDown) -> None:
        self.release()

    def on_descendant_focus(self, _event: events.DescendantFocus) -> None:
        self.release()
