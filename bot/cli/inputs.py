"""What a command reads from its user."""

from __future__ import annotations

import sys
from pathlib import Path


def text_of(name: str) -> str:
    """A file's text, or standard input's for ``-``."""
    return sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
