"""Questions as people really type (and paste) them: answered or refused, quickly, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import retrieve
from qa.errors import EmptyQuestionError
from qa.formats.documents import read_document
from qa.indexfiles.store import open_index
from tests.conftest import LETTER, run_qa

ASKED = "Who took part in the listening project?"  # the letter's line 4 answers it


@pytest.mark.parametrize(
    "question",
    [
        f"\x1b[31m{ASKED}\x1b[0m",  # ANSI colours, pasted from a terminal
        f"[bold]{ASKED}[/bold] [link=https://example.com]x[/link]",  # Rich markup
        ASKED.replace(" ", "\x00 ", 2) + "\x07\x08\x7f",  # NUL, bell, backspace, DEL
        f"\u202e{ASKED}\u202c",  # a right-to-left override around it
        f"🎧 {ASKED} 🤔",
        ASKED + " " + "Who took part in the listening project? " * 26_000,  # over 1 MB
    ],
    ids=["ansi", "markup", "control", "rtl-override", "emoji", "1MB"],
)
def test_noise_around_a_question_does_not_stop_it_being_answered(seed_index, question):
    top = retrieve(question, k=3, index_dir=seed_index)
    assert top and top[0].citation == f"{LETTER}:4"


@pytest.mark.parametrize(
    "question",
    ["Qui a participé au projet d'écoute ?", "من شارك في مشروع الاستماع؟", "谁参加了倾听项目？"],
    ids=["french", "arabic", "chinese"],
)
def test_a_question_in_another_language_is_refused_not_guessed(seed_index, question):
    """The bundled model reads English: matching another language would be a guess."""
    assert retrieve(question, k=3, index_dir=seed_index) == []


@pytest.mark.parametrize("question", ["", "   ", "\n\t \u3000"])
def test_an_empty_question_is_a_clear_error(seed_index, question):
    with pytest.raises(EmptyQuestionError, match="empty"):
        retrieve(question, index_dir=seed_index)


def test_the_command_answers_a_long_question_and_refuses_a_blank_one(seed_index):
    long = run_qa("ask", ASKED + " and more" * 12_000, "-k", "1", "--index", str(seed_index))  # ~100 KB (argv's limit is 128 KB)
    assert long.returncode == 0 and f"[1] {LETTER}:4" in long.stdout, long.stderr
    blank = run_qa("ask", " \t ", "--index", str(seed_index))
    assert blank.returncode != 0 and blank.stderr.startswith("qa: error:") and "Traceback" not in blank.stderr


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(max_size=300), k=st.integers(min_value=1, max_value=6), min_score=st.sampled_from([None, 0.0]))
def test_any_unicode_question_returns_cited_exact_passages_or_a_clear_error(seed_index, question, k, min_score):
    try:
        found = retrieve(question, k=k, index_dir=seed_index, min_score=min_score)
    except EmptyQuestionError:
        assert not question.strip()
        return
    assert question.strip()
    assert len(found) <= k
    assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)
    text = read_document(open_index(seed_index).manifest.seeds_dir + "/" + LETTER)
    for p in found:
        assert 0.0 <= p.score <= 1.0
        assert text[p.start : p.end] == p.text
        assert p.line_start == text.count("\n", 0, p.start) + 1
    if min_score == 0.0:
        assert len(found) == min(k, len(open_index(seed_index).passages))


def test_a_follow_up_after_a_pasted_page_is_still_read(seed_index):
    """The question before a follow-up is read only in part, so the follow-up's words count."""
    from qa import Chat

    chat = Chat(seed_index)
    chat.ask("Who took part in the listening project? " + "Some pasted text. " * 5_000)
    reply = chat.ask("Which charity did they raise money for with the #isolationgames?")
    assert reply.found and "British Red Cross" in reply.passages[0].text
    assert reply.answer is not None and "British Red Cross" in reply.answer.text
