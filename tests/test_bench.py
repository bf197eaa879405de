"""The benchmark's own pieces that decide its figures: the corpus it reads and its percentiles."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.corpus import docstrings, write_stdlib_corpus
from bench.measure import percentile
from tests.conftest import REPO

SOURCE = '''"""Tools for bees."""

class Hive:
    """A hive holds bees.

    It has frames."""

    def dance(self):
        """Tell the others where flowers are."""

    def _quiet(self):
        pass

async def swarm():
    """Leave with the old queen."""
'''


def test_docstrings_are_read_with_their_qualified_names_and_cleaned():
    assert list(docstrings("bees", SOURCE)) == [
        ("bees", "Tools for bees."),
        ("bees.Hive", "A hive holds bees.\n\nIt has frames."),
        ("bees.Hive.dance", "Tell the others where flowers are."),
        ("bees.swarm", "Leave with the old queen."),
    ]
    assert list(docstrings("broken", "def (:")) == []


def test_the_stdlib_corpus_is_one_file_per_module_written_once(tmp_path):
    corpus = write_stdlib_corpus(tmp_path / "stdlib")
    files = {p.name for p in corpus.glob("*.txt")}
    assert {"json.txt", "os.txt", "collections.txt"} <= files
    assert not any(name.startswith(("test.", "idlelib.idle_test")) for name in files)
    assert "json\nJSON (JavaScript Object Notation)" in (corpus / "json.txt").read_text(encoding="utf-8")
    (corpus / "json.txt").unlink()
    assert write_stdlib_corpus(tmp_path / "stdlib") == corpus and not (corpus / "json.txt").exists()  # not rewritten


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50.0, 95.0, 100.0)
    assert percentile([3.0], 95) == 3.0


def test_the_soak_asks_in_one_process_and_reports_memory_and_latency(seed_index, tmp_path):
    out = tmp_path / "soak.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--calls", "100", "--index", str(seed_index), "--json", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr  # 1: outside a limit, which a noisy machine may be
    figures = json.loads(out.read_text())
    assert figures["calls"] == 100 and len(figures["rss_mb"]) == 11 and figures["questions"] >= 45  # the seed questions at least
    assert all(r > 100 for r in figures["rss_mb"])  # the model alone is hundreds of MB
    assert result.returncode == (0 if figures["ok"] else 1), result.stderr
    assert "RSS" in result.stdout and "p95" in result.stdout
