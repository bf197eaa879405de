"""What a question names that the documents never mention.

A question about something a corpus does not cover usually names it ("Does it support
HTTP/3?", "How do I set up NTLM authentication?"), and that name appears nowhere in the
documents. The closest passages may still resemble the question (same field, same
words around the name), so their scores alone cannot tell; the missing name can.

A word counts as missing when no passage uses it as BM25 sees words (stemmed, so
"sleeping" is found by "sleeps"), nor the same word without accents ("Herve" for
"Hervé"), nor a word one edit away (a typo: "unkown"). How much a missing word says
depends on how specific it is: "NTLM" or "gunicorn" names a thing the documents would
mention if they covered it, while "stop" or "huge" is only the asker's wording. The
specificity is the word's frequency in general English (the wordfreq library's Zipf
scale: 7 for "the", 3 for "tenacity", 0 for words it has never seen), and a name
(an acronym, or a capitalised word inside a sentence) counts as specific at a higher
frequency than a plain word. Calibrated in docs/quality.md, "Scores".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from qa.indexfiles.lexical import stopwords, tokenize, versioned_names
from qa.text import fold

if TYPE_CHECKING:
    from qa.indexfiles.lexical import LexicalIndex

# A plain word rarer than this in general English (Zipf) is specific ...
SPECIFIC_ZIPF = 2.0
# ... and a name (NTLM, GraphQL, Python, Summer inside "Google Summer of Code") rarer than this.
NAME_ZIPF = 4.0
# Words this short are not checked for typos (too many real words lie one edit apart).
TYPO_MIN_LENGTH = 5
_WORD = re.compile(r"\w+")
# Terminal escape sequences pasted with a question ("\x1b[31m"): their letters are no words.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class MissingWord:
    """A word of the question that no passage uses: as written, its Zipf frequency in
    general English, and whether it is written as a name."""

    word: str
    zipf: float
    name: bool

    @property
    def specific(self) -> bool:
        """Whether its absence says the documents do not cover the question."""
        return self.zipf < SPECIFIC_ZIPF or (self.name and self.zipf < NAME_ZIPF)


def missing_words(question: str, lexical: LexicalIndex) -> list[MissingWord]:
    """The words of `question` that the corpus indexed in `lexical` never uses, in order,
    each once (stopwords, single letters and numbers are never missing)."""
    question = _ESCAPES.sub(" ", question)
    out: dict[str, MissingWord] = {}
    if lexical.versioned is not None:  # "HTTP/3" where the corpus has HTTP/1.1 and HTTP/2 only
        for name in versioned_names(question):
            if name not in lexical.versioned and name not in out:
                at = question.lower().index(name)
                out[name] = MissingWord(question[at : at + len(name)], 0.0, True)
    for match in _WORD.finditer(question):
        word = match.group()
        lower = word.lower()
        if lower in out or lower in stopwords() or len(lower) < 2 or lower.isdigit() or _known(lower, lexical):
            continue
        out[lower] = MissingWord(word, zipf(lower), _is_name(question, match))
    return list(out.values())


def _known(word: str, lexical: LexicalIndex) -> bool:
    stems = tokenize(word)
    if not stems:
        return True  # nothing BM25 would read
    stem = stems[0]
    if lexical.uses(stem):
        return True
    folded = fold(word)
    if folded != word and (lexical.uses(fold(stem)) or lexical.uses((tokenize(folded) or [""])[0])):
        return True  # "herve": the corpus writes "hervé", or the other way round
    if lexical.uses_folded(folded) or lexical.uses_folded(fold(stem)):
        return True
    # A typo is one edit from a word the corpus uses; a word with a digit is a name
    # ("JSON5", "OAuth2"), not a typo of the word without it.
    return len(stem) >= TYPO_MIN_LENGTH and stem.isalpha() and any(lexical.uses(variant) for variant in _one_edit(stem))


def _one_edit(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return (
        {a + b[1:] for a, b in splits if b}
        | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
        | {a + c + b for a, b in splits for c in _LETTERS}
    ) - {word}


def _is_name(question: str, match: re.Match[str]) -> bool:
    """An acronym or mixed case (NTLM, GraphQL, iOS), letters with digits (JSON5), or a
    capitalised word that does not begin a sentence (the "Summer" of "Google Summer of Code")."""
    word = match.group()
    if sum(ch.isupper() for ch in word) >= 2 or (any(ch.isdigit() for ch in word) and any(ch.isalpha() for ch in word)):
        return True
    before = question[: match.start()].rstrip(" \t\"'“‘(")
    return word[:1].isupper() and bool(before) and before[-1] not in ".?!:\n"


@lru_cache(maxsize=4096)
def zipf(word: str) -> float:
    """How common `word` is in general English, on the Zipf scale (wordfreq's large list),
    counting a plural as common as its singular ("likelihoods" as "likelihood")."""
    from wordfreq import zipf_frequency

    forms = {word}
    if word.endswith("s") and len(word) > 3:
        forms |= {word[:-1], word[:-2] if word.endswith("es") else word, word[:-3] + "y" if word.endswith("ies") else word}
    return max(float(zipf_frequency(form, "en")) for form in forms)
