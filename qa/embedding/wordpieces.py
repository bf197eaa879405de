"""Word pieces as the model counts them, with the tokenizers library and the model's own
`tokenizer.json`: the chunker needs counts and offsets, not transformers or torch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class WordPieces:
    """Counts and places the word pieces of texts, without special tokens, untruncated."""

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text."""
        if not texts:
            return []
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece of `text`."""
        return [tuple(span) for span in self._tokenizer.encode(text, add_special_tokens=False).offsets]  # type: ignore[misc]
