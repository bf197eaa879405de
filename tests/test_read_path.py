"""The read path: answering a fresh index loads no torch, and its ONNX encoder is the model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from qa import build_index, retrieve
from qa.embedding.encoder import WEIGHTS, export_dir, load_onnx_encoder, read_meta
from qa.embedding.modelfiles import resolve_model_info
from qa.indexfiles.store import open_index
from tests.conftest import LETTER, REPO, SEEDS

HEAVY = ("torch", "transformers", "sentence_transformers", "bm25s", "sklearn")


def run_python(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=REPO, env=full_env, timeout=600
    )


ASK_AND_LIST_MODULES = (
    "import json, sys\n"
    "from qa.cli import main\n"
    "status = main(['ask', 'Which charity did #isolationgames raise funds for?', '--json', '--index', sys.argv[1]])\n"
    f"print(json.dumps([status, sorted(m for m in {HEAVY!r} if m in sys.modules)]), file=sys.stderr)\n"
)


def _answered(result: subprocess.CompletedProcess[str]) -> tuple[dict, list[str]]:
    assert result.returncode == 0, result.stderr
    status, heavy = json.loads(result.stderr.strip().splitlines()[-1])
    return json.loads(result.stdout), heavy


def test_answering_a_fresh_index_loads_neither_torch_nor_transformers(seed_index):
    reply, heavy = _answered(run_python(ASK_AND_LIST_MODULES, str(seed_index)))
    assert reply["found"] and "British Red Cross" in reply["answer"]["text"]
    assert heavy == [], f"the read path imported {heavy}"


def test_the_onnx_encoder_gives_the_models_vectors(seed_index, embedder):
    encoder = load_onnx_encoder(resolve_model_info(None))
    assert encoder is not None, "the build made no export"
    assert open_index(seed_index).manifest.question_encoder == {"kind": "onnx", "sha256": encoder.sha256}
    texts = ["Who signed the letter?", "The #isolationgames partnership with Team GB " * 40, "  émoji 🐝 and\ttabs ", "x"]
    assert np.abs(encoder.encode_questions(texts) - embedder.encode(texts)).max() < 1e-5


def test_a_damaged_export_is_never_used_and_is_made_again(seed_index, tmp_path):
    """In a cache of its own (a copy of the extracted model and its export): truncate the
    export, and the next question brings it back."""
    from qa.embedding.modelfiles import cache_dir

    info = resolve_model_info(None)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    ours = tmp_path / "cache" / "qa"
    shutil.copytree(info.path, ours / info.path.relative_to(cache_dir()))  # copy2: the times the stamps record
    shutil.copytree(export_dir(info), ours / export_dir(info).relative_to(cache_dir()))
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    exports = list((ours / "onnx").glob(f"*/{WEIGHTS}"))
    assert len(exports) == 1
    whole = exports[0].read_bytes()
    exports[0].write_bytes(whole[: len(whole) // 2])
    del whole

    result = run_python(ASK_AND_LIST_MODULES, str(index), env=env)
    reply, _ = _answered(result)
    assert "ONNX export of its model is missing or changed" in result.stderr
    assert reply["found"] and "British Red Cross" in reply["answer"]["text"]
    meta = json.loads((exports[0].parent / "export.json").read_text(encoding="utf-8"))
    assert exports[0].stat().st_size == meta["files"][WEIGHTS]["size"] and meta["min_cosine"] >= 0.99999
    assert open_index(index).manifest.question_encoder == {"kind": "onnx", "sha256": meta["sha256"]}
    reply, heavy = _answered(run_python(ASK_AND_LIST_MODULES, str(index), env=env))
    assert reply["found"] and heavy == []


def test_a_model_that_cannot_be_exported_is_served_by_sentence_transformers_with_a_notice(tmp_path, embedder, capsys):
    # The bundled model with a (blank) default prompt: sentence-transformers applies it,
    # the ONNX encoder does not reproduce prompts, so it must refuse rather than guess.
    model = tmp_path / "prompted-model"
    shutil.copytree(embedder.info.path, model, ignore=shutil.ignore_patterns(".*"))
    config = model / "config_sentence_transformers.json"
    settings = json.loads(config.read_text(encoding="utf-8"))
    config.write_text(json.dumps({**settings, "prompts": {"query": ""}, "default_prompt_name": "query"}), encoding="utf-8")
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    seeds.mkdir()
    shutil.copy(SEEDS / LETTER, seeds / LETTER)
    build_index(seeds, index, model=str(model))
    recorded = open_index(index).manifest.question_encoder
    assert recorded is not None and recorded["kind"] == "sentence-transformers" and "prompt" in recorded["why"]
    assert read_meta(export_dir(resolve_model_info(str(model))), resolve_model_info(str(model))) is None
    assert "encoded by sentence-transformers" in capsys.readouterr().err
    top = retrieve("Which charity did #isolationgames raise funds for?", k=1, index_dir=index)
    assert top and "British Red Cross" in top[0].text
    assert "encoded by sentence-transformers" in capsys.readouterr().err


def test_the_chunker_counts_word_pieces_as_the_model_does(embedder):
    from qa.embedding.wordpieces import WordPieces

    pieces = WordPieces(Path(embedder.info.path))
    texts = ["Dr. Smith met Mr. Jones, e.g. at 3 p.m.", "東京都庁舎の展望室" * 20, "", (SEEDS / LETTER).read_text(encoding="utf-8")]
    expected = embedder._model.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    assert pieces.count_tokens(texts) == [len(ids) for ids in expected["input_ids"]]
    assert pieces.token_offsets(texts[0]) == [tuple(span) for span in expected["offset_mapping"][0]]


def test_help_loads_nothing_heavy():
    script = (
        "import sys, contextlib, io\n"
        "from qa.cli import main\n"
        "for argv in (['--help'], ['ask', '--help'], ['index', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        f"print(sorted(m for m in {HEAVY + ('faiss', 'onnxruntime', 'textual')!r} if m in sys.modules))\n"
    )
    result = run_python(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_custom_models_fingerprint_follows_its_weights_not_just_their_size(tmp_path, embedder, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = tmp_path / "model"
    shutil.copytree(embedder.info.path, model, ignore=shutil.ignore_patterns(".*"))
    weights = next(model.glob("*.safetensors"))
    first = resolve_model_info(str(model)).fingerprint
    assert resolve_model_info(str(model)).fingerprint == first
    # One byte of the weights changed in place: same size, a different model.
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    changed = resolve_model_info(str(model)).fingerprint
    assert changed != first
    # Digests are remembered by size and modification time: a file that keeps both is not read again.
    stat = weights.stat()
    data[-2] ^= 0xFF
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert resolve_model_info(str(model)).fingerprint == changed
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert resolve_model_info(str(model)).fingerprint not in (first, changed)
