"""The `qa` command: a thin shell over the library. Each command parses, calls, prints."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from qa.config import resolve_settings
from qa.errors import QAError
from qa.notices import log_to_stderr
from qa.text import one_line
from qa.types import ANSWERED, NOT_ANSWERED, NOT_FOUND, NOT_SURE, UNSURE, IndexStats, Passage, Reply, never_mentioned


def _common(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument("--seeds", metavar="DIR", default=default, help="documents folder (default $QA_SEEDS, else ./seeds)")
    parser.add_argument("--index", metavar="DIR", default=default, help="index folder (default $QA_INDEX, else ./index)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions of a folder of documents, offline.")
    _common(parser)  # `qa [--seeds DIR] [--index DIR]` alone is `qa chat`
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer one question with cited passages")
    ask.add_argument("question", nargs="?", help='the question; "-" reads it from stdin, as does none with a pipe')
    ask.add_argument("-k", type=int, default=5, help="passages to show (default 5)")
    ask.add_argument("-C", "--context", type=int, default=0, metavar="N", help="show N lines of the document around each passage, like grep -C")
    ask.add_argument("--json", action="store_true", help="print JSON and nothing else on stdout")
    ask.add_argument(
        "--nearby", action="store_true",
        help="also print the passages among the k nearest that did not clear the relevance bar (not an answer)",
    )
    _common(ask, argparse.SUPPRESS)

    index = commands.add_parser("index", help="build or update the index")
    index.add_argument("--rebuild", action="store_true", help="embed everything again")
    index.add_argument("--model", metavar="DIR", help="a local sentence-transformers folder (default $QA_MODEL)")
    index.add_argument(
        "--ray", nargs="?", const=True, default=False, metavar="ADDRESS",
        help="embed on a Ray cluster: the one at ADDRESS (e.g. ray://head:10001), else $RAY_ADDRESS's, else one started here "
        "(needs Ray Data: the cluster extra)",
    )
    _common(index, argparse.SUPPRESS)

    watching = commands.add_parser("watch", help="keep the index up to date as documents change, until interrupted")
    _common(watching, argparse.SUPPRESS)

    evaluate = commands.add_parser("eval", help="measure retrieval on a JSONL file of questions")
    evaluate.add_argument("questions", metavar="QUESTIONS.jsonl")
    evaluate.add_argument("-k", type=int, default=3, help="passages per question (default 3)")
    evaluate.add_argument("--json", action="store_true", help="print JSON (every miss with all its citations)")
    evaluate.add_argument(
        "--baseline", action="store_true",
        help="also measure a naive index of the same documents (sections between headings, no other structure)",
    )
    _common(evaluate, argparse.SUPPRESS)

    chat = commands.add_parser("chat", help="a conversation in the terminal (the default)")
    _common(chat, argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qa` command; returns the exit status."""
    args = _parser().parse_args(argv)
    log_to_stderr()
    try:
        # Flags, then QA_* variables, then defaults: resolved here, once, and passed down.
        args.settings = resolve_settings(getattr(args, "seeds", None), getattr(args, "index", None), getattr(args, "model", None))
        if args.command == "ask":
            return _ask(args)
        if args.command == "index":
            return _index(args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "watch":
            return _watch(args)
        return _chat(args)
    except QAError as e:
        print(f"qa: error: {one_line(str(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `qa ask ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _prepare(args: argparse.Namespace) -> None:
    """Open the index before asking: built first if missing, or brought up to date (from
    --seeds when given) if stale, with a progress line from the build's first step."""
    from qa.ready import ready_engine

    with BuildBar() as bar:
        ready_engine(args.settings.index_dir, seeds_dir=args.settings.seeds_dir, progress=bar.progress, stage=bar.stage)


class BuildBar:
    """A build's steps and progress on stderr (rich), drawn from the build's first step;
    nothing at all when no build runs or stderr is not a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> BuildBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def finish(self) -> None:
        """Leave the bar as it is on screen; the next step starts a new one."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _started(self) -> bool:
        if self._bar is None and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._bar.start()
            self._task = self._bar.add_task("", total=None)
        return self._bar is not None

    def stage(self, text: str) -> None:
        """A step begins: reading, loading the model, embedding N texts, writing."""
        if self._started():  # a new task: rich's update cannot make a counted one indeterminate again
            self._bar.remove_task(self._task)
            self._task = self._bar.add_task(text, total=None)

    def progress(self, done: int, total: int) -> None:
        """(done, total) texts embedded."""
        if self._started():
            self._bar.update(self._task, completed=done, total=total)


def _ask(args: argparse.Namespace) -> int:
    from qa.chat import Chat
    from qa.errors import EmptyQuestionError

    question = _question(args.question)
    if not question.strip():
        raise EmptyQuestionError()
    if args.k < 1:
        raise QAError(f"-k must be at least 1, not {args.k}")
    if args.context < 0:
        raise QAError(f"-C must be 0 or more lines, not {args.context}")
    _prepare(args)
    reply = Chat(args.settings.index_dir).ask(question, k=args.k)
    context = _document_lines(args.settings.index_dir) if args.context else None
    if args.json:
        print(json.dumps(reply_json(reply, context, args.context), ensure_ascii=False, indent=2))
    else:
        print(format_reply(reply, context, args.context, nearby=args.nearby))
    return 0


def _question(argument: str | None) -> str:
    """The question: the argument, or stdin for "-" (and for none when stdin is a pipe)."""
    if argument == "-" or (argument is None and not sys.stdin.isatty()):
        return sys.stdin.buffer.read().decode("utf-8", errors="replace")
    if argument is None:
        raise QAError('no question: qa ask "your question", or qa ask - to read it from stdin')
    return argument


Lines = Callable[[str, "int | None"], "list[str] | None"]


def _document_lines(index_dir: object) -> Lines:
    """The lines of a document of the index as indexed, or of one of its pages (None if
    it cannot be read now)."""

    from qa.formats.documents import UnreadableDocument, read_document
    from qa.formats.pdf import page_of
    from qa.ready import describe_index

    seeds = describe_index(index_dir).seeds_dir  # type: ignore[arg-type]
    texts: dict[str, str | None] = {}

    def lines(source: str, page: int | None) -> list[str] | None:
        if source not in texts:
            try:
                texts[source] = read_document(seeds / source)
            except (OSError, QAError, UnreadableDocument):
                texts[source] = None
        text = texts[source]
        if text is None:
            return None
        text = page_of(text, page) if page is not None else text
        return text.removesuffix("\n").split("\n")  # lines as citations count them

    return lines


def _context(p: Passage, lines: Lines, n: int) -> tuple[int, list[str]] | None:
    """The first line number and the lines from n before the passage to n after it
    (within its page, in a paged document)."""
    document = lines(p.source, p.page)
    if document is None:
        return None
    first = max(1, p.line_start - n)
    return first, document[first - 1 : min(len(document), p.line_end + n)]


def reply_json(reply: Reply, lines: Lines | None = None, context: int = 0) -> dict[str, object]:
    """A reply as plain JSON data: question, found, outcome ("answer", "unsure" or
    "not_found"), missing (the question's specific words no document uses), answer and
    passages, each with its citation and section; `nearby` holds the closest passages that
    did not clear the relevance bar (with "unsure", the closest passages), each marked
    `"relevant": false`. With `context` lines, each passage
    also has `context`: the lines around it (`line_start`, `text`)."""
    answer = None if reply.answer is None else {**asdict(reply.answer), "citation": reply.answer.citation}

    def passage(p: Passage, relevant: bool) -> dict[str, object]:
        out = {**asdict(p), "citation": p.citation, "section": p.section, "relevant": relevant}
        around = _context(p, lines, context) if lines is not None else None
        if around is not None:
            out["context"] = {"line_start": around[0], "text": "\n".join(around[1])}
        return out

    return {
        "question": reply.question,
        "found": reply.found,
        "outcome": reply.outcome,
        "missing": list(reply.missing),
        "answer": answer,
        "passages": [passage(p, True) for p in reply.passages],
        "nearby": [passage(p, False) for p in reply.nearby],
    }


INDENT = "    "


def shown_line(line: str) -> str:
    """One line of a document as printed: its indentation kept (tabs as spaces), every
    control character written as an escape so a document cannot steer the terminal."""
    return one_line(line.expandtabs(4).rstrip(), exact=True)


def format_reply(reply: Reply, lines: Lines | None = None, context: int = 0, *, nearby: bool = False, hint: str = "--nearby shows them") -> str:
    """A reply as text for the terminal: the answer sentence, then numbered cited passages,
    each with its line breaks and indentation (code stays code); with `context`, the
    document's lines around it, numbered, `:` marking the passage's lines and `-` the others.
    The passages below the relevance bar are counted, or with `nearby` printed after a line
    that says they are not an answer; `hint` says how to see them."""
    out: list[str] = []
    if reply.outcome == NOT_SURE:
        out.append(UNSURE + (f" {never_mentioned(reply.missing)}" if reply.missing else ""))
    elif not reply.found:
        out.append(NOT_FOUND + (f" {never_mentioned(reply.missing)}" if reply.missing else ""))
    elif reply.answer is not None:
        cited = f"[{one_line(reply.answer.citation, exact=True)}]"
        said = (reply.answer.plain or reply.answer.text).strip().split("\n")
        if len(said) > 1:  # with the list or code it introduces: each keeps its line
            out += [shown_line(line) for line in said] + [f"  {cited}", ""]
        else:
            out += [f"{one_line(said[0])}  {cited}", ""]
    for i, p in enumerate(reply.passages, 1):
        out += ([""] if i > 1 else []) + _passage_lines(i, p, lines, context)
    below = len(reply.nearby)
    if below and reply.outcome == NOT_SURE:  # the closest passages are the reply: shown, and said to be possibly unrelated
        out += ["", f"The closest passages, which may be unrelated ({below}):"]
        for i, p in enumerate(reply.nearby, 1):
            out += [""] + _passage_lines(i, p, lines, context)
    elif below and nearby:
        out += ["", f"Below the relevance bar, not an answer ({below} passage{'s' * (below != 1)}):"]
        for i, p in enumerate(reply.nearby, len(reply.passages) + 1):
            out += [""] + _passage_lines(i, p, lines, context)
    elif below:
        closest = reply.nearby[0]
        what = f"{below} more passage{'s' * (below != 1)} fell" if reply.found else f"the {below} nearest passage{'s' * (below != 1)} fell"
        out += [
            *([""] if reply.found else []),
            f"({what} below the relevance bar, the closest {one_line(closest.citation, exact=True)} at {closest.score:.2f}"
            f"{': ' + hint if hint else ''})",
        ]
    return "\n".join(out)


def _passage_lines(number: int, p: Passage, lines: Lines | None, context: int) -> list[str]:
    """One numbered passage: its citation, section and score, then its text or the document's
    lines around it."""
    section = f"  {one_line(p.section)}" if p.section else ""
    out = [f"[{number}] {one_line(p.citation, exact=True)}{section}  (score {p.score:.2f})"]
    around = _context(p, lines, context) if lines is not None else None
    if around is None:
        return out + [INDENT + shown_line(line) if line.strip() else "" for line in p.text.strip("\n").split("\n")]
    first, shown = around
    width = len(str(first + len(shown) - 1))
    for number_, line in enumerate(shown, first):
        mark = ":" if p.line_start <= number_ <= p.line_end else "-"
        out.append(f"{INDENT}{number_:>{width}}{mark} {shown_line(line)}".rstrip())
    return out


def _index(args: argparse.Namespace) -> int:
    from qa.building.build import build_index

    with BuildBar() as bar:
        stats = build_index(
            args.settings.seeds_dir, args.settings.index_dir, model=args.settings.model,
            progress=bar.progress, stage=bar.stage, rebuild=args.rebuild, ray=args.ray,
        )
    print(f"index {'updated' if stats.changed else 'already up to date'}: {stats.summary()}")
    return 0


def _watch(args: argparse.Namespace) -> int:
    """Keep the index fresh: a line per update on stdout, until ctrl+c (exit 0)."""
    import time

    from qa.building.watch import watch

    bar = BuildBar()
    said_first = False

    def updated(stats: IndexStats) -> None:
        nonlocal said_first
        bar.finish()
        if stats.changed or not said_first:
            state = "updated" if stats.changed else "up to date"
            print(f"{time.strftime('%H:%M:%S')} index {state}: {stats.summary()}", flush=True)
        said_first = True

    def failed(error: QAError) -> None:
        bar.finish()
        print(f"qa: error: {one_line(str(error))} (the index in use is kept; still watching)", file=sys.stderr, flush=True)

    print("qa: watching the documents; ctrl+c stops", file=sys.stderr, flush=True)
    try:
        watch(
            args.settings.seeds_dir, args.settings.index_dir,
            on_update=updated, on_error=failed, progress=bar.progress, stage=bar.stage,
        )
    except KeyboardInterrupt:
        bar.finish()
        print("qa: stopped watching", file=sys.stderr)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from qa.evaluate import evaluate, load_questions

    questions = load_questions(args.questions)
    _prepare(args)
    report = evaluate(questions, args.k, index_dir=args.settings.index_dir, naive_baseline=args.baseline)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
        return 0
    k = report.k
    width = max(len(name) for name in [*report.kinds, "overall"]) + 2
    print(f"{'kind':<{width}}{'n':>5}{'hit@1':>8}{f'hit@{k}':>8}{'MRR':>8}{'sentence':>9}{'answered':>10}{'unsure':>8}{'refused':>9}")
    rows = [*report.kinds.items(), ("overall", report.overall)]
    for name, f in rows:
        print(
            f"{name:<{width}}{f['questions']:>5}{_pct(f['hit@1'])}{_pct(f['hit@k'])}{_pct(f['mrr'])}{_pct(f['sentence'], 9)}"
            f"{f[ANSWERED]:>10}{f[NOT_SURE]:>8}{f[NOT_ANSWERED]:>9}"
        )
    print("(sentence: of the answers whose first passage holds the expected answer, the share whose answer sentence does too)")
    print(f"\nanswerable questions, hit@1 / hit@{k}: the hybrid as shipped, each side alone without abstention")
    for name, f in [("hybrid", report.overall), *((n, f) for n, f in report.baselines.items() if n != "naive")]:
        print(f"  {name:<8}{_pct(f['hit@1'])}{_pct(f['hit@k'])}")
    naive = report.baselines.get("naive")
    if naive is not None:
        print(f"\nnaive baseline, as shipped but cut into sections between headings, no other structure:\n"
              f"  hit@1 {_pct(naive['hit@1'], 0)}, hit@{k} {_pct(naive['hit@k'], 0)}, abstention {_pct(naive['abstention'], 0)}, "
              f"in-scope abstained on {naive['wrongly_abstained']}, out-of-scope answered {naive['wrongly_answered']}")
    print(f"\nin-scope questions not answered (not sure or refused): {report.overall['wrongly_abstained']}; "
          f"out-of-scope questions answered: {report.overall['wrongly_answered']}")
    return 0


def _pct(value: float | None, width: int = 8) -> str:
    return f"{'-' if value is None else f'{value:.3f}':>{width}}"


def _chat(args: argparse.Namespace) -> int:
    """The app in a terminal; a plain line-by-line conversation when stdin or stdout is not one."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        from tui.app import run

        return run(args.settings.index_dir, args.settings.seeds_dir)
    from qa.chat import Chat

    _prepare(args)
    chat = Chat(args.settings.index_dir)
    while True:
        try:
            question = input()
        except EOFError:
            return 0
        if not question.strip():
            continue
        if question.strip() == "/clear":
            chat.clear()
            continue
        print(format_reply(chat.ask(question), hint="") + "\n", flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
