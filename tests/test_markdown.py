"""Markdown passages follow the document's structure, keep exact offsets, and leave markup out of what is searched."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.building.chunking import embedding_prefix, split_passages
from qa.formats.markdown import clean_inline, parse_blocks
from tests.test_chunking import check_exact

GUIDE = """\
---
title: A guide
tags: [install, linux]
---

<a id="top"></a>
# Widget Guide { #guide }

Widgets turn sprockets into gears. This guide is hard-wrapped at a short
width, so this sentence goes on past the line break and ends here.

<!-- TODO: screenshots -->

Installation
------------

To install it, open a shell and enter this line:

```sh
pip install widget
```

{{#include ../examples/setup.md}}

{* ../../docs_src/widget/tutorial001.py hl[3] *}

### Linux { #linux }

Steps for Linux:

1. Download the archive.
   * Check its checksum first.
   * Keep the archive afterwards.
2. Unpack it.

/// tip | A faster way

Use the package manager: it keeps widgets up to date.

///

!!! warning "Old kernels"
    Kernels before 4.0 are not supported.

| option | default | meaning |
| ------ | ------- | ------- |
| `speed` | 3 | how fast gears turn |
| `size` | 10 | gear teeth |

> **Note**: widgets need [root rights](rights.md) on Linux.

## Troubleshooting

If gears slip, tighten the sprocket. See the [FAQ][faq].

[faq]: https://example.com/faq
"""


def passages(embedder, text: str, title: str = "guide"):
    spans = split_passages(text, embedder, embedder.max_tokens, markdown=True, title=title)
    check_exact(text, spans)
    return spans


def test_passages_follow_sections_with_their_heading_paths(embedder):
    spans = passages(embedder, GUIDE)
    texts = [GUIDE[s.start : s.end] for s in spans]
    paths = [s.headings for s in spans]
    assert ("Widget Guide",) in paths
    assert ("Widget Guide", "Installation") in paths  # a setext heading
    assert ("Widget Guide", "Installation", "Linux") in paths
    assert ("Widget Guide", "Troubleshooting") in paths
    # A passage begins with its section's heading: a heading is never a passage on its own.
    for span, text in zip(spans, texts):
        assert not re.fullmatch(r"#+ [^\n]*|[^\n]+\n[-=]+", text.strip())
    assert next(t for t in texts if "Widgets turn sprockets" in t).startswith("# Widget Guide")
    assert next(t for t in texts if "If gears slip" in t).startswith("## Troubleshooting")


def test_a_lead_in_stays_with_the_code_list_or_table_it_introduces(embedder):
    spans = passages(embedder, GUIDE)
    texts = [GUIDE[s.start : s.end] for s in spans]
    assert any("enter this line:" in t and "pip install widget" in t for t in texts)
    assert any("Steps for Linux:" in t and "Unpack it." in t for t in texts)


def test_markup_is_not_searched_but_passages_stay_exact_slices(embedder):
    spans = passages(embedder, GUIDE)
    searched = "\n".join(s.clean or GUIDE[s.start : s.end] for s in spans)
    for markup in ("title: A guide", "<a id", "TODO: screenshots", "{{#include", "{*", "{ #linux }", "https://example.com/faq", "rights.md", "```", "///", "!!!"):
        assert markup not in searched, markup
    for content in ("pip install widget", "Check its checksum first", "A faster way", "Use the package manager",
                    "Kernels before 4.0", "how fast gears turn", "widgets need root rights on Linux", "See the FAQ"):
        assert content in searched, content
    # The front matter is in no passage at all; comments are where they stand.
    assert all("tags: [install" not in GUIDE[s.start : s.end] for s in spans)


def test_admonitions_and_nested_items_stay_whole(embedder):
    spans = passages(embedder, GUIDE)
    texts = [GUIDE[s.start : s.end] for s in spans]
    assert any("/// tip | A faster way" in t and "keeps widgets up to date" in t for t in texts)
    assert any('!!! warning "Old kernels"' in t and "Kernels before 4.0" in t for t in texts)
    assert any("Download the archive." in t and "Keep the archive afterwards." in t for t in texts)


def test_units_are_sentences_across_wraps_rows_and_whole_code_blocks(embedder):
    spans = passages(embedder, GUIDE)
    units = [(GUIDE[u.start : u.end], u.code) for s in spans for u in s.units]
    wrapped = "This guide is hard-wrapped at a short\nwidth, so this sentence goes on past the line break and ends here."
    assert (wrapped, False) in units
    assert ("pip install widget", True) in units
    assert ("| `speed` | 3 | how fast gears turn |", False) in units
    assert ("Check its checksum first.", False) in units  # a nested item, without its bullet
    texts = [t for t, _ in units]
    assert not any(t.startswith("#") or t in ("Installation", "///") for t in texts), "headings and markers are not units"
    assert all(s.start <= u.start < u.end <= s.end for s in spans for u in s.units)


def test_long_code_lists_and_tables_are_cut_at_line_boundaries(embedder):
    code = "\n".join(f"let value_{i} = compute_something_long(argument_{i}, other_{i});" for i in range(120))
    table = "| key | value |\n| --- | --- |\n" + "\n".join(f"| key{i} | a value that describes key{i} in words |" for i in range(150))
    items = "\n".join(f"* item {i} says something about topic {i}" for i in range(200))
    long_line = "word " * 900
    text = f"# Big\n\nHere is the code:\n\n```rust\n{code}\n{long_line}\n```\n\n## Table\n\n{table}\n\n## List\n\n{items}\n"
    spans = passages(embedder, text, title="big")
    counts = embedder.count_tokens([f"{embedding_prefix('big', s.headings)}: {s.clean or text[s.start:s.end]}" for s in spans])
    assert max(counts) <= embedder.max_tokens
    lines = text.split("\n")
    for s in spans:
        # Every cut but the long line's falls where a line starts or ends.
        first = text[s.start : s.end].split("\n")[0]
        assert first in lines or first.strip() in lines or first.startswith("word"), first
    assert sum("let value_" in text[s.start : s.end] for s in spans) >= 4
    assert sum("| key" in text[s.start : s.end] for s in spans) >= 4
    assert text[spans[0].start : spans[0].end].startswith("# Big\n\nHere is the code:\n\n```rust\nlet value_0")


def _paragraph(embedder, word: str, tokens: int) -> str:
    """A sentence of about `tokens` word pieces."""
    text = " ".join([word] * tokens) + "."
    while embedder.count_tokens([text])[0] > tokens:
        text = text.split(" ", 1)[1]
    return text


def test_a_section_too_long_for_one_passage_is_cut_evenly_and_keeps_lead_ins_and_items(embedder):
    # Three paragraphs of 120 word pieces and one of 30: greedily, 240 + 30 + a tiny tail;
    # evenly, two passages. Then a lead-in, its code, and a list whose nested items must
    # stay with their parent however the section is cut.
    paragraphs = [_paragraph(embedder, w, 120) for w in ("alpha", "bravo")] + [_paragraph(embedder, "charlie", 30)]
    # Sizes where cutting anywhere would balance best inside an item (checked by mutation).
    items = "\n".join(f"* item {i} with a few words\n  * nested {i} stays with item {i}: {_paragraph(embedder, 'delta', 19)}" for i in range(11))
    text = "# Big\n\n" + "\n\n".join(paragraphs) + "\n\nRun this:\n\n```sh\nmake all\n```\n\n" + items + "\n"
    spans = passages(embedder, text, title="big")
    texts = [text[s.start : s.end] for s in spans]
    counts = embedder.count_tokens([s.clean or text[s.start : s.end] for s in spans])
    prose = [c for t, c in zip(texts, counts) if "alpha" in t or "bravo" in t or "charlie" in t]
    assert len(prose) == 2 and min(prose) > 60, (prose, texts)
    assert any("Run this:" in t and "make all" in t for t in texts)
    for i in range(11):
        assert any(f"* item {i} with" in t and f"nested {i} stays" in t for t in texts), i
    assert not any(t.lstrip().startswith("* nested") for t in texts)


def test_clean_inline_keeps_words_and_drops_markup():
    assert clean_inline("See the [`Cargo.toml`](manifest.md#x) and ![logo](a.png) <br/> **now**") == "See the Cargo.toml and logo now"
    assert clean_inline("Set it {* ../x.py hl[3] *} here <!-- no -->") == "Set it here"
    assert clean_inline("import Tabs from '@theme/Tabs';") == ""
    assert clean_inline("Edit `__init__.py`, pass `**kwargs` or `Vec<String>`; __really__ *so*") == (
        "Edit __init__.py, pass **kwargs or Vec<String>; really so"
    )


def test_headings_inside_code_are_not_headings(embedder):
    text = "# Real\n\nRun this:\n\n```sh\n# not a heading\necho hi\n```\n\nAfter.\n"
    assert [b.clean for b in parse_blocks(text) if b.kind == "heading"] == ["Real"]
    assert all(s.headings == ("Real",) for s in passages(embedder, text))


# ---------------------------------------------------------------- any Markdown

_words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
_line = st.lists(_words, min_size=1, max_size=8).map(" ".join)
_block = st.one_of(
    _line.map(lambda s: f"# {s}"),
    _line.map(lambda s: f"{s}\n---"),
    st.lists(_line, min_size=1, max_size=4).map("\n".join),
    st.lists(_line, min_size=1, max_size=5).map(lambda xs: "\n".join(f"{'  ' * (i % 2)}* {x}" for i, x in enumerate(xs))),
    st.lists(_line, min_size=0, max_size=5).map(lambda xs: "```\n" + "\n".join(xs) + "\n```"),
    st.lists(_line, min_size=1, max_size=3).map(lambda xs: "/// note\n\n" + "\n\n".join(xs) + "\n\n///"),
    st.lists(_line, min_size=1, max_size=3).map(lambda xs: "!!! tip\n" + "\n".join("    " + x for x in xs)),
    st.lists(_line, min_size=1, max_size=4).map(lambda xs: "| a | b |\n|---|---|\n" + "\n".join(f"| {x} | x |" for x in xs)),
    _line.map(lambda s: f"> {s}"),
    st.lists(_line, min_size=1, max_size=3).map(lambda xs: "!!! note\n    " + xs[0] + "\n\n    !!! tip\n        " + "\n        ".join(xs)),
    st.lists(_line, min_size=1, max_size=3).map(lambda xs: "* item\n\n    /// note\n\n    " + "\n    ".join(xs) + "\n\n    ///\n\n* next"),
    st.lists(_line, min_size=1, max_size=3).map(lambda xs: "> Run this:\n>\n> ```sh\n> " + "\n> ".join(xs) + "\n> ```"),
    _line.map(lambda s: f"---\n\n{s}\n---"),
    st.sampled_from(["<!-- c -->", "<a id='x'></a>", "{{#include f.md}}", "---\nk: v\n---", "```", "\r\n", "\t", "    indented"]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(_block, max_size=12), st.sampled_from(["\n\n", "\n", "\r\n\r\n"]))
def test_offsets_and_lines_hold_for_any_markdown(embedder, blocks, joiner):
    text = joiner.join(blocks)
    spans = passages(embedder, text)
    assert all(a.start < b.start for a, b in zip(spans, spans[1:]))
    for s in spans:
        assert all(s.start <= u.start < u.end <= s.end for u in s.units)
    embedded = [f"{embedding_prefix('guide', s.headings)}: {s.clean or text[s.start:s.end]}" for s in spans]
    assert all(count <= embedder.max_tokens for count in embedder.count_tokens(embedded))
