"""The examples in the docstrings, run as written, in a folder that holds `seeds/` (the
seed letter) and `index/`, as a user following them would."""

from __future__ import annotations

import doctest
import importlib
import shutil

import pytest

from tests.conftest import LETTER, SEEDS

MODULES = ["qa", "qa.building.build", "qa.ready", "qa.chat", "qa.text"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, embedder):
    """A folder with the seed letter in `seeds/` and its index in `index/`."""
    from qa import build_index

    folder = tmp_path_factory.mktemp("project")
    (folder / "seeds").mkdir()
    shutil.copy(SEEDS / LETTER, folder / "seeds" / LETTER)
    build_index(folder / "seeds", folder / "index")
    return folder


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_in_the_docstrings_hold(name, project, monkeypatch):
    monkeypatch.chdir(project)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(module, name)
    assert sum(len(test.examples) for test in tests) > 0, f"{name} has no examples"
    for test in tests:
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} examples in {name} failed (the report is above)"
