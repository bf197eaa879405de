"""When to refuse: a relevance bar calibrated on each corpus when its index is built.

The best similarity an unrelated question reaches grows with the number of passages
(some passage of a 2,000-passage manual resembles almost anything), so one fixed bar
cannot serve a one-page letter and a manual. At build time qa asks the corpus a bank of
320 questions about other things (geography, cooking, sports, law, gadgets, ...;
`qa/data/offtopic_questions.txt`) and sets the bar just above what nearly all of them
reach. A few questions of the bank may be about the corpus's own subject, so the bar
sits at a high quantile of the bank, not at its maximum. Calibrated in docs/quality.md, "Scores".
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from qa.answering.bar import COSINE_FLOOR, STRENGTH_FLOOR
from qa.files import write_atomic

if TYPE_CHECKING:
    import numpy as np

    from qa.answering.search import Engine, QuestionEncoder

BANK = "offtopic_questions.txt"
# Each bar is this quantile of the bank's best scores, plus a margin (the lexical side
# is spikier: one shared word can lift an unrelated question) ...
QUANTILE = 0.95
STRENGTH_MARGIN = 0.05
COSINE_MARGIN = 0.03
# Bank questions that use a word the corpus never does, at least this many, set the bar.
MIN_UNRELATED = 160


@lru_cache(maxsize=1)
def bank() -> tuple[str, ...]:
    """The off-topic questions shipped with qa."""
    text = resources.files("qa").joinpath("data", BANK).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def calibration_id() -> str:
    """A fingerprint of the bank and the settings: a calibration is redone when either changes."""
    settings = f"best-ranked unrelated {MIN_UNRELATED} {QUANTILE} {STRENGTH_MARGIN} {COSINE_MARGIN} {STRENGTH_FLOOR} {COSINE_FLOOR}"
    return hashlib.sha256("\n".join([settings, *bank()]).encode("utf-8")).hexdigest()[:16]


def calibrated(refusal: dict[str, Any] | None) -> bool:
    """Whether a recorded bar was calibrated by this qa (same bank, same settings)."""
    return refusal is not None and refusal.get("calibration") == calibration_id()


def calibrate(engine: Engine) -> dict[str, Any]:
    """Ask the bank of the engine's corpus and return the bar to record in the manifest.

    Returns:
        {"strength", "cosine"}: the bars; {"quantile", "questions", "calibration"}: how
        they were set.
    """
    import numpy as np

    vectors = bank_vectors(engine.embedder)
    strengths, cosines = [], []
    lexical = engine.index.lexical
    # A bank question all of whose words the corpus uses may be about the corpus's own
    # subject (a handbook of pay and leave, and "How many days of holiday do I get?"): it
    # is left out, so that the bar sits above what unrelated questions reach, not above
    # the corpus's own questions. Unless too few would be left.
    unrelated = [i for i, question in enumerate(bank()) if lexical.unknown_words(question)]
    chosen = set(unrelated) if len(unrelated) >= MIN_UNRELATED else set(range(len(bank())))
    for i, (question, vector) in enumerate(zip(bank(), vectors)):
        if i not in chosen:
            continue
        # What decides is the best-ranked passage (qa.answering.search.rank): measure that one.
        scores = engine.scores_for(question, vector)
        top = int(np.argmax(scores.fused)) if len(scores.ids) else None
        strengths.append(0.0 if top is None else float(scores.strength[top]))
        cosines.append(0.0 if top is None else float(scores.cosine[top]))
    return {
        "strength": round(max(STRENGTH_FLOOR, float(np.quantile(strengths, QUANTILE)) + STRENGTH_MARGIN), 4),
        "cosine": round(max(COSINE_FLOOR, float(np.quantile(cosines, QUANTILE)) + COSINE_MARGIN), 4),
        "quantile": QUANTILE,
        "questions": len(strengths),
        "calibration": calibration_id(),
    }


def bank_vectors(embedder: QuestionEncoder) -> np.ndarray:
    """The bank's question vectors, kept in the user's cache per model (0.9 s to encode here)."""
    import numpy as np

    from qa.embedding.modelfiles import cache_dir

    questions = "\n".join(bank())
    key = hashlib.sha256(f"{embedder.info.fingerprint}\0{questions}".encode()).hexdigest()[:24]
    path = cache_dir() / "offtopic" / f"{key}.npy"
    try:
        cached = np.load(path, allow_pickle=False)
        if cached.shape == (len(bank()), embedder.dim) and cached.dtype == np.float32:
            return cached
    except (OSError, ValueError, EOFError):
        pass
    vectors = embedder.encode(list(bank()))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, vectors, allow_pickle=False)
        write_atomic(path, buffer.getvalue())
    except OSError:
        pass  # a cache that cannot be written costs 0.9 s per build, nothing more
    return vectors
