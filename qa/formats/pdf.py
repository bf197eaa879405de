"""PDF documents: the text of each page, in order, read by PDFium (pypdfium2).

A PDF's text, as qa indexes it, is its pages' text joined by PAGE_BREAK, so offsets
still point into one string (`text[start:end] == passage.text`). Lines are counted
within each page, and a passage never crosses a page. Lines that repeat at the top or
bottom of most pages (running headers, footers, page numbers) are in the text but in no
passage. PDFium marks a hyphen it finds at a line's end and leaves out the line break
after it; qa joins the two halves, so a hyphenated word reads, and is found, whole, and
keeps the hyphen where it was the word's own (see rejoin_hyphens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PAGE_BREAK = "\f\n"
# PDFium's marks for a hyphen at the end of a line (the word goes on on the next line).
_LINE_END_HYPHEN = re.compile(r"(\w*)[\x02\ufffe](\w*)")
_HYPHENATED = re.compile(r"\w+(?:-\w+)+")
_CONTROLS = str.maketrans({"\r": None, "\f": " "})
# How many lines at the top and at the bottom of a page may be a running header or footer.
EDGE_LINES = 2
_NUMBERS = re.compile(r"\d+")
# A line shorter than this share of the page's usual line that ends a sentence ends a paragraph.
SHORT_LINE = 0.8
_SENTENCE_ENDS = (".", "!", "?", ":", '"', "\u201d", "\u2019", ")")


class PdfUnreadable(Exception):
    """A PDF qa cannot read, with the reason a user can act on."""


@dataclass(frozen=True)
class PagedText:
    """The text of a PDF: `starts[i]` is where page i+1 begins; `bodies` are the
    paragraphs of every page, in order, without running headers and footers."""

    text: str
    starts: tuple[int, ...]
    bodies: tuple[tuple[int, int], ...]


def read_pdf(data: bytes) -> PagedText:
    """The pages' text of a PDF given as bytes.

    Raises:
        PdfUnreadable: encrypted, damaged, not a PDF, or without any text layer.
    """
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise PdfUnreadable("encrypted: qa cannot read a password-protected PDF (save a copy without the password)") from None
        raise PdfUnreadable(f"damaged or not a PDF ({e})") from None
    try:
        pages = rejoin_hyphens([_page_text(pdf, i) for i in range(len(pdf))])
    except pdfium.PdfiumError as e:
        raise PdfUnreadable(f"damaged PDF ({e})") from None
    finally:
        pdf.close()
    if not any(page.strip() for page in pages):
        raise PdfUnreadable("no text layer (scanned? run OCR first)")
    return paged(pages)


def _page_text(pdf: Any, index: int) -> str:
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            return textpage.get_text_range().translate(_CONTROLS).rstrip()
        finally:
            textpage.close()
    finally:
        page.close()


def rejoin_hyphens(pages: list[str]) -> list[str]:
    """The pages with each word PDFium found hyphenated at a line's end whole again.

    The hyphen stays where it belongs to the word: before a capital or a digit
    ("COVID-19", "non-English"), before a part that has hyphens of its own
    ("English-to-German", "state-of-the-art"), or when the document writes the word with
    its hyphen elsewhere ("well-known"); otherwise the halves join ("hyphen-ated").

    >>> rejoin_hyphens(["a hyphen\ufffeated, English\ufffeto-German and COVID\ufffe19"])
    ['a hyphenated, English-to-German and COVID-19']
    """
    written = set(_HYPHENATED.findall("\n".join(pages)))

    def join(match: re.Match[str]) -> str:
        head, tail = match.group(1), match.group(2)
        after = match.string[match.end() : match.end() + 1]
        own = tail[:1].isupper() or tail[:1].isdigit() or after == "-" or f"{head}-{tail}" in written
        return f"{head}{'-' if own else ''}{tail}"

    return [_LINE_END_HYPHEN.sub(join, page) for page in pages]


def paged(pages: list[str]) -> PagedText:
    """Pages joined into one text, with each page's body found (see running_lines)."""
    running = running_lines(pages)
    starts, bodies, offset = [], [], 0
    for page in pages:
        starts.append(offset)
        lines = page.split("\n")
        first, last = 0, len(lines)
        while first < min(EDGE_LINES, last) and _key(lines[first]) in running:
            first += 1
        while last > max(first, len(lines) - EDGE_LINES) and _key(lines[last - 1]) in running:
            last -= 1
        body_start = offset + sum(len(line) + 1 for line in lines[:first])
        bodies.extend(paragraphs(lines[first:last], body_start))
        offset += len(page) + len(PAGE_BREAK)
    return PagedText(PAGE_BREAK.join(pages), tuple(starts), tuple(bodies))


def paragraphs(lines: list[str], start: int) -> list[tuple[int, int]]:
    """(start, end) of the paragraphs of a page's lines, the first line at offset `start`.

    PDF text has no blank lines between paragraphs. In prose (a paragraph whose first line
    runs the page's usual length), a line that ends a sentence well short of that length
    (under SHORT_LINE of it) ends the paragraph, as typeset text has it. A paragraph whose
    first line is short is a block (code, a program's output, a table's rows, a lead-in and
    the code it introduces): its short lines stay together, whatever they end with, until a
    line of the usual length begins the prose after it; a single short line that ends no
    sentence (a heading) begins its prose instead. A caption alone ("Figure 2: ...") stays
    with the text before it, the figure's neighbour, not a passage of its own.
    """
    lengths = sorted(len(line.rstrip()) for line in lines if line.strip())
    if not lengths:
        return []
    usual = lengths[int(0.9 * (len(lengths) - 1))]

    def short(line: str) -> bool:
        return len(line.rstrip()) < SHORT_LINE * usual

    found: list[tuple[int, int]] = []
    first: int | None = None  # where the paragraph being read begins
    block, count, previous = False, 0, ""
    position, last_end = start, start
    for line in lines:
        end = position + len(line.rstrip())
        if line.strip():
            begins = position + (len(line) - len(line.lstrip()))
            if first is not None and block and not short(line):
                if count == 1 and not previous.rstrip().endswith(_SENTENCE_ENDS):
                    block = False  # a heading: it begins the prose below it
                else:
                    found.append((first, last_end))
                    first = None
            if first is None:
                first, block, count = begins, short(line), 0
            count += 1
            if not block and short(line) and line.rstrip().endswith(_SENTENCE_ENDS):
                found.append((first, end))
                first = None
            previous, last_end = line, end
        position += len(line) + 1
    if first is not None:
        found.append((first, last_end))
    return _with_captions(found, lines, start)


_CAPTION = re.compile(r"(?:Figure|Fig\.|Table|Listing|Chart|Diagram|Exhibit)\s+[\dIVXivx]+[.:]?", re.I)


def _with_captions(found: list[tuple[int, int]], lines: list[str], start: int) -> list[tuple[int, int]]:
    """`found` with each one-line caption joined to the paragraph before it (or after it, first on the page)."""
    text = "\n".join(lines)
    out: list[tuple[int, int]] = []
    pending: tuple[int, int] | None = None
    for first, end in found:
        piece = text[first - start : end - start]
        if "\n" not in piece and _CAPTION.match(piece.strip()):
            if out:
                out[-1] = (out[-1][0], end)
            else:
                pending = (first, end)
            continue
        if pending is not None:
            first, pending = pending[0], None
        out.append((first, end))
    if pending is not None:
        out.append(pending)
    return out


def running_lines(pages: list[str]) -> set[str]:
    """Lines (numbers as #) found among the first or last EDGE_LINES lines of at least
    half the pages, and of two at least: running headers, footers and page numbers."""
    counts: dict[str, int] = {}
    for page in pages:
        lines = [line for line in page.split("\n") if line.strip()]
        for key in {_key(line) for line in lines[:EDGE_LINES] + lines[-EDGE_LINES:]}:
            counts[key] = counts.get(key, 0) + 1
    needed = max(2, (len(pages) + 1) // 2)
    return {key for key, count in counts.items() if count >= needed and key}


def _key(line: str) -> str:
    return _NUMBERS.sub("#", " ".join(line.split()).lower())


def page_of(text: str, page: int) -> str:
    """The text of page `page` (1-based) of a paged text."""
    return text.split(PAGE_BREAK)[page - 1]
