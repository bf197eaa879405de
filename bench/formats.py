"""The SQuAD articles as PDF, HTML and Word: answers as good as from the .txt, on the
right page, and what reading each format costs against its bare extractor.

    python -m bench.formats

Each article is rendered from `../shared/data/squad-dev/corpus` (a paragraph per line)
by fpdf2 (with a running header and page numbers), as an HTML page with navigation and
scripts around a <main>, and by python-docx; each corpus is indexed and asked the SQuAD
questions, a hit being a passage from the article that holds an answer (the same rule
for the .txt corpus, so the figures compare).
"""

from __future__ import annotations

import html
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.corpus import cache_dir
from bench.measure import save_results
from bench.questions import SQUAD

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FORMATS = ("txt", "pdf", "html", "docx")


def render(corpus: Path, dest: Path) -> dict[str, Path]:
    """The articles of `corpus` in every format, one folder per format."""
    folders = {fmt: dest / fmt for fmt in FORMATS}
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for article in sorted(corpus.glob("*.txt")):
        paragraphs = [p for p in article.read_text(encoding="utf-8").split("\n") if p.strip()]
        title = article.stem.replace("_", " ")
        shutil.copy(article, folders["txt"] / article.name)
        _pdf(title, paragraphs, folders["pdf"] / f"{article.stem}.pdf")
        _html(title, paragraphs, folders["html"] / f"{article.stem}.html")
        _docx(title, paragraphs, folders["docx"] / f"{article.stem}.docx")
    return folders


def _pdf(title: str, paragraphs: list[str], path: Path) -> None:
    from fpdf import FPDF

    class Article(FPDF):
        def header(self) -> None:
            self.set_font(family, size=8)
            self.cell(0, 6, f"{title} - SQuAD articles", new_x="LMARGIN", new_y="NEXT")

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(family, size=8)
            self.cell(0, 6, f"Page {self.page_no()}", align="C")

    pdf = Article()
    family = "Helvetica"
    if FONT.is_file():
        pdf.add_font("DejaVu", fname=str(FONT))
        family = "DejaVu"
    pdf.add_page()
    for paragraph in paragraphs:
        pdf.set_font(family, size=10)
        text = paragraph if family == "DejaVu" else paragraph.encode("latin-1", "replace").decode("latin-1")
        pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.output(str(path))


def _html(title: str, paragraphs: list[str], path: Path) -> None:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    path.write_text(
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title><style>p {{ margin: 1em }}</style>"
        f"<script>var menu = 'open';</script></head><body><nav><a href='/'>Home</a> <a href='/x'>Other articles</a></nav>"
        f"<main><h1>{html.escape(title)}</h1>\n{body}</main><footer>Text under CC BY-SA.</footer></body></html>",
        encoding="utf-8",
    )


def _docx(title: str, paragraphs: list[str], path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading(title, 0)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))


def questions_for(fmt: str, out: Path) -> Path:
    """The SQuAD questions with their article named in `fmt`, a hit being any passage of
    it that holds an answer (no character spans: those are offsets into the .txt)."""
    lines = []
    for line in (SQUAD / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        q.pop("spans", None)
        if q.get("source"):
            q["source"] = str(Path(q["source"]).with_suffix(f".{fmt}"))
        lines.append(json.dumps(q))
    path = out / f"questions-{fmt}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def quality(folders: dict[str, Path], work: Path) -> dict[str, Any]:
    """hit@1 / hit@5 per format, build seconds, and whether every PDF hit's page holds it."""
    from qa import build_index
    from qa.answering.search import get_engine
    from qa.embedding.model import get_embedder
    from qa.embedding.modelfiles import resolve_model_info
    from qa.evaluate import evaluate, load_questions

    get_embedder(resolve_model_info(None))  # loaded before the first build is timed
    out: dict[str, Any] = {}
    for fmt, folder in folders.items():
        index = work / f"index-{fmt}"
        shutil.rmtree(index, ignore_errors=True)
        began = time.perf_counter()
        build_index(folder, index)
        seconds = time.perf_counter() - began
        report = evaluate(load_questions(questions_for(fmt, work)), 5, index_dir=index)
        out[fmt] = {"hit@1": round(report.overall["hit@1"], 3), "hit@5": round(report.overall["hit@k"], 3),
                    "build_s": round(seconds, 1), "passages": get_engine(index).index.manifest.passages}
        if fmt == "pdf":
            out[fmt]["pages_hold_their_passages"] = _pages_hold(folder, get_engine(index))
    return out


def _pages_hold(folder: Path, engine: Any) -> bool:
    """Whether every passage is on the page it names, by PDFium's own page text."""
    import pypdfium2 as pdfium

    pages: dict[str, list[str]] = {}
    for path in folder.glob("*.pdf"):
        pdf = pdfium.PdfDocument(path)
        pages[path.name] = [" ".join(pdf[i].get_textpage().get_text_range().replace("\x02", "").replace("\ufffe", "").split()) for i in range(len(pdf))]
        pdf.close()
    return all(" ".join(r.text.split()) in pages[r.source][r.page - 1] for r in engine.index.passages)


def extraction(folders: dict[str, Path], rounds: int = 5) -> dict[str, Any]:
    """Seconds to read each format's files: ours (to the text qa indexes) against the bare
    extractor (its plain text), median of `rounds`."""
    import docx
    import pypdfium2 as pdfium
    from selectolax.lexbor import LexborHTMLParser

    from qa.formats.documents import load_document

    def bare_pdf(data: bytes) -> str:
        pdf = pdfium.PdfDocument(data)
        text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        pdf.close()
        return text

    def bare_html(data: bytes) -> str:
        return LexborHTMLParser(data.decode("utf-8")).body.text()  # type: ignore[union-attr]

    def bare_docx(data: bytes) -> str:
        import io

        return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)

    bare = {"pdf": bare_pdf, "html": bare_html, "docx": bare_docx}
    out: dict[str, Any] = {}
    for fmt, extract in bare.items():
        files = [(p.name, p.read_bytes()) for p in sorted(folders[fmt].iterdir())]
        ours, theirs = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            for _, data in files:
                extract(data)
            theirs.append(time.perf_counter() - t)
            t = time.perf_counter()
            for name, data in files:
                load_document(name, data)
            ours.append(time.perf_counter() - t)
        o, b = statistics.median(ours), statistics.median(theirs)
        out[fmt] = {"ours_s": round(o, 4), "bare_s": round(b, 4), "throughput_ratio": round(b / o, 2)}
    return out


def figures() -> dict[str, Any] | None:
    """Quality per format and reading throughput, or None without the SQuAD articles."""
    if not (SQUAD / "corpus").is_dir():
        return None
    try:
        import fpdf  # noqa: F401  (renders the PDFs)
    except ImportError:
        print("bench.formats: fpdf2 is not installed (pip install -e '.[bench]'); formats skipped", file=sys.stderr)
        return None
    work = cache_dir() / "formats"
    folders = render(SQUAD / "corpus", work)
    return {"quality": quality(folders, work), "extraction": extraction(folders)}


def print_figures(results: dict[str, Any]) -> None:
    for fmt, q in results["quality"].items():
        extra = f", every passage on its page: {q['pages_hold_their_passages']}" if "pages_hold_their_passages" in q else ""
        print(f"{fmt:5} {q['passages']:4} passages  hit@1 {q['hit@1']:.3f} hit@5 {q['hit@5']:.3f}  build {q['build_s']} s{extra}")
    for fmt, e in results["extraction"].items():
        print(f"reading {fmt:5} ours {e['ours_s'] * 1000:.1f} ms vs bare extractor {e['bare_s'] * 1000:.1f} ms: throughput {e['throughput_ratio']:.2f}x")


def main() -> int:
    results = figures()
    if results is None:
        print(f"no SQuAD articles at {SQUAD}", file=sys.stderr)
        return 1
    out = Path(__file__).resolve().parent / "results" / "formats.json"
    save_results(out, results)
    print_figures(results)
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
