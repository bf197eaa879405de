"""The `qa` command, run for real in fresh processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import LETTER, REPO, SEEDS, read_line, run_qa


def test_ask_json_prints_only_json_with_citations(seed_index):
    result = run_qa("ask", "Who signed the letter?", "--json", "-k", "2", "--index", str(seed_index))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # nothing but JSON on stdout
    assert data["found"] is True and data["question"] == "Who signed the letter?"
    assert data["passages"][0]["citation"] == f"{LETTER}:9"
    assert "Liz Kanter" in data["answer"]["text"] and len(data["passages"]) <= 2


def test_ask_text_shows_answer_then_numbered_passages_or_says_it_is_not_there(seed_index):
    result = run_qa("ask", "Which charity did #isolationgames raise funds for?", "--index", str(seed_index))
    assert result.returncode == 0, result.stderr
    assert "British Red Cross" in result.stdout.splitlines()[0]
    assert f"[1] {LETTER}:2" in result.stdout
    result = run_qa("ask", "How many moons does Jupiter have?", "--index", str(seed_index))
    assert result.returncode == 0 and "isn't in these documents" in result.stdout


def test_ask_says_how_many_passages_fell_below_the_bar_and_nearby_prints_them(seed_index):
    question, args = "Which charity did #isolationgames raise funds for?", ("-k", "5", "--index", str(seed_index))
    data = json.loads(run_qa("ask", question, "--json", *args).stdout)
    below = len(data["nearby"])
    assert data["found"] and below >= 1 and len(data["passages"]) + below == 5
    text = run_qa("ask", question, *args).stdout
    closest = data["nearby"][0]
    said = f"({below} more passage{'s' * (below != 1)} fell below the relevance bar, the closest {closest['citation']} at {closest['score']:.2f}"
    assert said in text and text.rstrip().endswith("--nearby shows them)"), text
    assert all(f"] {p['citation']}" not in text for p in data["nearby"])
    shown = run_qa("ask", question, "--nearby", *args).stdout
    heading = shown.index(f"Below the relevance bar, not an answer ({below} passage")
    for number, p in enumerate(data["nearby"], len(data["passages"]) + 1):
        assert shown.index(f"[{number}] {p['citation']}") > heading
    refused = run_qa("ask", "How many moons does Jupiter have?", *args).stdout
    # Refused, naming the planet the letter never mentions, and counting what fell below the bar.
    assert refused.startswith("That isn't in these documents. They never mention Jupiter.\n(the 5 nearest passages fell below the relevance bar")


def test_index_command_reports_what_it_did(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / LETTER, seeds)
    first = run_qa("index", "--seeds", str(seeds), "--index", str(tmp_path / "index"))
    assert first.returncode == 0, first.stderr
    assert "9 passages," in first.stdout and "embedded now 9 passages and " in first.stdout
    assert "0 passages reused from the previous index" in first.stdout and "0 files skipped" in first.stdout
    again = run_qa("index", "--index", str(tmp_path / "index"))  # the index remembers its seeds folder
    assert again.returncode == 0 and "already up to date" in again.stdout
    assert "embedded now 0 passages and 0 sentences; 9 passages reused" in again.stdout


def test_user_errors_are_one_line_without_traceback(tmp_path, seed_index):
    cases = [
        run_qa("ask", "   ", "--index", str(seed_index)),
        run_qa("ask", "anything", "--seeds", str(tmp_path / "missing"), "--index", str(tmp_path / "i1")),
        run_qa("eval", str(tmp_path / "no-such-questions.jsonl"), "--index", str(seed_index)),
    ]
    (tmp_path / "empty").mkdir()
    cases.append(run_qa("index", "--seeds", str(tmp_path / "empty"), "--index", str(tmp_path / "i2")))
    broken = tmp_path / "broken"
    shutil.copytree(seed_index, broken)
    generation = (broken / "CURRENT").read_text().strip()
    (broken / generation / "passages.jsonl").write_text("not json\n")
    # Answering a fresh index runs no torch: the device is read when a build loads the model.
    cases.append(run_qa("index", "--rebuild", "--index", str(tmp_path / "i3"), "--seeds", str(SEEDS), env={"QA_DEVICE": "abacus"}))
    cases.append(run_qa("ask", "Who signed the letter?", "--index", str(broken)))
    for result in cases:
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("qa: error:")]
        assert len(errors) == 1, result.stderr
    assert "rebuild" in cases[-1].stderr and "passages.jsonl" in cases[-1].stderr
    assert "QA_DEVICE='abacus'" in cases[-2].stderr


def test_eval_prints_figures_per_kind_and_overall(tmp_path, seed_index):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"q": "Who signed the letter?", "expect": "Liz Kanter", "kind": "fact"}) + "\n"
        + json.dumps({"q": "What is the speed of light?", "expect": None, "kind": "out_of_scope"}) + "\n"
        + json.dumps({"q": "What age were they?", "expect": "14-24", "kind": "followup",
                      "history": ["Who took part in the listening project?"]}) + "\n"
    )
    result = run_qa("eval", str(questions), "--json", "--index", str(seed_index))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["overall"]["questions"] == 3 and report["overall"]["hit@1"] == 1.0
    assert report["kinds"]["out_of_scope"]["abstention"] == 1.0
    assert set(report["baselines"]) == {"dense", "bm25"}
    text = run_qa("eval", str(questions), "--index", str(seed_index))
    assert "overall" in text.stdout and "bm25" in text.stdout


def test_python_dash_m_qa_and_help_need_no_model():
    result = run_qa("--help")
    assert result.returncode == 0 and "ask" in result.stdout


def test_qa_alone_holds_a_conversation_with_follow_ups(seed_index):
    result = run_qa(env={"QA_INDEX": str(seed_index)}, input="Who took part in the listening project?\nWhat age were they?\n")
    assert result.returncode == 0, result.stderr
    # Each reply opens with its answer sentence and the sentence's citation in brackets.
    answers = [line for line in result.stdout.splitlines() if line.endswith("]") and f"  [{LETTER}:" in line]
    assert len(answers) == 2 and "aged 14-24" in answers[1] and answers[1].endswith(f"  [{LETTER}:4]"), result.stdout


def test_ask_reads_the_question_from_stdin(seed_index):
    question = "Which charity did\n#isolationgames raise funds for?\n"  # from a file: lines and all
    for args in (["ask", "-"], ["ask"]):  # "-", or no question with a pipe
        result = run_qa(*args, "--json", "--index", str(seed_index), input=question)
        assert result.returncode == 0, result.stderr
        assert "British Red Cross" in json.loads(result.stdout)["answer"]["text"]
    empty = run_qa("ask", "-", "--index", str(seed_index), input="  \n")
    assert empty.returncode == 1 and "qa: error: the question is empty" in empty.stderr


GUIDE = """# Guide

## Installing

Install the tool, then check it with this command:

```sh
tool --version
    indented continuation
tool check
```

That is all.
"""


def test_ask_keeps_code_lines_and_shows_document_lines_around_a_passage(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "guide.md").write_text(GUIDE, encoding="utf-8")
    args = ("--seeds", str(seeds), "--index", str(tmp_path / "index"))
    plain = run_qa("ask", "How do I check the tool is installed?", "-k", "1", *args)
    assert plain.returncode == 0, plain.stderr
    out = plain.stdout.splitlines()
    code = GUIDE.splitlines()[6:10]  # the fence, its lines and indentation, kept line by line
    assert any(out[i : i + 4] == [f"    {line}" for line in code] for i in range(len(out)))
    lines = GUIDE.splitlines()
    with_context = run_qa("ask", "How do I check the tool is installed?", "-k", "1", "-C", "1", *args)
    data = json.loads(run_qa("ask", "How do I check the tool is installed?", "-k", "1", "-C", "1", "--json", *args).stdout)
    first, last = data["passages"][0]["line_start"], data["passages"][0]["line_end"]
    shown = [line for line in with_context.stdout.splitlines() if line[:4] == "    " and line[4:].lstrip()[:1].isdigit()]
    numbers = [int(line.split(":")[0].split("-")[0]) for line in shown]
    assert numbers == list(range(max(1, first - 1), min(len(lines), last + 1) + 1))
    for line, number in zip(shown, numbers):
        mark = ":" if first <= number <= last else "-"
        assert line.strip().startswith(f"{number}{mark}") and line.endswith(lines[number - 1].rstrip())
    context = data["passages"][0]["context"]
    assert context["line_start"] == numbers[0] and context["text"].split("\n") == lines[numbers[0] - 1 : numbers[-1]]


def test_paths_that_cannot_be_used_are_one_line_naming_the_path_and_touch_nothing(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / LETTER, seeds)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me\n", encoding="utf-8")
    cases = [
        (run_qa("ask", "Who signed the letter?", "--seeds", str(seeds), "--index", str(a_file)), str(a_file)),
        (run_qa("index", "--seeds", str(seeds), "--index", str(a_file)), str(a_file)),
        (run_qa("index", "--seeds", str(seeds), "--index", str(tmp_path / "i"), env={"XDG_CACHE_HOME": str(a_file / "cache")}),
         str(a_file / "cache")),
    ]
    for result, path in cases:
        assert result.returncode == 1 and "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("qa: error:")]
        assert len(errors) == 1 and path in errors[0] and ("--index" in errors[0] or "XDG_CACHE_HOME" in errors[0]), result.stderr
    assert a_file.read_text(encoding="utf-8") == "keep me\n"
    locked = Path("/sys/qa-index")  # a folder no one may create, root included
    if Path("/sys").is_dir() and not locked.exists():
        result = run_qa("index", "--seeds", str(seeds), "--index", str(locked))
        assert result.returncode == 1 and f"cannot create the index folder {locked}" in result.stderr


def test_skipped_files_are_reported_when_the_index_changes_not_on_every_question(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / LETTER, seeds)
    (seeds / "binary.md").write_bytes(b"\x00\x01\x02 not text \x00")
    (seeds / "manual.pdf").write_bytes(b"%PDF-1.4")
    args = ("--seeds", str(seeds), "--index", str(tmp_path / "index"))
    built = run_qa("index", *args)
    assert built.returncode == 0, built.stderr
    assert "skipped binary.md" in built.stderr and "skipped manual.pdf" in built.stderr
    assert "2 files skipped" in built.stdout
    for _ in range(2):
        asked = run_qa("ask", "Who signed the letter?", *args)
        assert asked.returncode == 0 and "skipped" not in asked.stderr and "out of date" not in asked.stderr
    again = run_qa("index", *args)
    assert "already up to date" in again.stdout and "2 files skipped" in again.stdout and "skipped" not in again.stderr
    (seeds / "binary.md").write_text("Bees make honey.\n", encoding="utf-8")  # mended: read again
    mended = run_qa("index", *args)
    assert "index updated: 2 files" in mended.stdout and "1 file skipped" in mended.stdout


def test_the_library_is_silent_until_logging_is_configured_and_then_says_what_it_skipped(tmp_path):
    """A script's stderr is its own: the library logs to a NullHandler, as libraries should."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / LETTER, seeds)
    (seeds / "binary.md").write_bytes(b"\x00\x01\x02 not text \x00")
    script = (
        "import logging, sys\n"
        "if sys.argv[3] == 'configured': logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')\n"
        "from qa import build_index\n"
        "print(build_index(sys.argv[1], sys.argv[2]).files)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    for mode in ("silent", "configured"):
        run = subprocess.run([sys.executable, "-c", script, str(seeds), str(tmp_path / f"index-{mode}"), mode],
                             capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
        assert run.returncode == 0 and run.stdout.strip() == "1", run.stderr
        said = [line for line in run.stderr.splitlines() if line.startswith("qa:")]
        if mode == "silent":
            assert said == [], run.stderr
        else:
            assert any("skipped binary.md" in line for line in said), run.stderr


def test_the_summary_counts_repeated_passages_apart_from_reused_ones(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    repeated = "A paragraph that the notes repeat word for word, about the tides of the northern sea."
    (seeds / "notes.txt").write_text(f"Alpha stands alone here.\n\n{repeated}\n\nBeta stands alone.\n\n{repeated}\n", encoding="utf-8")
    result = run_qa("index", "--seeds", str(seeds), "--index", str(tmp_path / "index"))
    assert result.returncode == 0, result.stderr
    assert "4 passages" in result.stdout and "embedded now 3 passages" in result.stdout
    assert "0 passages reused from the previous index" in result.stdout and "1 repeated passage sharing a vector" in result.stdout


def test_watch_keeps_the_index_fresh_until_interrupted(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / LETTER, seeds)
    index = tmp_path / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "qa", "watch", "--seeds", str(seeds), "--index", str(index)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    try:
        first = read_line(watcher)
        assert "index updated: 1 file," in first
        (seeds / "otters.md").write_text("# Otters\n\nSea otters hold hands while they sleep.\n", encoding="utf-8")
        second = read_line(watcher)
        assert "index updated: 2 files," in second and "embedded now 1 passage" in second
        answer = run_qa("ask", "What do sea otters do while they sleep?", "--json", "--index", str(index))
        assert json.loads(answer.stdout)["passages"][0]["source"] == "otters.md"
    finally:
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 0 and "stopped watching" in err and "Traceback" not in err


def test_help_loads_neither_torch_nor_sentence_transformers():
    for args in (["--help"], ["ask", "--help"], ["index", "--help"]):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "qa", *args], capture_output=True, text=True, cwd=REPO, timeout=120,
        )
        assert result.returncode == 0 and "usage: qa" in result.stdout
        imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines() if line.startswith("import time:")}
        assert "json" in imported or "argparse" in imported  # the trace is there to read
        assert not imported & {"torch", "sentence_transformers", "transformers", "textual"}, args
