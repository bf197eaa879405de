"""The conversation as Markdown: each question, its answer and its cited passages."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from qa.text import one_line
from qa.types import NOT_FOUND, NOT_SURE, UNSURE, Reply, never_mentioned


def reply_markdown(reply: Reply) -> str:
    """One turn: the question as a heading, the answer, then the passages quoted with citations."""
    lines = [f"## {one_line(reply.question)}", ""]
    missing = f" {never_mentioned(reply.missing)}" if reply.missing else ""
    if reply.outcome == NOT_SURE:
        lines += [f"{UNSURE}{missing} The closest passages, which may be unrelated:", ""]
    elif not reply.found:
        return "\n".join([*lines, NOT_FOUND + missing, ""])
    elif reply.answer is not None:  # as it reads: no markup, no fences; a list's items or code on lines of their own
        first, *rest = (reply.answer.plain or reply.answer.text).strip().split("\n")
        lines += [f"**{one_line(first)}** ({reply.answer.citation})", *(f"    {line}" for line in rest), ""]
    for number, passage in enumerate(reply.passages if reply.found else reply.nearby, 1):
        section = f" {one_line(passage.section)}" if passage.section else ""
        lines.append(f"[{number}] `{passage.citation}`{section} (score {passage.score:.2f})")
        lines.append("")
        lines += [f"> {line}" if line.strip() else ">" for line in passage.text.splitlines()]
        lines.append("")
    return "\n".join(lines)


def conversation_markdown(replies: Sequence[Reply]) -> str:
    """The whole conversation, oldest first."""
    return "\n".join(["# Conversation", "", *(reply_markdown(r) for r in replies)])


def default_export_path() -> Path:
    """qa-conversation-YYYYMMDD-HHMMSS.md in the current folder."""
    return Path(time.strftime("qa-conversation-%Y%m%d-%H%M%S.md"))


