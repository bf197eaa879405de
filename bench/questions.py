"""The question sets the benchmark asks: ours about the letter and the two documentation
sets (when shared/ has their pages), and SQuAD dev."""

from __future__ import annotations

from pathlib import Path

from bench.measure import REPO

SEED_QUESTIONS = REPO / "tests" / "data" / "seed_questions.jsonl"
SEED_CORPUS = REPO / "seeds"
SQUAD = REPO.parent / "shared" / "data" / "squad-dev"
DOCS = REPO.parent / "shared" / "data" / "docs-dev"
DOC_SETS = {"cargo": "cargo-book", "fastapi": "fastapi-tutorial"}


def question_sets() -> dict[str, tuple[Path, Path, int]]:
    """{name: (questions file, corpus folder, k)} for the sets present on this machine."""
    sets = {"seed": (SEED_QUESTIONS, SEED_CORPUS, 3)}
    if (SQUAD / "questions.jsonl").is_file():
        sets["squad-dev"] = (SQUAD / "questions.jsonl", SQUAD / "corpus", 5)
    for name, folder in DOC_SETS.items():
        if (DOCS / folder).is_dir():
            sets[name] = (REPO / "tests" / "data" / f"{name}_questions.jsonl", DOCS / folder, 3)
    return sets


def query_texts() -> list[str]:
    """Every question of both sets, as single questions: the load for the speed figures."""
    from qa.evaluate import load_questions

    texts: list[str] = []
    for path, _, _ in question_sets().values():
        texts.extend(q.q for q in load_questions(path))
    return texts
