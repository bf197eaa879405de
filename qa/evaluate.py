"""Measuring retrieval on a file of questions: hit@1, hit@k, MRR and abstention, per kind.

One question per line: {"q", "expect": str | [str] | null, "kind", "history": [...]}.
A returned passage is a hit when it contains an expected string (case and runs of
whitespace ignored) and, where the line gives "source", comes from that file; where the
line gives "source" and "spans" (character offsets of the answer), when it comes from
that file and overlaps a span: the strict rule. `expect: null` means the
documents do not answer and the bot must return nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.answering.search import rank
from qa.errors import QAError
from qa.types import ANSWERED, NOT_ANSWERED, OUTCOMES, Passage, Sentence

# The dense weight of each mode; the shipped hybrid (None) uses the default weight and bar.
MODES: dict[str, float | None] = {"hybrid": None, "dense": 1.0, "bm25": 0.0}
NAIVE_BASELINE = "naive-baseline"  # the folder, inside an index folder, of its naive baseline


@dataclass(frozen=True)
class Question:
    """One line of a questions file."""

    q: str
    expect: tuple[str, ...] | None
    kind: str
    history: tuple[str, ...] = ()
    source: str | None = None
    spans: tuple[tuple[int, int], ...] = ()

    def is_hit(self, passage: Passage | Sentence) -> bool:
        """Whether `passage` (or an answer sentence) holds the expected answer (from `source`,
        when the line names one)."""
        if self.spans:
            return passage.source == self.source and any(passage.start < e and s < passage.end for s, e in self.spans)
        if self.source is not None and passage.source != self.source:
            return False
        text = _collapsed(passage.text)
        return any(_collapsed(x) in text for x in self.expect or ())


def _collapsed(text: str) -> str:
    """Case and runs of whitespace ignored, so an answer across a hard line wrap still matches."""
    return " ".join(text.casefold().split())


def load_questions(path: str | Path) -> list[Question]:
    """Read a questions file. Raises QAError naming the line at fault."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise QAError(f"cannot read {path}: {e.strerror or e}") from None
    questions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            expect = d["expect"]
            expect = None if expect is None else (expect,) if isinstance(expect, str) else tuple(map(str, expect))
            questions.append(Question(
                q=str(d["q"]),
                expect=expect,
                kind=str(d.get("kind", "question")),
                history=tuple(map(str, d.get("history") or ())),
                source=d.get("source"),
                spans=tuple((int(s), int(e)) for s, e in d.get("spans") or ()),
            ))
        except (ValueError, KeyError, TypeError) as e:
            raise QAError(f"{path}:{number}: not a question line ({type(e).__name__}: {e})") from None
    if not questions:
        raise QAError(f"{path} holds no questions")
    return questions


@dataclass
class Tally:
    """Running figures for one group of questions."""

    questions: int = 0
    answerable: int = 0
    hit1: int = 0
    hitk: int = 0
    reciprocal: float = 0.0
    sentence: int = 0  # answers whose first passage and answer sentence both hold the expected answer
    abstain_right: int = 0
    wrongly_abstained: int = 0
    wrongly_answered: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    def add(self, question: Question, passages: Sequence[Passage], outcome: str | None = None, answer: Sentence | None = None) -> None:
        """One question's passages (those given as an answer), its outcome and answer sentence."""
        self.questions += 1
        self.outcomes[outcome or (ANSWERED if passages else NOT_ANSWERED)] += 1
        if question.expect is None:
            self.abstain_right += not passages
            self.wrongly_answered += bool(passages)
            return
        self.answerable += 1
        self.abstain_right += bool(passages)
        self.wrongly_abstained += not passages
        ranks = [i for i, p in enumerate(passages, 1) if question.is_hit(p)]
        if ranks:
            self.hit1 += ranks[0] == 1
            self.hitk += 1
            self.reciprocal += 1 / ranks[0]
            self.sentence += ranks[0] == 1 and answer is not None and question.is_hit(answer)

    def figures(self) -> dict[str, Any]:
        a = max(self.answerable, 1)
        return {
            "questions": self.questions,
            "answerable": self.answerable,
            "hit@1": round(self.hit1 / a, 4) if self.answerable else None,
            "hit@k": round(self.hitk / a, 4) if self.answerable else None,
            "mrr": round(self.reciprocal / a, 4) if self.answerable else None,
            # Of the answers whose first passage holds the expected answer, the share whose answer sentence does too.
            "sentence": round(self.sentence / self.hit1, 4) if self.hit1 else None,
            "abstention": round(self.abstain_right / max(self.questions, 1), 4),
            "wrongly_abstained": self.wrongly_abstained,
            "wrongly_answered": self.wrongly_answered,
            **self.outcomes,
        }


@dataclass
class Report:
    """Figures overall and per kind, for the shipped hybrid and for each side alone."""

    k: int
    overall: dict[str, Any]
    kinds: dict[str, dict[str, Any]]
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)


def evaluate(
    questions: Sequence[Question],
    k: int = 3,
    *,
    index_dir: str | Path | None = None,
    naive_baseline: bool = False,
    sides: bool = True,
) -> Report:
    """Ask every question and score the replies.

    The hybrid runs as shipped (with abstention and its three outcomes: answered, not
    sure, not answered), each question in a conversation of its own `history`. Dense-only
    and BM25-only run on the answerable questions without abstention, as baselines for
    the fusion. With `naive_baseline`, the same questions are also asked, as shipped, of
    an index of the same documents cut the naive way (sections between headings, no
    other structure), kept in the index folder (`naive-baseline/`): the baseline for
    passages that follow structure. `sides=False` skips the dense-only and BM25-only runs.
    """
    from qa.chat import Chat

    overall, kinds = Tally(), dict[str, Tally]()
    sided = {mode: weight for mode, weight in MODES.items() if weight is not None and sides}
    baselines: dict[str, Tally] = {mode: Tally() for mode in sided}
    misses = []
    for question in questions:
        chat = Chat(index_dir)
        chat.history = list(question.history)
        reply = chat.ask(question.q, k)
        found = reply.passages
        overall.add(question, found, reply.outcome, reply.answer)
        kinds.setdefault(question.kind, Tally()).add(question, found, reply.outcome, reply.answer)
        if (question.expect is None) == bool(found) or (found and not question.is_hit(found[0])):
            misses.append({
                "q": question.q, "kind": question.kind, "expect": question.expect, "outcome": reply.outcome,
                "missing": list(reply.missing), "got": [p.citation for p in found or reply.nearby],
            })
        if question.expect is not None:
            for mode, tally in baselines.items():
                tally.add(question, rank(question.q, k, history=question.history, index_dir=index_dir,
                                         min_score=0, dense_weight=sided[mode]).found)
    figures = {mode: t.figures() for mode, t in baselines.items()}
    if naive_baseline:
        figures["naive"] = evaluate(questions, k, index_dir=_naive_index(index_dir), sides=False).overall
    return Report(k, overall.figures(), {kind: t.figures() for kind, t in sorted(kinds.items())}, figures, misses)


def _naive_index(index_dir: str | Path | None) -> Path:
    """The naive baseline's index of the documents `index_dir` was built from, kept inside
    that index folder (`naive-baseline/`) and brought up to date."""
    from qa.building.build import build_index
    from qa.config import resolve_index_dir
    from qa.ready import describe_index

    seeds = describe_index(index_dir).seeds_dir
    folder = resolve_index_dir(index_dir) / NAIVE_BASELINE
    build_index(seeds, folder, naive=True)
    return folder
