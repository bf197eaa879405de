"""Follow-ups: which questions are read with the question before them, and how.

"What age were they?" after "Who took part in the listening project?" is read as both
together; a question that does not point back is read, and must be answered, alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.indexfiles.lexical import LexicalIndex

# Words by which a question points back at the conversation ("what age were THEY?"). Only
# such a question may be answered on the strength of the question before it: a new
# question ("what is the capital of France?") must stand on its own or be refused.
ANAPHORS = frozenset(
    "it its they them their theirs this that these those he him his she her hers there then".split()
)
# A question with more words than this that no passage uses is about something new.
NEW_WORDS = 1
# Characters of the question before a follow-up that are read with it: more than any
# real question, few enough to leave the follow-up within the model's 256 word pieces.
CONTEXT_CHARS = 500


def context_for(lexical: LexicalIndex, question: str, history: Sequence[str]) -> str | None:
    """The question before, when `question` is a follow-up to be read with it; else None.

    Only a question that points back ("what age were THEY?") is read together with the
    question before it; any other question is read, and must be answered, on its own. So
    is one that names things the documents never mention ("what do sea otters do while
    THEY sleep?"): its pronoun points inside itself, at a new subject.
    """
    context = [h.strip() for h in history if isinstance(h, str) and h.strip()][-1:]
    if context and refers_back(question) and lexical.unknown_words(question) <= NEW_WORDS:
        return context[-1]
    return None


def joined_question(previous: str, question: str) -> str:
    """A follow-up as it is read in context: the question before it, then itself.

    The question before contributes its first CONTEXT_CHARS only, so that after a pasted
    page the follow-up itself is still within what the model and search read.
    """
    return f"{previous[:CONTEXT_CHARS]} {question}"


def refers_back(question: str) -> bool:
    """Whether the question points back at the conversation with a pronoun (see ANAPHORS)."""
    return any(word in ANAPHORS for word in re.findall(r"\w+", question.lower()))
