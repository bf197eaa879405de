"""The BM25 vocabulary on disk: every term found by binary search, no other."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.indexfiles.lexical import LexicalIndex, SortedTerms, tokenize

TERMS = st.dictionaries(st.text(min_size=1, max_size=12), st.integers(0, 10**6), max_size=60)


@settings(max_examples=60, deadline=None)
@given(vocab=TERMS, others=st.lists(st.text(max_size=12), max_size=20))
def test_a_saved_vocabulary_finds_each_of_its_terms_and_nothing_else(vocab, others):
    with tempfile.TemporaryDirectory() as folder:
        SortedTerms.save(Path(folder), vocab)
        terms = SortedTerms.load(Path(folder))
        for term, i in vocab.items():
            assert terms.get(term, -1) == i
        for other in others:
            assert terms.get(other, -1) == vocab.get(other, -1)


def test_an_index_read_back_scores_as_the_index_built(tmp_path):
    texts = ["Bees dance to share where flowers are.", "Glaciers carve valleys.", "Café crème, naïve façade: bees again."]
    built = LexicalIndex.build(texts)
    built.save(tmp_path)
    read = LexicalIndex.load(tmp_path)
    for query in ("bees", "where do bees dance", "café", "valleys of glaciers", "nothing here"):
        assert read.scores(query).tolist() == built.scores(query).tolist()
        assert read.unknown_words(query) == built.unknown_words(query)
    assert read.scores("bees")[0] > 0 and tokenize("café")
