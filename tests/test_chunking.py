"""Passages follow the text's structure, keep exact offsets, and never exceed what the model reads."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.building.chunking import split_passages
from tests.conftest import LETTER, SEEDS


def check_exact(text: str, spans) -> None:
    """Exact slices, trimmed, with consistent line numbers."""
    for s in spans:
        piece = text[s.start : s.end]
        assert piece and piece == piece.strip()
        assert s.line_start == text.count("\n", 0, s.start) + 1
        assert s.line_end == s.line_start + piece.count("\n")


def check_offsets(text: str, spans) -> None:
    """Exact slices, trimmed, with consistent lines, and together they cover every visible character."""
    check_exact(text, spans)
    covered = bytearray(len(text))
    for s in spans:
        covered[s.start : s.end] = b"\1" * (s.end - s.start)
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(text)), "some text is in no passage"


def test_the_letter_splits_into_its_paragraphs_with_exact_offsets(embedder):
    text = (SEEDS / LETTER).read_text(encoding="utf-8")
    spans = split_passages(text, embedder, embedder.max_tokens)
    check_offsets(text, spans)
    # Each line of the letter is a paragraph, the signature included.
    assert [s.line_start for s in spans] == list(range(1, text.count("\n") + 2))
    assert text[spans[-1].start : spans[-1].end].startswith("Liz Kanter")


def test_a_long_paragraph_becomes_overlapping_windows_that_the_model_reads_whole(embedder):
    letter = (SEEDS / LETTER).read_text(encoding="utf-8")
    paragraph = " ".join(letter.splitlines()[:8]) * 3  # ~1,900 word pieces, one paragraph
    text = "Title line\n\n" + paragraph + "\n\nLast line."
    spans = split_passages(text, embedder, embedder.max_tokens)
    check_offsets(text, spans)
    windows = [s for s in spans if s.start >= len("Title line\n\n") and s.end <= len(text) - len("\n\nLast line.")]
    assert len(windows) >= 8
    counts = embedder.count_tokens([text[s.start : s.end] for s in windows])
    assert max(counts) <= embedder.max_tokens
    for a, b in zip(windows, windows[1:]):
        assert b.start < a.end, "consecutive windows overlap by a sentence"
        overlap = text[b.start : a.end]
        assert overlap.rstrip().endswith((".", "!", "?", "'"))
    assert windows[0].start == text.index(paragraph[:20]) and windows[-1].end == text.index(paragraph[:20]) + len(paragraph.strip())


def test_a_sentence_without_spaces_is_cut_between_word_pieces(embedder):
    # Each CJK character is a word piece of its own, and the text has no spaces to cut at.
    text = "東京都庁舎の展望室" * 200 + "。 tail words here"
    spans = split_passages(text, embedder, embedder.max_tokens)
    check_offsets(text, spans)
    assert max(embedder.count_tokens([text[s.start : s.end] for s in spans])) <= embedder.max_tokens
    assert len(spans) >= 2


def test_plain_text_sentences_span_hard_wraps_and_keep_abbreviations(embedder):
    text = "Dr. Smith met Mr. Jones, e.g. at 3 p.m. in the U.S. office. This sentence is\nwrapped at a short width.\n\nNext paragraph."
    spans = split_passages(text, embedder, embedder.max_tokens)
    check_offsets(text, spans)
    units = [text[u.start : u.end] for s in spans for u in s.units]
    assert units == [
        "Dr. Smith met Mr. Jones, e.g. at 3 p.m. in the U.S. office.",
        "This sentence is\nwrapped at a short width.",
        "Next paragraph.",
    ]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400), st.booleans())
def test_offsets_hold_for_any_text(embedder, text, markdown):
    spans = split_passages(text, embedder, embedder.max_tokens, markdown=markdown)
    # Markdown leaves markup (a lone `<a>` tag, a rule) out of every passage; plain text covers all.
    (check_exact if markdown else check_offsets)(text, spans)
    assert all(a.start < b.start for a, b in zip(spans, spans[1:]))
