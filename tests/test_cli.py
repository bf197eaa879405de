"""The `qa` command, run for real in fresh processes."""

from __future__ import annotations

import json
import shutil

from tests.conftest import LETTER, SEEDS, run_qa


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


def test_index_command_reports_what_it_did(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / LETTER, seeds)
    first = run_qa("index", "--seeds", str(seeds), "--index", str(tmp_path / "index"))
    assert first.returncode == 0, first.stderr
    assert "9 passages, 9 embedded now, 0 reused" in first.stdout
    again = run_qa("index", "--index", str(tmp_path / "index"))  # the index remembers its seeds folder
    assert again.returncode == 0 and "already up to date" in again.stdout and "0 embedded now" in again.stdout


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
    replies = [block for block in result.stdout.split("\n\n") if block.strip()]
    assert "aged 14-24" in replies[-1] and f"{LETTER}:4" in replies[-1]
