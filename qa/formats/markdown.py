"""Markdown's structure: blocks with exact offsets, their kind, their heading path and their text.

markdown-it-py (CommonMark, plus tables) finds the blocks and their source lines; this
module turns them into `Block`s whose offsets point into the document as read. What the
model and BM25 should read is each block's `clean` text: markup that is not content
(HTML comments and bare tags, anchors, include directives, heading attributes, front
matter, link targets) is left out, while the passage shown to the reader stays the exact
slice of the document. Admonitions (`/// tip` … `///`, `!!! note`, `:::note` … `:::`)
are blocks of their own, so that a note stays whole with what it says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from qa.inline import DIRECTIVE, clean_inline

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

# Kinds of block. "markup" is a block without content (a comment, an anchor, a rule,
# front matter, an include directive): never a passage, never searched.
CONTENT_KINDS = frozenset({"paragraph", "list", "code", "table", "quote", "admonition", "html"})

_LIST_MARKER = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+\[[ xX]\])?[ \t]+")
_ITEM_START = re.compile(r"[ \t]*(?:>[ \t]?)*(?:(?:[-*+]|\d{1,9}[.)])(?:[ \t]+\[[ xX]\])?[ \t]+)?")
_QUOTE_MARKER = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M)
_ALERT = re.compile(r"\[!(\w+)\]")
_TABLE_RULE = re.compile(r"^[\s|:\-+]*$")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
# Admonition markers count at block level only (up to three spaces in, as CommonMark has
# it); indented further they are code, or inside a list item, and stay as they are.
_BLOCKS_OPEN = re.compile(r"^ {0,3}(/{3,})[ \t]*([A-Za-z][\w-]*)[ \t]*(?:\|[ \t]*(.*?))?[ \t]*$")
_BLOCKS_CLOSE = re.compile(r"^ {0,3}/{3,}[ \t]*$")
_COLON_OPEN = re.compile(r"^ {0,3}(:{3,})[ \t]*([A-Za-z][\w-]*)[ \t]*(.*?)[ \t]*$")
_COLON_CLOSE = re.compile(r"^ {0,3}:{3,}[ \t]*$")
_BANG_OPEN = re.compile(r"^( {0,3})(?:!!!|\?\?\?\+?)[ \t]*([A-Za-z][\w-]*)[ \t]*(?:\"(.*)\")?[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_YAML_KEY = re.compile(r"^[\w\"'-][^:]*:(\s|$)")
_TOML_KEY = re.compile(r"^[\w\"'.-]+\s*=|^\[")


@dataclass(frozen=True)
class Segment:
    """A run of a block read as one kind: prose (split into sentences), a row, or code."""

    start: int
    end: int
    kind: str  # "prose", "row" (a table row: one unit), "header" (a table's head: no unit) or "code"
    glued: bool = False  # stays with the segment before it while the two fit (a nested item, a table's head row)


@dataclass(frozen=True)
class Block:
    """A block of a Markdown document: `text[start:end]`, trimmed.

    `headings` is the path of headings it lies under (a heading's own path ends with it);
    `clean` is what is embedded and indexed; `segments` are where its sentences, rows
    and code lie, and where it may be cut when it is too long for one passage.
    """

    kind: str
    start: int
    end: int
    headings: tuple[str, ...]
    clean: str
    segments: tuple[Segment, ...] = ()
    level: int = 0  # a heading's level, 1-6


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def item_text_start(text: str, start: int) -> int:
    """Where a list item's text begins, past its bullet or number (`start` if it has none)."""
    match = _ITEM_START.match(text, start)
    return match.end() if match else start


def has_words(text: str) -> bool:
    """Whether `text` holds anything a reader would call content (a letter or a digit)."""
    return any(ch.isalnum() for ch in text)


@dataclass
class _Lines:
    """The document's line starts, and which lines the parser was given blank."""

    text: str
    starts: list[int]
    blank: list[bool] = field(default_factory=list)  # blank as the parser saw it (markers blanked)

    @classmethod
    def of(cls, text: str) -> _Lines:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
        return cls(text, starts)

    def __len__(self) -> int:
        return len(self.starts)

    def line(self, i: int) -> str:
        end = self.starts[i + 1] - 1 if i + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[i] : end]

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Trimmed offsets of lines first..last-1, without the lines the parser saw blank
        at either end (an admonition's marker belongs to the admonition, not to a list
        that runs up to it)."""
        while first < last and self.blank and self.blank[first]:
            first += 1
        while last > first and self.blank and self.blank[last - 1]:
            last -= 1
        if first >= last:
            return len(self.text), len(self.text)  # nothing: callers skip empty spans
        start = self.starts[first]
        end = self.starts[last] - 1 if last < len(self.starts) else len(self.text)
        while start < end and self.text[start].isspace():
            start += 1
        while end > start and self.text[end - 1].isspace():
            end -= 1
        return start, end


@dataclass(frozen=True)
class _Region:
    """Lines the parser does not see as they are: front matter or an admonition."""

    first: int
    last: int  # exclusive
    kind: str  # "markup" or "admonition"
    label: str = ""


def parse_blocks(text: str) -> list[Block]:
    """The blocks of a Markdown document, in order, each with its heading path.

    Headings are blocks of kind "heading" whose `clean` is the heading's text.
    """
    lines = _Lines.of(text)
    parser_lines = [lines.line(i).replace("\r", " ") for i in range(len(lines))]
    regions = _front_matter(parser_lines) + _admonitions(parser_lines)
    lines.blank = [not line.strip() for line in parser_lines]
    tokens = _parser().parse("\n".join(parser_lines))
    blocks = _raw_blocks(tokens, lines, regions)
    return _with_headings(blocks)


def _front_matter(lines: list[str]) -> list[_Region]:
    """YAML (---) or TOML (+++) front matter at the very top; blanked for the parser.

    Its first line must be a key (`title: ...`, `title = ...`): a document may also begin
    with a thematic break.
    """
    if len(lines) < 3 or lines[0].strip() not in ("---", "+++"):
        return []
    yaml = lines[0].strip() == "---"
    if not (_YAML_KEY if yaml else _TOML_KEY).match(lines[1]):
        return []
    closers = ("---", "...") if yaml else ("+++",)
    for i in range(2, len(lines)):
        if lines[i].strip() in closers:
            for j in range(i + 1):
                lines[j] = ""
            return [_Region(0, i + 1, "markup")]
    return []


def _admonitions(lines: list[str]) -> list[_Region]:
    """`/// type | title` … `///`, `:::type` … `:::` and `!!! type "title"` + indented body.

    Marker lines are blanked and `!!!` bodies dedented in `lines`, so the parser reads the
    content as ordinary blocks; the regions say which blocks belong together.
    """
    regions: list[_Region] = []
    open_stack: list[tuple[int, str, str]] = []  # (line, closer kind, label)
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _FENCE.match(line)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) and not line.strip()[len(match.group(1)):].strip():
                fence = None
            i += 1
            continue
        if match:
            fence = match.group(1)
            i += 1
            continue
        if open_stack and ((open_stack[-1][1] == "/" and _BLOCKS_CLOSE.match(line)) or (open_stack[-1][1] == ":" and _COLON_CLOSE.match(line))):
            first, _, label = open_stack.pop()
            lines[i] = ""
            if not open_stack:
                regions.append(_Region(first, i + 1, "admonition", label))
            i += 1
            continue
        opened = _BLOCKS_OPEN.match(line) or _COLON_OPEN.match(line)
        if opened:
            kind = "/" if opened.group(1).startswith("/") else ":"
            label = " ".join(x for x in (opened.group(2), opened.group(3) or "") if x).strip()
            open_stack.append((i, kind, label))
            lines[i] = ""
            i += 1
            continue
        bang = _BANG_OPEN.match(line)
        if bang and not open_stack:
            indent = len(bang.group(1).expandtabs(4)) + 4
            label = " ".join(x for x in (bang.group(2), bang.group(3) or "") if x).strip()
            lines[i] = ""
            last = i + 1
            j = i + 1
            while j < len(lines):
                body = lines[j].expandtabs(4)
                if body.strip() and len(body) - len(body.lstrip()) < indent:
                    break
                lines[j] = body[indent:] if body.strip() else ""
                if body.strip():
                    last = j + 1
                j += 1
            # An admonition inside this one is part of it: its markers go, its body is read.
            inner = lines[i + 1 : last]
            _admonitions(inner)
            lines[i + 1 : last] = inner
            regions.append(_Region(i, last, "admonition", label))
            i = last
            continue
        i += 1
    return regions


def _raw_blocks(tokens: list[Token], lines: _Lines, regions: list[_Region]) -> list[Block]:
    """Top-level blocks in order, admonitions grouped, front matter as markup."""
    top: list[tuple[str, int, int, list[Token]]] = []  # kind, first line, last line, inner tokens
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.level != 0 or token.map is None:
            i += 1
            continue
        j = i
        if token.nesting == 1:
            depth = 0
            for j in range(i, len(tokens)):
                depth += tokens[j].nesting
                if depth == 0:
                    break
        inner = tokens[i : j + 1]
        first, last = token.map
        top.append((_kind(token, inner), first, last, inner))
        i = j + 1

    blocks: list[Block] = []
    regions = sorted(regions, key=lambda r: r.first)
    region_at = 0
    pending: list[Block] = []
    for kind, first, last, inner in top:
        while region_at < len(regions) and regions[region_at].last <= first:
            blocks.extend(_close_region(regions[region_at], pending, lines))
            pending = []
            region_at += 1
        block = _block(kind, first, last, inner, lines)
        if region_at < len(regions) and regions[region_at].first <= first:
            pending.append(block)
        else:
            blocks.append(block)
    for region in regions[region_at:]:
        blocks.extend(_close_region(region, pending, lines))
        pending = []
    return blocks


def _close_region(region: _Region, inside: list[Block], lines: _Lines) -> list[Block]:
    lines.blank, blank = [], lines.blank  # the region's own marker lines are part of it
    start, end = lines.span(region.first, region.last)
    lines.blank = blank
    # A lazy continuation line can carry a block inside past the region's last line.
    start, end = min([start, *(b.start for b in inside)]), max([end, *(b.end for b in inside)])
    if region.kind == "markup" or start >= end:
        return [Block("markup", start, end, (), "")] if start < end else []
    content = [b for b in inside if b.kind in CONTENT_KINDS]
    clean = "\n".join([region.label.replace("|", " ").strip()] + [b.clean for b in content]).strip()
    segments = tuple(s for b in content for s in b.segments)
    if not content:
        return [Block("markup", start, end, (), "")]
    return [Block("admonition", start, end, (), clean, segments)]


def _kind(token: Token, inner: list[Token]) -> str:
    return {
        "heading_open": "heading",
        "paragraph_open": "paragraph",
        "bullet_list_open": "list",
        "ordered_list_open": "list",
        "table_open": "table",
        "blockquote_open": "quote",
        "fence": "code",
        "code_block": "code",
        "html_block": "html",
    }.get(token.type, "markup")


def _block(kind: str, first: int, last: int, inner: list[Token], lines: _Lines) -> Block:
    start, end = lines.span(first, last)
    text = lines.text
    if kind == "heading":
        title = clean_inline(_CLOSING_HASHES.sub("", text[start:end].split("\n")[0].strip().lstrip("#")))
        if last - first > 1:  # setext: the underline is not part of the title
            title = clean_inline(" ".join(lines.line(n).strip() for n in range(first, last - 1)))
        if not has_words(title):  # "# <a id='top'></a>": no heading to name a section by
            return Block("markup", start, end, (), "")
        return Block("heading", start, end, (), title, level=int(inner[0].tag[1:]))
    if kind == "code":
        segment = _code_segment(inner[0], first, last, lines)
        clean = _clean_code(text[segment.start : segment.end]) if segment else ""
        if not clean.strip():
            return Block("markup", start, end, (), "")
        return Block("code", start, end, (), clean, (segment,) if segment else ())
    if kind == "table":
        segments = _table_segments(inner, lines)
        clean = "\n".join(clean_segment(text[s.start : s.end], s.kind, kind) for s in segments)
        return Block("table", start, end, (), clean, tuple(segments))
    if kind in ("list", "quote"):
        segments = _container_segments(inner, first, last, lines, kind)
    else:
        segments = [Segment(start, end, "prose")]
    clean = "\n".join(clean_segment(text[s.start : s.end], s.kind, kind) for s in segments).strip()
    if kind == "markup" or not has_words(clean):
        return Block("markup", start, end, (), "")
    return Block(kind, start, end, (), clean, tuple(segments))


def _code_segment(token: Token, first: int, last: int, lines: _Lines) -> Segment | None:
    """The code inside a fence (or an indented block), without the fence lines."""
    if token.type == "fence":
        inner_first, inner_last = first + 1, last
        closing = _QUOTE_MARKER.sub("", lines.line(last - 1)).strip() if last - 1 > first else ""
        if last - 1 > first and closing.startswith(token.markup) and not closing.strip(token.markup[0]).strip():
            inner_last = last - 1
    else:
        inner_first, inner_last = first, last
    if inner_first >= inner_last:
        return None
    start, end = lines.span(inner_first, inner_last)
    return Segment(start, end, "code") if start < end else None


def _table_segments(inner: list[Token], lines: _Lines) -> list[Segment]:
    """The head row (with the delimiter row under it), then one segment per body row."""
    rows = [t.map for t in inner if t.type == "tr_open" and t.map]
    segments = []
    for i, (first, last) in enumerate(rows):
        if i == 0 and len(rows) > 1:
            last = rows[1][0]  # the delimiter row belongs to the head
        start, end = lines.span(first, last)
        if start < end:
            segments.append(Segment(start, end, "header" if i == 0 else "row", glued=i == 1))
    return segments


def _container_segments(inner: list[Token], first: int, last: int, lines: _Lines, kind: str) -> list[Segment]:
    """A list or quote as prose runs, one per item, with any code inside as code segments."""
    code = sorted((t.map[0], t.map[1], t) for t in inner if t.type in ("fence", "code_block") and t.map)
    items = {t.map[0]: t.level for t in inner if t.type == "list_item_open" and t.map}
    breaks = set(items) | {first}
    segments: list[Segment] = []
    line = first
    run_start = first
    code_at = 0

    def glued(at: int) -> bool:
        """Anything but the start of a top-level item (or of the block) stays with what precedes it."""
        return bool(segments) and items.get(at, 0) != 1

    def flush(upto: int) -> None:
        if run_start < upto:
            start, end = _without_bare_quote_lines(lines.text, *lines.span(run_start, upto))
            if start < end:
                segments.append(Segment(start, end, "prose", glued(run_start)))

    while line < last:
        if code_at < len(code) and code[code_at][0] == line:
            flush(line)
            c_first, c_last, token = code[code_at]
            segment = _code_segment(token, c_first, c_last, lines)
            if segment is not None:
                segments.append(replace(segment, glued=glued(line)))
            line = max(c_last, line + 1)
            run_start = line
            code_at += 1
            continue
        if line in breaks and line != run_start:
            flush(line)
            run_start = line
        line += 1
    flush(last)
    return segments


def _without_bare_quote_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """(start, end) without lines at either end that hold only quote markers ("> >")."""
    while start < end:
        line_end = text.find("\n", start, end)
        line_end = end if line_end < 0 else line_end
        if text[start:line_end].strip(" \t>"):
            break
        start = line_end + 1
    while end > start:
        line_start = text.rfind("\n", start, end) + 1
        if text[max(line_start, start) : end].strip(" \t>"):
            break
        end = max(line_start - 1, start)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def clean_segment(text: str, segment_kind: str, block_kind: str) -> str:
    """What is embedded and indexed of a segment of a block of `block_kind`."""
    if segment_kind == "code":
        return _clean_code(_QUOTE_MARKER.sub("", text) if block_kind == "quote" else text)
    if segment_kind in ("row", "header"):
        return "\n".join(_clean_row(line) for line in text.split("\n")).strip()
    if block_kind == "quote":
        text = _ALERT.sub(r"\1:", _QUOTE_MARKER.sub("", text))
    if block_kind == "list":
        text = "\n".join(_LIST_MARKER.sub("", line, count=1) for line in text.split("\n"))
    return clean_inline(text)


def _clean_code(text: str) -> str:
    """Code as it is, without lines that only include other files."""
    return "\n".join(line for line in text.split("\n") if not (DIRECTIVE.fullmatch(line.strip()) and line.strip()))


def _clean_row(row: str) -> str:
    if _TABLE_RULE.match(row):
        return ""
    return clean_inline(row.strip().strip("|").replace("|", " | "))


def _with_headings(blocks: list[Block]) -> list[Block]:
    """Each block with the path of headings it lies under."""
    path: list[tuple[int, str]] = []
    out = []
    for block in blocks:
        if block.kind == "heading":
            while path and path[-1][0] >= block.level:
                path.pop()
            path.append((block.level, block.clean))
        out.append(replace(block, headings=tuple(title for _, title in path)))
    return out
