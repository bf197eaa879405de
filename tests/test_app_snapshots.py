"""Snapshots of the app at a fixed size: the main screen, an answer, the source panel.

On a deliberate change of the layout, look at the new SVGs and accept them with
`python -m pytest tests/test_app_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import re

from tests.pilot import until
from tests.test_app import SIZE
from tui.app import QAApp
from tui.source import SourceScreen
from tui.transcript import AnswerMessage, relevance_bar


async def _ready(pilot):
    """Loaded, with the input's cursor steady (a blinking cursor would make shots differ)."""
    pilot.app.query_one("#question").cursor_blink = False
    await until(pilot, lambda: pilot.app.ready)


def test_main_screen(snap_compare, seed_index, tmp_path):
    async def ready(pilot):
        await _ready(pilot)
        await pilot.pause()

    app = QAApp(seed_index, history_path=tmp_path / "h.jsonl")
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def _steady_scores(app) -> None:
    """Each passage's score, checked for its form, then shown as one fixed value: the shots
    are of the layout, and a score's last decimal may move with a dependency's release."""
    shown = [str(widget.render()) for widget in app.query(".relevance")]
    assert shown and all(re.fullmatch(r"[●○]{5} [01]\.\d\d", text) for text in shown), shown
    for widget in app.query(".relevance"):
        widget.update(f"{relevance_bar(0.5)} 0.50")


async def _answered(pilot):
    await _ready(pilot)
    pilot.app.query_one("#question").value = "Which charity did #isolationgames raise funds for?"
    await pilot.press("enter")
    await until(pilot, lambda: bool(pilot.app.query(AnswerMessage)) and pilot.app.query(AnswerMessage).last().is_mounted)
    _steady_scores(pilot.app)
    await pilot.pause()  # the answer is read from its question down, however fast it came


def test_an_answer(snap_compare, seed_index, tmp_path):
    app = QAApp(seed_index, history_path=tmp_path / "h.jsonl")
    assert snap_compare(app, terminal_size=SIZE, run_before=_answered)


def test_the_source_panel(snap_compare, seed_index, tmp_path):
    async def opened(pilot):
        await _answered(pilot)
        await pilot.press("escape", "1")
        await until(pilot, lambda: isinstance(pilot.app.screen, SourceScreen) and pilot.app.screen.query_one("TextArea").text != "")
        await pilot.pause()

    app = QAApp(seed_index, history_path=tmp_path / "h.jsonl")
    assert snap_compare(app, terminal_size=SIZE, run_before=opened)


def test_an_answer_in_the_light_theme_at_80x24(snap_compare, seed_index, tmp_path):
    app = QAApp(seed_index, history_path=tmp_path / "h.jsonl")
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=(80, 24), run_before=_answered)
