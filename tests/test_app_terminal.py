"""The app in a real terminal: `qa` and `python -m tui` started in a pseudo-terminal."""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest

from tests.conftest import LETTER, REPO, SEEDS


class Terminal:
    """A process attached to a pseudo-terminal, read as a person would watch it.

    Everything it draws goes through a terminal emulator (pyte), so a test can ask what is
    on screen now, and a wait that fails says what the screen showed. No read ever blocks:
    the terminal is non-blocking, every wait has a deadline, and a process that outlives
    the test is killed.
    """

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, size: tuple[int, int] = (100, 30)) -> None:
        columns, lines = size
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the app
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, *args], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        os.set_blocking(self.fd, False)
        self.output = ""  # everything drawn, escape sequences included
        self.screen = pyte.Screen(columns, lines)
        self._stream = pyte.Stream(self.screen)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.status: int | None = None

    def shown(self) -> str:
        """The screen as it is now, line by line."""
        return "\n".join(line.rstrip() for line in self.screen.display)

    def read(self, seconds: float) -> None:
        """Take in what the app draws for up to `seconds` (returns early once it has drawn)."""
        ready, _, _ = select.select([self.fd], [], [], max(seconds, 0))
        if not ready:
            return
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:  # all taken in
                return
            except OSError:  # the process has ended and its terminal closed
                return
            if not data:
                return
            text = self._decoder.decode(data)
            self.output += text
            self._stream.feed(text)

    def wait_until(self, condition, what: str, timeout: float = 120) -> float:
        """Read until `condition()` holds; returns the seconds it took. Past `timeout`,
        fails with what the screen showed."""
        began = time.monotonic()
        while not condition():
            left = timeout - (time.monotonic() - began)
            assert left > 0, f"{what} (waited {timeout:g} s); the screen showed:\n{self.shown()}"
            self.read(min(left, 0.2))
        return time.monotonic() - began

    def wait_for(self, text: str, timeout: float = 120, after: int = 0) -> float:
        """Read until `text` has been drawn (after the first `after` characters of output)."""
        return self.wait_until(lambda: text in self.output[after:], f"{text!r} never appeared", timeout)

    def type(self, keys: str, timeout: float = 30) -> None:
        """Send keys; an app that stops reading its terminal fails the test instead of hanging it."""
        data, deadline = keys.encode(), time.monotonic() + timeout
        while data:
            assert time.monotonic() < deadline, f"the app stopped reading its keys; the screen showed:\n{self.shown()}"
            _, writable, _ = select.select([], [self.fd], [], 0.2)
            if writable:
                try:
                    data = data[os.write(self.fd, data[:64]) :]
                except BlockingIOError:
                    pass
            self.read(0)  # keep taking in what it draws, so that it never waits on us

    def exit_status(self, timeout: float = 30) -> int:
        """Wait for the process to end; past `timeout`, kill it and fail with the screen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                os.close(self.fd)
                return self.status
            self.read(0.1)
        self.kill()
        raise AssertionError(f"the app did not quit (waited {timeout:g} s); the screen showed:\n{self.shown()}")

    def kill(self) -> None:
        """End the process if it still runs (a test that failed half-way leaves none behind)."""
        if self.status is not None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            os.close(self.fd)
        except OSError:
            pass
        self.status = -signal.SIGKILL


@pytest.fixture
def terminals():
    """Start apps in terminals with `terminals(args, env, cwd)`; whatever still runs at the end is killed."""
    started: list[Terminal] = []

    def start(*args, **kwargs) -> Terminal:
        started.append(Terminal(*args, **kwargs))
        return started[-1]

    yield start
    for terminal in started:
        terminal.kill()


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
def test_the_app_starts_builds_its_index_answers_and_quits(workspace, module, terminals):
    term = terminals(["-m", module, "--seeds", "seeds", "--index", "index"], environment(workspace), workspace)
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


def test_e_opens_the_passage_in_the_editor_and_the_app_comes_back(workspace, terminals):
    record = workspace / "editor-args.txt"
    editor = workspace / "editor.sh"
    editor.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n', encoding="utf-8")
    editor.chmod(0o755)
    term = terminals(["-m", "qa", "--seeds", "seeds", "--index", "index"], environment(workspace, EDITOR=str(editor)), workspace)
    term.wait_for("1 document")
    term.type("Who took part in the listening project?\r")
    term.wait_for("aged 14-24")
    term.type("\x1b")  # escape: out of the input
    # Not a wait for the app: the terminal protocol. A lone ESC is read as the escape key only
    # once no byte follows it within Textual's ESCDELAY (set to 50 ms below), as when a person types.
    time.sleep(0.2)
    term.type("1")
    term.wait_for("Open in $EDITOR")
    before = len(term.output)
    term.type("e")
    term.wait_until(record.exists, "the editor never ran", timeout=30)  # it writes the file when it runs
    text = (workspace / "seeds" / LETTER).read_text(encoding="utf-8")
    line = text.count("\n", 0, text.index("listening project")) + 1
    assert record.read_text(encoding="utf-8").split("\n")[:2] == [f"+{line}", str((workspace / "seeds" / LETTER).resolve())]
    # The app comes back: it takes the terminal again (the alternate screen, in raw mode, where
    # ctrl+q is a key: in the cooked mode the editor left, the terminal itself swallows it as
    # XON) and redraws the source panel. A person sees that before typing on.
    term.wait_for("\x1b[?1049h", after=before, timeout=30)
    term.wait_for("Open in $EDITOR", after=term.output.index("\x1b[?1049h", before), timeout=30)
    term.type("\x11")
    assert term.exit_status() == 0


def test_the_library_and_the_command_never_import_textual():
    code = "import sys, qa, qa.cli, qa.answering.search, qa.chat; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_a_question_typed_before_the_first_frame_is_answered(workspace, terminals):
    from qa import build_index

    build_index(workspace / "seeds", workspace / "index")
    term = terminals(["-m", "qa", "--index", "index"], environment(workspace), workspace)
    # Typed at once: the terminal still holds it as a line (enter becomes a line feed).
    term.type("Which charity did #isolationgames raise funds for?\r")
    term.wait_for("British Red Cross")
    assert "[1] " in term.output
    term.type("\x11")
    assert term.exit_status() == 0


def test_ctrl_q_during_a_build_quits_and_keeps_the_old_index(workspace, terminals):
    from qa import build_index

    build_index(workspace / "seeds", workspace / "index")
    served = (workspace / "index" / "CURRENT").read_text(encoding="utf-8")
    letter = (workspace / "seeds" / LETTER).read_text(encoding="utf-8")
    for number in range(20):  # enough new text that the update the app starts takes a while
        (workspace / "seeds" / f"copy-{number}.txt").write_text(letter.replace("\n", f" (copy {number})\n"), encoding="utf-8")
    term = terminals(["-m", "qa", "--index", "index"], environment(workspace), workspace)
    term.wait_for("Indexing the documents")
    term.type("\x11")
    assert term.exit_status() == 0
    assert (workspace / "index" / "CURRENT").read_text(encoding="utf-8") == served
    assert [p.name for p in (workspace / "index").iterdir() if p.name.startswith("gen-")] == [served.strip()]
