"""What the commands print of articles: text for a terminal, never instructions to it."""
from __future__ import annotations

import re

# ESC sequences (CSI, OSC with its terminator, two-character ones) first, then every other
# C0/C1 control character but newline and tab: an article can neither retitle the terminal
# window, clear the screen, nor move the cursor over what was printed before.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """``text`` without terminal escape sequences and control characters (newlines and tabs
    stay; carriage returns become newlines)."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))
