"""The app as people use it: every answer in view, nothing typed lost, the index following
the folder. Driven with Pilot at the sizes people use, on the real model and real indexes."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import DATA, LETTER, busy_cores
from tests.pilot import ask as ask_and_wait
from tests.pilot import in_loop, in_view, plain, screen_text, shown, until
from tests.test_app import letter_index
from tui.app import QAApp
from tui.source import SourceScreen
from tui.transcript import AnswerMessage, PassageView, QuestionMessage

QUESTIONS = [
    "Who took part in the listening project?",
    "Which charity did #isolationgames raise funds for?",
    "What did creators do for Mental Health Awareness Week?",
]


async def open_and_close_a_citation(pilot) -> None:
    await pilot.press("escape", "1")  # out of the input, then citation 1
    await until(pilot, lambda: isinstance(pilot.app.screen, SourceScreen), what="the source panel did not open")
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(pilot.app.screen, SourceScreen), what="the source panel did not close")


# What a person does between questions: nothing, go back to the start, page up, read a source.
MOVES = [(), ("ctrl+home",), ("pageup",), open_and_close_a_citation]
TWENTY = [json.loads(line)["q"] for line in (DATA / "seed_questions.jsonl").read_text(encoding="utf-8").splitlines()[:20]]


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (130, 40)])
@in_loop
async def test_twenty_answers_in_a_row_each_land_in_view_the_last_ten_with_every_core_busy(seed_index, tmp_path, size):
    app = QAApp(seed_index, history_path=tmp_path / "h.jsonl", follow=False)
    with contextlib.ExitStack() as load:
        async with app.run_test(size=size) as pilot:
            for number, question in enumerate(TWENTY):
                if number == 10:
                    load.enter_context(busy_cores())
                move = MOVES[number % len(MOVES)]
                if number and callable(move):
                    await move(pilot)
                elif number:
                    await pilot.press(*move)
                answer = await ask_and_wait(pilot, question)
                assert answer is not None
                where = f"answer {number + 1} at {size[0]}x{size[1]} ({question!r})"
                await until(pilot, lambda: in_view(app, answer), timeout=30, what=f"{where} is not in view")
                for _ in range(3):  # and it stays there: nothing scrolls it away afterwards
                    await pilot.pause()
                    assert in_view(app, answer), f"{where} left the view; the screen showed:\n{screen_text(app)}"
                assert not app.query_one("#new-answer").display, where  # not scrolled away: no marker
                assert app.query_one("#question").has_focus


@in_loop
async def test_page_keys_scroll_from_the_input_and_a_new_answer_below_is_marked_not_jumped_to(seed_index, tmp_path, monkeypatch):
    from qa.chat import Chat

    # The third answer is really computed, but held until the user has scrolled up, so
    # "while reading above" does not depend on the machine's speed.
    release = threading.Event()
    real_ask = Chat.ask

    def held(self, question, k=5):
        if question == QUESTIONS[2]:
            assert release.wait(timeout=300), "the test never released the answer"
        return real_ask(self, question, k)

    monkeypatch.setattr(Chat, "ask", held)
    app = QAApp(seed_index, history_path=tmp_path / "h.jsonl", follow=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for question in QUESTIONS[:2]:
            await ask_and_wait(pilot, question)
        transcript = app.query_one("#transcript")
        box = app.query_one("#question")
        await pilot.pause()
        bottom = transcript.scroll_y
        await pilot.press("pageup")
        assert transcript.scroll_y < bottom and box.has_focus
        await pilot.press("pagedown")
        assert transcript.scroll_y > bottom - transcript.content_region.height
        await pilot.press("ctrl+home")
        assert transcript.scroll_y == 0 and box.has_focus
        # Reading the first answer; the next one arrives below: marked, the text stays put.
        box.value = QUESTIONS[2]
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("ctrl+home")  # the user goes back up while it is being answered
        release.set()
        await until(pilot, lambda: len(app.query(AnswerMessage)) == 3)
        await pilot.pause()
        marker = app.query_one("#new-answer")
        assert transcript.scroll_y == 0 and marker.display and marker.region.height == 1
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert not marker.display and shown(app.query(AnswerMessage).last(), app)


@in_loop
async def test_once_the_person_scrolls_in_the_transcript_a_new_layout_leaves_the_view_where_they_put_it(seed_index, tmp_path):
    app = QAApp(seed_index, history_path=tmp_path / "h.jsonl", follow=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for question in QUESTIONS[:2]:
            await ask_and_wait(pilot, question)
        transcript = app.query_one("#transcript")
        await until(pilot, lambda: transcript.scroll_y > 0)
        await pilot.press("escape", "home")  # into the transcript, then its own key to the top
        assert transcript.scroll_y == 0
        await pilot.resize_terminal(100, 30)  # a layout: what the person chose stays
        await pilot.pause()
        assert transcript.scroll_y == 0


@in_loop
async def test_after_the_source_panel_closes_typing_goes_to_the_question(seed_index, tmp_path):
    app = QAApp(seed_index, history_path=tmp_path / "h.jsonl", follow=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask_and_wait(pilot, QUESTIONS[0])
        box = app.query_one("#question")
        await pilot.press("escape", "1")  # out of the input, then citation 1
        await until(pilot, lambda: isinstance(app.screen, SourceScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SourceScreen))
        assert box.has_focus
        await pilot.press(*"/help", "enter")
        assert "/reindex" in plain(app.query("NoteMessage").last())
        # With the transcript focused, a letter goes to the question (digits open citations).
        await pilot.press("escape")
        assert not box.has_focus
        await pilot.press("w", "h", "o")
        assert box.has_focus and box.value == "who"


@in_loop
async def test_up_arrow_recalls_questions_not_commands(seed_index, tmp_path):
    app = QAApp(seed_index, history_path=tmp_path / "h.jsonl", follow=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask_and_wait(pilot, QUESTIONS[0])
        box = app.query_one("#question")
        box.value = "/k 3"
        await pilot.press("enter")
        await pilot.press("up")
        assert box.value == QUESTIONS[0]
        await pilot.press("up")
        assert box.value == QUESTIONS[0]  # nothing older: /k 3 was not kept
    assert "/k" not in (tmp_path / "h.jsonl").read_text(encoding="utf-8")


@in_loop
async def test_the_app_follows_the_folder_and_answers_from_the_index_as_it_was_meanwhile(tmp_path):
    seeds, index = letter_index(tmp_path)
    titles: list[str] = []

    class Recorded(QAApp):
        CSS_PATH = Path(sys.modules[QAApp.__module__].__file__).with_name("app.tcss")  # type: ignore[arg-type]

        def watch_sub_title(self, value: str) -> None:  # every header the user saw
            titles.append(value)

    app = Recorded(index, history_path=tmp_path / "h.jsonl")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.ready)
        (seeds / "otters.md").write_text("# Otters\n\nSea otters hold hands while they sleep.\n", encoding="utf-8")
        # Questions are answered while it updates (test_app.py holds a build to check
        # that they come from the index as it was).
        answer = await ask_and_wait(pilot, "Who took part in the listening project?")
        assert answer.has_class("found") and answer.query(PassageView).first().passage.source == LETTER
        await until(pilot, lambda: app.corpus is not None and app.corpus.documents == 2)
        assert any("updating" in title for title in titles)  # the header said so, then the new counts
        assert app.sub_title.startswith("2 documents") and "updating" not in app.sub_title
        otters = await ask_and_wait(pilot, "What do sea otters do while they sleep?")
        assert otters.query(PassageView).first().passage.source == "otters.md"
        # An edit to a document is followed too.
        letter = seeds / LETTER
        served = (index / "CURRENT").read_text(encoding="utf-8")
        updates = len(titles)
        letter.write_text(letter.read_text(encoding="utf-8") + "\n\nThe letter ends with a note about lighthouses.\n", encoding="utf-8")
        await until(pilot, lambda: (index / "CURRENT").read_text(encoding="utf-8") != served)
        await until(pilot, lambda: len(titles) > updates and "updating" not in app.sub_title)
        edited = await ask_and_wait(pilot, "What does the letter say about lighthouses?")
        assert edited.query(PassageView).first().passage.source == LETTER
        assert "lighthouses" in edited.query(PassageView).first().passage.text


@in_loop
async def test_a_question_asked_before_the_index_is_ready_is_shown_at_once_then_answered(tmp_path, monkeypatch, build_encoder):
    from qa.embedding.encoder import OnnxEncoder

    # The build really embeds, but holds after its first batch until the question is in.
    release = threading.Event()
    embed = OnnxEncoder.encode

    def held(self, texts, *, on_progress=None, **kwargs):
        if on_progress is not None:
            assert release.wait(timeout=300), "the test never released the build"
        return embed(self, texts, on_progress=on_progress, **kwargs)

    monkeypatch.setattr(OnnxEncoder, "encode", held)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "otters.md").write_text("# Otters\n\nSea otters hold hands while they sleep.\n", encoding="utf-8")
    app = QAApp(tmp_path / "index", seeds, history_path=tmp_path / "h.jsonl", follow=False)
    async with app.run_test(size=(80, 24)) as pilot:
        try:
            app.query_one("#question").value = "What do sea otters do while they sleep?"
            await pilot.press("enter")
            assert not app.ready
            assert plain(app.query(QuestionMessage).last()).endswith("while they sleep?")
            assert "Waiting" in plain(app.query("PendingMessage").last())
        finally:
            release.set()
        await until(pilot, lambda: bool(app.query(AnswerMessage)) and app.query(AnswerMessage).last().is_mounted)
        assert app.query(AnswerMessage).last().query(PassageView).first().passage.source == "otters.md"


@in_loop
async def test_an_empty_folder_says_where_documents_go_and_answers_once_they_arrive(tmp_path):
    from qa.formats.documents import FORMATS

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    app = QAApp(tmp_path / "index", seeds, history_path=tmp_path / "h.jsonl")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: bool(app.query("NoteMessage")) and "No documents" in plain(app.query("NoteMessage").last()))
        said = " ".join(plain(app.query("NoteMessage").last()).split())
        assert said.startswith(f"No documents in {seeds} yet. Put {FORMATS} files there") and app.sub_title == "no documents yet"
        app.query_one("#question").value = "What do sea otters do while they sleep?"
        await pilot.press("enter")
        assert plain(app.query("PendingMessage").last()) == f"Waiting for documents in {seeds}…"
        (seeds / "otters.md").write_text("# Otters\n\nSea otters hold hands while they sleep.\n", encoding="utf-8")
        await until(pilot, lambda: bool(app.query(AnswerMessage)) and app.query(AnswerMessage).last().is_mounted, timeout=60)
        answer = app.query(AnswerMessage).last()
        assert answer.query(PassageView).first().passage.source == "otters.md"
        assert app.sub_title == "1 document · 1 passage · all-MiniLM-L6-v2"
        assert len(app.query("NoteMessage")) == 2  # the welcome and the one about the folder: said once
