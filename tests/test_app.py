"""The Textual app, driven with Pilot on the real model and real indexes."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from textual.widgets import Collapsible, Static, TextArea

from qa.formats.documents import read_document
from qa.types import NOT_FOUND
from tests.conftest import LETTER, SEEDS
from tests.pilot import ask, in_loop, in_view, plain, transcript, until
from tui.app import QAApp
from tui.literal import visible
from tui.source import SourceScreen
from tui.transcript import ASKED_AGAIN, UPDATING_NOTE, AnswerMessage, CitationLink, QuestionMessage

SIZE = (100, 30)


def letter_line(words: str) -> int:
    """The 1-based line of the seed letter that holds `words` (read from the file, not the app)."""
    text = (SEEDS / LETTER).read_text(encoding="utf-8")
    return text.count("\n", 0, text.index(words)) + 1


def letter_index(tmp_path: Path) -> tuple[Path, Path]:
    """A seeds folder with the letter and its index, both this test's own to change."""
    from qa import build_index

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / LETTER, seeds / LETTER)
    index = tmp_path / "index"
    build_index(seeds, index)
    return seeds, index


@pytest.fixture
def app(seed_index: Path, tmp_path: Path) -> QAApp:
    return QAApp(seed_index, history_path=tmp_path / "history.jsonl")


@in_loop
async def test_an_answer_shows_its_sentence_and_cited_passages(app):
    async with app.run_test(size=SIZE) as pilot:
        answer = await ask(pilot, "Which charity did #isolationgames raise funds for?")
        assert answer is not None and answer.has_class("found")
        sentence = plain(answer.query_one(".answer-sentence", Static))
        assert "British Red Cross" in sentence
        first = answer.query(CitationLink).first()
        assert plain(first).startswith("[1] ") and first.passage.citation == f"{LETTER}:{letter_line('British Red Cross')}"
        assert len(answer.query(CitationLink)) == 5
        assert app.corpus is not None and str(app.corpus) == f"1 document · {app.corpus.passages} passages · all-MiniLM-L6-v2"
        assert app.sub_title == str(app.corpus)


@in_loop
async def test_an_unanswerable_question_says_so_and_hides_the_nearest_passages(app):
    async with app.run_test(size=SIZE) as pilot:
        answer = await ask(pilot, "What is the capital of France?")
        assert answer is not None and answer.has_class("not-found")
        assert NOT_FOUND in plain(answer.query_one(".answer-sentence", Static))
        nearby = answer.query_one(Collapsible)
        assert nearby.collapsed and "low relevance" in nearby.title
        assert all(link.region.height == 0 for link in answer.query(CitationLink))  # collapsed: not shown


@in_loop
async def test_a_follow_up_uses_the_conversation_and_ctrl_l_forgets_it(app):
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Who took part in the listening project?")
        answer = await ask(pilot, "What age were they?")
        assert answer is not None and "14-24" in plain(answer.query_one(".answer-sentence", Static))
        await pilot.press("ctrl+l")
        assert not app.query(AnswerMessage) and not app.replies
        await ask(pilot, "Who signed the letter?")
        assert app._chat is not None and app._chat.history == ["Who signed the letter?"]


@in_loop
async def test_a_citation_opens_the_document_at_its_passage(app):
    async with app.run_test(size=SIZE) as pilot:
        answer = await ask(pilot, "Who took part in the listening project?")
        passage = answer.query(CitationLink).first().passage
        await pilot.press("escape", "1")  # out of the input, then citation 1
        await until(pilot, lambda: isinstance(app.screen, SourceScreen))
        area = app.screen.query_one(TextArea)
        await until(pilot, lambda: area.text != "")
        document = read_document(app.corpus.seeds_dir / LETTER)
        assert area.text == visible(document)
        assert area.selected_text == passage.text and passage.line_start == letter_line("listening project")
        await pilot.press("c")
        assert app.clipboard == f"{passage.citation}\n{passage.text}"
        await pilot.press("escape")
        assert not isinstance(app.screen, SourceScreen)
        await pilot.click(CitationLink)  # the first citation on screen, by mouse
        await until(pilot, lambda: isinstance(app.screen, SourceScreen))
        await pilot.press("escape")
        link = answer.query(CitationLink)[1]
        link.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SourceScreen) and app.screen.passage == link.passage)


@in_loop
async def test_tab_then_enter_opens_the_latest_answers_first_citation(app):
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Who took part in the listening project?")
        latest = await ask(pilot, "Which charity did #isolationgames raise funds for?")
        links = list(latest.query(CitationLink))
        await pilot.press("tab")
        assert app.focused is links[0]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SourceScreen))
        assert app.screen.passage == links[0].passage
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SourceScreen))
        assert app.query_one("#question").has_focus
        await pilot.press("tab", "tab")  # on through the answer's citations
        assert app.focused is links[1]


@in_loop
async def test_slash_k_sets_how_many_passages(app):
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#question").value = "/k 2"
        await pilot.press("enter")
        answer = await ask(pilot, "mental health charity")
        assert len(answer.query(CitationLink)) == 2
        app.query_one("#question").value = "/k lots"
        await pilot.press("enter")
        assert "/k needs a number" in plain(app.query("NoteMessage.error").last()) and app.k == 2


@in_loop
async def test_export_writes_the_conversation_as_markdown(app, tmp_path):
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Which charity did #isolationgames raise funds for?")
        await ask(pilot, "What is the capital of France?")
        target = tmp_path / "talk.md"
        app.query_one("#question").value = f"/export {target}"
        await pilot.press("enter")
        await pilot.pause()
    text = target.read_text(encoding="utf-8")
    line = letter_line("British Red Cross")
    assert "## Which charity did #isolationgames raise funds for?" in text
    assert f"`{LETTER}:{line}`" in text and "British Red Cross" in text
    assert "## What is the capital of France?\n\nThat isn't in these documents." in text


@in_loop
async def test_help_copy_and_unknown_commands(app):
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#question").value = "/help"
        await pilot.press("enter")
        assert "/export [FILE]" in transcript(app) and "ctrl+l" in transcript(app)
        await ask(pilot, "Who signed the letter?")
        await pilot.press("ctrl+y")
        assert app.clipboard.startswith("## Who signed the letter?") and f"{LETTER}:" in app.clipboard
        app.query_one("#question").value = "/frobnicate"
        await pilot.press("enter")
        assert "Unknown command /frobnicate" in plain(app.query("NoteMessage.error").last())


@in_loop
async def test_input_history_survives_a_restart(seed_index, tmp_path):
    history = tmp_path / "data" / "history.jsonl"
    async with QAApp(seed_index, history_path=history).run_test(size=SIZE) as pilot:
        await ask(pilot, "Who signed the letter?")
        await ask(pilot, "What was #LearnOnTikTok?")
    async with QAApp(seed_index, history_path=history).run_test(size=SIZE) as pilot:
        box = pilot.app.query_one("#question")
        await pilot.press("up")
        assert box.value == "What was #LearnOnTikTok?"
        await pilot.press("up", "up")
        assert box.value == "Who signed the letter?"
        await pilot.press("down", "down")
        assert box.value == ""


@in_loop
async def test_a_damaged_index_is_a_message_and_reindex_mends_it(tmp_path):
    seeds, index = letter_index(tmp_path)
    vectors = next(index.glob("gen-*/vectors.faiss"))
    vectors.write_bytes(vectors.read_bytes()[:100])
    app = QAApp(index, history_path=tmp_path / "h.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(app.query("NoteMessage.error")))
        assert "vectors.faiss" in plain(app.query("NoteMessage.error").last()) and not app.ready
        app.query_one("#question").value = "/reindex"
        await pilot.press("enter")
        await until(pilot, lambda: app.ready)
        assert "Index updated: 1 file," in transcript(app)
        answer = await ask(pilot, "Who signed the letter?")
        assert answer is not None and answer.has_class("found")


@in_loop
async def test_reindex_picks_up_a_new_document(tmp_path):
    seeds, index = letter_index(tmp_path)
    app = QAApp(index, history_path=tmp_path / "h.jsonl", follow=False)  # /reindex alone, not the watcher
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        (seeds / "otters.md").write_text("# Otters\n\nSea otters hold hands while they sleep.\n", encoding="utf-8")
        app.query_one("#question").value = "/reindex"
        await pilot.press("enter")
        await until(pilot, lambda: app.corpus is not None and app.corpus.documents == 2)
        # Only the new file is embedded: one passage, its heading and its paragraph.
        assert "embedded now 1 passage and " in transcript(app) and app.sub_title.startswith("2 documents")
        answer = await ask(pilot, "What do sea otters do while they sleep?")
        assert answer.query(CitationLink).first().passage.source == "otters.md"


MARKUP_DOC = (
    "Styling [bold]is not applied[/bold] here, nor [/] closing tags.\n\n"
    "A link [link=https://example.com]click me[/link] stays text, as does [red on blue]colour[/].\n\n"
    "Escapes \x1b[31mred\x1b[0m and a bell \x07 and back\\slashes \\[bold] are data too.\n"
)


@pytest.fixture
def markup_index(tmp_path: Path) -> Path:
    from qa import build_index

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "[weird] name.txt").write_text(MARKUP_DOC, encoding="utf-8")
    index = tmp_path / "index"
    build_index(seeds, index)
    return index


@in_loop
async def test_markup_and_control_characters_are_shown_literally(markup_index, tmp_path):
    app = QAApp(markup_index, history_path=tmp_path / "h.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        question = "[bold]Which link[/bold] says \x1b[31mclick me[/]?"
        answer = await ask(pilot, question)
        assert plain(app.query(QuestionMessage).last()) == "› " + visible(question)
        assert "[bold]Which link[/bold] says ␛[31mclick me[/]?" in transcript(app)
        shown = transcript(app)
        assert "[link=https://example.com]click me[/link]" in shown
        assert answer.query(CitationLink).first().passage.source == "[weird] name.txt"
        assert "[1] [weird] name.txt:" in shown
        await pilot.press("escape", "1")
        await until(pilot, lambda: isinstance(app.screen, SourceScreen))
        area = app.screen.query_one(TextArea)
        await until(pilot, lambda: area.text != "")
        assert "␛[31mred␛[0m and a bell ␇" in area.text and "[link=https://example.com]" in area.text
        await pilot.press("escape")
        bell = await ask(pilot, "Which line has escapes and a bell?")
        assert bell.reply.answer is not None and "\x07" in bell.reply.answer.text
        sentence = plain(bell.query_one(".answer-sentence"))
        assert "␛[31mred␛[0m and a bell ␇ and" in sentence and "\\x" not in sentence  # as in the passage, not escaped
        weird = await ask(pilot, "\x1b]0;title\x07 [/] \\ ?")  # markup and escapes as a question: nothing breaks
        assert weird is not None and not app.query("NoteMessage.error")  # an answer, not an error


@in_loop
async def test_quitting_during_a_reindex_leaves_the_old_index_in_service(tmp_path):
    seeds, index = letter_index(tmp_path)
    served = (index / "CURRENT").read_text(encoding="utf-8")
    app = QAApp(index, history_path=tmp_path / "h.jsonl", follow=False)  # /reindex alone, not the watcher
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        letter = (SEEDS / LETTER).read_text(encoding="utf-8")
        for number in range(20):  # enough new text (every paragraph changed) that embedding it takes seconds
            (seeds / f"copy-{number}.txt").write_text(letter.replace("\n", f" (copy {number})\n"), encoding="utf-8")
        app.query_one("#question").value = "/reindex"
        await pilot.press("enter")
        await until(pilot, lambda: "texts embedded" in plain(app.query_one("#status-text")))
        app.exit()
    assert (index / "CURRENT").read_text(encoding="utf-8") == served
    assert [p.name for p in index.iterdir() if p.is_dir()] == [served.strip()]


@in_loop
async def test_the_app_answers_from_the_old_index_during_a_reindex_and_switches_when_it_is_complete(tmp_path, monkeypatch, build_encoder):
    from qa.embedding.encoder import OnnxEncoder

    # The re-index really embeds, but holds after its first batch until the questions
    # below are answered, so "during" does not depend on the machine's speed.
    release = threading.Event()
    embed = OnnxEncoder.encode

    def held_after_first_batch(self, texts, *, on_progress=None, **kwargs):
        if on_progress is None:  # answer sentences, not the build
            return embed(self, texts, **kwargs)

        def report(done: int, total: int) -> None:
            on_progress(done, total)
            assert release.wait(timeout=300), "the test never released the build"

        return embed(self, texts, on_progress=report, **kwargs)

    seeds, index = letter_index(tmp_path)
    served = (index / "CURRENT").read_text(encoding="utf-8")
    monkeypatch.setattr(OnnxEncoder, "encode", held_after_first_batch)
    app = QAApp(index, history_path=tmp_path / "h.jsonl", follow=False)  # /reindex alone, not the watcher
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        (seeds / "otters.md").write_text("# Otters\n\nSea otters hold hands while they sleep.\n", encoding="utf-8")
        app.query_one("#question").value = "/reindex"
        await pilot.press("enter")
        try:
            await until(pilot, lambda: "texts embedded" in plain(app.query_one("#status-text")))
            answer = await ask(pilot, "Who took part in the listening project?")
            assert answer.has_class("found") and answer.query(CitationLink).first().passage.source == LETTER
            otters = await ask(pilot, "What do sea otters do while they sleep?")
            assert not otters.has_class("found")  # the new document is not served half-built
            assert (index / "CURRENT").read_text(encoding="utf-8") == served
            # Each says it comes from the index as it was, while it is updated, and lands in view.
            assert all(plain(a.query_one(".answer-note")) == UPDATING_NOTE for a in (answer, otters))
            await until(pilot, lambda: in_view(app, otters), timeout=30, what="the answer given during the update is not in view")
        finally:
            release.set()
        await until(pilot, lambda: app.corpus is not None and app.corpus.documents == 2)
        assert "Index updated: 2 files" in transcript(app) and app.sub_title.startswith("2 documents")
        # Once the update lands, both are asked again, in order, and answered from the new index.
        await until(pilot, lambda: len(app.query(AnswerMessage)) == 4 and app.query(AnswerMessage).last().is_mounted)
        again = list(app.query(QuestionMessage))[-2:]
        assert [plain(q) for q in again] == [
            f"› {question}  {ASKED_AGAIN}" for question in ("Who took part in the listening project?", "What do sea otters do while they sleep?")
        ]
        otters = app.query(AnswerMessage).last()
        assert otters.query(CitationLink).first().passage.source == "otters.md" and not otters.query(".answer-note")
        await until(pilot, lambda: in_view(app, otters), timeout=30, what="the answer asked again is not in view")


@in_loop
async def test_a_failure_while_answering_is_a_message_and_the_app_answers_again_once_mended(tmp_path):
    seeds, index = letter_index(tmp_path)
    current = index / "CURRENT"
    served = current.read_text(encoding="utf-8")
    app = QAApp(index, history_path=tmp_path / "h.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        current.write_text("gen-0\n", encoding="utf-8")  # the index vanishes from under the app
        assert await ask(pilot, "Who signed the letter?") is None
        error = plain(app.query("NoteMessage.error").last())
        assert error.startswith("Could not answer:") and "manifest is missing" in error and "--rebuild" in error
        assert app.ready  # the app is up and still answers (below)
        current.write_text(served, encoding="utf-8")
        answer = await ask(pilot, "Who signed the letter?")
        assert answer is not None and answer.has_class("found")


@in_loop
async def test_a_pasted_megabyte_question_is_answered_and_shown_cut_short(app):
    question = "Who took part in the listening project? " + "and more words " * 70_000
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        answer = await ask(pilot, question)  # its time: docs/bad-input.md (0.08 s here)
        assert answer.has_class("found")
        assert answer.query(CitationLink).first().passage.line_start == letter_line("aged 14-24")
        shown = plain(app.query(QuestionMessage).last())
        assert len(shown) < 1000 and f"({len(question):,} characters; the first 4,000 are read)" in shown
        await ask(pilot, "Who took part in the listening project? " + "and more " * 100)
        assert plain(app.query(QuestionMessage).last()).endswith(" … (940 characters)")  # all of it is read


@in_loop
async def test_what_the_workers_report_arrives_as_messages_the_app_handles_on_its_thread(app):
    """Each outcome is a message: posting one drives the app as a worker would, without a thread."""
    from qa.errors import QAError
    from tui.messages import FolderChanged, Status, WorkFailed

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        app.post_message(Status("Updating the index: 3/8 texts embedded", 3, 8))
        await until(pilot, lambda: "3/8 texts embedded" in plain(app.query_one("#status-text")))
        app.post_message(WorkFailed("Could not update the index", QAError("the disk is full")))
        await until(pilot, lambda: bool(app.query("NoteMessage.error")))
        assert plain(app.query("NoteMessage.error").last()) == "Could not update the index: the disk is full."
        assert not app.query_one("#status").display  # the status line went with the failure
        app.post_message(FolderChanged(stopped="Stopped following seeds for changes: too many files."))
        await until(pilot, lambda: len(app.query("NoteMessage.error")) == 2)
        assert "Stopped following seeds" in plain(app.query("NoteMessage.error").last())
