"""Splitting a document into passages that follow its own structure.

A passage is a paragraph. A paragraph longer than the model reads is cut at sentence
boundaries into windows that overlap by one sentence; a sentence longer than that is cut
at word boundaries (or, with no spaces at all, at word-piece boundaries). Every passage
is an exact slice of the document's text, trimmed of surrounding whitespace, so nothing
the model is given is ever silently truncated.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# A line at least this long is a paragraph of its own (text written with one line per
# paragraph); shorter consecutive lines are hard-wrapped text and join into one paragraph.
UNWRAPPED_LINE = 100
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+|\n\s*")
_MARKDOWN_HEADING = re.compile(r"#{1,6}\s")


class Tokenizer(Protocol):
    """What the chunker needs from the model's tokenizer."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without special tokens."""
        ...

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece of `text`."""
        ...


@dataclass(frozen=True)
class Span:
    """A passage's place in its document: `text[start:end]`, lines 1-based and inclusive."""

    start: int
    end: int
    line_start: int
    line_end: int


def split_passages(text: str, tokenizer: Tokenizer, max_tokens: int, *, markdown: bool = False) -> list[Span]:
    """Cut `text` into passages of at most `max_tokens` word pieces each.

    Args:
        text: the whole document.
        tokenizer: counts word pieces the way the embedding model does.
        max_tokens: the model's limit, without its special tokens.
        markdown: treat `#` heading lines as paragraphs of their own.

    Returns:
        Spans in document order; windows of one long paragraph overlap by a sentence.
    """
    paragraphs = _paragraphs(text, markdown)
    counts = tokenizer.count_tokens([text[s:e] for s, e in paragraphs])
    pieces: list[tuple[int, int]] = []
    for (start, end), count in zip(paragraphs, counts):
        if count <= max_tokens:
            pieces.append((start, end))
        else:
            pieces.extend(_windows(text, start, end, tokenizer, max_tokens))
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    return [_span(newlines, s, e) for s, e in pieces]


def _span(newlines: list[int], start: int, end: int) -> Span:
    return Span(start, end, bisect.bisect_left(newlines, start) + 1, bisect.bisect_left(newlines, end - 1) + 1)


def _paragraphs(text: str, markdown: bool) -> list[tuple[int, int]]:
    """Trimmed (start, end) of each paragraph: blank lines, long lines and headings end one."""
    found: list[tuple[int, int]] = []
    start: int | None = None
    position = 0
    for line in text.splitlines(keepends=True):
        body = line.strip()
        line_start, position = position, position + len(line)
        if not body:
            if start is not None:
                found.append((start, line_start))
                start = None
            continue
        heading = markdown and _MARKDOWN_HEADING.match(body) is not None
        if heading and start is not None:
            found.append((start, line_start))
            start = None
        if start is None:
            start = line_start
        if heading or len(body) >= UNWRAPPED_LINE:
            found.append((start, position))
            start = None
    if start is not None:
        found.append((start, position))
    return [t for t in (_trim(text, s, e) for s, e in found) if t[0] < t[1]]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Trimmed sentence spans inside text[start:end]; a newline also ends a sentence."""
    spans = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((cursor, match.end()))
        cursor = match.end()
    spans.append((cursor, end))
    return [t for t in (_trim(text, s, e) for s, e in spans) if t[0] < t[1]]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Trimmed (start, end) of each sentence of `text`; a newline also ends a sentence."""
    return _sentences(text, 0, len(text))


def _windows(text: str, start: int, end: int, tokenizer: Tokenizer, max_tokens: int) -> list[tuple[int, int]]:
    """Sentence windows over a long paragraph, each within `max_tokens`, overlapping by one sentence."""
    units: list[tuple[int, int]] = []
    sentences = _sentences(text, start, end)
    for (s, e), count in zip(sentences, tokenizer.count_tokens([text[s:e] for s, e in sentences])):
        units.extend([(s, e)] if count <= max_tokens else _cut_long_sentence(text, s, e, tokenizer, max_tokens))
    counts = tokenizer.count_tokens([text[s:e] for s, e in units])
    windows: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        last, total = first, counts[first]
        while last + 1 < len(units) and total + counts[last + 1] <= max_tokens:
            last += 1
            total += counts[last]
        # Counts of separate sentences add up to the window's count only approximately.
        while last > first and tokenizer.count_tokens([text[units[first][0] : units[last][1]]])[0] > max_tokens:
            last -= 1
        windows.append((units[first][0], units[last][1]))
        if last + 1 >= len(units):
            break
        first = last if last > first else last + 1
    return windows


def _cut_long_sentence(text: str, start: int, end: int, tokenizer: Tokenizer, max_tokens: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than the model reads at word boundaries, else between word pieces."""
    offsets = tokenizer.token_offsets(text[start:end])
    budget = max(1, max_tokens - 8)  # re-tokenising a cut piece can add a word piece or two
    pieces: list[tuple[int, int]] = []
    first = 0
    while first < len(offsets):
        last = min(first + budget, len(offsets)) - 1
        if last + 1 < len(offsets):
            # Prefer to end the piece where the next word piece starts a new word.
            for candidate in range(last, first + budget // 2, -1):
                if text[start + offsets[candidate + 1][0] - 1].isspace():
                    last = candidate
                    break
        piece = _trim(text, start + offsets[first][0], start + offsets[last][1])
        if piece[0] < piece[1]:
            pieces.append(piece)
        first = last + 1
    return pieces
