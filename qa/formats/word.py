"""Word documents (.docx): paragraphs, headings by style, lists and tables, in the order
the document has them, written as Markdown so they are read as Markdown's are.

Read with python-docx. A paragraph styled "Title" or "Heading N" is a heading; one that
is numbered or bulleted (or styled as a list) is a list item, indented by its level; a
table is written row by row as a Markdown table. The text qa indexes and shows is this
Markdown: passages and line numbers point into it.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from qa.formats.html_text import table_lines

_HEADING = re.compile(r"heading (\d)$", re.IGNORECASE)
_STYLE_LEVEL = re.compile(r"(\d)$")


class WordUnreadable(Exception):
    """A .docx qa cannot read, with the reason."""


def docx_to_markdown(data: bytes) -> str:
    """The text of a .docx as Markdown. Raises WordUnreadable (damaged, encrypted, empty)."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(BytesIO(data))
    except Exception as e:  # noqa: BLE001  (python-docx raises zip, XML and package errors)
        raise WordUnreadable(f"damaged, encrypted or not a Word document ({type(e).__name__}: {e})") from None
    # The names of the styles in use, read once by id (python-docx looks a paragraph's
    # style up anew each time, and reading every style costs a quarter of the document).
    elements = list(document.element.body.iterchildren())
    names: dict[str, str] = {}
    for style_id in {e.style for e in elements if e.tag.endswith("}p") and e.style}:
        style = document.styles.element.get_by_id(style_id)
        names[style_id] = (style.name_val or "") if style is not None else ""
    styles = {id(e): names.get(e.style or "", "") if e.tag.endswith("}p") else "" for e in elements}
    # Under a Title, "Heading 1" is a section of it: one level deeper.
    below_title = any(name.lower() == "title" for name in styles.values())
    blocks: list[str] = []
    for element in elements:
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            block = _paragraph(Paragraph(element, document), styles[id(element)], below_title)
        elif tag == "tbl":
            rows = [[cell.text for cell in row.cells] for row in Table(element, document).rows]
            rows = [row for row in rows if any(cell.strip() for cell in row)]
            block = "\n".join(table_lines(rows)) if rows else ""
        else:
            continue
        if block:
            blocks.append(block)
    if not blocks:
        raise WordUnreadable("no text")
    return "\n\n".join(blocks) + "\n"


def _paragraph(paragraph: Any, style: str, below_title: bool) -> str:
    text = " ".join(paragraph.text.split())
    if not text:
        return ""
    if style.lower() == "title":
        return f"# {text}"
    heading = _HEADING.match(style)
    if heading:
        return "#" * min(6, int(heading.group(1)) + below_title) + " " + text
    level = _list_level(paragraph)
    if level is None and "list" in style.lower():  # numbered by its style: "List Bullet 2" is level 1
        nested = _STYLE_LEVEL.search(style)
        level = int(nested.group(1)) - 1 if nested else 0
    return "  " * level + "- " + text if level is not None else text


def _list_level(paragraph: Any) -> int | None:
    """The list level of a numbered or bulleted paragraph, or None."""
    properties = paragraph._p.pPr
    numbering = properties.numPr if properties is not None else None
    if numbering is None:
        return None
    level = numbering.ilvl
    return int(level.val) if level is not None and level.val is not None else 0
