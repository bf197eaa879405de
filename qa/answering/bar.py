"""The relevance bar a passage must clear to be an answer, as answering reads it.

Each corpus's bar is calibrated when it is indexed (qa.building.refusal, the build path) and
recorded in its manifest; answering only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# ... and never below these floors: in a corpus of a few passages an unrelated question
# can still share a word or two with one of them.
STRENGTH_FLOOR = 0.25
COSINE_FLOOR = 0.20

@dataclass(frozen=True)
class Bar:
    """What a passage must reach to be an answer: `strength` (0.55 × its cosine + 0.45 ×
    its lexical score) or, for a paraphrase that shares no word with it, `cosine`."""

    strength: float
    cosine: float

    @classmethod
    def fixed(cls, min_score: float) -> Bar:
        """The bar for an explicit `min_score` (0 answers everything)."""
        return cls(min_score, min_score * COSINE_FLOOR / STRENGTH_FLOOR)

    @classmethod
    def from_manifest(cls, data: dict[str, Any] | None) -> Bar:
        """The calibrated bar recorded in a manifest, else the floors."""
        if not data:
            return cls(STRENGTH_FLOOR, COSINE_FLOOR)
        return cls(float(data["strength"]), float(data["cosine"]))
