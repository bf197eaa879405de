"""Refusal is calibrated on each corpus at build time, stored in the manifest, and used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.corpus import docstrings, stdlib_sources
from qa import Chat, build_index, retrieve
from qa.answering.bar import COSINE_FLOOR, STRENGTH_FLOOR
from qa.answering.search import _engines
from qa.building.refusal import bank
from qa.indexfiles.store import current_generation, open_index
from tests.conftest import DATA, LETTER, SEEDS

# Off-topic questions of our own, none of them in the bank the bar is calibrated with,
# and none looked at while it was calibrated.
OFF_TOPIC = (
    "At what temperature should a turkey be roasted?", "Which countries does the Danube flow through?",
    "What is the offside trap in hockey?", "How do I get red wine out of a carpet?", "Who wrote the novel Middlemarch?",
    "What causes the northern lights?", "How much water should a cactus get in winter?", "When did the Roman Empire fall?",
    "What is a good warm-up before running?", "How do I change a bicycle tyre?", "Why do cats purr?",
    "What is the tallest building in the world?", "How many bones are in the human body?", "Which wine goes with salmon?",
    "What does a notary public do?", "How do I unblock a sink drain?", "What is the plot of Hamlet?",
    "How do hurricanes get their names?", "What is compound interest?", "How long does it take to learn the piano?",
)


def test_the_test_questions_are_not_in_the_bank():
    asked = {q.casefold() for q in OFF_TOPIC}
    for path in DATA.glob("*_questions.jsonl"):
        asked |= {json.loads(line)["q"].casefold() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
    assert not asked & {q.casefold() for q in bank()}
    assert len(bank()) >= 300


def _one_liners(count: int) -> list[str]:
    """`count` distinct one-sentence summaries from the standard library's docstrings."""
    found: dict[str, None] = {}
    for module, path in stdlib_sources():
        for _, doc in docstrings(module, path.read_text(encoding="utf-8", errors="replace")):
            first = " ".join(doc.split("\n\n")[0].split())
            if 30 <= len(first) <= 200 and first.endswith("."):
                found.setdefault(first)
            if len(found) == count:
                return list(found)
    raise AssertionError("the standard library has fewer docstrings than the test needs")


def test_a_growing_corpus_keeps_refusing_off_topic_questions(tmp_path: Path, embedder):
    """The bar rises with the corpus, so the share of unrelated questions answered stays
    small from 10 to 2,000 passages; the floors alone (the bar of a tiny corpus) would
    answer many of them at 2,000. The bar sits at the bank's 95th percentile, so a
    question or two in twenty may still get through by one shared word."""
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    shutil.copy(SEEDS / LETTER, seeds / LETTER)
    lines = _one_liners(1991)
    bars, answered = [], []
    # The letter's 9 paragraphs, then one-sentence paragraphs up to 10, 200 and 2,000 passages.
    for size, (first, last) in ((10, (0, 1)), (200, (1, 191)), (2000, (191, 1991))):
        (seeds / f"stdlib-{size}.txt").write_text("\n\n".join(lines[first:last]) + "\n", encoding="utf-8")
        build_index(seeds, index)
        opened = open_index(index)
        assert abs(len(opened.passages) - size) <= size // 20, len(opened.passages)
        bars.append(opened.manifest.refusal)
        answered.append([q for q in OFF_TOPIC if retrieve(q, index_dir=index)])
        top = retrieve("Which charity did the #isolationgames raise funds for?", k=1, index_dir=index)
        assert top and "British Red Cross" in top[0].text, size
    assert all(len(a) <= 2 for a in answered), answered
    floors_only = [q for q in OFF_TOPIC if retrieve(q, index_dir=index, min_score=STRENGTH_FLOOR)]
    assert len(floors_only) >= len(answered[-1]) + 4, (floors_only, answered[-1])
    assert bars[0]["strength"] >= STRENGTH_FLOOR and bars[0]["cosine"] >= COSINE_FLOOR
    assert bars[-1]["cosine"] > bars[0]["cosine"] and bars[-1]["strength"] > bars[0]["strength"], "the bar rises"


def test_the_calibrated_bar_is_stored_and_used(seed_index: Path, tmp_path: Path):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    manifest_path = current_generation(index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    refusal = manifest["refusal"]
    lexical = open_index(index).lexical
    assert refusal["questions"] == sum(bool(lexical.unknown_words(q)) for q in bank()) and refusal["quantile"] > 0.5
    assert STRENGTH_FLOOR <= refusal["strength"] <= 1 and COSINE_FLOOR <= refusal["cosine"] <= 1
    question = "Which charity did the #isolationgames raise funds for?"
    assert retrieve(question, index_dir=index)

    def with_bar(strength: float, cosine: float) -> None:
        manifest["refusal"] = {**refusal, "strength": strength, "cosine": cosine}
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
        _engines.pop(index.resolve(), None)  # the manifest changed under a loaded engine

    with_bar(1.0, 1.0)
    reply = Chat(index).ask(question)
    assert not reply.found and reply.nearby, "nothing clears a bar of 1"
    with_bar(0.0, 0.0)
    assert len(retrieve("What is the boiling point of water?", k=3, index_dir=index)) == 3


def test_a_new_calibration_needs_no_embedding_and_reaches_a_loaded_engine(seed_index: Path, tmp_path: Path):
    from qa.answering.search import get_engine

    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    question = "Which charity did the #isolationgames raise funds for?"
    engine = get_engine(index)
    calibrated = engine.index.manifest.refusal
    assert calibrated is not None and retrieve(question, index_dir=index)
    # As if an older qa, with another bank, had calibrated it, to bars nothing clears.
    manifest_path = current_generation(index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["refusal"] = {**calibrated, "strength": 1.0, "cosine": 1.0, "calibration": "an-older-bank"}
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert retrieve(question, index_dir=index) == [], "the loaded engine reads the rewritten manifest"
    stats = build_index(None, index)
    assert stats.embedded == 0 and not stats.changed and current_generation(index) == engine.generation
    assert open_index(index).manifest.refusal == calibrated
    assert get_engine(index) is engine and retrieve(question, index_dir=index)


HANDBOOK = """\
# Employee handbook

## Pay

Salaries are paid monthly, on the last working day of the month, by bank transfer. Your payslip shows your gross
pay, tax, pension contributions and any deductions. If the last working day falls on a public holiday, you are paid
the day before. Overtime must be agreed with your manager in advance.

## Annual leave

Full-time employees get 25 days of paid holiday a year, plus public holidays. Up to five unused days can be carried
over into the next year; the rest is lost. Book holiday through the HR system at least two weeks ahead.

## Sickness

If you are ill, tell your manager before 10 am on your first day of absence. For absences of more than seven
calendar days you need a doctor's note.

## Health insurance

The company pays for private health insurance for every employee from their first day. Partners and children can be
added to the policy at the employee's own cost. Dental treatment is not covered.

## Pension

The company matches your pension contributions up to 5% of your salary, as an employer match works in a 401(k):
for each pound you put in, the company puts in one more, up to the limit.

## Money matters

Missing a credit card payment can lead to a late fee and a mark on your credit record, so the payroll team can move
your pay date by a few days if you ask. Paying off student loans or investing: the company's financial adviser can
help you decide, once a year, free of charge.
"""
# Asked as an employee would, in everyday words (none of them taken from the bank).
PARAPHRASES = (
    "When do I get my money each month?", "How many days off do I get each year?", "What happens to vacation days I don't use?",
    "Do I need a note from the doctor if I'm off sick?", "Will the company cover my kids' medical bills?",
    "Does the firm put money into my retirement savings?",
)


def test_bank_questions_the_corpus_may_answer_do_not_set_its_bar(tmp_path: Path):
    """A corpus about money and health shares words with the bank's questions about money
    and health: those it uses every word of are left out of its calibration, and its own
    questions are answered; unrelated ones are still refused."""
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    (seeds / "handbook.md").write_text(HANDBOOK, encoding="utf-8")
    build_index(seeds, index)
    opened = open_index(index)
    related = [q for q in bank() if not opened.lexical.unknown_words(q)]
    assert related  # the handbook answers some of the bank's money questions in their own words
    assert opened.manifest.refusal["questions"] == len(bank()) - len(related)
    assert all(retrieve(q, index_dir=index) for q in PARAPHRASES)
    assert sum(not retrieve(q, index_dir=index) for q in OFF_TOPIC) >= 18
