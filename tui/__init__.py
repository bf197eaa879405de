"""The terminal app for qa: a conversation with your documents (`qa`, `qa chat`, `python -m tui`)."""
