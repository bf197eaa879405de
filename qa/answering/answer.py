"""Picking the sentence that best answers a question from the top passage."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from qa.indexfiles.lexical import tokenize
from qa.inline import clean_inline
from qa.types import MAX_QUESTION_CHARS, Passage, Sentence

if TYPE_CHECKING:
    from qa.answering.search import Engine

LEXICAL_WEIGHT = 0.3
# A unit that opens with one of the question's words ("`allow_credentials` - Indicate that
# cookies ...") defines it: a bonus on its score. Chosen on the dev sets (docs/quality.md, "Measured").
OPENS_WITH = 0.05
OPENING_WORDS = 3
# What a lead-in ("The valid options are:") may take with it: the list, table or code it
# introduces, up to this many units and characters.
BLOCK_UNITS = 12
BLOCK_CHARS = 1200
# A unit that is only a link or an image ("[Clone graph](/assets/clone_graph.png)"): a
# caption, not an answer.
_LINK_ONLY = re.compile(r"\s*!?\[[^\]]*\]\([^)]*\)\s*[.:]?\s*")
_ITEM = re.compile(r"[ \t]*(?:>[ \t]?)*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_FENCE = re.compile(r"[ \t]*(?:```|~~~)")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M)
_HEADING = re.compile(r"^[ \t]{0,3}#", re.M)

Unit = tuple[int, int, int]  # (start, end, is_code) within the passage's text


def best_sentence(engine: Engine, question: str, passages: Sequence[Passage]) -> Sentence | None:
    """The unit of the best passage closest to the question, with offsets in its document.

    Units are the passage's sentences (across hard-wrapped lines), table rows and code
    blocks; headings and markup never are, and neither is a unit that is only a link or
    an image. Prose is preferred: code is the answer only in a passage of nothing else,
    or with the sentence that introduces it. A lead-in ending with ":" answers with the
    list, table or code it introduces ("The valid options are:" and the options), and is
    scored by the best of them. Units are scored by the cosine of their stored vectors
    (embedded with the index) to the question's, plus the share of the question's words
    they contain; nothing is encoded here. For a follow-up, pass the question joined to
    the one before it.
    """
    if not passages:
        return None
    passage = passages[0]
    units = engine.units(passage)
    if not units:
        return None
    stored = engine.unit_vectors(passage)  # None: a passage of one unit, which is the answer
    if stored is not None and len(stored) == len(units):
        cosine = stored @ engine.question_vector(question[:MAX_QUESTION_CHARS])
    else:
        cosine = np.zeros(len(units), dtype=np.float32)
    text = passage.text
    lexical = engine.index.lexical
    weights = {word: lexical.weight(word) for word in tokenize(question[:MAX_QUESTION_CHARS])}
    prose = [i for i, (s, e, code) in enumerate(units) if not code and not _LINK_ONLY.fullmatch(text[s:e])]
    candidates = prose or list(range(len(units)))

    def score(i: int) -> float:
        start, end, _ = units[i]
        return float(cosine[i]) + LEXICAL_WEIGHT * _overlap(text[start:end], weights) + OPENS_WITH * _opens_with(text[start:end], weights)

    best = max(candidates, key=score)
    first, last = best, _answer_end(text, units, best)

    start, end = units[first][0], units[last][1]
    chosen = text[start:end]
    line = passage.line_start + text.count("\n", 0, start)
    return Sentence(
        chosen, passage.source, passage.start + start, passage.start + end, line, line + chosen.count("\n"), passage.page,
        plain=_plain(chosen, [(s - start, e - start, code) for s, e, code in units[first : last + 1]]),
    )


def _overlap(text: str, weights: dict[str, float]) -> float:
    """The share of the question's words in `text`, each weighted by its rarity in the corpus."""
    total = sum(weights.values())
    return sum(weights[word] for word in set(tokenize(text)) & weights.keys()) / total if total else 0.0


def _opens_with(text: str, weights: dict[str, float]) -> bool:
    """Whether `text` opens with one of the question's words (after its markup)."""
    return any(word in weights for word in tokenize(" ".join(clean_inline(text).split()[:OPENING_WORDS])))


def _answer_end(text: str, units: Sequence[Unit], i: int) -> int:
    """The last unit of the answer that unit `i` begins: the block it introduces when it is
    a lead-in, else the unit after it (with the block that one introduces). The sentence
    most like a question often restates it ("If a client sends extra data, they get an
    error."), and the one after it holds the answer (the error itself)."""
    last = _block_end(text, units, i)
    if last != i or i + 1 >= len(units) or _HEADING.search(text[units[i][1] : units[i + 1][0]]):
        return last  # a block, the passage's last unit, or a heading before the next: another section
    return _block_end(text, units, i + 1)


def _block_end(text: str, units: Sequence[Unit], i: int) -> int:
    """The last unit of what unit `i` introduces, when it is a lead-in ending with ":" and
    a list, table or code block follows it (nothing but blank lines and a fence between);
    else `i` itself."""
    if not text[units[i][0] : units[i][1]].rstrip().endswith(":"):
        return i
    last = i
    for j in range(i + 1, min(len(units), i + 1 + BLOCK_UNITS)):
        start, end, code = units[j]
        line_start = text.rfind("\n", 0, start) + 1
        before = text[line_start:start]  # on its own line: nothing, or a list item's marker
        opens_line = not before.strip() or bool(_ITEM.fullmatch(before))
        in_block = code or text[start] == "|" or bool(_ITEM.fullmatch(before))
        gap = text[units[last][1] : max(line_start, units[last][1])]
        if not (in_block and opens_line and _only_blank_or_fence(gap)) or end - units[i][0] > BLOCK_CHARS:
            break
        last = j
    return last


def _only_blank_or_fence(gap: str) -> bool:
    """Whether only line breaks, blank lines and code fences lie between two units."""
    return all(not line.strip() or _FENCE.match(line) for line in gap.split("\n"))


def _plain(text: str, units: Sequence[Unit]) -> str:
    """The answer as a reader sees it: prose without its markup, code as it is, a list's
    items on lines of their own, no fences."""
    out = ""
    for start, end, code in units:
        piece = text[start:end]
        line_start = text.rfind("\n", 0, start) + 1
        if code:
            piece = "\n".join(line for line in piece.split("\n") if not _FENCE.match(line))
        else:
            piece = " ".join(clean_inline(_QUOTE.sub("", piece)).split())  # a quotation's ">" markers too
        if not piece.strip():
            continue
        # Code, a list's items and a table's rows go on lines of their own; sentences run on.
        own_line = code or text[start] == "|" or bool(_ITEM.fullmatch(text[line_start:start]))
        out += ("\n" if own_line or out.endswith(":") else " ") + piece if out else piece
    return out
