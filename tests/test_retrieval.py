"""Retrieval on the seed letter: citations, abstention, keywords, follow-ups, answer sentences."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from qa import Chat, Passage, retrieve
from qa.build import embedding_text
from qa.documents import read_document
from qa.evaluate import evaluate, load_questions
from qa.search import get_engine
from qa.store import open_index
from tests.conftest import DATA, LETTER


def lines(passages: list[Passage]) -> list[str]:
    return [p.citation for p in passages]


def test_a_question_cites_the_paragraph_that_answers_it(seed_index):
    top = retrieve("Who took part in the listening project?", k=3, index_dir=seed_index)
    assert top[0].citation == f"{LETTER}:4" and "aged 14-24" in top[0].text
    nearest = retrieve("Who took part in the listening project?", k=3, index_dir=seed_index, min_score=0)
    assert len(nearest) == 3 and nearest[0] == top[0] and nearest[0].score >= nearest[1].score >= nearest[2].score


def test_passages_are_exact_slices_of_their_document(seed_index):
    text = read_document(open_index(seed_index).manifest.seeds_dir + "/" + LETTER)
    for p in retrieve("mental health charity", k=5, index_dir=seed_index, min_score=0):
        assert text[p.start : p.end] == p.text
        assert p.line_start == text.count("\n", 0, p.start) + 1


def test_dense_side_agrees_with_a_numpy_cosine_oracle(seed_index, embedder):
    index = open_index(seed_index)
    question = "Which charity did the #isolationgames raise funds for?"
    vectors = embedder.encode([embedding_text(r) for r in index.passages])
    q = embedder.encode([question])[0]
    oracle = np.argsort(-(vectors @ q))
    _, faiss_ids = index.vectors.search(q[None, :], 3)
    assert list(faiss_ids[0]) == list(oracle[:3])
    stored = index.vectors.reconstruct_n(0, index.vectors.ntotal)
    assert np.allclose(stored, vectors, atol=1e-5)


def test_questions_are_encoded_as_the_model_encodes_them(embedder):
    texts = ["Who signed the letter?", "The #isolationgames partnership with Team GB " * 40, "  émoji 🐝 and\ttabs "]
    assert np.allclose(embedder.encode_questions(texts), embedder.encode(texts), atol=1e-5)
    assert np.allclose(embedder.encode_questions(texts[:1]), embedder._model.encode(texts[:1], normalize_embeddings=True), atol=1e-5)


def test_an_unanswerable_question_returns_nothing_unless_abstention_is_off(seed_index):
    assert retrieve("What is the capital of France?", index_dir=seed_index) == []
    assert len(retrieve("What is the capital of France?", k=2, index_dir=seed_index, min_score=0)) == 2


@pytest.mark.parametrize("keywords, line", [("prince's trust", 6), ("#isolationgames", 2), ("Liz Kanter", 9)])
def test_short_keyword_queries_are_found(seed_index, keywords, line):
    top = retrieve(keywords, k=3, index_dir=seed_index)
    assert top and top[0].citation == f"{LETTER}:{line}"


def test_a_follow_up_is_read_in_the_light_of_the_question_before(seed_index):
    history = ["Who took part in the listening project?"]
    top = retrieve("What age were they?", k=1, history=history, index_dir=seed_index)
    assert lines(top) == [f"{LETTER}:4"]


def test_a_new_self_contained_question_is_not_pulled_to_the_previous_topic(seed_index):
    history = ["Who took part in the listening project?"]
    top = retrieve("What did Dame Judi Dench thank the TikTok community for?", k=1, history=history, index_dir=seed_index)
    assert lines(top) == [f"{LETTER}:2"]
    assert retrieve("What is the capital of France?", history=history, index_dir=seed_index) == []
    # Its pronoun points at its own new subject, not at the conversation.
    assert retrieve("What do sea otters do while they sleep?", history=history, index_dir=seed_index) == []


def test_overlapping_windows_of_one_paragraph_appear_once(tmp_path, embedder):
    from qa import build_index

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    sentences = [f"Fact number {i} about the orchard is that tree {i} bears {i * 3} apples every autumn." for i in range(80)]
    (seeds / "orchard.txt").write_text(" ".join(sentences), encoding="utf-8")
    build_index(seeds, tmp_path / "index")
    found = retrieve("how many apples does a tree bear in autumn", k=10, index_dir=tmp_path / "index", min_score=0)
    assert len(open_index(tmp_path / "index").passages) >= 4
    for a in found:
        for b in found:
            assert a is b or a.end <= b.start or b.end <= a.start


def test_chat_keeps_history_and_finds_the_answer_sentence(seed_index):
    chat = Chat(seed_index)
    first = chat.ask("What was #isolationgames?", k=3)
    assert first.found and first.passages[0].citation == f"{LETTER}:2"
    reply = chat.ask("Which charity did it raise funds for?", k=3)
    assert reply.found and reply.passages[0].citation == f"{LETTER}:2"
    text = read_document(open_index(seed_index).manifest.seeds_dir + "/" + LETTER)
    answer = reply.answer
    assert answer is not None and text[answer.start : answer.end] == answer.text
    assert "British Red Cross" in answer.text
    chat.clear()
    assert chat.history == []
    out = chat.ask("What is the boiling point of water?")
    assert not out.found and out.answer is None and out.nearby


def test_the_model_and_index_are_loaded_once_per_index(seed_index):
    assert get_engine(seed_index) is get_engine(seed_index)


def test_answering_leaves_the_model_all_its_threads_for_the_next_build(seed_index):
    """torch and faiss share one OpenMP runtime here: pinning faiss to one thread for queries
    once halved the speed of every later build in the process (the app's re-index)."""
    script = (
        "import sys, torch; before = torch.get_num_threads()\n"
        "from qa import retrieve; retrieve('Who took part in the listening project?', index_dir=sys.argv[1])\n"
        "print(before, torch.get_num_threads())"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2"}  # two threads to keep, even on a one-core runner
    out = subprocess.run([sys.executable, "-c", script, str(seed_index)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    before, after = map(int, out.stdout.split())
    assert before == 2 and after == before


def test_seed_questions_do_not_regress(seed_index):
    """A guard, with a margin, on our own dev questions (the figures are in the README, "Measured")."""
    report = evaluate(load_questions(DATA / "seed_questions.jsonl"), k=3, index_dir=seed_index)
    overall = report.overall
    assert overall["hit@1"] >= 0.9
    assert overall["hit@k"] >= 0.95
    assert overall["wrongly_abstained"] == 0 and overall["wrongly_answered"] == 0
    assert report.kinds["out_of_scope"]["abstention"] == 1.0
