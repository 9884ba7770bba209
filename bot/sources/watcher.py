"""Instant pickup: the article folders are watched (watchfiles: inotify, FSEvents,
ReadDirectoryChangesW), and a scan runs as soon as an editor's writes settle.

Editors and ``hexo generate`` write a file in several steps (a temporary file, a
rename, a second write of the front matter). A change is acted on only after the
folder has been quiet for ``QUIET_MS`` and the newest changed file is ``SETTLE``
seconds old, so a half-written file is not read as final; if it is, the next
write is a correction like any other. The periodic full scan stays as the safety
net (network filesystems send no events), with a longer default interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from bot.reading.walk import ARTICLE_SUFFIXES, HTML_SUFFIXES

log = logging.getLogger(__name__)

QUIET_MS = 200  # changes are grouped until the folders are this quiet
SETTLE = 0.5  # seconds since the newest changed file was last written


class ArticleChanges(DefaultFilter):
    """Article files and folders; not hidden files, editors' swap and backup files."""

    def __call__(self, change: Change, path: str) -> bool:
        name = os.path.basename(path)
        if name.startswith((".", "#")) or name.endswith(("~", ".swp", ".tmp")):
            return False
        if not super().__call__(change, path):
            return False
        return (
            name.lower().endswith(ARTICLE_SUFFIXES + HTML_SUFFIXES) or "." not in name
        )  # or a folder


async def watch_folders(
    roots: Iterable[Path], on_change: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Call ``on_change`` after each settled group of changes, until ``stop`` is set."""
    watched = [root for root in roots if root.is_dir()]
    if not watched:
        log.info("no article folder to watch yet; the periodic scan finds them")
        return
    try:
        async for changes in awatch(
            *watched, watch_filter=ArticleChanges(), step=QUIET_MS, stop_event=stop
        ):
            await _settled({path for _, path in changes}, stop)
            if not stop.is_set():
                await on_change()
    except Exception as error:  # e.g. the system's limit of watched folders
        log.warning("watching the article folders stopped (%s); scans run periodically", error)


async def _settled(paths: set[str], stop: asyncio.Event) -> None:
    """Wait until the newest of ``paths`` was last written ``SETTLE`` seconds ago
    (written again meanwhile, it is waited for again)."""
    while not stop.is_set():
        newest = max((_mtime(path) for path in paths), default=0.0)
        wait = newest + SETTLE - time.time()
        if wait <= 0 or wait > SETTLE:  # settled; or dated ahead of our clock
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:  # deleted, or renamed away
        return 0.0
