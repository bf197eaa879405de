"""Three outcomes: an answer, "not sure" (the closest passages, labelled as possibly
unrelated) and "not in these documents", with the words the documents never mention named."""

from __future__ import annotations

import json
from pathlib import Path

from qa import Chat, retrieve
from qa.answering.missing import NAME_ZIPF, SPECIFIC_ZIPF, missing_words, zipf
from qa.answering.search import SURE, get_engine, rank
from qa.types import ANSWERED, NOT_ANSWERED, NOT_SURE, never_mentioned
from tests.conftest import run_qa
from tests.pilot import ask, in_loop, in_view, plain, until
from tui.app import QAApp
from tui.transcript import AnswerMessage, PassageView

# Four modules' documentation strings (tests.conftest.stdlib_index): what they cover, and
# questions of the same field about things they never mention.
UNSURE_QUESTION = "Can textwrap hyphenate words with a Hunspell dictionary?"


def test_missing_words_leave_out_typos_accents_stems_and_stopwords(stdlib_index):
    lexical = get_engine(stdlib_index).index.lexical
    assert lexical.uses("wrap") and not lexical.uses("yaml")
    assert missing_words("Which function wraps a single paragraph?", lexical) == []  # stems: "wraps" is "wrap"
    assert not lexical.uses("fracton") and [m.word for m in missing_words("What does a fracton return?", lexical)] == []  # a typo
    found = {m.word: m for m in missing_words("Can the decoder read YAML, or JSON5, for huge inputs?", lexical)}
    assert "YAML" in found and "JSON5" in found and "huge" in found  # "json5" is no typo of "json": a digit is a name
    assert found["YAML"].name and found["YAML"].specific and found["YAML"].zipf == zipf("yaml") < NAME_ZIPF
    assert not found["huge"].name and not found["huge"].specific and found["huge"].zipf >= SPECIFIC_ZIPF


def test_each_outcome_follows_the_bar_and_the_missing_words(stdlib_index):
    """rank's outcome is what its rule says, worked out here from the engine's own scores."""
    manual = stdlib_index
    engine = get_engine(manual)
    questions = [
        "How do I wrap text to a width?", "How do I split a command line like a shell does?", "How do I parse TOML?",
        UNSURE_QUESTION, "Does Fraction support SIMD arithmetic?", "Does shlex handle PowerShell quoting?",
        "Who won the Tour de France in 1998?", "How do I bake sourdough bread?",
    ]
    seen = set()
    for question in questions:
        ranked = rank(question, 3, index_dir=manual)
        scores = engine.scores([question])[0]
        top = ranked.found[0] if ranked.found else ranked.nearby[0]
        row = engine.row_of(top)
        clears = row in scores.clearing(engine.bar)
        specific = tuple(m.word for m in missing_words(question, engine.index.lexical) if m.specific)
        if not clears:
            expected = NOT_ANSWERED
        elif specific and scores.evidence(row, engine.bar) < SURE:
            expected = NOT_SURE
        else:
            expected = ANSWERED
        assert ranked.outcome == expected, (question, ranked.outcome, expected)
        assert ranked.missing == (specific if expected != ANSWERED else ())
        assert (ranked.found != []) == (expected == ANSWERED)
        assert retrieve(question, k=3, index_dir=manual) == ranked.found  # retrieve returns answers only
        seen.add(expected)
    assert seen == {ANSWERED, NOT_SURE, NOT_ANSWERED}  # the set above reaches all three


def _unsure_on_its_own_terms(index: Path) -> None:
    """UNSURE_QUESTION's preconditions: its best passage clears the bar, by less than SURE,
    and it names a word the documents never use. The tests below then check what is said."""
    engine = get_engine(index)
    scores = engine.scores([UNSURE_QUESTION])[0]
    best = scores.best()
    assert best in scores.clearing(engine.bar) and scores.evidence(best, engine.bar) < SURE
    assert [m.word for m in missing_words(UNSURE_QUESTION, engine.index.lexical) if m.specific] == ["Hunspell"]


def test_chat_and_the_command_say_the_outcome_and_name_what_is_missing(stdlib_index):
    _unsure_on_its_own_terms(stdlib_index)
    reply = Chat(stdlib_index).ask(UNSURE_QUESTION)
    assert reply.outcome == NOT_SURE and reply.missing == ("Hunspell",) and not reply.found and reply.answer is None
    assert reply.nearby and reply.nearby[0].source == "textwrap.txt"  # the closest, shown as possibly unrelated
    data = json.loads(run_qa("ask", UNSURE_QUESTION, "--json", "--index", str(stdlib_index)).stdout)
    assert data["outcome"] == "unsure" and data["missing"] == ["Hunspell"] and data["passages"] == []
    assert data["nearby"][0]["source"] == "textwrap.txt" and data["nearby"][0]["relevant"] is False
    text = run_qa("ask", UNSURE_QUESTION, "--index", str(stdlib_index)).stdout
    assert text.startswith(f"Not sure these documents answer that. {never_mentioned(('Hunspell',))}\n")
    assert "may be unrelated" in text and "[1] textwrap.txt:" in text
    answered = json.loads(run_qa("ask", "How do I wrap text to a width?", "--json", "--index", str(stdlib_index)).stdout)
    assert answered["outcome"] == "answer" and answered["missing"] == [] and answered["passages"][0]["source"] == "textwrap.txt"
    refused = json.loads(run_qa("ask", "How do I bake sourdough bread?", "--json", "--index", str(stdlib_index)).stdout)
    assert refused["outcome"] == "not_found" and refused["passages"] == [] and refused["nearby"]


@in_loop
async def test_the_app_shows_not_sure_with_the_closest_passages_in_view_and_names_what_is_missing(stdlib_index, tmp_path):
    _unsure_on_its_own_terms(stdlib_index)
    app = QAApp(stdlib_index, history_path=tmp_path / "h.jsonl", follow=False)
    async with app.run_test(size=(100, 30)) as pilot:
        answer = await ask(pilot, UNSURE_QUESTION)
        assert answer is not None and answer.has_class("unsure")
        said = plain(answer.query_one(".answer-sentence"))
        assert said.startswith("Not sure these documents answer that. They never mention Hunspell.") and "may be unrelated" in said
        await until(pilot, lambda: in_view(app, answer), timeout=30, what="the reply is not in view")
        first = answer.query(PassageView).first()
        assert first.passage.source == "textwrap.txt" and first.region.height > 0  # shown, not folded away
        await pilot.press("escape", "1")  # and its citation opens
        await pilot.pause()
        assert app.screen.passage == first.passage  # type: ignore[attr-defined]
        await pilot.press("escape")
        refused = await ask(pilot, "How do I bake sourdough bread?")
        assert isinstance(refused, AnswerMessage) and refused.has_class("not-found")


def test_a_version_the_documents_never_mention_is_missing_though_its_words_are_not(tmp_path):
    from qa import build_index

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "protocols.md").write_text(
        "# Protocols\n\nThe client speaks HTTP/1.1 and HTTP/2, over TLS when the address starts with https. "
        "It runs on Python 3.10 and later.\n",
        encoding="utf-8",
    )
    build_index(seeds, tmp_path / "index")
    lexical = get_engine(tmp_path / "index").index.lexical
    assert lexical.versioned == {"http/1.1", "http/2", "python 3.10"}
    assert missing_words("Does it speak HTTP/2 on Python 3.10?", lexical) == []
    missing = missing_words("Does it speak HTTP/3 on Python 3.13?", lexical)
    assert [(m.word, m.name, m.specific) for m in missing] == [("HTTP/3", True, True), ("Python 3.13", True, True)]
