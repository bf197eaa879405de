"""HTML documents: the readable text of a page, written as Markdown so that its headings,
lists, tables and code are read as Markdown's are (sections, heading paths, blocks).

Parsed with selectolax's lexbor backend (an HTML5 parser, fast and maintained). Scripts,
styles, navigation, headers, footers, sidebars, forms and hidden elements are dropped;
when the page marks its main content (`<main>`, `role="main"`, `<article>`), only that
is read. The page's `<title>` heads the text when the page has no `<h1>`. The text qa
indexes and shows is this Markdown: passages and line numbers point into it.
"""

from __future__ import annotations

import re
from typing import Any

BOILERPLATE = (
    "script, style, noscript, template, svg, canvas, iframe, nav, header, footer, aside, form, button, "
    "select, [role=navigation], [role=banner], [role=contentinfo], [hidden], [aria-hidden=true]"
)
MAIN = "main, [role=main], article"
HEADINGS = {f"h{n}": n for n in range(1, 7)}
BLOCKS = frozenset(
    "p div section article main blockquote figure figcaption dl dt dd address details summary center hgroup".split()
)
_SPACE = re.compile(r"\s+")


class HtmlUnreadable(Exception):
    """HTML without any readable text."""


def html_to_markdown(html: str) -> str:
    """The readable text of an HTML page as Markdown. Raises HtmlUnreadable if it has none."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    for node in tree.css(BOILERPLATE):
        node.decompose()
    root = tree.css_first(MAIN) or tree.body or tree.root
    writer = _Writer()
    if root is not None:
        writer.block(root)
    writer.flush()
    text = "\n\n".join(writer.blocks)
    if not text.strip():
        raise HtmlUnreadable("no readable text")
    if title and not any(block.startswith("# ") for block in writer.blocks):
        text = f"# {title}\n\n{text}"
    return text + "\n"


def table_lines(rows: list[list[str]]) -> list[str]:
    """Rows of cells as the lines of a Markdown table, the first row as its header."""
    width = max(len(row) for row in rows)
    lines = ["| " + " | ".join(_cell(c) for c in row + [""] * (width - len(row))) + " |" for row in rows]
    return [lines[0], "|" + " --- |" * width, *lines[1:]]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


class _Writer:
    """Walks the DOM, writing Markdown blocks: headings, paragraphs, list items, code, tables."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._line: list[str] = []
        self._prefix = ""
        self._depth = 0  # list nesting

    def flush(self) -> None:
        text = _SPACE.sub(" ", "".join(self._line)).strip()
        if text:
            self.blocks.append(self._prefix + text)
        self._line, self._prefix = [], ""

    def block(self, node: Any) -> None:
        for child in _children(node):
            self.node(child)

    def node(self, node: Any) -> None:
        tag = node.tag
        if tag == "-text":
            self._line.append(node.text_content or "")
        elif tag in HEADINGS:
            self.flush()
            text = " ".join(node.text().split())
            if text:
                self.blocks.append("#" * HEADINGS[tag] + " " + text)
        elif tag == "pre":
            self.flush()
            code = node.text().strip("\n")
            if code.strip():
                fence = "~~~" if "```" in code else "```"
                self.blocks.append(f"{fence}\n{code}\n{fence}")
        elif tag in ("ul", "ol"):
            self.flush()
            self._depth += 1
            self.block(node)
            self._depth -= 1
        elif tag == "li":
            self.flush()
            self._prefix = "  " * max(0, self._depth - 1) + "- "
            self.block(node)
            self.flush()
        elif tag == "table":
            self.flush()
            rows = [[" ".join(cell.text().split()) for cell in row.css("th, td")] for row in node.css("tr")]
            rows = [row for row in rows if any(row)]
            if rows:
                self.blocks.append("\n".join(table_lines(rows)))
        elif tag == "br":
            self._line.append(" ")
        elif tag == "hr":
            self.flush()
        elif tag == "code":
            text = node.text()
            self._line.append(f"`{text}`" if text.strip() and "`" not in text else text)
        elif tag in BLOCKS:
            self.flush()
            self.block(node)
            self.flush()
        else:  # inline: a, span, em, strong, ...
            self.block(node)


def _children(node: Any) -> list[Any]:
    return list(node.iter(include_text=True))
