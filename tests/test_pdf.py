"""PDF documents, written for real with fpdf2, indexed with the real model: pages, lines
within the page, running headers and footers left out, and every bad PDF a skip."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from qa import build_index, retrieve
from qa.formats.documents import read_document
from qa.formats.pdf import PAGE_BREAK
from tests.conftest import run_qa

fpdf = pytest.importorskip("fpdf")

HEADER = "ACME Field Manual - Confidential"
BODIES = [
    "Shipping. The international shipping rules say that parcels over two kilograms need a customs "
    "form and a signed declaration from the sender.",
    "Lighthouses. The keepers trimmed the wicks every evening before the winter storms, and logged "
    "every passing ship in a leather-bound book.",
    "Bread. Sourdough rises because wild yeast and lactic acid bacteria ferment the dough; the starter "
    "is fed with flour and water every day.",
    "Glaciers. A glacier carves a U-shaped valley as it grinds slowly downhill over thousands of years, "
    "leaving moraines where it stops.",
]


def manual(path: Path, *, hyphenated: str | None = None) -> Path:
    """A PDF of one page per body, each with a running header and a page-number footer."""

    class Manual(fpdf.FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, HEADER, new_x="LMARGIN", new_y="NEXT")

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, f"Page {self.page_no()} of {len(BODIES)}", align="C")

    pdf = Manual()
    for number, body in enumerate(BODIES, 1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
        if hyphenated and number == 2:  # a word broken at a line's end, as typeset text has them
            pdf.multi_cell(0, 6, hyphenated, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_passages_know_their_page_and_lines_and_leave_out_running_headers(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    manual(
        seeds / "manual.pdf",
        hyphenated="The harbour master's log records every inter-\nnational vessel, in an English-\nto-German glossary.",
    )
    index = tmp_path / "index"
    build_index(seeds, index)
    text = read_document(seeds / "manual.pdf")
    pages = text.split(PAGE_BREAK)
    assert len(pages) == len(BODIES)
    for number, body in enumerate(BODIES, 1):
        found = retrieve(body.split(".")[1], k=1, index_dir=index)[0]
        assert found.page == number and text[found.start : found.end] == found.text
        page_lines = pages[number - 1].split("\n")
        # Lines are counted within the page: the header is line 1, the passage starts below it.
        assert page_lines[0] == HEADER and found.line_start >= 2
        assert "\n".join(page_lines[found.line_start - 1 : found.line_end]).endswith(found.text)
        lines = str(found.line_start) if found.line_start == found.line_end else f"{found.line_start}-{found.line_end}"
        assert found.citation == f"manual.pdf:p{number}:{lines}"
        assert HEADER not in found.text and f"Page {number} of" not in found.text
    # A word hyphenated at a line's end is found whole.
    vessel = retrieve("Which log records every international vessel?", k=1, index_dir=index)[0]
    assert vessel.page == 2 and "international vessel" in vessel.text
    # A hyphen that is the word's own stays (PDFium marks it as a line-end hyphen all the same).
    assert "in an English-to-German glossary" in vessel.text


def test_qa_ask_json_cites_the_page(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    manual(seeds / "manual.pdf")
    result = run_qa("ask", "What does sourdough starter get fed?", "-k", "1", "--json", "--seeds", str(seeds), "--index", str(tmp_path / "i"))
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)["passages"][0]
    assert first["page"] == 3 and first["citation"].startswith("manual.pdf:p3:")
    text = run_qa("ask", "What does sourdough starter get fed?", "-k", "1", "-C", "1", "--index", str(tmp_path / "i"))
    assert "[1] manual.pdf:p3:" in text.stdout and f"1- {HEADER}" in text.stdout  # context from the page itself


def test_every_bad_pdf_is_skipped_with_its_reason_and_indexing_finishes(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    good = manual(seeds / "good.pdf")
    blank = fpdf.FPDF()
    blank.add_page()
    blank.rect(20, 20, 80, 40, style="F")  # a drawing, no text: what a scan without OCR looks like
    blank.output(str(seeds / "scanned.pdf"))
    locked = fpdf.FPDF()
    locked.set_encryption(owner_password="owner", user_password="user")
    locked.add_page()
    locked.set_font("Helvetica", size=11)
    locked.cell(0, 8, "Secret plans.")
    locked.output(str(seeds / "locked.pdf"))
    (seeds / "noise.pdf").write_bytes(random.Random(7).randbytes(4096))
    data = good.read_bytes()
    (seeds / "truncated.pdf").write_bytes(data[: len(data) // 3])
    result = run_qa("index", "--seeds", str(seeds), "--index", str(tmp_path / "index"))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    said = result.stderr.splitlines()
    assert any("scanned.pdf: no text layer (scanned? run OCR first)" in line for line in said), said
    assert any("locked.pdf: encrypted" in line for line in said), said
    assert any("noise.pdf: damaged or not a PDF" in line for line in said), said
    # PDFium rebuilds what it can of a cut file: read in part, or skipped with its reason.
    assert any("truncated.pdf: damaged" in line for line in said) or "index updated: 2 files" in result.stdout
    assert all(line.startswith("qa: ") for line in said)
    assert "index updated:" in result.stdout


def test_the_source_panel_shows_the_passages_page(tmp_path):
    import asyncio

    from textual.widgets import TextArea

    from tests.pilot import ask, until
    from tui.app import QAApp
    from tui.source import SourceScreen

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    manual(seeds / "manual.pdf")
    build_index(seeds, tmp_path / "index")
    page = read_document(seeds / "manual.pdf").split(PAGE_BREAK)[1]

    async def run() -> None:
        app = QAApp(tmp_path / "index", history_path=tmp_path / "h.jsonl", follow=False)
        async with app.run_test(size=(100, 30)) as pilot:
            answer = await ask(pilot, "What did the lighthouse keepers log?")
            assert answer is not None and answer.has_class("found")
            await pilot.press("escape", "1")
            await until(pilot, lambda: isinstance(app.screen, SourceScreen))
            area = app.screen.query_one("#source-text", TextArea)
            await until(pilot, lambda: bool(area.text))
            assert area.text == page  # the page alone, its lines numbered as the citation counts them
            selected = area.selected_text
            assert selected and selected in page and app.screen.passage.citation.startswith("manual.pdf:p2:")

    asyncio.run(run())


TUTORIAL_PROSE = (
    "Python opens a file with the built-in open function, which returns a file object. Iterating over the file object "
    "yields one line at a time, so even a very large file never has to fit in memory.",
    "If the file does not exist, open raises FileNotFoundError. Catch it to show a friendly message instead of a "
    "traceback, as the example below does for a file that is not there.",
    "Opening a file in write mode erases what it held before, so use append mode to add to a log file. Binary mode is "
    "needed for images, archives and anything else that is not text.",
)
CODE = (
    ["with open('names.txt') as handle:", "    for name in handle:", "        print(name.strip())"],
    ["try:", "    handle = open('missing.txt')", "except FileNotFoundError:", "    print('No such file, sorry.')"],
)
TABLE = ["Table 1: The modes of the open function.", "r    read (the default)", "w    write, truncating the file first",
         "a    append to the end"]
FIGURE = "Figure 2: A file object reads the disk a block at a time."


def tutorial(path: Path) -> Path:
    """A page of a programming tutorial: prose, code in a fixed-width font, a table with its
    caption above, a figure's caption below it."""
    pdf = fpdf.FPDF()
    pdf.add_page()
    for prose, code in zip(TUTORIAL_PROSE, (*CODE, None)):
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, prose, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Courier", size=10)
        for line in code or []:
            pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for row in TABLE:
        pdf.cell(0, 5, row, new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, FIGURE, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_code_tables_and_captions_in_a_pdf_are_blocks_not_one_line_passages(tmp_path):
    from qa.indexfiles.store import open_index

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    tutorial(seeds / "tutorial.pdf")
    build_index(seeds, tmp_path / "index")
    passages = open_index(tmp_path / "index").passages

    def holding(words: str) -> list[str]:
        return [p.text for p in passages if words in " ".join(p.text.split())]

    for block in (*CODE, TABLE):  # each block whole, in one passage
        lines = [" ".join(line.split()) for line in block]
        assert any(all(line in " ".join(text.split()) for line in lines) for text in holding(lines[0])), block
    assert all(len(p.text.strip().split("\n")) > 1 for p in passages if "(" in p.text or "open(" in p.text)
    assert holding(FIGURE) and all(text.strip() != FIGURE for text in holding(FIGURE))  # no caption alone
    top = retrieve("except FileNotFoundError print", k=1, index_dir=tmp_path / "index")
    assert top and all(" ".join(line.split()) in " ".join(top[0].text.split()) for line in CODE[1])  # the whole block
