"""Retrieval: dense and lexical scores fused, follow-ups resolved, irrelevant questions refused.

The score of a passage is `DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lexical`. The dense
part is `PASSAGE_WEIGHT * cosine(passage) + (1 - PASSAGE_WEIGHT) * cosine(best sentence)`:
a question usually asks about one sentence, which the passage's own vector blurs. The
lexical part is BM25 normalised by the best score the question could reach in this corpus
(see qa.indexfiles.lexical). All parts lie in [0, 1] for relevant text, so the score does too.

Whether a passage is an answer at all is decided on its own evidence (the same sum with
the passage's own cosine only, or that cosine alone) against the bar calibrated for this
corpus when it was indexed (qa.building.refusal): the best sentence of some passage resembles
almost any question, so it ranks but does not vouch. A question none of whose passages
clears the bar is refused. The calibration is in the docs/quality.md, "Scores".
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.answering.bar import Bar
from qa.answering.followups import context_for, joined_question
from qa.answering.missing import missing_words
from qa.config import INDEX_ENV, resolve_index_dir
from qa.embedding.modelfiles import ModelInfo, model_of_index
from qa.errors import EmptyQuestionError, QAError
from qa.indexfiles.manifest import MANIFEST, Manifest, read_manifest
from qa.indexfiles.store import CURRENT, OpenIndex, current_generation, open_index
from qa.indexfiles.vectors import exact_matrix, one_search_thread, search_depth
from qa.notices import notice
from qa.types import ANSWERED, MAX_QUESTION_CHARS, NOT_ANSWERED, NOT_SURE, Passage

ENCODER_ENV = "QA_QUESTION_ENCODER"


class QuestionEncoder(Protocol):
    """What turns questions into vectors: the model's ONNX export, or the model itself."""

    info: ModelInfo
    dim: int

    def encode_questions(self, texts: list[str]) -> np.ndarray: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...

DENSE_WEIGHT = 0.55
PASSAGE_WEIGHT = 0.5
# A follow-up is scored as OWN_WEIGHT * (the question alone) + the rest * (the question
# joined to the one before it). Calibrated on the follow-ups in tests/data.
OWN_WEIGHT = 0.3
CANDIDATES = 50
# A passage is an answer only if it clears the bar and scores at least this share of the
# best passage's score. Calibrated in docs/quality.md, "Scores".
RELATIVE = 0.5
# A question that names something specific no passage mentions is answered only if its
# best passage clears the bar this many times over; below that the reply is "not sure".
# Calibrated, leave-one-corpus-out, in the docs/quality.md ("Scores").
SURE = 2.2
# Passages returned lately whose rows are remembered, to find their sentence vectors.
ROWS_REMEMBERED = 4096


@dataclass(frozen=True)
class Scores:
    """Scores of the candidate passages for one query text: row `ids[i]` scores `fused[i]`.

    `fused` ranks; `strength` (the score with the passage's own cosine) and `cosine` (the
    passage's own cosine) decide whether a passage is relevant at all.
    """

    ids: np.ndarray
    fused: np.ndarray
    strength: np.ndarray
    cosine: np.ndarray

    def clearing(self, bar: Bar) -> set[int]:
        """The rows relevant enough to be an answer (see qa.building.refusal)."""
        return set(self.ids[(self.strength >= bar.strength) | (self.cosine >= bar.cosine)].tolist())

    def evidence(self, row: int, bar: Bar) -> float:
        """How many times over a row clears the bar, on its better side (0 if not a candidate)."""
        where = np.flatnonzero(self.ids == row)
        if not len(where):
            return 0.0
        i = int(where[0])
        return max(float(self.strength[i]) / max(bar.strength, 1e-9), float(self.cosine[i]) / max(bar.cosine, 1e-9))

    def by_row(self) -> dict[int, float]:
        """{row: fused score}."""
        return dict(zip(self.ids.tolist(), self.fused.tolist()))

    def best(self) -> int | None:
        """The best-ranked row, or None without candidates."""
        return int(self.ids[int(np.argmax(self.fused))]) if len(self.ids) else None


@dataclass
class Engine:
    """A loaded index and the model that embeds its questions."""

    index_dir: Path
    generation: Path
    index: OpenIndex
    embedder: QuestionEncoder
    _rows: dict[tuple[str, int, int], int] = field(default_factory=dict, repr=False)
    _manifest_mtime: int = field(default=0, repr=False)
    _current_stamp: tuple[int, int, int] = field(default=(0, 0, 0), repr=False)

    def __post_init__(self) -> None:
        # Checked on every question: plain strings, not Path objects built each time.
        self._current_path = str(self.index_dir / CURRENT)
        self._manifest_path = str(self.generation / MANIFEST)
        self._exact = exact_matrix(self.index.vectors)  # a view of the flat index's vectors, or None
    _asked: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # the last query texts' vectors
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def still_current(self) -> bool:
        """Whether this engine still serves the live generation (one stat when nothing changed),
        having taken up a manifest rewritten in place."""
        try:
            stat = os.stat(self._current_path)
        except OSError:
            return False
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp != self._current_stamp:
            if current_generation(self.index_dir) != self.generation:
                return False
            self._current_stamp = stamp
        self.reread_manifest()
        return True

    def reread_manifest(self) -> None:
        """Take up a manifest rewritten in place (a new calibration, new timestamps)."""
        try:
            mtime = os.stat(self._manifest_path).st_mtime_ns
        except OSError:
            return  # a missing manifest is reported when the generation is next opened
        if self._manifest_mtime and mtime != self._manifest_mtime:
            self.index.manifest = read_manifest(self.generation)
        self._manifest_mtime = mtime

    @property
    def bar(self) -> Bar:
        """The relevance bar calibrated for this corpus when it was indexed."""
        return Bar.from_manifest(self.index.manifest.refusal)

    def scores(self, texts: Sequence[str], dense_weight: float = DENSE_WEIGHT) -> list[Scores]:
        """Fused and cosine scores of the candidate passages, per query text."""
        vectors = self.embedder.encode_questions([t[:MAX_QUESTION_CHARS] for t in texts])
        with self._lock:
            self._asked = dict(zip(texts, vectors))
        return [self.scores_for(text, vector, dense_weight) for text, vector in zip(texts, vectors)]

    def question_vector(self, text: str) -> np.ndarray:
        """The vector of a query text: the one just searched with, else encoded now."""
        with self._lock:
            vector = self._asked.get(text)
        return vector if vector is not None else self.embedder.encode_questions([text[:MAX_QUESTION_CHARS]])[0]

    def unit_vectors(self, passage: Passage) -> np.ndarray | None:
        """The stored vectors of a passage's units (None for a passage of one unit)."""
        row = self.row_of(passage)
        if row is None or not (count := int(self.index.sentence_counts[row])):
            return None
        first = int(self.index.sentence_start[row])
        return np.asarray(self.index.sentences[first : first + count], dtype=np.float32)

    def scores_for(self, text: str, vector: np.ndarray, dense_weight: float = DENSE_WEIGHT) -> Scores:
        """Scores of the candidate passages for a query text and its vector."""
        total = self.index.vectors.ntotal
        depth = min(CANDIDATES, total)
        lexical = self.index.lexical.scores(text[:MAX_QUESTION_CHARS])
        lexical_ids = np.argpartition(-lexical, depth - 1)[:depth] if depth < total else np.arange(total)
        lexical_ids = lexical_ids[lexical[lexical_ids] > 0]
        dense_ids, every = self._nearest(vector, depth)
        ids = np.unique(np.concatenate([dense_ids, lexical_ids]))
        # The exact cosine of every candidate (a graph's or compressed codes' distances are approximate).
        cosine = _unit(every[ids] if every is not None else self._exact_vectors(ids) @ vector)
        dense = PASSAGE_WEIGHT * cosine + (1.0 - PASSAGE_WEIGHT) * self._best_sentence(ids, vector, cosine)
        fused = dense_weight * dense + (1.0 - dense_weight) * lexical[ids]
        strength = dense_weight * cosine + (1.0 - dense_weight) * lexical[ids]
        return Scores(ids, fused, strength, cosine)

    def nearest(self, vector: np.ndarray, k: int) -> np.ndarray:
        """The rows of the `k` passages nearest `vector`, nearest first, as search finds them
        (exactly up to APPROXIMATE_ABOVE passages, approximately above)."""
        ids, every = self._nearest(vector, min(k, self.index.vectors.ntotal))
        if every is None:
            ids = np.sort(ids)
        cosine = every[ids] if every is not None else self._exact_vectors(ids) @ vector
        return ids[np.argsort(-cosine, kind="stable")]

    def _nearest(self, vector: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The `depth` nearest rows in no order, and every passage's cosine when search computed them all."""
        total = self.index.vectors.ntotal
        if self._exact is not None:  # every passage's cosine in one product: the nearest are exact
            every = self._exact @ vector
            return (np.argpartition(-every, depth - 1)[:depth] if depth < total else np.arange(total)), every
        with one_search_thread():
            _, found = self.index.vectors.search(vector[None, :], search_depth(self.index.vectors, depth))
        ids = found[0][found[0] >= 0]
        if self.index.exact is not None and depth < len(ids):  # a shortlist from compressed codes: exact vectors pick
            ids.sort()  # rows in file order: forward page reads
            ids = ids[np.argpartition(-(self.index.exact[ids] @ vector), depth - 1)[:depth]]
        return ids, None

    def _exact_vectors(self, ids: np.ndarray) -> np.ndarray:
        """The exact vectors of the passages `ids` (sorted)."""
        if self.index.exact is not None:
            return np.asarray(self.index.exact[ids], dtype=np.float32)
        return self.index.vectors.reconstruct_batch(ids)

    def _best_sentence(self, ids: np.ndarray, vector: np.ndarray, cosine: np.ndarray) -> np.ndarray:
        """Per candidate, the cosine of its closest sentence (its own cosine if it has none)."""
        counts = self.index.sentence_counts[ids]
        best = cosine.copy()
        has = counts > 0
        if not has.any():
            return best
        lengths = counts[has]
        firsts = np.cumsum(lengths) - lengths
        rows = np.repeat(self.index.sentence_start[ids[has]] - firsts, lengths) + np.arange(int(lengths.sum()))
        similarity = np.asarray(self.index.sentences[rows], dtype=np.float32) @ vector
        best[has] = _unit(np.maximum.reduceat(similarity, firsts))
        return best

    def row_of(self, passage: Passage) -> int | None:
        """The index row of a passage this engine returned lately (None for any other)."""
        return self._rows.get((passage.source, passage.start, passage.end))

    def units(self, passage: Passage) -> tuple[tuple[int, int, int], ...]:
        """The sentences, rows and code blocks of a passage this engine returned:
        (start, end, is_code) within its text."""
        row = self.row_of(passage)
        return () if row is None else self.index.passages[row].units

    def passage(self, row: int, score: float) -> Passage:
        """The Passage for a row of the index."""
        r = self.index.passages[row]
        key = (r.source, r.start, r.end)
        self._rows.pop(key, None)
        self._rows[key] = row  # newest last: the oldest goes first, never the question's own
        if len(self._rows) > ROWS_REMEMBERED:
            del self._rows[next(iter(self._rows))]
        return Passage(r.text, round(float(score), 4), r.source, r.start, r.end, r.line_start, r.line_end, r.page, r.headings)


def _unit(values: np.ndarray) -> np.ndarray:
    """`values` held to [0, 1], in place (np.clip costs more than the arithmetic, per question)."""
    np.maximum(values, 0.0, out=values)
    return np.minimum(values, 1.0, out=values)


_engines: dict[Path, Engine] = {}
_engines_lock = threading.Lock()


@lru_cache(maxsize=64)
def _resolved(index_dir: str | Path | None, cwd: str, env: str | None) -> Path:
    """resolve_index_dir, remembered per argument, working folder and $QA_INDEX (it costs
    a stat per path component, on every question)."""
    return resolve_index_dir(index_dir)


def index_path(index_dir: str | Path | None = None) -> Path:
    """The index folder `index_dir` names: the argument, else $QA_INDEX, else ./index."""
    return _resolved(index_dir, os.getcwd(), os.environ.get(INDEX_ENV))


def loaded(path: Path) -> bool:
    """Whether this process has loaded the index at `path` (resolved by index_path)."""
    with _engines_lock:
        return path in _engines


def get_engine(index_dir: str | Path | None = None) -> Engine:
    """The engine for `index_dir`, loaded once per process and reloaded when a build replaces
    it. Only reads: qa.ready builds a missing index or brings a stale one up to date first.

    Raises:
        IndexCorruptError: the index cannot be read (the message names the file and the fix).
        ModelError: the model cannot be found or loaded.
    """
    path = index_path(index_dir)
    with _engines_lock:
        engine = _engines.get(path)
        if engine is not None and engine.still_current():
            return engine
        index = open_index(path)
        encoder = question_encoder(model_of_index(index.manifest.model_path), index.manifest)
        if encoder.dim != index.manifest.dim:
            raise QAError(f"the model has dimension {encoder.dim}, the index {index.manifest.dim}: run qa index --rebuild")
        engine = Engine(path, index.folder, index, encoder)
        engine.reread_manifest()
        _engines[path] = engine
        return engine


def question_encoder(info: ModelInfo, manifest: Manifest) -> QuestionEncoder:
    """The model's ONNX export when the index records one and it is there, whole and the
    same; else sentence-transformers, with a notice (it loads torch: seconds, not ms).
    $QA_QUESTION_ENCODER=sentence-transformers asks for sentence-transformers."""
    from qa.embedding.encoder import load_onnx_encoder

    recorded = manifest.question_encoder or {}
    if os.environ.get(ENCODER_ENV, "").strip() == "sentence-transformers":
        from qa.embedding.model import get_embedder

        return get_embedder(info)  # asked for: to compare the two, or to step around the export
    if recorded.get("kind") == "onnx":
        encoder = load_onnx_encoder(info)
        if encoder is not None and encoder.sha256 == recorded.get("sha256"):
            return encoder
        notice("the ONNX export of the model is missing or changed; questions are encoded by sentence-transformers (qa index restores it)")
    else:
        notice(f"questions are encoded by sentence-transformers ({recorded.get('why', 'no ONNX export was made for this index')})")
    from qa.embedding.model import get_embedder

    return get_embedder(info)


@dataclass(frozen=True)
class Ranking:
    """The k best passages for a question, split by whether they answer it.

    `found`: the passages relevant enough to be an answer, best first ([] unless `outcome`
    is ANSWERED); `nearby`: the rest of the k best; `outcome`: ANSWERED, NOT_SURE or
    NOT_ANSWERED (qa.types); `missing`: the specific words of the question no passage uses.
    """

    found: list[Passage]
    nearby: list[Passage]
    outcome: str
    missing: tuple[str, ...] = ()


def rank(
    question: str,
    k: int = 5,
    *,
    history: Sequence[str] = (),
    index_dir: str | Path | None = None,
    min_score: float | None = None,
    dense_weight: float = DENSE_WEIGHT,
) -> Ranking:
    """Like retrieve, but says more: the passages that did not clear the bar, and whether
    the documents answer, may not answer, or do not answer (see Ranking).

    The question is answered only when the best passage itself clears the bar, so whether
    it is answered does not depend on k. It is answered with less certainty ("not sure")
    when it names something specific that no passage mentions and its best passage
    clears the bar by less than SURE times (qa.answering.missing); with an explicit `min_score`,
    the bar alone decides.
    """
    if not isinstance(question, str) or not question.strip():
        raise EmptyQuestionError()
    if k < 1:
        raise QAError(f"k must be at least 1, not {k}")
    engine = get_engine(index_dir)
    bar = engine.bar if min_score is None else Bar.fixed(float(min_score))
    previous = context_for(engine.index.lexical, question, history)
    texts = [question, joined_question(previous, question)] if previous is not None else [question]
    every = engine.scores(texts, dense_weight)
    own, *in_context = every
    ranking = own.by_row()
    chosen = own.clearing(bar)
    if in_context:
        # The question alone still counts, so a change of topic is not pulled back.
        joined = in_context[0].by_row()
        ranking = {
            row: OWN_WEIGHT * ranking.get(row, 0.0) + (1 - OWN_WEIGHT) * joined.get(row, 0.0)
            for row in ranking.keys() | joined.keys()
        }
        chosen |= in_context[0].clearing(bar)
    best = _top(engine, ranking, k)
    calibrated = min_score is None
    if not best or best[0][0] not in chosen:
        return Ranking([], [p for _, p in best], NOT_ANSWERED, _specific_missing(engine, question) if calibrated and best else ())
    if calibrated and max(scores.evidence(best[0][0], bar) for scores in every) < SURE:
        missing = _specific_missing(engine, question)  # only now: a clear answer never looks
        if missing:
            return Ranking([], [p for _, p in best], NOT_SURE, missing)
    if bar.strength > 0 or bar.cosine > 0:
        # Beside a strong answer, a passage that clears the bar only by a general likeness
        # to the question ranks far below it: it is shown folded away, not as an answer.
        chosen = {row for row in chosen if ranking[row] >= RELATIVE * ranking[best[0][0]]}
    return Ranking([p for row, p in best if row in chosen], [p for row, p in best if row not in chosen], ANSWERED)


def _specific_missing(engine: Engine, question: str) -> tuple[str, ...]:
    """The specific words of the question that no passage uses (qa.answering.missing), as written."""
    return tuple(word.word for word in missing_words(question[:MAX_QUESTION_CHARS], engine.index.lexical) if word.specific)


def _top(engine: Engine, scores: dict[int, float], k: int) -> list[tuple[int, Passage]]:
    """The k best rows with their Passages, skipping windows that overlap a better one."""
    chosen: list[tuple[int, Passage]] = []
    for row in sorted(scores, key=scores.__getitem__, reverse=True):
        candidate = engine.passage(row, scores[row])
        if any(p.source == candidate.source and p.start < candidate.end and candidate.start < p.end for _, p in chosen):
            continue
        chosen.append((row, candidate))
        if len(chosen) == k:
            break
    return chosen
