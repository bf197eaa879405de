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


def notice(message: str) -> None:
    """Tell the user something worth one line (an index update, a skipped file)."""
    logger.info(" ".join(message.split()))


def warn(message: str) -> None:
    """Tell the user about something that went wrong but did not stop the work."""
    logger.warning(" ".join(message.split()))
