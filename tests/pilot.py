"""Helpers for driving the app with Pilot: waits that are bounded and say what the screen
showed when they fail, and a question asked as a person asks it."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable

from textual.app import App
from textual.widget import Widget
from textual.widgets import Static

from tui.transcript import AnswerMessage, CitationLink, PassageView, QuestionMessage


def in_loop(test):
    """Run an async test in its own event loop (no async plugin needed)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return run


def plain(widget: Static) -> str:
    content = widget.content
    return content if isinstance(content, str) else content.plain  # type: ignore[union-attr]


def transcript(app: App) -> str:
    """Everything the transcript holds, as plain text."""
    return "\n".join(plain(w) for w in app.query("#transcript Static"))


def screen_text(app: App) -> str:
    """What the screen shows now, line by line, as plain text."""
    try:
        return "\n".join(strip.text.rstrip() for strip in app.screen._compositor.render_strips())
    except Exception as e:  # noqa: BLE001  (a diagnostic: never hide the failure it explains)
        return f"(the screen could not be read: {type(e).__name__}: {e})"


def shown(widget: Widget, app: App) -> bool:
    """Whether the top line of `widget` is on screen inside the transcript's visible area."""
    area = app.query_one("#transcript").content_region
    return widget.region.height > 0 and area.y <= widget.region.y < area.bottom


def fully_shown(widget: Widget, app: App) -> bool:
    area = app.query_one("#transcript").content_region
    return widget.region.height > 0 and area.y <= widget.region.y and widget.region.bottom <= area.bottom


def in_view(app: App, answer: AnswerMessage) -> bool:
    """The question, the answer sentence and the first citation (if any) all on screen."""
    said = list(app.query_one("#transcript").children)
    asked = said[said.index(answer) - 1]
    parts = [asked, answer.query_one(".answer-sentence")]
    if answer.has_class("found"):
        parts.append(answer.query(PassageView).first().query_one(CitationLink))
    return isinstance(asked, QuestionMessage) and all(fully_shown(part, app) for part in parts)


async def until(pilot, condition: Callable[[], bool], timeout: float = 120, what: str = "the app did not get there in time") -> None:
    """Let the app run until `condition` holds; past `timeout` seconds, fail with the screen."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} (waited {timeout:g} s); the screen showed:\n{screen_text(pilot.app)}"
        await pilot.pause(0.05)


async def ask(pilot, question: str) -> AnswerMessage | None:
    """Type a question, press enter and wait for its answer (or an error note)."""
    app = pilot.app
    before = len(app.query(AnswerMessage)) + len(app.query("NoteMessage.error"))
    app.query_one("#question").focus()
    app.query_one("#question").value = question
    await pilot.press("enter")
    await until(pilot, lambda: len(app.query(AnswerMessage)) + len(app.query("NoteMessage.error")) > before, what=f"no answer to {question!r}")
    answers = app.query(AnswerMessage)
    if not answers:
        return None
    # In the DOM as soon as it is mounted, its passages only once it has composed them.
    await until(pilot, lambda: answers.last().is_mounted, what="the answer was never mounted")
    return answers.last()
