"""Which files in an article folder are articles: one ``os.scandir`` walk, shared by
the scanner (whose rescan must cost little more than the walk) and the preview.

A walk says what it could not see as well as what it saw: a folder it could not
list, or a file it could not stat, is not a folder or a file that is gone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ARTICLE_SUFFIXES = (".md", ".markdown")


@dataclass
class FolderWalk:
    files: list[tuple[str, os.stat_result]] = field(default_factory=list)
    unseen: list[tuple[str, str]] = field(default_factory=list)  # (folder or file, why)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (file, why): not read

    @property
    def complete(self) -> bool:
        return not self.unseen


def article_files(root: Path) -> list[Path]:
    """Article files below ``root`` in a stable order; a missing root yields nothing."""
    return sorted(Path(path) for path, _ in walk_folder(root).files)


def walk_folder(root: Path) -> FolderWalk:
    """Article files below ``root`` with their stat, skipping hidden names; no recursion.

    Linked folders are not entered. A linked file is listed with the link's own stat
    (the loader refuses to read it, so it is reported, never sent, and its target's
    changes do not make it look changed). A missing root is an empty walk.
    """
    walk = FolderWalk()
    if root.is_file():
        walk.files.append((str(root), root.stat()))
        return walk
    if not root.exists():
        return walk
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as error:
            walk.unseen.append((folder, error.strerror or str(error)))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if not _text(entry.name):
                shown = os.fsencode(entry.path).decode("utf-8", "replace")
                walk.invalid.append((shown, "its name is not UTF-8 text: rename it to be read"))
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.name.lower().endswith(ARTICLE_SUFFIXES) and (
                    entry.is_symlink() or entry.is_file()
                ):
                    walk.files.append((entry.path, entry.stat(follow_symlinks=False)))
            except OSError as error:
                walk.unseen.append((entry.path, error.strerror or str(error)))
    return walk


def _text(name: str) -> bool:
    """Whether a file name is text (a name in another encoding, as unzipping a GBK zip
    leaves, is not, and no path made of it can be stored or shown)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
