"""Processes the benchmark measures from outside: `python -m bench.probe KIND ARGS`.

  onnx                load the bare ONNX encoder and encode one question (the memory floor)
  model               load the bare sentence-transformers model and encode one question
  answer INDEX N      load qa's engine for INDEX and answer N questions
Each prints one JSON line with its peak RSS in MB.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> None:
    from bench.measure import peak_rss_mb

    kind = argv[0]
    if kind == "onnx":
        from qa.embedding.encoder import load_onnx_encoder
        from qa.embedding.modelfiles import resolve_model_info

        encoder = load_onnx_encoder(resolve_model_info(None))
        if encoder is None:
            raise SystemExit("no ONNX export yet: build an index first")
        encoder.encode_questions(["How do I read a file line by line?"])
    elif kind == "model":
        import torch  # noqa: F401
        from sentence_transformers import SentenceTransformer

        from qa.embedding.modelfiles import resolve_model_info

        model = SentenceTransformer(str(resolve_model_info(None).path), device="cpu", local_files_only=True)
        model.encode(["How do I read a file line by line?"], normalize_embeddings=True)
    elif kind == "answer":
        from bench.questions import query_texts
        from qa import retrieve

        index, count = argv[1], int(argv[2])
        for question in query_texts()[:count]:
            retrieve(question, k=5, index_dir=index)
    else:
        raise SystemExit(f"unknown probe {kind!r}")
    print(json.dumps({"peak_rss_mb": round(peak_rss_mb(), 1)}))


if __name__ == "__main__":
    main(sys.argv[1:])
