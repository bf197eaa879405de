"""`python -m tui`: the app, as `qa` starts it."""

import sys

from qa.cli import main

sys.exit(main(["chat", *sys.argv[1:]]))
