"""`qa index --ray`: the same index as a local build, embedded by Ray Data actors.

A local Ray runtime (`ray.init(num_cpus=2)`) runs the actors in their own processes, each
loading the model as a cluster's workers do.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.building.build import build_index
from qa.indexfiles.passages import PASSAGES
from qa.indexfiles.store import current_generation, open_index

ray = pytest.importorskip("ray", reason="the cluster extra is not installed")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def seeds_in(folder: Path) -> Path:
    seeds = folder / "seeds"
    shutil.copytree(REPO / "seeds", seeds)
    (seeds / "bees.md").write_text(
        "# Bees\n\nHoney bees tell each other where flowers are with a waggle dance.\n\n"
        "## Hives\n\nA colony keeps its hive warm in winter by clustering and shivering.\n",
        encoding="utf-8",
    )
    return seeds


def same_index(a: Path, b: Path) -> None:
    """Same passages, byte for byte, and the same vectors to 1e-5."""
    one, two = open_index(a), open_index(b)
    assert (current_generation(a) / PASSAGES).read_bytes() == (current_generation(b) / PASSAGES).read_bytes()
    assert one.manifest.passages == two.manifest.passages > 0 and one.manifest.sentences == two.manifest.sentences > 0
    assert np.abs(one.passage_vectors() - two.passage_vectors()).max() < 1e-5
    assert np.abs(one.sentence_vectors() - two.sentence_vectors()).max() < 1e-5


def test_a_ray_build_writes_the_index_a_local_build_writes_and_reembeds_only_what_changed(tmp_path, embedder, local_ray):
    seeds = seeds_in(tmp_path)
    local, clustered = tmp_path / "local", tmp_path / "ray"
    build_index(seeds, local)
    progress: list[tuple[int, int]] = []
    stats = build_index(seeds, clustered, ray=True, progress=lambda done, total: progress.append((done, total)))
    same_index(local, clustered)
    assert progress[-1][0] == progress[-1][1] == stats.texts_embedded > stats.passages  # passages and their sentences

    (seeds / "bees.md").write_text(
        (seeds / "bees.md").read_text(encoding="utf-8").replace("shivering", "shivering their flight muscles"), encoding="utf-8"
    )
    here, there = build_index(seeds, local), build_index(seeds, clustered, ray=True)
    assert there.texts_embedded == here.texts_embedded < 5  # the changed passage and its changed sentence
    same_index(local, clustered)


def test_without_ray_installed_qa_index_ray_says_how_to_install_it(tmp_path):
    seeds = seeds_in(tmp_path)
    code = "import sys; sys.modules['ray'] = None; from qa.cli import main; sys.exit(main())"  # as if not installed
    done = subprocess.run(
        [sys.executable, "-c", code, "index", "--seeds", str(seeds), "--index", str(tmp_path / "index"), "--ray"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "pip install 'ray[data]'" in done.stderr
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_an_unreachable_cluster_is_said_at_once_and_nothing_is_written(tmp_path):
    seeds = seeds_in(tmp_path)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # a port nothing listens on
    for address, message in ((f"127.0.0.1:{port}", "cannot reach the Ray cluster"), ("headnode", "HOST:PORT")):
        done = subprocess.run(
            [sys.executable, "-m", "qa", "index", "--seeds", str(seeds), "--index", str(tmp_path / "index"), "--ray", address],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "index" / "CURRENT").exists()


def test_a_worker_whose_model_is_not_the_builders_fails_the_embedding_with_one_line(embedder, local_ray):
    from dataclasses import replace

    from qa.building.cluster import encode_on_ray
    from qa.errors import QAError

    # What a worker with another copy of the model sees: a fingerprint that is not its own.
    builder = replace(embedder.info, fingerprint="sha256:" + "0" * 64)
    with pytest.raises(QAError, match="embedding on the Ray cluster failed: .*not the builder's") as raised:
        encode_on_ray(["Bees dance.", "Otters sleep holding hands."], builder, None)
    assert "\n" not in str(raised.value)
