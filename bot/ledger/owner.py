"""One sending process per ledger.

Two bots dispatching from one ledger (an overlapping restart, a second ``noticebot
run``) would each send what the other sends, and a starting bot requeues what a
dead one was sending. So the process that sends holds an exclusive lock on a file
beside the database (released by the kernel when it dies, however it dies);
commands that only read or enqueue (``status``, ``scan``, ``list``) take no lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO


class LedgerBusy(RuntimeError):
    """Another noticebot is sending from this ledger."""


class Owner:
    def __init__(self, db: Path) -> None:
        self.path = db.with_name(db.name + ".lock")
        self._file: IO[str] | None = None

    def take(self) -> None:
        if self._file is not None:
            return
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            handle.close()
            raise LedgerBusy(
                f"another noticebot (pid {pid}) is already running on {self.path.with_suffix('')};"
                " stop it first (two would send every notice twice)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def held_elsewhere(self) -> bool:
        """Whether another process sends from this ledger now (a running bot)."""
        if self._file is not None or not self.path.exists():
            return False
        with self.path.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def check(self, generation: int | None) -> None:
        """Nothing to check: the kernel's lock on the file cannot be taken from us."""

    def fence_sql(self) -> str:
        return ""

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None
