"""One-line notices on stderr: skipped files, index updates.

The library never prints directly. It logs to the "qa" logger, which by default writes
"qa: <message>" lines to stderr; a front-end (the app, a test) may attach its own handler.
"""

from __future__ import annotations

import logging
import sys


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time, so redirections and pytest's capture work."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not stop indexing
            pass


logger = logging.getLogger("qa")
if not logger.handlers:
    _handler = _StderrHandler()
    _handler.setFormatter(logging.Formatter("qa: %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def one_line(text: str, *, exact: bool = False) -> str:
    """`text` safe to print on one terminal line: whitespace collapsed, and every other
    control character written as an escape (``\\x1b``), so that a file name or a
    document cannot steer the terminal or break a line. `exact` escapes line breaks and
    tabs too, and keeps spaces as they are (for file names)."""
    if exact:
        return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    cleaned = "".join(
        ch if ch.isprintable() or ch == " " else " " if ch.isspace() else repr(ch)[1:-1] for ch in text
    )
    return " ".join(cleaned.split())


def notice(message: str) -> None:
    """Tell the user something worth one line (an index update, a skipped file)."""
    logger.info(one_line(message, exact=True))


def warn(message: str) -> None:
    """Tell the user about something that went wrong but did not stop the work."""
    logger.warning(one_line(message, exact=True))
