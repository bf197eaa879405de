"""What the app's background workers report, as messages handled on the app's own thread.

Each worker (loading, updating, watching the folder, answering) ends by posting one of
these; progress is posted as it goes. Posting is thread-safe and never waits for the
screen, and a test can post a message to drive the app without any thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from qa.chat import Chat
    from qa.types import IndexInfo, IndexStats, Reply
    from tui.transcript import PendingMessage, QuestionMessage


@dataclass
class Turn:
    """A question waiting for its answer, and where the answer goes in the transcript."""

    question: str
    k: int
    asked: QuestionMessage
    pending: PendingMessage


@dataclass
class Status(Message):
    """A line for the status bar (None hides it), with a progress bar when `total` is known."""

    text: str | None
    done: int | None = None
    total: int | None = None


@dataclass
class IndexReady(Message):
    """The index is open (built first if it had to be): questions can be answered."""

    chat: Chat
    corpus: IndexInfo


@dataclass
class IndexUpdated(Message):
    """An update of the index finished; `quiet` when the folder changed, not on /reindex."""

    stats: IndexStats
    corpus: IndexInfo
    chat: Chat
    quiet: bool


@dataclass
class WorkFailed(Message):
    """Loading, updating or answering failed: `what` failed, and why."""

    what: str
    error: Exception


@dataclass
class NoDocuments(Message):
    """The documents folder holds nothing to index yet: say so, and follow it."""

    folder: Path
    formats: str


@dataclass
class FolderChanged(Message):
    """The documents folder changed (or stopped being followed: `stopped` says why)."""

    stopped: str | None = None


@dataclass
class AnswerReady(Message):
    """A question's reply, or the error that stopped it."""

    turn: Turn
    reply: Reply | None
    error: Exception | None
