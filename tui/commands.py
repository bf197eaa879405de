"""The slash commands typed in the input, and the help that lists them with the keys."""

from __future__ import annotations

from dataclasses import dataclass

MAX_K = 20

COMMANDS = {
    "/k N": f"show N passages per answer (1-{MAX_K})",
    "/clear": "start a new conversation (forget earlier questions)",
    "/export [FILE]": "write the conversation as Markdown with citations",
    "/copy": "copy the last answer and its citations",
    "/reindex": "bring the index up to date with the documents",
    "/help": "this help",
    "/quit": "leave",
}

KEYS = {
    "enter": "ask the question",
    "up / down": "earlier / later questions",
    "page up / page down": "scroll the transcript (ctrl+home / ctrl+end: its start / end)",
    "tab": "move to the latest answer's citations; enter opens one",
    "1-9": "open citation n of the last answer (outside the input)",
    "escape": "switch between the input and the transcript; closes the source panel",
    "ctrl+l": "new conversation",
    "ctrl+y": "copy the last answer with its citations",
    "ctrl+p": "command palette",
    "ctrl+q": "quit",
    "e / c": "in the source panel: open in $EDITOR / copy citation and passage",
}


@dataclass(frozen=True)
class Command:
    """A slash command: its name without the slash, and the rest of the line."""

    name: str
    argument: str


def parse_command(line: str) -> Command | None:
    """The command on `line`, or None when the line is a question."""
    text = line.strip()
    if not text.startswith("/") or text.startswith("//"):
        return None
    name, _, argument = text[1:].partition(" ")
    return Command(name.lower(), argument.strip())


def parse_k(argument: str) -> int:
    """The N of `/k N`. Raises ValueError with a message for the user."""
    try:
        k = int(argument)
    except ValueError:
        raise ValueError(f"/k needs a number from 1 to {MAX_K}, e.g. /k 3") from None
    if not 1 <= k <= MAX_K:
        raise ValueError(f"/k needs a number from 1 to {MAX_K}, not {k}")
    return k


def help_text() -> str:
    """Commands and keys, aligned, as plain text."""
    width = max(map(len, [*COMMANDS, *KEYS])) + 2
    lines = ["Commands"]
    lines += [f"  {name:<{width}}{what}" for name, what in COMMANDS.items()]
    lines += ["", "Keys"]
    lines += [f"  {key:<{width}}{what}" for key, what in KEYS.items()]
    return "\n".join(lines)
