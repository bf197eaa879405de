"""A conversation: questions asked in turn, each read in the light of the ones before."""

from __future__ import annotations

from pathlib import Path

from qa.answering.answer import best_sentence
from qa.answering.followups import context_for, joined_question
from qa.answering.search import rank
from qa.ready import ready_engine
from qa.types import Reply


class Chat:
    """Ask questions one after another; follow-ups ("what age were they?") just work.

    Example:
        >>> chat = Chat()
        >>> chat.ask("Who took part in the listening project?").found
        True
        >>> chat.ask("What age were they?").answer.plain.split(". ")[0]
        'We partnered with youth charity Partnership for London to run a listening project with young people aged 14-24 to better understand their experience of lockdown and give them a voice'
    """

    def __init__(self, index_dir: str | Path | None = None) -> None:
        self.index_dir = index_dir
        self.history: list[str] = []

    def ask(self, question: str, k: int = 5) -> Reply:
        """Answer `question` with up to `k` cited passages, and remember it for follow-ups.

        Raises:
            EmptyQuestionError, IndexCorruptError, SeedsError, ModelError: as retrieve.
        """
        history = self.history[-1:]  # a follow-up is read with the question before it (qa.answering.followups.context_for)
        engine = ready_engine(self.index_dir)
        ranked = rank(question, k, history=history, index_dir=self.index_dir)
        previous = context_for(engine.index.lexical, question, history)
        asked = question if previous is None else joined_question(previous, question)
        answer = best_sentence(engine, asked, ranked.found) if ranked.found else None
        self.history.append(question)
        return Reply(question, ranked.found, answer, ranked.nearby, ranked.outcome, ranked.missing)

    def clear(self) -> None:
        """Start a new conversation: forget earlier questions."""
        self.history.clear()
