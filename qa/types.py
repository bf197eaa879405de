"""The results qa hands out: frozen, typed, JSON-ready (`dataclasses.asdict`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qa.text import counted

NOT_FOUND = "That isn't in these documents."
"""What every front-end says when a question is not answered by the documents."""
UNSURE = "Not sure these documents answer that."
"""What every front-end says when the closest passages may not answer the question."""

# A reply's outcome: the documents answer; they may not (the closest passages are shown,
# labelled as possibly unrelated); or they do not.
ANSWERED, NOT_SURE, NOT_ANSWERED = "answer", "unsure", "not_found"
OUTCOMES = (ANSWERED, NOT_SURE, NOT_ANSWERED)


def never_mentioned(words: tuple[str, ...] | list[str]) -> str:
    """The line that names what the documents never mention: `They never mention NTLM.`"""
    listed = ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else "".join(words)
    return f"They never mention {listed}."

SECTION_SEPARATOR = " › "

# Characters of a question that are read: the model reads 256 word pieces at most, and a
# megabyte of pasted text must not stall tokenisation.
MAX_QUESTION_CHARS = 4000


def _citation(source: str, line_start: int, line_end: int, page: int | None = None) -> str:
    """`guide.md:10-14`; in a paged document, lines within the page: `manual.pdf:p12:4-9`."""
    lines = str(line_start) if line_start == line_end else f"{line_start}-{line_end}"
    return f"{source}:{lines}" if page is None else f"{source}:p{page}:{lines}"


@dataclass(frozen=True)
class Passage:
    """A passage of a document, as retrieved.

    `text == document_text[start:end]`, where the document text is what
    `qa.formats.documents.read_document` returns for `source` (relative to the seeds folder).
    Lines are 1-based and inclusive. `score` is the fused relevance in [0, 1]:
    a weighted sum of the cosine similarity and the normalised BM25 score (docs/quality.md, "Scores").
    `page` is None for formats without pages. `headings` is the path of headings the
    passage lies under (`("Installation", "Linux")`), empty for text without headings.
    """

    text: str
    score: float
    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    page: int | None = None
    headings: tuple[str, ...] = ()

    @property
    def citation(self) -> str:
        """`file:line` or `file:first-last`, e.g. `guide.md:10-14`."""
        return _citation(self.source, self.line_start, self.line_end, self.page)

    @property
    def section(self) -> str:
        """The heading path as one line, e.g. `Installation › Linux` ("" without headings)."""
        return SECTION_SEPARATOR.join(self.headings)


@dataclass(frozen=True)
class Sentence:
    """The sentence of a passage that best answers a question, with its own offsets
    (`text == document_text[start:end]`); with the list, table or code a lead-in
    introduces. `plain` is how it reads: prose without markup, code without fences, a
    list's items on lines of their own."""

    text: str
    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    page: int | None = None
    plain: str = ""

    @property
    def citation(self) -> str:
        """`file:line` of the sentence (`file:pN:line` in a paged document)."""
        return _citation(self.source, self.line_start, self.line_end, self.page)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Reply:
    """One turn of a conversation.

    `passages` are the relevant passages, best first ([] unless the documents answer);
    `answer` is the sentence that best answers, or None; `nearby` holds the other passages
    among the k closest, which did not clear the relevance bar. `outcome` is ANSWERED,
    NOT_SURE (the closest passages, in `nearby`, may not answer: the question names things
    the documents never mention, or barely clears the bar) or NOT_ANSWERED; `missing`
    names the specific words of the question that no document uses ("NTLM").
    """

    question: str
    passages: list[Passage]
    answer: Sentence | None
    nearby: list[Passage] = field(default_factory=list)
    outcome: str = ""
    missing: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.outcome:
            object.__setattr__(self, "outcome", ANSWERED if self.passages else NOT_ANSWERED)
        if self.outcome not in OUTCOMES or (self.outcome == ANSWERED) != bool(self.passages):
            raise ValueError(f"a reply with {len(self.passages)} passages cannot have the outcome {self.outcome!r}")

    @property
    def found(self) -> bool:
        """True when the documents answer the question."""
        return bool(self.passages)


@dataclass(frozen=True)
class IndexInfo:
    """What an index holds, as a front-end shows it (qa.describe_index)."""

    documents: int
    passages: int
    model: str  # the model's name, e.g. all-MiniLM-L6-v2
    seeds_dir: Path  # the documents folder it was built from
    index_dir: Path

    def __str__(self) -> str:
        return f"{counted(self.documents, 'document')} · {counted(self.passages, 'passage')} · {self.model}"


@dataclass(frozen=True)
class IndexStats:
    """What a build did: counts and seconds."""

    files: int
    passages: int
    embedded: int  # passages embedded by this build
    reused: int  # passages whose vectors came from the previous index
    skipped: int  # files skipped with a warning (unknown type, unreadable, no text)
    seconds: float
    changed: bool  # False when the index was already up to date
    sentences: int = 0  # sentence vectors in the index
    texts_embedded: int = 0  # texts embedded by this build: passages and sentences, as progress counts them
    duplicates: int = 0  # passages whose text repeats another passage's: embedded once, vector shared

    def summary(self) -> str:
        """What the build did, in words: `embedded + reused + duplicates == passages`."""
        parts = [f"{counted(self.files, 'file')}, {counted(self.passages, 'passage')}, {counted(self.sentences, 'sentence')}"]
        sentences = self.texts_embedded - self.embedded
        parts.append(f"embedded now {counted(self.embedded, 'passage')} and {counted(sentences, 'sentence')}")
        parts.append(f"{counted(self.reused, 'passage')} reused from the previous index")
        if self.duplicates:
            parts.append(f"{counted(self.duplicates, 'repeated passage')} sharing a vector")
        parts.append(f"{counted(self.skipped, 'file')} skipped")
        return f"{'; '.join(parts)}; {self.seconds:.1f} s"
