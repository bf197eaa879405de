"""HTML pages and Word documents, written for real, indexed with the real model: the
readable text with its headings, and nothing of the page's navigation or scripts."""

from __future__ import annotations

import json
import random

import pytest

from qa import build_index, retrieve
from qa.formats.documents import read_document
from tests.conftest import run_qa

PAGE = """<!DOCTYPE html>
<html><head><title>Otter Care Handbook</title>
<style>.nav { color: red } body { font-family: serif }</style>
<script>var tracking = "analytics beacon"; function menu() { return "dropdown"; }</script>
</head><body>
<header><a href="/">Home</a> <a href="/shop">Shop the zoo store</a></header>
<nav><ul><li><a href="/a">Chapter about penguins</a></li><li><a href="/b">Chapter about zebras</a></li></ul></nav>
<main>
<h2>Feeding</h2>
<p>Sea otters eat about a quarter of their <em>body weight</em> every day, mostly
clams, urchins and crabs.</p>
<h3>Tools</h3>
<p>An otter cracks shells open with a stone it keeps in a pouch of loose skin:</p>
<pre><code>stone = pouch.take()
shell.crack(stone)</code></pre>
<h2>Sleeping</h2>
<ul><li>Otters float on their backs.</li><li>They hold hands so they do not drift apart.</li></ul>
<table><tr><th>Otter</th><th>Weight</th></tr><tr><td>Sea otter</td><td>30 kg</td></tr><tr><td>River otter</td><td>11 kg</td></tr></table>
</main>
<aside>Related: the penguin handbook</aside>
<footer>Copyright 2026 Zoo Press. Cookie settings.</footer>
</body></html>
"""


def test_an_html_page_is_read_without_its_navigation_scripts_and_styles(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "otters.html").write_text(PAGE, encoding="utf-8")
    index = tmp_path / "index"
    build_index(seeds, index)
    text = read_document(seeds / "otters.html")
    for gone in ("analytics beacon", "dropdown", "font-family", "penguins", "zoo store", "Cookie settings", "penguin handbook"):
        assert gone not in text
    assert text.startswith("# Otter Care Handbook\n")  # the page's title heads it (no <h1>)
    tools = retrieve("What does an otter crack shells with?", k=1, index_dir=index)[0]
    assert tools.headings == ("Otter Care Handbook", "Feeding", "Tools") and "pouch.take()" in tools.text
    assert text[tools.start : tools.end] == tools.text
    sleep = retrieve("Why do otters hold hands while they sleep?", k=1, index_dir=index)[0]
    assert sleep.section == "Otter Care Handbook › Sleeping" and "drift apart" in sleep.text
    weight = retrieve("How heavy is a river otter?", k=1, index_dir=index)[0]
    assert "| River otter | 11 kg |" in weight.text


def test_a_word_document_keeps_its_headings_lists_and_tables(tmp_path):
    docx = pytest.importorskip("docx")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    document = docx.Document()
    document.add_heading("Field Guide", 0)
    document.add_heading("Installing", 1)
    document.add_paragraph("Install the lantern kit before the first night in the field.")
    document.add_paragraph("Unpack the brass lantern", style="List Number")
    document.add_paragraph("Fill it with lamp oil up to the line", style="List Number")
    table = document.add_table(rows=3, cols=2)
    for r, row in enumerate([("Season", "Oil per week"), ("Summer", "half a litre"), ("Winter", "two litres")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("Troubleshooting", 1)
    document.add_paragraph("A lantern that smokes has its wick trimmed too long.")
    document.save(str(seeds / "guide.docx"))
    index = tmp_path / "index"
    result = run_qa("ask", "Why does my lantern smoke?", "-k", "1", "--json", "--seeds", str(seeds), "--index", str(index))
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)["passages"][0]
    assert first["section"] == "Field Guide › Troubleshooting" and "wick trimmed too long" in first["text"]
    text = read_document(seeds / "guide.docx")
    assert "1. " not in text and "- Fill it with lamp oil up to the line" in text
    oil = retrieve("How much lamp oil per week in winter?", k=1, index_dir=index)[0]
    assert "| Winter | two litres |" in oil.text and oil.section == "Field Guide › Installing"
    assert text[oil.start : oil.end] == oil.text


def test_bad_html_and_word_files_are_skipped_with_their_reason(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "good.md").write_text("# Bees\n\nBees make honey from nectar.\n", encoding="utf-8")
    (seeds / "empty.html").write_text("<html><head><script>alert(1)</script></head><body><nav>Home</nav></body></html>", encoding="utf-8")
    (seeds / "noise.docx").write_bytes(random.Random(3).randbytes(2048))
    (seeds / "slides.pptx").write_bytes(b"PK\x03\x04")
    result = run_qa("index", "--seeds", str(seeds), "--index", str(tmp_path / "index"))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    said = result.stderr.splitlines()
    assert any("empty.html: no readable text" in line for line in said), said
    assert any("noise.docx: damaged, encrypted or not a Word document" in line for line in said), said
    assert any("slides.pptx: unknown file type (qa reads .docx, .htm, .html, .markdown, .md, .pdf, .text, .txt)" in line for line in said), said
    assert "3 files skipped" in result.stdout
