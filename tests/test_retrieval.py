"""Retrieval on the seed letter: citations, abstention, keywords, follow-ups, answer sentences."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from typing import Any

import numpy as np
import pytest

from qa import Chat, Passage, retrieve
from qa.answering.search import DENSE_WEIGHT, PASSAGE_WEIGHT, get_engine, rank
from qa.building.build import embedding_text, lexical_text, sentence_texts
from qa.evaluate import evaluate, load_questions
from qa.formats.documents import read_document
from qa.indexfiles.lexical import tokenize
from qa.indexfiles.store import open_index
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


def _bm25_oracle(documents: list[list[str]], query: list[str]) -> np.ndarray:
    """Lucene BM25 (k1 1.5, b 0.75) of every document, summed over the query's words and
    divided by the best the query could reach: the sum of each word's best score in any
    document, a word no document uses counting as the best score of any word."""
    k1, b = 1.5, 0.75
    n, average = len(documents), sum(map(len, documents)) / len(documents)
    frequency = Counter(word for words in documents for word in set(words))

    def score(word: str, words: list[str]) -> float:
        tf = words.count(word)
        idf = math.log(1 + (n - frequency[word] + 0.5) / (frequency[word] + 0.5))
        return idf * tf / (tf + k1 * (1 - b + b * len(words) / average)) if tf else 0.0

    best = {word: max(score(word, words) for words in documents) for word in frequency if word}
    known = [word for word in query if word in best]
    if not known:
        return np.zeros(n)
    ceiling = sum(best[word] for word in known) + max(best.values()) * (len(query) - len(known))
    return np.array([sum(score(word, words) for word in known) for words in documents]) / ceiling


_embedded_again: dict[str, tuple[list[Any], np.ndarray, list[list[str]], np.ndarray]] = {}


def _embedded_again_once(index_dir, embedder) -> tuple[list[Any], np.ndarray, list[list[str]], np.ndarray]:
    """The index's passages, their texts' vectors, their units' texts and vectors, embedded
    again here by sentence-transformers: once per index, not once per question."""
    if str(index_dir) not in _embedded_again:
        passages = open_index(index_dir).passages
        units = [sentence_texts(r) for r in passages]
        _embedded_again[str(index_dir)] = (
            passages, embedder.encode([embedding_text(r) for r in passages]), units,
            embedder.encode([text for texts in units for text in texts]),
        )
    return _embedded_again[str(index_dir)]


def _oracle_ranking(index_dir, embedder, question: str, k: int, dense_weight: float) -> list[tuple[tuple[str, int], float]]:
    """((file, start), fused score) of the k best passages, scored one by one over every passage
    of the index, from texts embedded again here by sentence-transformers."""
    passages, passage_vectors, units, unit_vectors = _embedded_again_once(index_dir, embedder)
    q = embedder.encode([question])[0]
    lexical = _bm25_oracle([tokenize(lexical_text(r)) or [""] for r in passages], tokenize(question))
    cosines = np.clip(passage_vectors @ q, 0, 1)
    unit_cosines = iter(np.clip(unit_vectors @ q, 0, 1))
    scored = []
    for record, lex, cosine, texts in zip(passages, lexical, cosines, units):
        best_unit = max(next(unit_cosines) for _ in texts) if texts else cosine
        dense = PASSAGE_WEIGHT * cosine + (1 - PASSAGE_WEIGHT) * best_unit
        scored.append((dense_weight * dense + (1 - dense_weight) * lex, record))
    chosen: list[tuple[float, Any]] = []
    for score, record in sorted(scored, key=lambda pair: -pair[0]):
        if not any(r.source == record.source and r.start < record.end and record.start < r.end for _, r in chosen):
            chosen.append((score, record))
    return [((r.source, r.start), score) for score, r in chosen[:k]]


@pytest.mark.parametrize("dense_weight", [1.0, DENSE_WEIGHT], ids=["dense-only", "hybrid"])
def test_retrieve_ranks_as_the_fused_formula_scored_over_every_passage(seed_index, stdlib_index, embedder, dense_weight):
    cases = [(seed_index, q["q"]) for q in map(json.loads, (DATA / "seed_questions.jsonl").read_text().splitlines()[:8])]
    cases += [(stdlib_index, q) for q in ("How do I split a command line like a shell does?", "wrap text to a width",
                                          "Fraction from a decimal string", "What does the JSON decoder do with NaN?")]
    for index_dir, question in cases:
        expected = _oracle_ranking(index_dir, embedder, question, 5, dense_weight)
        found = rank(question, 5, index_dir=index_dir, min_score=0, dense_weight=dense_weight).found
        assert [p.score for p in found] == pytest.approx([score for _, score in expected], abs=2e-4), question
        # The same passages, in the same order, wherever two scores are not tied.
        for p, (where, score) in zip(found, expected):
            tied = sum(abs(other - score) < 2e-4 for _, other in expected) > 1
            assert tied or (p.source, p.start) == where, (question, [(x.source, x.start) for x in found], expected)


def test_the_index_holds_the_vectors_of_its_passages_texts(seed_index, embedder):
    index = open_index(seed_index)
    stored = index.vectors.reconstruct_n(0, index.vectors.ntotal)
    assert np.allclose(stored, embedder.encode([embedding_text(r) for r in index.passages]), atol=1e-5)


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
    """A guard, with a margin, on our own dev questions (the figures are in docs/quality.md, "Measured")."""
    report = evaluate(load_questions(DATA / "seed_questions.jsonl"), k=3, index_dir=seed_index)
    overall = report.overall
    assert overall["hit@1"] >= 0.9
    assert overall["hit@k"] >= 0.95
    assert overall["wrongly_abstained"] == 0 and overall["wrongly_answered"] == 0
    assert report.kinds["out_of_scope"]["abstention"] == 1.0


def test_the_answer_sentence_is_found_however_many_questions_came_before(seed_index, monkeypatch):
    """The engine keeps the rows of the passages it returned lately, dropping the oldest,
    never those of the question being answered (ROWS_REMEMBERED is set just above k)."""
    import qa.answering.search

    monkeypatch.setattr(qa.answering.search, "ROWS_REMEMBERED", 6)
    chat = Chat(seed_index)
    for question, words in [("Which charity did the #isolationgames raise funds for?", "British Red Cross"),
                            ("Who took part in the listening project?", "14-24"),
                            ("Which charity did the #isolationgames raise funds for?", "British Red Cross")]:
        chat.clear()
        reply = chat.ask(question, k=5)
        assert reply.answer is not None and words in reply.answer.text, question
