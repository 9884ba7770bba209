"""Broadcasts triggered from outside the chat: ``noticebot broadcast <id>`` and
``noticebot announce`` for a cron job, a CI step after ``hexo deploy``, a shell.

Both are recorded in the ledger, exactly as an admin's confirmed broadcast is; the
running bot sends them (its dispatcher looks for due work every second). Without a
running bot the command says so, and ``--send`` sends from this process instead.
The command then follows the broadcast with a progress bar until its report;
Ctrl-C detaches without cancelling, and ``--cancel`` stops what is still queued.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from bot.config import Config
from bot.ledger import Store

log = logging.getLogger(__name__)

Progress = dict[str, int]


@dataclass
class OutsideBroadcasts:
    """The running bot logs a broadcast recorded from the command line as it logs an
    admin's: a line when it starts, and one when it is finished. It learns of them
    from the ledger, the only thing the two processes share."""

    store: Store
    every: float = 1.0  # seconds between looks
    _seen: int | None = None  # the newest broadcast looked at; None before the first look
    _open: dict[int, str] = field(default_factory=dict)  # broadcast id → article id
    _next: float = 0.0

    def look(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every
        rows = self.store.broadcasts_from_outside(self._seen or 0)
        if self._seen is None:  # at start: only those still under way (a restart resumes them)
            unfinished = self.store.unfinished_broadcasts()
            self._seen = max((r["id"] for r in rows), default=0)
            rows = [r for r in rows if r["id"] in unfinished]
        for row in rows:
            self._seen = max(self._seen, row["id"])
            log.info(
                "broadcast %s of %s from the command line: %s",
                row["id"],
                row["article_id"],
                plural(row["recipients"] or 0, "chat"),
            )
            self._open[row["id"]] = row["article_id"]
        if not self._open:
            return
        unfinished = self.store.unfinished_broadcasts()  # the few rows queued or sending
        for broadcast_id in [b for b in self._open if b not in unfinished]:
            counts = self.store.broadcast_progress(broadcast_id)
            log.info("broadcast %s finished: %s", broadcast_id, counts)
            del self._open[broadcast_id]


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 chat``, ``2 chats``: a count and its noun agree."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def progress_line(counts: Progress, width: int = 30) -> str:
    done = counts["sent"] + counts["failed"] + counts["deactivated"] + counts["skipped"]
    total = done + counts["remaining"]
    filled = width * done // total if total else width
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] sent {counts['sent']} · failed"
        f" {counts['failed'] + counts['deactivated']} · remaining {counts['remaining']}"
    )


def report_line(broadcast_id: int, counts: Progress) -> str:
    return (
        f"broadcast {broadcast_id} done: sent {counts['sent']}, failed {counts['failed']},"
        f" chats gone {counts['deactivated']}, skipped {counts['skipped']}"
    )


def follow(
    store: Store,
    broadcast_id: int,
    out: TextIO = sys.stderr,
    every: float = 0.5,
    still_running: Callable[[], bool] = lambda: True,
) -> Progress:
    """Show the progress until nothing remains (or ``still_running`` says the sender
    stopped); the report line last. Ctrl-C leaves the broadcast going."""
    live = out.isatty()
    shown = ""
    try:
        while True:
            counts = store.broadcast_progress(broadcast_id)
            line = progress_line(counts)
            if line != shown:
                out.write(f"\r{line}" if live else f"{line}\n")
                out.flush()
                shown = line
            if counts["remaining"] == 0 or not still_running():
                break
            time.sleep(every)
    except KeyboardInterrupt:
        out.write(
            f"\ndetached: broadcast {broadcast_id} goes on"
            f" (`noticebot broadcast --cancel {broadcast_id}` stops it)\n"
        )
        raise
    out.write(("\n" if live else "") + report_line(broadcast_id, counts) + "\n")
    return counts


async def send_here(config: Config, broadcast_id: int, out: TextIO = sys.stderr) -> Progress:
    """No bot is running: this process sends, with the bot's own sender and limits."""
    from bot.app import build_application, runtime_of  # python-telegram-bot only if needed
    from bot.ledger.lease import Lease
    from bot.standby import take_or_refuse

    application = build_application(config)
    async with application:
        runtime = runtime_of(application)
        owner = runtime.store.owner
        if isinstance(owner, Lease):  # active as a bot is: a standby must not find it stale
            take_or_refuse(owner, getattr(runtime.sender.transport, "flood", None))
        else:
            owner.take()
        task = asyncio.create_task(runtime.dispatcher.run())
        stop = threading.Event()  # Ctrl-C: the follower ends before the ledger closes
        try:
            return await asyncio.to_thread(
                follow,
                runtime.store,
                broadcast_id,
                out,
                0.5,
                lambda: not task.done() and not stop.is_set(),
            )
        finally:
            stop.set()
            runtime.dispatcher.stop()
            await asyncio.gather(task, return_exceptions=True)
            if runtime.http:
                runtime.http.close()
            runtime.store.close()
