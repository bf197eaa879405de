"""The app in a real terminal: `qa` and `python -m tui` started in a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import LETTER, REPO, SEEDS


class Terminal:
    """A process attached to a pseudo-terminal of 100x30, read as a person would watch it."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the app
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, *args], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.output = ""

    def wait_for(self, text: str, timeout: float = 120) -> float:
        """Read until `text` has been drawn; returns the seconds it took."""
        began = time.monotonic()
        while text not in self.output:
            left = timeout - (time.monotonic() - began)
            assert left > 0, f"{text!r} never appeared; the screen showed:\n{self.output[-2000:]}"
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if ready:
                try:
                    self.output += os.read(self.fd, 65536).decode("utf-8", "replace")
                except OSError:  # the process ended
                    break
        assert text in self.output
        return time.monotonic() - began

    def read(self, seconds: float) -> None:
        """Take in what the app draws for `seconds`, expecting nothing in particular."""
        ready, _, _ = select.select([self.fd], [], [], seconds)
        if ready:
            try:
                self.output += os.read(self.fd, 65536).decode("utf-8", "replace")
            except OSError:  # the process ended
                pass

    def type(self, keys: str, timeout: float = 30) -> None:
        """Send keys; an app that stops reading its terminal fails the test instead of hanging it."""
        data, deadline = keys.encode(), time.monotonic() + timeout
        while data:
            assert time.monotonic() < deadline, f"the app stopped reading its keys; the screen showed:\n{self.output[-2000:]}"
            _, writable, _ = select.select([], [self.fd], [], 0.5)
            if writable:
                data = data[os.write(self.fd, data[:64]) :]
            self.read(0)  # keep taking in what it draws, so that it never waits on us

    def exit_status(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:
                select.select([self.fd], [], [], 0.2)
                os.read(self.fd, 65536)
            except OSError:
                pass
        os.kill(self.pid, 9)
        raise AssertionError("the app did not quit")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / LETTER, seeds / LETTER)
    return tmp_path


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(TERM="xterm-256color", XDG_DATA_HOME=str(tmp_path / "data"), ESCDELAY="50", **extra)
    return env


@pytest.mark.parametrize("module", ["qa", "tui"])
def test_the_app_starts_builds_its_index_answers_and_quits(workspace, module):
    term = Terminal(["-m", module, "--seeds", "seeds", "--index", "index"], environment(workspace), workspace)
    term.wait_for("Ask a question about your documents")
    # Asked at once, while the model still loads (seconds): answered as soon as it is ready.
    term.type("Which charity did #isolationgames raise funds for?\r")
    term.wait_for("Waiting for the model to load")
    term.wait_for("1 document")  # the header, once the index is built and loaded
    term.wait_for("Red Cross")
    term.type("\x11")  # ctrl+q
    assert term.exit_status() == 0
    assert (workspace / "index" / "CURRENT").is_file()
    assert "Which charity" in (workspace / "data" / "qa" / "history.jsonl").read_text(encoding="utf-8")


def test_e_opens_the_passage_in_the_editor_and_the_app_comes_back(workspace):
    record = workspace / "editor-args.txt"
    editor = workspace / "editor.sh"
    editor.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n', encoding="utf-8")
    editor.chmod(0o755)
    term = Terminal(["-m", "qa", "--seeds", "seeds", "--index", "index"], environment(workspace, EDITOR=str(editor)), workspace)
    term.wait_for("1 document")
    term.type("Who took part in the listening project?\r")
    term.wait_for("aged 14-24")
    term.type("\x1b")  # escape: out of the input
    # Not a wait for the app: the terminal protocol. A lone ESC is read as the escape key only
    # once no byte follows it within Textual's ESCDELAY (set to 50 ms below), as when a person types.
    time.sleep(0.2)
    term.type("1")
    term.wait_for("Open in $EDITOR")
    term.type("e")
    deadline = time.monotonic() + 30
    while not record.exists() and time.monotonic() < deadline:  # the editor writes it when it runs
        term.read(0.2)
    text = (workspace / "seeds" / LETTER).read_text(encoding="utf-8")
    line = text.count("\n", 0, text.index("listening project")) + 1
    assert record.read_text(encoding="utf-8").split("\n")[:2] == [f"+{line}", str((workspace / "seeds" / LETTER).resolve())]
    term.type("\x11")
    assert term.exit_status() == 0


def test_the_library_and_the_command_never_import_textual():
    code = "import sys, qa, qa.cli, qa.search, qa.chat; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_a_question_typed_before_the_first_frame_is_answered(workspace):
    from qa import build_index

    build_index(workspace / "seeds", workspace / "index")
    term = Terminal(["-m", "qa", "--index", "index"], environment(workspace), workspace)
    # Typed at once: the terminal still holds it as a line (enter becomes a line feed).
    term.type("Which charity did #isolationgames raise funds for?\r")
    term.wait_for("British Red Cross")
    assert "[1] " in term.output
    term.type("\x11")
    assert term.exit_status() == 0


def test_ctrl_q_during_a_build_quits_and_keeps_the_old_index(workspace):
    from qa import build_index

    build_index(workspace / "seeds", workspace / "index")
    served = (workspace / "index" / "CURRENT").read_text(encoding="utf-8")
    letter = (workspace / "seeds" / LETTER).read_text(encoding="utf-8")
    for number in range(20):  # enough new text that the update the app starts takes a while
        (workspace / "seeds" / f"copy-{number}.txt").write_text(letter.replace("\n", f" (copy {number})\n"), encoding="utf-8")
    term = Terminal(["-m", "qa", "--index", "index"], environment(workspace), workspace)
    term.wait_for("Indexing the documents")
    term.type("\x11")
    assert term.exit_status() == 0
    assert (workspace / "index" / "CURRENT").read_text(encoding="utf-8") == served
    assert [p.name for p in (workspace / "index").iterdir() if p.name.startswith("gen-")] == [served.strip()]
