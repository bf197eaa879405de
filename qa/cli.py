"""The `qa` command: a thin shell over the library. Each command parses, calls, prints."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict

from qa.config import resolve_settings
from qa.errors import QAError
from qa.notices import one_line
from qa.types import NOT_FOUND, Passage, Reply


def _common(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument("--seeds", metavar="DIR", default=default, help="documents folder (default $QA_SEEDS, else ./seeds)")
    parser.add_argument("--index", metavar="DIR", default=default, help="index folder (default $QA_INDEX, else ./index)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions of a folder of documents, offline.")
    _common(parser)  # `qa [--seeds DIR] [--index DIR]` alone is `qa chat`
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer one question with cited passages")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=5, help="passages to show (default 5)")
    ask.add_argument("--json", action="store_true", help="print JSON and nothing else on stdout")
    _common(ask, argparse.SUPPRESS)

    index = commands.add_parser("index", help="build or update the index")
    index.add_argument("--rebuild", action="store_true", help="embed everything again")
    index.add_argument("--model", metavar="DIR", help="a local sentence-transformers folder (default $QA_MODEL)")
    _common(index, argparse.SUPPRESS)

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
    try:
        # Flags, then QA_* variables, then defaults: resolved here, once, and passed down.
        args.settings = resolve_settings(getattr(args, "seeds", None), getattr(args, "index", None), getattr(args, "model", None))
        if args.command == "ask":
            return _ask(args)
        if args.command == "index":
            return _index(args)
        if args.command == "eval":
            return _eval(args)
        return _chat(args)
    except QAError as e:
        print(f"qa: error: {one_line(str(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


def _prepare(args: argparse.Namespace) -> None:
    """With --seeds, make sure the index describes that folder before asking."""
    if args.settings.seeds_dir is not None:
        from qa.search import get_engine

        with progress_bar() as bar:
            get_engine(args.settings.index_dir, seeds_dir=args.settings.seeds_dir, progress=bar)


@contextlib.contextmanager
def progress_bar() -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback that draws a bar on stderr (rich), or None when stderr is no terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=False,
    ) as bar:
        task = bar.add_task("embedding", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _ask(args: argparse.Namespace) -> int:
    from qa.chat import Chat
    from qa.errors import EmptyQuestionError

    if not args.question.strip():
        raise EmptyQuestionError()
    if args.k < 1:
        raise QAError(f"-k must be at least 1, not {args.k}")
    _prepare(args)
    reply = Chat(args.settings.index_dir).ask(args.question, k=args.k)
    if args.json:
        print(json.dumps(reply_json(reply), ensure_ascii=False, indent=2))
    else:
        print(format_reply(reply))
    return 0


def reply_json(reply: Reply) -> dict[str, object]:
    """A reply as plain JSON data: question, found, answer and passages, each with its
    citation and section; `nearby` holds the closest passages that did not clear the
    relevance bar, each marked `"relevant": false`."""
    answer = None if reply.answer is None else {**asdict(reply.answer), "citation": reply.answer.citation}
    return {
        "question": reply.question,
        "found": reply.found,
        "answer": answer,
        "passages": [_passage_json(p, relevant=True) for p in reply.passages],
        "nearby": [_passage_json(p, relevant=False) for p in reply.nearby],
    }


def _passage_json(p: Passage, *, relevant: bool) -> dict[str, object]:
    return {**asdict(p), "citation": p.citation, "section": p.section, "relevant": relevant}


def format_reply(reply: Reply) -> str:
    """A reply as text for the terminal: the answer sentence, then numbered cited passages."""
    if not reply.found:
        lines = [NOT_FOUND]
        if reply.nearby:
            lines.append(f"(closest, not relevant enough: {one_line(reply.nearby[0].citation, exact=True)}, score {reply.nearby[0].score:.2f})")
        return "\n".join(lines)
    lines = []
    if reply.answer is not None:
        lines += [f"{one_line(reply.answer.text)}  [{one_line(reply.answer.citation, exact=True)}]", ""]
    for i, p in enumerate(reply.passages, 1):
        section = f"  {one_line(p.section)}" if p.section else ""
        lines.append(f"[{i}] {one_line(p.citation, exact=True)}{section}  (score {p.score:.2f})")
        lines.append(f"    {one_line(p.text)}")
    return "\n".join(lines)


def _index(args: argparse.Namespace) -> int:
    from qa.build import build_index

    with progress_bar() as bar:
        stats = build_index(args.settings.seeds_dir, args.settings.index_dir, model=args.settings.model, progress=bar, rebuild=args.rebuild)
    state = "updated" if stats.changed else "already up to date"
    print(
        f"index {state}: {stats.files} files, {stats.passages} passages, "
        f"{stats.embedded} embedded now, {stats.reused} reused, {stats.skipped} skipped, {stats.seconds:.1f} s"
    )
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
    header = f"{'kind':<14}{'n':>5}{'hit@1':>8}{f'hit@{k}':>8}{'MRR':>8}{'abstain':>9}"
    print(header)
    rows = [*report.kinds.items(), ("overall", report.overall)]
    for name, f in rows:
        print(f"{name:<14}{f['questions']:>5}{_pct(f['hit@1'])}{_pct(f['hit@k'])}{_pct(f['mrr'])}{_pct(f['abstention'], 9)}")
    print(f"\nanswerable questions, hit@1 / hit@{k}: the hybrid as shipped, each side alone without abstention")
    for name, f in [("hybrid", report.overall), *((n, f) for n, f in report.baselines.items() if n != "naive")]:
        print(f"  {name:<8}{_pct(f['hit@1'])}{_pct(f['hit@k'])}")
    naive = report.baselines.get("naive")
    if naive is not None:
        print(f"\nnaive baseline, as shipped but cut into sections between headings, no other structure:\n"
              f"  hit@1 {_pct(naive['hit@1'], 0)}, hit@{k} {_pct(naive['hit@k'], 0)}, abstention {_pct(naive['abstention'], 0)}, "
              f"in-scope abstained on {naive['wrongly_abstained']}, out-of-scope answered {naive['wrongly_answered']}")
    print(f"\nin-scope questions abstained on: {report.overall['wrongly_abstained']}; "
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
        print(format_reply(chat.ask(question)) + "\n", flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
