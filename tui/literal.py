"""Document text and questions as data: shown literally, never as markup or terminal codes.

Everything the app shows from a document or a question goes through `visible`, which
swaps each control character for a visible stand-in of the same length, so offsets into
the original text (passages, answer sentences) still point at the same characters.
Rich/Textual markup is never parsed: text becomes `Content` objects, not markup strings.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.content import Content

# C0 controls become their Unicode "control pictures" (␛ for ESC); DEL becomes ␡; C1
# controls and the bidirectional overrides that could reorder a line become U+FFFD.
_STAND_INS = {code: chr(0x2400 + code) for code in range(0x20)}
_STAND_INS.update({0x7F: "\u2421", ord("\n"): "\n", ord("\t"): " ", ord("\r"): " "})
_STAND_INS.update({code: "\ufffd" for code in range(0x80, 0xA0)})
_STAND_INS.update({code: "\ufffd" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def visible(text: str) -> str:
    """`text` with every control character replaced by a visible stand-in, length unchanged."""
    return text.translate(_STAND_INS)


def literal(text: str) -> Content:
    """Text as Content that is shown exactly as written (no markup, no control codes)."""
    return Content(visible(text), strip_control_codes=False)


def literal_line(text: str) -> Content:
    """`literal(text)` on one line: line breaks and runs of spaces become one space, and a
    control character shows as the same stand-in as in a passage (␏, not \\x0f)."""
    return Content(" ".join(visible(text).split()), strip_control_codes=False)


def emphasised(text: str, spans: Iterable[tuple[int, int]], style: str) -> Content:
    """`literal(text)` with `style` applied to each (start, end) span."""
    content = literal(text)
    for start, end in spans:
        content = content.stylize(style, start, end)
    return content
