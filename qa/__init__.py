"""qa: ask questions of a folder of documents, offline; every answer cites its passage.

Example:
    >>> from qa import retrieve
    >>> for p in retrieve("Which charity did #isolationgames raise funds for?", k=1):  # doctest: +SKIP
    ...     print(p.citation, p.text[:40])
    tiktok-2020-community-letter.txt:2 Communities, families and friends came

Heavy libraries (torch, sentence-transformers, faiss) load on first use, not on import.
"""

from qa.chat import Chat
from qa.errors import QAError
from qa.index import build_index
from qa.search import retrieve
from qa.types import IndexStats, Passage, Reply, Sentence

__all__ = ["Chat", "IndexStats", "Passage", "QAError", "Reply", "Sentence", "build_index", "retrieve"]
