"""Text from documents, questions and file names, made safe to show on one line.

The one rule for every front-end (the command's output and notices, the app's one-line
fields, the Markdown export): a document or a file name cannot steer a terminal or break
a line.
"""

from __future__ import annotations

import unicodedata


def counted(count: int, noun: str) -> str:
    """`count` and `noun`, plural when it is not one, with thousands separated.

    >>> counted(1, "document"), counted(1277, "passage")
    ('1 document', '1,277 passages')
    """
    return f"{count:,} {noun}{'s' * (count != 1)}"


def one_line(text: str, *, exact: bool = False) -> str:
    """`text` safe to print on one terminal line: whitespace collapsed, and every other
    character that is not printable (controls, bidirectional overrides) written as an
    escape (``\\x1b``, ``\\u202e``). `exact` escapes line breaks and tabs too, and keeps
    spaces as they are (for file names and a document's own lines).

    >>> one_line("Install\\n  it with \\x1b[31mpip\\u202e")
    'Install it with \\\\x1b[31mpip\\\\u202e'
    >>> one_line("notes/a\\tb.txt", exact=True)
    'notes/a\\\\tb.txt'
    """
    if exact:
        return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    cleaned = "".join(
        ch if ch.isprintable() or ch == " " else " " if ch.isspace() else repr(ch)[1:-1] for ch in text
    )
    return " ".join(cleaned.split())


def fold(text: str) -> str:
    """`text` without its accents.

    >>> fold("Hervé, Zoë")
    'Herve, Zoe'
    """
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
