"""A Markdown documentation folder, end to end: heading paths through retrieve(), `qa ask
--json` and the app, answer sentences across hard wraps, and `qa eval` with its baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Collapsible, Static

from qa import Chat, build_index, retrieve
from qa.evaluate import evaluate, load_questions
from qa.formats.documents import read_document
from qa.indexfiles.store import open_index
from tests.conftest import run_qa
from tests.pilot import ask, in_loop, plain
from tui.app import QAApp
from tui.transcript import PassageView

INSTALL = """\
# Installing Gizmo { #install }

Gizmo runs on Linux and macOS.

## Linux

On Linux, the package is called `gizmo-cli`. Install it with the distribution's
package manager, which also keeps it up to date when new versions are
released by the maintainers.

```sh
sudo apt install gizmo-cli
```

<!-- TODO: Fedora -->

## macOS

On macOS, install Gizmo with Homebrew:

```sh
brew install gizmo
```
"""

CONFIG = """\
---
title: Configuration
---

# Configuration

Gizmo reads `gizmo.toml` from the project root.

| key | default | meaning |
| --- | ------- | ------- |
| `workers` | 4 | how many sprockets turn at once |
| `colour` | blue | the colour of the progress bar |

/// warning

Setting `workers` above 64 makes Gizmo refuse to start.

///
"""


@pytest.fixture(scope="session")
def docs_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    seeds = tmp_path_factory.mktemp("docs")
    (seeds / "install.md").write_text(INSTALL, encoding="utf-8")
    (seeds / "guide").mkdir()
    (seeds / "guide" / "configuration.md").write_text(CONFIG, encoding="utf-8")
    index = tmp_path_factory.mktemp("docs-index")
    build_index(seeds, index)
    return index


def _seeds(index: Path) -> Path:
    return Path(open_index(index).manifest.seeds_dir)


def test_passages_carry_their_heading_path(docs_index):
    top = retrieve("How do I install it on Linux?", k=1, index_dir=docs_index)
    assert top[0].source == "install.md" and top[0].headings == ("Installing Gizmo", "Linux")
    assert top[0].section == "Installing Gizmo › Linux"
    assert top[0].text.startswith("## Linux") and "sudo apt install gizmo-cli" in top[0].text
    top = retrieve("what is the default number of workers", k=1, index_dir=docs_index)
    assert top[0].source == "guide/configuration.md" and top[0].headings == ("Configuration",)


def test_the_answer_sentence_spans_a_hard_wrap_and_is_never_a_heading(docs_index):
    reply = Chat(docs_index).ask("Which tool keeps the Linux package up to date?")
    answer = reply.answer
    assert answer is not None and answer.source == "install.md"
    sentence = (
        "Install it with the distribution's\npackage manager, which also keeps it up to date when new versions are\n"
        "released by the maintainers."
    )
    # The sentence, across its hard wraps, then what follows it in the section: the command.
    assert answer.text == sentence + "\n\n```sh\nsudo apt install gizmo-cli"
    assert (answer.line_start, answer.line_end) == (7, 12)
    assert answer.plain == " ".join(sentence.split()) + "\nsudo apt install gizmo-cli"  # no markup, no fence
    document = read_document(_seeds(docs_index) / answer.source)
    assert document[answer.start : answer.end] == answer.text


def test_a_lead_in_answers_with_the_code_it_introduces(docs_index):
    answer = Chat(docs_index).ask("How do I install Gizmo on macOS?").answer
    assert answer is not None and answer.text == "On macOS, install Gizmo with Homebrew:\n\n```sh\nbrew install gizmo"
    assert answer.text == read_document(_seeds(docs_index) / "install.md")[answer.start : answer.end]


def test_the_command_prints_and_exports_the_heading_path(docs_index):
    result = run_qa("ask", "brew install", "--json", "-k", "4", "--index", str(docs_index))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    first = data["passages"][0]
    assert first["section"] == "Installing Gizmo › macOS" and first["headings"] == ["Installing Gizmo", "macOS"]
    assert first["relevant"] is True
    # The other passages of the four best are below the bar: returned, marked, not answers.
    assert data["nearby"] and all(p["relevant"] is False for p in data["nearby"])
    assert len(data["passages"]) + len(data["nearby"]) == 4
    text = run_qa("ask", "brew install", "-k", "1", "--index", str(docs_index))
    cited = next(line for line in text.stdout.splitlines() if line.startswith("[1] "))
    assert cited.startswith("[1] install.md:") and "Installing Gizmo › macOS" in cited


def test_eval_matches_across_wraps_names_every_citation_of_a_miss_and_measures_a_naive_baseline(docs_index, tmp_path):
    questions = tmp_path / "questions.jsonl"
    lines = [
        {"q": "Which package manager keeps Gizmo up to date on Linux?", "expect": "the distribution's package manager", "kind": "fact", "source": "install.md"},
        {"q": "What happens with more than 64 workers?", "expect": "refuse to start", "kind": "fact", "source": "guide/configuration.md"},
        {"q": "What colour is the progress bar by default?", "expect": "no such words", "kind": "fact"},
        {"q": "Who painted the Mona Lisa?", "expect": None, "kind": "far_out_of_scope"},
    ]
    questions.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert "distribution's package manager" not in INSTALL  # the expected words span a line break
    result = run_qa("eval", str(questions), "-k", "2", "--json", "--baseline", "--index", str(docs_index))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["overall"]["hit@1"] == pytest.approx(2 / 3, abs=1e-3)  # the first across a hard wrap
    assert report["kinds"]["far_out_of_scope"]["abstention"] == 1.0
    miss = next(m for m in report["misses"] if m["q"].startswith("What colour"))
    assert miss["got"] == [p.citation for p in retrieve(miss["q"], k=2, index_dir=docs_index)]
    # The baseline's figures are those of the naive index, built beside the index.
    naive_index = docs_index / "naive-baseline"
    assert open_index(naive_index).manifest.chunking.get("naive") is True
    assert report["baselines"]["naive"] == evaluate(load_questions(questions), 2, index_dir=naive_index, sides=False).overall
    text = run_qa("eval", str(questions), "-k", "2", "--baseline", "--index", str(docs_index))
    assert text.returncode == 0 and "naive baseline" in text.stdout


@in_loop
async def test_the_app_shows_the_heading_path_and_folds_what_is_below_the_bar(docs_index, tmp_path):
    app = QAApp(docs_index, history_path=tmp_path / "history.jsonl")
    async with app.run_test(size=(100, 30)) as pilot:
        answer = await ask(pilot, "How do I install Gizmo on macOS?")
        assert answer is not None and answer.has_class("found")
        reply = app.replies[-1]
        first = answer.query(PassageView).first()
        assert plain(first.query_one(".section", Static)) == "Installing Gizmo › macOS" == reply.passages[0].section
        folded = [c for c in answer.query(Collapsible) if "below the relevance bar" in c.title]
        assert bool(folded) == bool(reply.nearby)
        for collapsible in folded:
            assert collapsible.collapsed
            shown = [view.passage for view in collapsible.query(PassageView)]
            assert shown == reply.nearby
