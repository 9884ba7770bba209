"""Which files in an article folder are articles: one ``os.scandir`` walk, shared by
the scanner (whose rescan must cost little more than the walk) and the preview."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

ARTICLE_SUFFIXES = (".md", ".markdown")


def article_files(root: Path) -> list[Path]:
    """Article files below ``root`` in a stable order; a missing root yields nothing."""
    return sorted(Path(path) for path, _ in article_stats(root))


def article_stats(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Article files below ``root`` with their stat, skipping hidden names; no recursion.

    One ``os.scandir`` walk serves the scanner, whose rescan must cost little more
    than the walk itself, and the preview.
    """
    if root.is_file():
        yield str(root), root.stat()
        return
    pending = [str(root)]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif entry.name.lower().endswith(ARTICLE_SUFFIXES) and entry.is_file():
                try:
                    yield entry.path, entry.stat()
                except OSError:
                    continue
