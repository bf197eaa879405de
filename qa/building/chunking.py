"""Splitting a document into passages that follow its own structure.

Plain text: a passage is a paragraph. Markdown: a passage is a run of blocks of one
section (paragraphs, lists, tables, code, quotes, admonitions) that fits what the model
reads, starting with its section's heading; a lead-in paragraph stays with the list,
table or code it introduces, and a heading is never a passage on its own (qa.formats.markdown).
A block longer than the model reads is cut: prose at sentence boundaries into windows
that overlap by one sentence, code, lists and tables between lines, rows and items; a
sentence longer than that at word boundaries (or, with no spaces at all, between word
pieces). Every passage is an exact slice of the document's text, trimmed of surrounding
whitespace, so nothing the model is given is ever silently truncated.

Each passage also records its heading path, the text that is embedded and indexed
(without markup) and its units: the sentences, table rows and code blocks that can be
an answer and that get vectors of their own.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from qa.building.sentences import sentence_spans, trim
from qa.formats.markdown import CONTENT_KINDS, Block, Segment, clean_inline, clean_segment, has_words, item_text_start, parse_blocks
from qa.types import SECTION_SEPARATOR

# A line at least this long is a paragraph of its own (text written with one line per
# paragraph); shorter consecutive lines are hard-wrapped text and join into one paragraph.
UNWRAPPED_LINE = 100
_NAIVE_HEADING = re.compile(r"^#{1,6}[ \t]", re.M)
# The heading path before a passage's text costs word pieces of the model's 256; a path
# longer than this many characters keeps only its last headings (a character is at most
# about one word piece, so the text keeps more than half of what the model reads).
MAX_PREFIX_CHARS = 100
# Whatever the prefix costs, a passage may hold at least this many word pieces of text.
MIN_BUDGET = 16


class Tokenizer(Protocol):
    """What the chunker needs from the model's tokenizer."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without special tokens."""
        ...

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece of `text`."""
        ...


@dataclass(frozen=True)
class Unit:
    """A sentence, a table row or a block of code: `text[start:end]` of the document."""

    start: int
    end: int
    code: bool = False


@dataclass(frozen=True)
class Span:
    """A passage's place in its document: `text[start:end]`, lines 1-based and inclusive.

    `headings` is the path of headings above it; `clean` is what is embedded and indexed
    when it differs from the slice (markup left out); `units` are its sentences, rows
    and code blocks, in order.
    """

    start: int
    end: int
    line_start: int
    line_end: int
    headings: tuple[str, ...] = ()
    clean: str | None = None
    units: tuple[Unit, ...] = ()


def embedding_prefix(title: str, headings: Sequence[str]) -> str:
    """What precedes a passage's text for the model: its document's title and heading path.

    The title is left out when the first heading already says it. A path longer than
    MAX_PREFIX_CHARS loses its outer headings, then is cut; the title is kept whole.
    """
    heads = [h for h in headings if h]
    lead = [] if heads and heads[0].casefold() == title.casefold() else [title]
    while len(heads) > 1 and len(SECTION_SEPARATOR.join(lead + heads)) > MAX_PREFIX_CHARS:
        heads.pop(0)
    path = SECTION_SEPARATOR.join(heads)
    if lead and path:
        room = MAX_PREFIX_CHARS - len(title) - len(SECTION_SEPARATOR)
        return title if room <= 0 else f"{title}{SECTION_SEPARATOR}{path[:room]}"
    return title if lead else path[:MAX_PREFIX_CHARS]


def split_passages(
    text: str,
    tokenizer: Tokenizer,
    max_tokens: int,
    *,
    markdown: bool = False,
    title: str = "",
    naive: bool = False,
    regions: list[tuple[int, int]] | None = None,
) -> list[Span]:
    """Cut `text` into passages of at most `max_tokens` word pieces each, prefix included.

    Args:
        text: the whole document.
        tokenizer: counts word pieces the way the embedding model does.
        max_tokens: the model's limit, without its special tokens.
        markdown: read the text as Markdown (sections, blocks, markup) rather than plain text.
        title: the document's title, which is embedded before each passage.
        naive: for Markdown, the baseline `qa eval --baseline` measures against: sections
            between `#` heading lines as plain text, no other structure.
        regions: for plain text, the (start, end) spans to cut, each on its own (a PDF's
            pages without their running headers): no passage crosses from one to the next.

    Returns:
        Spans in document order; windows of one long paragraph overlap by a sentence.
    """
    cutter = _Cutter(text, tokenizer, max_tokens, title)
    if markdown and naive:
        pieces = cutter.plain(_naive_sections(text))
    else:
        pieces = cutter.markdown() if markdown else cutter.plain([r for r in regions if r[0] < r[1]] if regions is not None else None)
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    return [
        Span(
            p.start, p.end,
            bisect.bisect_left(newlines, p.start) + 1, bisect.bisect_left(newlines, p.end - 1) + 1,
            p.headings, p.clean if p.clean != text[p.start : p.end] else None, tuple(p.units),
        )
        for p in pieces
    ]


@dataclass
class _Piece:
    """A passage being assembled, or a part of one."""

    start: int
    end: int
    clean: str
    units: list[Unit]
    tokens: int
    kind: str = "paragraph"
    headings: tuple[str, ...] = ()
    whole: bool = True  # False for a part of a block that was cut: it stands alone
    window: bool = False  # a window of long prose: it overlaps its neighbours
    glued: bool = False  # stays with the piece before it while the two fit (a nested list item)


@dataclass
class _Cutter:
    text: str
    tokenizer: Tokenizer
    max_tokens: int
    title: str
    _budgets: dict[tuple[str, ...], int] = field(default_factory=dict)

    def budget(self, headings: tuple[str, ...]) -> int:
        """Word pieces left for the text once the title and heading path are counted."""
        if headings not in self._budgets:
            prefix = embedding_prefix(self.title, headings) + ": "
            used = self.tokenizer.count_tokens([prefix])[0] if self.title or headings else 0
            self._budgets[headings] = max(MIN_BUDGET, self.max_tokens - used)
        return self._budgets[headings]

    def count(self, texts: Sequence[str]) -> list[int]:
        return self.tokenizer.count_tokens(list(texts)) if texts else []

    # ------------------------------------------------------------ plain text

    def plain(self, paragraphs: list[tuple[int, int]] | None = None) -> list[_Piece]:
        """Paragraphs as the text has them; a long one becomes sentence windows."""
        paragraphs = _paragraphs(self.text) if paragraphs is None else paragraphs
        budget = self.budget(())
        counts = self.count([self.text[s:e] for s, e in paragraphs])
        pieces: list[_Piece] = []
        for (start, end), count in zip(paragraphs, counts):
            if count <= budget:
                pieces.append(self._prose_piece(start, end, count))
            else:
                pieces.extend(self._prose_piece(s, e, 0) for s, e in self._windows(start, end, budget))
        return pieces

    def _prose_piece(self, start: int, end: int, tokens: int, headings: tuple[str, ...] = ()) -> _Piece:
        units = [Unit(s, e) for s, e in sentence_spans(self.text, start, end)]
        return _Piece(start, end, self.text[start:end], units, tokens, headings=headings)

    # ------------------------------------------------------------ Markdown

    def markdown(self) -> list[_Piece]:
        """Sections of blocks grouped into passages (see the module's docstring)."""
        blocks = parse_blocks(self.text)
        content = [b for b in blocks if b.kind in CONTENT_KINDS]
        counts = self.count([b.clean for b in content])
        tokens = {id(b): c for b, c in zip(content, counts)}
        passages: list[_Piece] = []
        section: list[_Piece] = []
        heading_start: int | None = None  # where the headings not yet in a passage begin

        def close_section() -> None:
            nonlocal heading_start
            if section:
                grouped = self._group(section)
                if heading_start is not None:
                    grouped[0].start = heading_start
                    heading_start = None
                passages.extend(grouped)
                section.clear()

        for block in blocks:
            if block.kind == "heading":
                close_section()
                if heading_start is None:
                    heading_start = block.start
            elif block.kind in CONTENT_KINDS:
                section.extend(self._block_pieces(block, tokens[id(block)]))
        close_section()
        if not passages and heading_start is not None:
            # Headings and nothing else: the document's text is its headings.
            heads = [b for b in blocks if b.kind == "heading"]
            counts = self.count([b.clean for b in heads])
            pieces = [_Piece(b.start, b.end, b.clean, [], c, "heading", b.headings) for b, c in zip(heads, counts)]
            passages = _pack(pieces, self.budget(()))
        return passages

    def _block_pieces(self, block: Block, tokens: int) -> list[_Piece]:
        """The block as one piece if it fits, else the parts it is cut into."""
        budget = self.budget(block.headings)
        if tokens <= budget:
            return [_Piece(block.start, block.end, block.clean, self._units(block.segments), tokens, block.kind, block.headings)]
        parts: list[_Piece] = []
        for segment in block.segments:
            parts.extend(self._segment_parts(segment, block, budget))
        pieces = _pack(parts, budget)
        for piece in pieces:
            piece.whole = False
        return pieces

    def _units(self, segments: Sequence[Segment]) -> list[Unit]:
        units: list[Unit] = []
        for segment in segments:
            if segment.kind == "code":
                units.append(Unit(segment.start, segment.end, code=True))
            elif segment.kind == "row":
                units.append(Unit(segment.start, segment.end))
            elif segment.kind == "prose":
                units.extend(
                    Unit(s, e) for s, e in sentence_spans(self.text, item_text_start(self.text, segment.start), segment.end)
                    if has_words(clean_inline(self.text[s:e]))
                )
        return units

    def _segment_parts(self, segment: Segment, block: Block, budget: int) -> list[_Piece]:
        """A segment as parts that each fit: whole, sentence windows, or runs of lines."""
        text = self.text[segment.start : segment.end]
        clean = clean_segment(text, segment.kind, block.kind)
        if not has_words(clean) and segment.kind != "code":
            return []
        count = self.count([clean])[0]

        def part(s: int, e: int, tokens: int | None = None, window: bool = False) -> _Piece:
            clean = clean_segment(self.text[s:e], segment.kind, block.kind)
            count = self.count([clean])[0] if tokens is None else tokens
            units = self._units([Segment(s, e, segment.kind)])
            return _Piece(s, e, clean, units, count, block.kind, block.headings, window=window, glued=segment.glued)

        if count <= budget:
            return [part(segment.start, segment.end, count)]
        if segment.kind == "prose":
            return [part(s, e, window=True) for s, e in self._windows(segment.start, segment.end, budget)]
        return [part(s, e) for s, e in self._line_runs(segment.start, segment.end, budget)]

    # ------------------------------------------------------------ cutting

    def _windows(self, start: int, end: int, budget: int) -> list[tuple[int, int]]:
        """Sentence windows over long prose, each within `budget`, overlapping by one sentence."""
        units: list[tuple[int, int]] = []
        sentences = sentence_spans(self.text, start, end) or [(start, end)]
        for (s, e), count in zip(sentences, self.count([self.text[s:e] for s, e in sentences])):
            units.extend([(s, e)] if count <= budget else self._cut_long(s, e, budget))
        return self._fill(units, budget, overlap=True)

    def _line_runs(self, start: int, end: int, budget: int) -> list[tuple[int, int]]:
        """Runs of whole lines within `budget` (code, rows, list items); a long line by words."""
        lines: list[tuple[int, int]] = []
        cursor = start
        for line in self.text[start:end].split("\n"):
            s, e = trim(self.text, cursor, cursor + len(line))
            cursor += len(line) + 1
            if s < e:
                lines.append((s, e))
        units: list[tuple[int, int]] = []
        for (s, e), count in zip(lines, self.count([self.text[s:e] for s, e in lines])):
            units.extend([(s, e)] if count <= budget else self._cut_long(s, e, budget))
        return self._fill(units, budget, overlap=False)

    def _fill(self, units: list[tuple[int, int]], budget: int, *, overlap: bool) -> list[tuple[int, int]]:
        """Consecutive units joined while they fit; with `overlap`, windows share one unit."""
        counts = self.count([self.text[s:e] for s, e in units])
        windows: list[tuple[int, int]] = []
        first = 0
        while first < len(units):
            last, total = first, counts[first]
            while last + 1 < len(units) and total + counts[last + 1] <= budget:
                last += 1
                total += counts[last]
            # Counts of separate units add up to the window's count only approximately.
            while last > first and self.count([self.text[units[first][0] : units[last][1]]])[0] > budget:
                last -= 1
            windows.append((units[first][0], units[last][1]))
            if last + 1 >= len(units):
                break
            first = last if overlap and last > first else last + 1
        return windows

    def _cut_long(self, start: int, end: int, budget: int) -> list[tuple[int, int]]:
        """Cut a sentence longer than the model reads at word boundaries, else between word pieces."""
        text = self.text
        offsets = self.tokenizer.token_offsets(text[start:end])
        step = max(1, budget - 8)  # re-tokenising a cut piece can add a word piece or two
        pieces: list[tuple[int, int]] = []
        first = 0
        while first < len(offsets):
            last = min(first + step, len(offsets)) - 1
            if last + 1 < len(offsets):
                # Prefer to end the piece where the next word piece starts a new word.
                for candidate in range(last, first + step // 2, -1):
                    if text[start + offsets[candidate + 1][0] - 1].isspace():
                        last = candidate
                        break
            piece = trim(text, start + offsets[first][0], start + offsets[last][1])
            if piece[0] < piece[1]:
                pieces.append(piece)
            first = last + 1
        return pieces

    def _group(self, section: list[_Piece]) -> list[_Piece]:
        return _pack(section, self.budget(section[0].headings))


def _pack(items: list[_Piece], limit: int) -> list[_Piece]:
    """Consecutive pieces joined into as few passages of at most `limit` word pieces as
    can hold them, as evenly filled as possible (no two-line passage left at the end).

    Windows of long prose overlap, so each stands alone, and so does each part of a
    block that was cut. A lead-in (a paragraph right before a list, table or code) stays
    with what it introduces, and a nested item with its parent, while they fit together.
    """
    groups: list[list[_Piece]] = []
    run: list[_Piece] = []
    for item in items:
        if item.window or not item.whole:
            lead = run.pop() if run and _attached(run[-1], item) and run[-1].tokens + item.tokens <= limit else None
            groups.extend(_partition(run, limit))
            groups.append([lead, item] if lead else [item])
            run = []
        else:
            run.append(item)
    groups.extend(_partition(run, limit))
    return [_join(group) for group in groups]


def _partition(items: list[_Piece], limit: int) -> list[list[_Piece]]:
    """Fewest groups within `limit`, then the smallest largest group (a linear partition by
    dynamic programming). Pieces attached to each other (see `_attached`) are never parted
    while they fit in `limit` together."""
    n = len(items)
    if not n:
        return []
    prefix = [0]
    for item in items:
        prefix.append(prefix[-1] + item.tokens)
    # chain[i]: the first piece of the run of attached pieces that i belongs to.
    chain = list(range(n))
    for i in range(1, n):
        if _attached(items[i - 1], items[i]):
            chain[i] = chain[i - 1]
    chain_end = list(range(1, n + 1))
    for i in range(n - 2, -1, -1):
        if chain[i + 1] == chain[i]:
            chain_end[i] = chain_end[i + 1]

    def may_cut_before(i: int) -> bool:
        return chain[i] != chain[i - 1] or prefix[chain_end[i]] - prefix[chain[i]] > limit

    best: list[tuple[int, int] | None] = [(0, 0)] + [None] * n
    cut_from = [0] * (n + 1)
    for j in range(1, n + 1):
        if j < n and not may_cut_before(j):
            continue
        for i in range(j - 1, -1, -1):
            size = prefix[j] - prefix[i]
            if size > limit and j - i > 1:
                break
            if (i > 0 and not may_cut_before(i)) or best[i] is None:
                continue
            candidate = (best[i][0] + 1, max(best[i][1], size))  # type: ignore[index]
            if best[j] is None or candidate < best[j]:  # type: ignore[operator]
                best[j], cut_from[j] = candidate, i
    groups: list[list[_Piece]] = []
    j = n
    while j > 0:
        i = cut_from[j]
        groups.append(items[i:j])
        j = i
    return groups[::-1]


def _attached(previous: _Piece, following: _Piece) -> bool:
    """Whether `following` belongs with `previous`: a nested item, or what a lead-in introduces."""
    return following.glued or _leads_into(previous, following)


def _leads_into(previous: _Piece, following: _Piece) -> bool:
    """Whether `previous` introduces `following` ("Install it with:" before a command)."""
    return previous.kind == "paragraph" and previous.whole and not following.glued and (
        following.kind in ("list", "table", "code") or previous.clean.rstrip().endswith(":")
    )


def _join(group: list[_Piece]) -> _Piece:
    first, last = group[0], group[-1]
    return _Piece(
        first.start, last.end, "\n".join(p.clean for p in group), [u for p in group for u in p.units],
        sum(p.tokens for p in group), first.kind, first.headings,
    )


def _naive_sections(text: str) -> list[tuple[int, int]]:
    """Trimmed spans between `#` heading lines (each section starting with its heading)."""
    starts = [0] + [m.start() for m in _NAIVE_HEADING.finditer(text) if m.start() > 0]
    ends = starts[1:] + [len(text)]
    return [t for t in (trim(text, s, e) for s, e in zip(starts, ends)) if t[0] < t[1]]


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Trimmed (start, end) of each paragraph: blank lines and long lines end one."""
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
        if start is None:
            start = line_start
        if len(body) >= UNWRAPPED_LINE:
            found.append((start, position))
            start = None
    if start is not None:
        found.append((start, position))
    return [t for t in (trim(text, s, e) for s, e in found) if t[0] < t[1]]


def page_spans(text: str, starts: tuple[int, ...], spans: list[Span]) -> list[tuple[int, Span]]:
    """(page, span) for spans cut from a paged text, their lines counted within the page."""
    # Lines of the pages before each page, counted once (not once per passage: a long PDF
    # has thousands of passages).
    before_page, seen = [], 0
    for previous, start in zip((0, *starts), starts):
        seen += text.count("\n", previous, start)
        before_page.append(seen)
    out = []
    for span in spans:
        index = bisect.bisect_right(starts, span.start) - 1
        before = before_page[index]
        out.append((index + 1, replace(span, line_start=span.line_start - before, line_end=span.line_end - before)))
    return out
