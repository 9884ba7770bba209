"""Running a ``noticebot`` command inside the test's process (``bot.cli.main``), which
is a tenth of the time of a process of its own."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from bot.logs import CHATTY


@contextmanager
def command_state_kept() -> Iterator[None]:
    """A command routes logging to its stderr and sets the umask: both are put back, so
    the suite's own DEBUG log goes on after it."""
    root = logging.getLogger()
    handlers, level, umask = root.handlers[:], root.level, os.umask(0o022)
    os.umask(umask)
    chatty = {name: logging.getLogger(name).level for name in CHATTY}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, was in chatty.items():
            logging.getLogger(name).setLevel(was)
        os.umask(umask)
