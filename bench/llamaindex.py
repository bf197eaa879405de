"""LlamaIndex as a peer: its idiomatic pipeline without an LLM, on the same documents,
model and questions (the `bench` extra: llama-index-core, llama-index-embeddings-huggingface,
llama-index-retrievers-bm25).

The pipeline, as its documentation builds one: SimpleDirectoryReader, MarkdownNodeParser,
then SentenceSplitter (chunks of 256 tokens), all-MiniLM-L6-v2 vectors (HuggingFaceEmbedding
on the bundled model's folder) and BM25Retriever, fused by QueryFusionRetriever in
"relative_score" mode with one query (so no LLM writes extra queries). A follow-up is asked
joined to the question before it, as qa reads one. Imported only inside functions: the
benchmark runs without the extra, and says so.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.evaluate import Question
from qa.types import Passage

CHUNK_TOKENS = 256
PACKAGES = ("llama_index.core", "llama_index.embeddings.huggingface", "llama_index.retrievers.bm25")
MISSING = "LlamaIndex is not installed: pip install -e '.[bench]'"


def available() -> bool:
    """Whether the extra's three packages can be imported."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in PACKAGES)
    except ImportError:  # a parent package is missing
        return False


def ranked(seeds: Path, questions: Sequence[Question], k: int = 10) -> list[list[Passage]]:
    """Each question's k best chunks, as Passages (text, score and file; no offsets)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import MarkdownNodeParser, SentenceSplitter
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.retrievers.bm25 import BM25Retriever

    from qa.embedding.modelfiles import resolve_model_info

    Settings.llm = None  # no LLM anywhere
    model = HuggingFaceEmbedding(model_name=str(resolve_model_info(None).path))
    documents = SimpleDirectoryReader(str(seeds), recursive=True, required_exts=[".md", ".markdown", ".txt"]).load_data()
    nodes = IngestionPipeline(transformations=[MarkdownNodeParser(), SentenceSplitter(chunk_size=CHUNK_TOKENS)]).run(documents=documents)
    index = VectorStoreIndex(nodes, embed_model=model)
    retriever = QueryFusionRetriever(
        [index.as_retriever(similarity_top_k=k), BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=k)],
        mode=FUSION_MODES.RELATIVE_SCORE, num_queries=1, similarity_top_k=k, use_async=False,
    )
    out = []
    for question in questions:
        text = f"{question.history[-1]} {question.q}" if question.history else question.q
        out.append([_passage(found, seeds) for found in retriever.retrieve(text)])
    return out


def _passage(found: Any, seeds: Path) -> Passage:
    path = Path(found.node.metadata.get("file_path", ""))
    source = path.relative_to(seeds).as_posix() if path.is_relative_to(seeds) else path.name
    return Passage(found.node.get_content(), float(found.score or 0.0), source, 0, 0, 0, 0)


def hits(questions: Sequence[Question], ranked_lists: Sequence[Sequence[Passage]]) -> dict[str, Any]:
    """hit@1 and hit@3 over the answerable questions."""
    answerable = [(q, r) for q, r in zip(questions, ranked_lists) if q.expect is not None]
    one = sum(bool(r) and q.is_hit(r[0]) for q, r in answerable)
    three = sum(any(q.is_hit(p) for p in r[:3]) for q, r in answerable)
    n = max(len(answerable), 1)
    return {"answerable": len(answerable), "hit@1": round(one / n, 4), "hit@3": round(three / n, 4)}
