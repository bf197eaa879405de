"""Every kind of file a real folder holds: each is read or skipped with one line, and indexing finishes.

The files are real (on disk, with real permissions, links and names); where a fault must
happen at a moment (a file deleted mid-build, a second build), it is made to happen then.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from qa import build_index, retrieve
from qa.formats.documents import MAX_DOCUMENT_BYTES
from qa.indexfiles.store import open_index
from tests.conftest import REPO, run_qa

HEDGEHOGS = "Hedgehogs hibernate through the winter in nests of dry leaves under hedges."
WALRUS = "The walrus keeps its tusks sharp by rubbing them on the ice near the shore."
OTTERS = "Sea otters hold hands while they sleep so that the current does not part them."
DEPTH = 1500  # deeper than Python 3.11's os.walk (recursive) can go


def deep_folder(root: Path, depth: int) -> Path:
    """root/d/d/.../d, `depth` levels, made with relative steps (pathlib would recurse)."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            below = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = below
        with open(os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w", encoding="utf-8") as f:
            f.write(WALRUS + "\n")
    finally:
        os.close(fd)
    return root.joinpath(*["d"] * depth)


def remove_deep_folder(root: Path, depth: int) -> None:
    """Undo deep_folder bottom-up (shutil.rmtree recurses too, and pytest's clean-up uses it)."""
    fd = os.open(root, os.O_RDONLY)
    chain = [fd]
    for _ in range(depth):
        chain.append(os.open("d", os.O_RDONLY, dir_fd=chain[-1]))
    os.unlink("deep.txt", dir_fd=chain[-1])
    for level in range(depth, 0, -1):
        os.close(chain[level])
        os.rmdir("d", dir_fd=chain[level - 1])
    os.close(chain[0])


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A folder with one of everything that goes wrong in real folders."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "good.txt").write_text(OTTERS + "\n", encoding="utf-8")
    (seeds / "picture.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")  # binary, text extension
    # 64 random bytes without a NUL (a fixed draw, so the test is the same every run)
    draw = random.Random(7)
    (seeds / "random.txt").write_bytes(bytes(draw.randrange(1, 256) for _ in range(64)))
    (seeds / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me is served at noon in the square.".encode("latin-1"))
    (seeds / "utf16.txt").write_bytes(("\ufeff" + HEDGEHOGS + "\n").encode("utf-16-le"))
    (seeds / "utf32.txt").write_bytes(("\ufeff" + "Puffins nest in burrows dug into clifftop turf.\n").encode("utf-32-be"))
    (seeds / "utf8-bom.md").write_bytes("\ufeff# Moles\n\nMoles dig tunnels with their broad front paws.\n".encode("utf-8"))
    (seeds / ".hidden.txt").write_text("A hidden file is not read.\n", encoding="utf-8")
    (seeds / "empty.txt").write_bytes(b"")
    (seeds / "blank.md").write_text(" \n\t\n   \n", encoding="utf-8")
    with (seeds / "huge.txt").open("wb") as f:  # 50 MB on one line
        f.write(b"lorem " * (50_000_000 // 6))
    long_line = " ".join(f"Line sentence {i} mentions a lighthouse keeper." for i in range(400))
    (seeds / "long-lines.txt").write_text(long_line + "\n", encoding="utf-8")
    outside = tmp_path / "outside.txt"
    outside.write_text("A secret kept outside the documents folder.\n", encoding="utf-8")
    (seeds / "escape.txt").symlink_to(outside)
    (seeds / "loop.txt").symlink_to(seeds / "loop.txt")
    (seeds / "sub").mkdir()
    (seeds / "sub" / "up").symlink_to(seeds, target_is_directory=True)  # a folder loop
    (seeds / "my notes.txt").write_text("Spaces in a file name are fine.\n", encoding="utf-8")
    (seeds / "café ☕ ü.md").write_text("# Unicode\n\nA unicode file name is fine too.\n", encoding="utf-8")
    (seeds / "line\nbreak.txt").write_text("A file name with a line break in it.\n", encoding="utf-8")
    (seeds / "\x1b[31mred.txt").write_text("A file name with a terminal escape in it.\n", encoding="utf-8")
    (seeds / "two\nlines.pptx").write_bytes(b"PK\x03\x04")  # skipped: the warning must stay on one line
    (seeds / "\x1b[2Jwipe.pptx").write_bytes(b"PK\x03\x04")  # skipped: the escape must not reach the terminal
    deep_folder(seeds, DEPTH)
    yield seeds
    remove_deep_folder(seeds, DEPTH)


def test_every_kind_of_bad_file_is_read_or_skipped_with_one_line_and_indexing_finishes(messy, tmp_path, embedder, capsys):
    stats = build_index(messy, tmp_path / "index")
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()

    def said(source: str, why: str) -> None:
        assert any(source in line and why in line for line in lines), (source, why, err)

    said("picture.txt", "binary")
    said("random.txt", "binary")
    said("latin1.txt", "not valid UTF-8 from byte 3")
    said(".hidden.txt", "hidden file")
    said("empty.txt", "no text")
    said("blank.md", "no text")
    said("huge.txt", f"over the {MAX_DOCUMENT_BYTES // 10**6} MB")
    said("escape.txt", "outside the documents folder")
    said("loop.txt", "looping symlink")
    said("sub/up", "symlinked folders are not followed")
    said("two\\nlines.pptx", "unknown file type")
    said("\\x1b[2Jwipe.pptx", "unknown file type")
    assert "\x1b" not in err
    assert all(line.startswith("qa: ") for line in lines), err  # one line each: names never break a line

    sources = {p.source for p in open_index(tmp_path / "index").passages}
    deep = "/".join(["d"] * DEPTH) + "/deep.txt"
    assert sources == {
        "good.txt", "latin1.txt", "utf16.txt", "utf32.txt", "utf8-bom.md", "long-lines.txt", "my notes.txt", "café ☕ ü.md",
        "line\nbreak.txt", "\x1b[31mred.txt", deep,
    }
    assert stats.files == len(sources) and stats.skipped == 11  # every file said above but latin1.txt, which is read
    index = tmp_path / "index"
    assert retrieve("When do hedgehogs hibernate?", k=1, index_dir=index)[0].source == "utf16.txt"
    assert retrieve("Where do puffins nest?", k=1, index_dir=index)[0].source == "utf32.txt"
    moles = retrieve("How do moles dig their tunnels?", k=1, index_dir=index)[0]
    assert moles.source == "utf8-bom.md" and moles.text.startswith("# Moles") and moles.start == 0  # the BOM is not text
    assert retrieve("How does the walrus sharpen its tusks?", k=1, index_dir=index)[0].source == deep
    long = retrieve("Which sentence number 377 mentions a lighthouse keeper?", k=3, index_dir=index)
    text = (messy / "long-lines.txt").read_text(encoding="utf-8")
    assert long and all(text[p.start : p.end] == p.text for p in long if p.source == "long-lines.txt")
    assert "secret" not in " ".join(p.text for p in open_index(index).passages)


def test_odd_file_names_are_cited_exactly_in_json_and_on_one_line_in_text(messy, tmp_path, embedder):
    index = tmp_path / "index"
    build_index(messy, index)
    as_json = run_qa("ask", "Which file name has a line break in it?", "--json", "--index", str(index))
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["passages"][0]["source"] == "line\nbreak.txt"
    as_text = run_qa("ask", "Which file name has a line break in it?", "--index", str(index))
    assert as_text.returncode == 0 and "\x1b" not in as_text.stdout
    assert "[1] line\\nbreak.txt:1" in as_text.stdout
    escaped = run_qa("ask", "Which file name has a terminal escape in it?", "--index", str(index))
    assert "\x1b" not in escaped.stdout and "[1] \\x1b[31mred.txt:1" in escaped.stdout


def _unprivileged(locked: Path) -> list[str]:
    """A command prefix under which `locked` (mode 000) really cannot be read.

    Root reads everything, so as root the child runs under `setpriv` without the two
    capabilities that let it. Where that cannot be arranged the test is skipped, saying why.
    """
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-all"]
    try:
        probe = subprocess.run([*prefix, "cat", str(locked)], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("running as root without setpriv: no way to make a file unreadable")
    if probe.returncode == 0 or "Permission denied" not in probe.stderr:
        pytest.skip(f"running as root and cannot drop the privilege to read anything: {probe.stderr.strip()[:120]}")
    return prefix


def test_a_file_without_read_permission_is_skipped_by_a_real_qa_index(tmp_path, embedder):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "good.txt").write_text(OTTERS + "\n", encoding="utf-8")
    locked = seeds / "locked.txt"
    locked.write_text("Nobody may read this.\n", encoding="utf-8")
    locked.chmod(0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    result = subprocess.run(
        [*_unprivileged(locked), sys.executable, "-m", "qa", "index", "--seeds", str(seeds), "--index", str(tmp_path / "index")],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "qa: skipped locked.txt: Permission denied" in result.stderr.splitlines()
    assert "index updated: 1 file," in result.stdout and "1 file skipped" in result.stdout


def test_a_file_deleted_while_indexing_runs_is_skipped(tmp_path, embedder, monkeypatch, capsys):
    """The folder is listed, then the file really goes, then the build reads it."""
    import qa.building.build

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "good.txt").write_text(OTTERS + "\n", encoding="utf-8")
    (seeds / "gone.txt").write_text(HEDGEHOGS + "\n", encoding="utf-8")
    listed = qa.building.build.find_documents

    def list_then_delete(folder, **kwargs):
        found = listed(folder, **kwargs)
        (seeds / "gone.txt").unlink()
        return found

    monkeypatch.setattr(qa.building.build, "find_documents", list_then_delete)
    stats = build_index(seeds, tmp_path / "index")
    assert "skipped gone.txt: it was deleted while indexing" in capsys.readouterr().err
    assert stats.files == 1 and stats.skipped == 1
    assert {p.source for p in open_index(tmp_path / "index").passages} == {"good.txt"}
