"""The app: a conversation with the documents, each answer citing its passages.

All retrieval happens in `qa`; this module only arranges it on screen. The model, the
index and every answer are loaded in worker threads, so the first frame appears at once
and typing never waits: a question asked before the model is ready is answered when it is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, ProgressBar, Static
from textual.worker import Worker, get_current_worker

from qa.errors import NoDocumentsError
from qa.types import NOT_SURE, IndexInfo
from tui.commands import Command, help_text, parse_command, parse_k
from tui.history import InputHistory, history_file
from tui.literal import literal, visible
from tui.markdown_export import conversation_markdown, default_export_path, reply_markdown
from tui.messages import AnswerReady, FolderChanged, IndexReady, IndexUpdated, NoDocuments, Status, Turn, WorkFailed
from tui.prompt import QuestionInput
from tui.source import SourceScreen
from tui.transcript import (
    SEARCHING,
    WAITING_FOR_MODEL,
    AnswerMessage,
    CitationLink,
    NoteMessage,
    PendingMessage,
    QuestionMessage,
    Transcript,
    waiting_for_documents,
)

if TYPE_CHECKING:
    from qa.chat import Chat
    from qa.types import Passage, Reply

DEFAULT_K = 5
WORKER_THREAD = "qa-worker"
WELCOME = "Ask a question about your documents. Answers cite their passages: press a number, or click a citation, to read it in its document. /help lists commands and keys."


class BuildCancelled(Exception):
    """Raised from a build's progress callback when the app quits during the build."""


class _DaemonThreads(concurrent.futures.ThreadPoolExecutor):
    """Runs each thread worker in a daemon thread, and never waits for them on exit.

    asyncio waits for its default executor's threads when the app's loop closes, so
    ctrl+q would wait for a model load or an embedding batch (seconds). Quitting
    abandons that work instead: a build writes into a staging folder that only becomes
    the index when complete, so an abandoned build leaves the old index in service.
    """

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future[object] = concurrent.futures.Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as e:  # noqa: BLE001  (handed to the waiting worker)
                    future.set_exception(e)

        threading.Thread(target=run, daemon=True, name=WORKER_THREAD).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass


def _recorded_corpus(index_dir: Path | str | None) -> IndexInfo | None:
    """The corpus as the index's manifest describes it, read at once (None without one)."""
    from qa.config import resolve_index_dir
    from qa.errors import QAError
    from qa.indexfiles.manifest import described, read_manifest
    from qa.indexfiles.store import current_generation

    try:
        folder = resolve_index_dir(index_dir)
        generation = current_generation(folder)
        manifest = read_manifest(generation) if generation is not None else None
    except QAError:
        return None  # a damaged index is reported by the load that follows
    if manifest is None:
        return None
    return described(manifest, folder)


def _corpus(index_dir: Path | str | None) -> IndexInfo:
    from qa.ready import describe_index

    return describe_index(index_dir)


class _NoticeHandler(logging.Handler):
    """Shows the library's one-line notices (skipped files, index updates) as toasts."""

    def __init__(self, app: QAApp) -> None:
        super().__init__(logging.INFO)
        self.app = app

    def emit(self, record: logging.LogRecord) -> None:
        severity: SeverityLevel = "warning" if record.levelno >= logging.WARNING else "information"
        try:
            self.app.call_from_thread(self.app.notify, record.getMessage(), severity=severity, markup=False)
        except RuntimeError:  # on the app's own thread, or the app has stopped
            try:
                self.app.notify(record.getMessage(), severity=severity, markup=False)
            except Exception:  # noqa: BLE001  (a notice must never break the work that logged it)
                pass


class QAApp(App[None]):
    """Ask questions of a folder of documents; every answer cites its passages."""

    CSS_PATH = "app.tcss"
    TITLE = "qa"
    AUTO_FOCUS = "#question"  # from the first frame: keys typed at launch go to the question
    BINDINGS = [
        Binding("ctrl+l", "clear", "New conversation"),
        Binding("ctrl+y", "copy_answer", "Copy answer"),
        Binding("f1", "help", "Help"),
        Binding("escape", "switch_focus", "Input / transcript", show=False),
        *(Binding(str(n), f"open_citation({n})", f"Open citation {n}", show=False) for n in range(1, 10)),
    ]

    def __init__(
        self,
        index_dir: str | Path | None = None,
        seeds_dir: str | Path | None = None,
        *,
        history_path: Path | None = None,
        follow: bool = True,
    ) -> None:
        """`follow`: watch the documents folder and update the index when it changes."""
        super().__init__()
        self.index_dir = index_dir
        self.seeds_dir = seeds_dir
        self.follow = follow
        self.k = DEFAULT_K
        self.replies: list[Reply] = []
        self.corpus: IndexInfo | None = None
        self.history = InputHistory(history_file() if history_path is None else history_path)
        self._chat: Chat | None = None
        self._waiting: deque[Turn] = deque()
        self._stale: list[str] = []  # questions answered from the index as it was, during an update
        self._no_documents: Path | None = None  # the folder, while it holds nothing to index
        self._answering = False
        self._forget = False
        self._notices = _NoticeHandler(self)
        self._unseen: Widget | None = None  # an answer that arrived while the user read above it
        self._stop_watching = threading.Event()
        self._watching = False
        self._changed_meanwhile = False  # the folder changed during a build: build again after it

    # Layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Transcript(NoteMessage(WELCOME), id="transcript")
        yield Static("new answer ↓  (ctrl+end)", id="new-answer")
        with Horizontal(id="status"):
            yield Static(id="status-text")
            yield ProgressBar(id="progress", show_eta=False)
        yield QuestionInput(self.history, id="question")
        yield Footer()

    def on_mount(self) -> None:
        asyncio.get_running_loop().set_default_executor(_DaemonThreads())
        logging.getLogger("qa").addHandler(self._notices)
        self.query_one("#new-answer").display = False
        self.watch(self.query_one("#transcript"), "scroll_y", self._scrolled, init=False)
        recorded = _recorded_corpus(self.index_dir)
        if recorded is not None:
            self._show_corpus(recorded)
        else:
            self.sub_title = "loading…"
        self.query_one("#question").focus()
        self._set_status("Opening the index…")
        self._load()

    def on_unmount(self) -> None:
        self._stop_watching.set()
        logging.getLogger("qa").removeHandler(self._notices)

    @property
    def ready(self) -> bool:
        """Whether questions can be answered now."""
        return self._chat is not None

    def _set_status(self, text: str | None, done: int | None = None, total: int | None = None) -> None:
        status = self.query_one("#status")
        status.display = text is not None
        self.query_one("#status-text", Static).update(visible(text or ""))
        bar = self.query_one("#progress", ProgressBar)
        bar.display = total is not None
        if total is not None:
            bar.update(total=max(total, 1), progress=done or 0)

    @property
    def transcript(self) -> Transcript:
        return self.query_one("#transcript", Transcript)

    def _say(self, *widgets: Widget) -> None:
        self.transcript.say(*widgets)

    def _note(self, text: str, *, error: bool = False) -> None:
        self._say(NoteMessage(text, error=error))

    def _scrolled(self) -> None:
        """Hide the "new answer" marker once the answer it points to is in view, or above it."""
        if self._unseen is None:
            return
        transcript = self.transcript
        if not self._unseen.is_attached or transcript.scroll_y + transcript.scrollable_content_region.height > self._unseen.virtual_region.y:
            self._unseen = None
            self.query_one("#new-answer").display = False

    def action_scroll_transcript(self, where: str) -> None:
        """Page up or down, or go to the start or end, in the transcript (from the input)."""
        self.transcript.read(where)

    def on_click(self, event: events.Click) -> None:
        if event.widget is not None and event.widget.id == "new-answer" and self._unseen is not None:
            self.transcript.pin(self._unseen)

    def on_key(self, event: events.Key) -> None:
        """A character typed while the transcript has the focus goes to the question (the
        digits 1-9 open citations there); nothing typed is lost."""
        question = self.query_one("#question", QuestionInput)
        if len(self.screen_stack) > 1 or question.has_focus or not event.is_printable or event.character is None:
            return
        if event.character in "123456789":
            return
        question.focus()
        question.insert_text_at_cursor(event.character)
        event.stop()
        event.prevent_default()

    # Loading and re-indexing ------------------------------------------------------------

    def _progress(self, label: str) -> Callable[[int, int], None]:
        worker = get_current_worker()

        def report(done: int, total: int) -> None:
            if worker.is_cancelled:
                raise BuildCancelled()
            self.post_message(Status(f"{label}: {done}/{total} texts embedded", done, total))

        return report

    @work(thread=True, exit_on_error=False, group="load")
    def _load(self) -> None:
        try:
            from qa.chat import Chat
            from qa.ready import ready_engine

            label = "Indexing the documents"
            ready_engine(self.index_dir, seeds_dir=self.seeds_dir, progress=self._progress(label), stage=self._stage(label))
            corpus = _corpus(self.index_dir)
        except BuildCancelled:
            return
        except NoDocumentsError as e:
            self.post_message(NoDocuments(e.folder, e.formats))
            return
        except Exception as e:  # noqa: BLE001  (shown in the transcript; the app stays up)
            self.post_message(WorkFailed("Could not load the index", e))
            return
        self.post_message(IndexReady(Chat(self.index_dir), corpus))

    @on(Status)
    def _status(self, message: Status) -> None:
        self._set_status(message.text, message.done, message.total)

    @on(IndexReady)
    def _index_ready(self, message: IndexReady) -> None:
        self._became_ready(message.chat, message.corpus)

    @on(WorkFailed)
    def _work_failed(self, message: WorkFailed) -> None:
        self._failed(message.what, message.error)

    @on(NoDocuments)
    def _nothing_to_index(self, message: NoDocuments) -> None:
        """An empty folder: say where documents go and which, then follow the folder and
        index them as they arrive; questions asked meanwhile wait for them."""
        self._set_status(None)
        self.sub_title = "no documents yet"
        if self._no_documents is None:
            self._note(
                f"No documents in {message.folder} yet. Put {message.formats} files there (in subfolders too): "
                + ("they are indexed as they arrive, and questions asked meanwhile are answered then." if self.follow else "then /reindex.")
            )
        self._no_documents = message.folder
        for turn in self._waiting:
            turn.pending.update(literal(waiting_for_documents(message.folder)))
        if self.follow and not self._watching:
            self._watching = True
            self._watch_folder(message.folder)

    def _became_ready(self, chat: Chat, corpus: IndexInfo) -> None:
        self._chat = chat
        self._no_documents = None
        self._show_corpus(corpus)
        self._set_status(None)
        for turn in self._waiting:
            turn.pending.update(SEARCHING)
        self._next_question()
        if self.follow and not self._watching:
            self._watching = True
            self._watch_folder(corpus.seeds_dir)

    @work(thread=True, exit_on_error=False, group="watch")
    def _watch_folder(self, seeds: Path) -> None:
        """Follow the documents folder: each burst of changes updates the index."""
        from qa.building.watch import changes, stale
        from qa.config import resolve_index_dir

        index = resolve_index_dir(self.index_dir)
        try:
            for count in changes(seeds, index, self._stop_watching):
                if count or stale(index):  # 0: watching began; a change made before then counts too
                    self.post_message(FolderChanged())
        except Exception as e:  # noqa: BLE001  (the app goes on; /reindex still works)
            self.post_message(FolderChanged(stopped=f"Stopped following {seeds} for changes: {e}. /reindex updates the index."))

    @on(FolderChanged)
    def _folder_changed(self, message: FolderChanged) -> None:
        if message.stopped is not None:
            self._note(message.stopped, error=True)
            return
        if self._building():
            self._changed_meanwhile = True
            return
        self._start_update(quiet=True)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The folder changed while the index was loading or updating: update it again."""
        if event.worker.group in {"load", "reindex"} and event.worker.is_finished and self._changed_meanwhile:
            if self.ready and not self._building():
                self._changed_meanwhile = False
                self._start_update(quiet=True)

    def _building(self) -> bool:
        return any(w.group in {"load", "reindex"} and w.is_running for w in self.workers)

    def _show_corpus(self, corpus: IndexInfo) -> None:
        self.corpus = corpus
        self.sub_title = visible(str(corpus))

    def _failed(self, what: str, error: Exception) -> None:
        from qa.errors import QAError

        self._set_status(None)
        self._stale.clear()  # the index stays as it was: what was answered from it stands
        if self.corpus is not None:
            self._show_corpus(self.corpus)  # no longer "updating…"
        detail = str(error) if isinstance(error, QAError) else f"{type(error).__name__}: {error}"
        hint = "" if self.ready else " Fix the problem, then /reindex."
        self._note(f"{what}: {detail}.{hint}", error=True)

    def action_reindex(self) -> None:
        """Bring the index up to date with the documents, with a progress bar."""
        if self._building():
            self._note("The index is already being loaded or updated.")
            return
        self._start_update(quiet=False)

    def _start_update(self, *, quiet: bool) -> None:
        """Update the index in the background; answers meanwhile come from the index as it was.
        `quiet` (the folder changed): the header and a toast say so, not the transcript."""
        if self.corpus is not None:
            self.sub_title = visible(f"{self.corpus} · updating…")
        self._set_status("Checking the documents…")
        self._reindex(quiet)

    def _stage(self, label: str) -> Callable[[str], None]:
        def report(text: str) -> None:
            self.post_message(Status(f"{label}: {text}…"))

        return report

    @work(thread=True, exit_on_error=False, group="reindex")
    def _reindex(self, quiet: bool) -> None:
        label = "Updating the index" if quiet else "Re-indexing"
        try:
            from qa.building.build import build_index
            from qa.chat import Chat

            stats = build_index(self.seeds_dir, self.index_dir, progress=self._progress(label), stage=self._stage(label))
            corpus = _corpus(self.index_dir)
        except BuildCancelled:
            return
        except NoDocumentsError as e:
            if self._chat is None:  # still nothing to index: keep waiting for documents
                self.post_message(NoDocuments(e.folder, e.formats))
            else:  # the folder was emptied: the index in use is kept
                self.post_message(WorkFailed("Could not update the index", e))
            return
        except Exception as e:  # noqa: BLE001  (shown in the transcript; the app stays up)
            self.post_message(WorkFailed("Could not update the index", e))
            return
        self.post_message(IndexUpdated(stats, corpus, Chat(self.index_dir), quiet))

    @on(IndexUpdated)
    def _reindexed(self, message: IndexUpdated) -> None:
        stats, corpus, chat, quiet = message.stats, message.corpus, message.chat, message.quiet
        state = "Index updated" if stats.changed else "The index was already up to date"
        if not quiet:
            self._note(f"{state}: {stats.summary()}.")
        elif stats.changed:
            self.notify(f"{state}: {stats.summary()}.", markup=False)
        if self._chat is None:
            self._became_ready(chat, corpus)
        else:
            self._show_corpus(corpus)
            self._set_status(None)
        stale, self._stale = self._stale, []
        if stats.changed:  # what was answered meanwhile is answered again, from the index as it is now
            for question in stale:
                self.ask(question, again=True)

    # Questions and answers ---------------------------------------------------------------

    @on(Input.Submitted, "#question")
    def _submitted(self, event: Input.Submitted) -> None:
        line = event.value
        if not line.strip():
            return
        command = parse_command(line)
        if command is not None:
            self._run(command)  # commands are not kept: up-arrow recalls questions only
        else:
            self.history.add(line)
            self.ask(line[1:] if line.lstrip().startswith("//") else line)

    def ask(self, question: str, *, again: bool = False) -> None:
        """Put a question in the transcript and answer it when the model is ready (`again`:
        asked again by the app, on an index that changed since it was answered)."""
        waiting_for = SEARCHING if self.ready else waiting_for_documents(self._no_documents) if self._no_documents else WAITING_FOR_MODEL
        turn = Turn(question, self.k, QuestionMessage(question, again=again), PendingMessage(waiting_for))
        self._say(turn.asked, turn.pending)
        self._waiting.append(turn)
        self._next_question()

    def _next_question(self) -> None:
        if self._chat is None or self._answering or not self._waiting:
            return
        if self._forget:
            self._chat.clear()
            self._forget = False
        turn = self._waiting.popleft()
        self._answering = True
        self._answer(self._chat, turn)

    @work(thread=True, exit_on_error=False, group="answer")
    def _answer(self, chat: Chat, turn: Turn) -> None:
        try:
            reply = chat.ask(turn.question, turn.k)
        except Exception as e:  # noqa: BLE001  (shown in the transcript; the app stays up)
            self.post_message(AnswerReady(turn, None, e))
            return
        self.post_message(AnswerReady(turn, reply, None))

    @on(AnswerReady)
    def _answered(self, message: AnswerReady) -> None:
        turn, reply, error = message.turn, message.reply, message.error
        self._answering = False
        if turn.pending.is_attached:  # not cleared away meanwhile
            if reply is not None:
                self.replies.append(reply)
                transcript = self.transcript
                at_end = transcript.at_end
                updating = any(w.group == "reindex" and w.is_running for w in self.workers)  # from the index as it was
                if updating:
                    self._stale.append(turn.question)
                transcript.mount(AnswerMessage(reply, updating=updating), after=turn.pending)
                turn.pending.remove()
                if transcript.pinned is None:
                    if at_end:  # the person scrolled, but is at the end: read the reply from its question
                        transcript.pin(turn.asked)
                    else:  # reading above: say there is more, do not move the text
                        self._unseen = turn.asked
                        self.query_one("#new-answer").display = True
                # Else the question (or one asked after it) is pinned: the layout that sizes
                # the reply scrolls it into view.
            else:
                turn.pending.remove()
                self._failed("Could not answer", error or RuntimeError("no reply"))
        self._next_question()

    # Commands ---------------------------------------------------------------------------

    def _run(self, command: Command) -> None:
        actions: dict[str, Callable[[], None]] = {
            "clear": self.action_clear,
            "help": self.action_help,
            "reindex": self.action_reindex,
            "copy": self.action_copy_answer,
            "quit": self.exit,
            "q": self.exit,
        }
        if command.name == "k":
            self._set_k(command.argument)
        elif command.name == "export":
            self.export(command.argument)
        elif command.name in actions:
            actions[command.name]()
        else:
            self._note(f"Unknown command /{command.name}: /help lists the commands. (Start with // to ask a question that begins with /.)", error=True)

    def _set_k(self, argument: str) -> None:
        try:
            self.k = parse_k(argument)
        except ValueError as e:
            self._note(str(e), error=True)
            return
        self._note(f"Answers now show up to {self.k} passage{'s' * (self.k != 1)}.")

    def export(self, argument: str = "") -> None:
        """Write the conversation as Markdown to `argument`, or to a new file in the current folder."""
        if not self.replies:
            self._note("Nothing to export yet: ask a question first.")
            return
        path = Path(argument).expanduser() if argument else default_export_path()
        try:
            path.write_text(conversation_markdown(self.replies), encoding="utf-8")
        except OSError as e:
            self._note(f"Could not write {path}: {e.strerror or e}", error=True)
            return
        self._note(f"Wrote {len(self.replies)} answer{'s' * (len(self.replies) != 1)} to {path.resolve()}.")

    def action_clear(self) -> None:
        """Start a new conversation: an empty transcript, earlier questions forgotten."""
        self._forget = True
        self._waiting.clear()
        self._stale.clear()
        self.replies.clear()
        self._unseen = None
        self.query_one("#new-answer").display = False
        self.transcript.remove_children()
        self._note("New conversation: earlier questions are forgotten.")
        self._next_question()

    def action_help(self) -> None:
        self._note(help_text())

    def action_copy_answer(self) -> None:
        if not self.replies:
            self.notify("No answer to copy yet.", markup=False)
            return
        self.copy_to_clipboard(reply_markdown(self.replies[-1]))
        self.notify("Copied the last answer with its citations.", markup=False)

    def action_switch_focus(self) -> None:
        """From the input to the transcript (where number keys open citations) and back."""
        question = self.query_one("#question")
        (self.query_one("#transcript") if question.has_focus else question).focus()

    def action_to_citations(self) -> None:
        """From the question to the first citation of the latest answer that has any (then
        tab goes on through its citations, and back to the question)."""
        for answer in reversed(self.query(AnswerMessage)):
            links = [link for link in answer.query(CitationLink) if link.focusable]
            if links:
                links[0].focus()
                return
        self.action_focus_next()

    def action_open_citation(self, number: int) -> None:
        """Open citation `number` of the last answer that has citations."""
        passages = next(([*r.passages, *r.nearby] for r in reversed(self.replies) if r.found or r.outcome == NOT_SURE), [])
        if 1 <= number <= len(passages):
            self.open_source(passages[number - 1])

    @on(CitationLink.Chosen)
    def _citation_chosen(self, event: CitationLink.Chosen) -> None:
        self.open_source(event.passage)

    def open_source(self, passage: Passage) -> None:
        """Show `passage` in its whole document."""
        if self.corpus is None:
            return
        # Closing the panel returns to the question, so what is typed next is not lost.
        self.push_screen(SourceScreen(passage, self.corpus.seeds_dir / passage.source), lambda _: self._focus_question())

    def _focus_question(self) -> None:
        self.query_one("#question").focus()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New conversation", "Forget earlier questions and empty the transcript", self.action_clear)
        yield SystemCommand("Copy answer", "Copy the last answer with its citations", self.action_copy_answer)
        yield SystemCommand("Export conversation", "Write the conversation as Markdown in the current folder", self.export)
        yield SystemCommand("Re-index", "Bring the index up to date with the documents", self.action_reindex)
        yield SystemCommand("Help", "Commands and keys", self.action_help)
        for k in (1, 3, 5, 10):
            yield SystemCommand(f"Show {k} passage{'s' * (k != 1)}", f"Answers show up to {k} passages (/k {k})", lambda k=k: self._set_k(str(k)))


def run(index_dir: str | Path | None = None, seeds_dir: str | Path | None = None) -> int:
    """Run the app in this terminal; returns the exit status.

    Quitting during a build or a model load does not wait for it: once the app has given
    the terminal back, the process ends at once. Letting the interpreter shut down under
    a worker thread that is inside onnxruntime or torch either waits for it (4.6 s after
    a build, here) or aborts the process ("terminate called without an active exception",
    when the thread is stopped inside C++). Nothing is lost: a build writes into a staging
    folder that only becomes the index when complete, the history is written as questions
    are asked, and the next build clears the abandoned folder.
    """
    QAApp(index_dir, seeds_dir).run()
    if any(thread.name == WORKER_THREAD and thread.is_alive() for thread in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
