"""qa: ask questions of a folder of documents, offline; every answer cites its passage.

Example:
    >>> from qa import retrieve
    >>> for p in retrieve("Which charity did #isolationgames raise funds for?", k=1):
    ...     print(p.citation, p.text[:40])
    tiktok-2020-community-letter.txt:2 Communities, families and friends came t

Heavy libraries (torch, sentence-transformers, faiss) load on first use, not on import;
the names below load their modules when first touched, so `qa`'s command and app start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.building.build import build_index
    from qa.chat import Chat
    from qa.errors import QAError
    from qa.ready import describe_index, retrieve
    from qa.types import IndexInfo, IndexStats, Passage, Reply, Sentence

_HOMES = {
    "Chat": "qa.chat",
    "QAError": "qa.errors",
    "build_index": "qa.building.build",
    "retrieve": "qa.ready",
    "describe_index": "qa.ready",
    "IndexInfo": "qa.types",
    "IndexStats": "qa.types",
    "Passage": "qa.types",
    "Reply": "qa.types",
    "Sentence": "qa.types",
}

__all__ = ["Chat", "IndexInfo", "IndexStats", "Passage", "QAError", "Reply", "Sentence", "build_index", "describe_index", "retrieve"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'qa' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
