"""One-line notices: skipped files, index updates.

The library never prints. It logs to the "qa" logger, which has only a NullHandler, as a
library's logger should: the `qa` command writes the messages to stderr as "qa: <message>"
lines (`log_to_stderr`), the app shows them as notifications, and a script sees them once
it configures logging (`logging.basicConfig(level=logging.INFO)`).
"""

from __future__ import annotations

import logging
import sys

from qa.text import one_line

logger = logging.getLogger("qa")
logger.addHandler(logging.NullHandler())
logger.setLevel(logging.INFO)


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time, so redirections and pytest's capture work."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not stop indexing
            pass


def log_to_stderr() -> None:
    """Write qa's notices to stderr as "qa: <message>" lines (the command; once is enough)."""
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("qa: %(message)s"))
        logger.addHandler(handler)
    logger.propagate = False  # not twice when the root logger also writes to stderr


def notice(message: str) -> None:
    """Tell the user something worth one line (an index update, a skipped file)."""
    logger.info(one_line(message, exact=True))


def warn(message: str) -> None:
    """Tell the user about something that went wrong but did not stop the work."""
    logger.warning(one_line(message, exact=True))
