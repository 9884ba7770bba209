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
# HTML posts (Jekyll's and Hugo's) are articles when they open with front matter; other
# HTML files beside the posts (a theme's, a downloaded page) are not.
HTML_SUFFIXES = (".html", ".htm")
_FRONT_MATTER_STARTS = (b"---\n", b"---\r\n", b"+++\n", b"+++\r\n")


FileKey = tuple[int, int]  # (size, mtime in ns): a file unchanged keeps it


@dataclass
class FolderWalk:
    files: list[tuple[str, os.stat_result]] = field(default_factory=list)
    unseen: list[tuple[str, str]] = field(default_factory=list)  # (folder or file, why)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (file, why): not read
    not_articles: dict[str, FileKey] = field(default_factory=dict)  # HTML without front matter

    @property
    def complete(self) -> bool:
        return not self.unseen


def article_files(root: Path) -> list[Path]:
    """Article files below ``root`` in a stable order; a missing root yields nothing."""
    return sorted(Path(path) for path, _ in walk_folder(root).files)


def walk_folder(root: Path, not_articles: dict[str, FileKey] | None = None) -> FolderWalk:
    """Article files below ``root`` with their stat, skipping hidden names; no recursion.

    Linked folders are not entered. A linked file is listed with the link's own stat
    (the loader refuses to read it, so it is reported, never sent, and its target's
    changes do not make it look changed). A missing root is an empty walk.
    ``not_articles``: HTML files an earlier walk found not to be articles, not opened
    again while their size and time stay the same (a rescan costs only the walk).
    """
    walk = FolderWalk()
    not_articles = not_articles or {}
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
                elif _is_markdown(entry):
                    walk.files.append((entry.path, entry.stat(follow_symlinks=False)))
                elif _is_html(entry):
                    stat = entry.stat(follow_symlinks=False)
                    key = (stat.st_size, stat.st_mtime_ns)
                    if not_articles.get(entry.path) == key or not has_front_matter(entry.path):
                        walk.not_articles[entry.path] = key
                    else:
                        walk.files.append((entry.path, stat))
            except OSError as error:
                walk.unseen.append((entry.path, error.strerror or str(error)))
    return walk


def _is_markdown(entry: os.DirEntry[str]) -> bool:
    """A Markdown file: an article (a link too: the loader refuses it, so it is reported)."""
    return entry.name.lower().endswith(ARTICLE_SUFFIXES) and (entry.is_symlink() or entry.is_file())


def _is_html(entry: os.DirEntry[str]) -> bool:
    """An HTML file of its own: an article if it opens with front matter."""
    return entry.name.lower().endswith(HTML_SUFFIXES) and entry.is_file(follow_symlinks=False)


def has_front_matter(path: str) -> bool:
    """Whether a file opens with front matter (after a byte order mark), as Jekyll
    decides which HTML files are posts; read without following a link or waiting on
    a pipe."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    try:
        head = os.read(fd, 8)
    except OSError:
        return False
    finally:
        os.close(fd)
    return head.removeprefix(b"\xef\xbb\xbf").startswith(_FRONT_MATTER_STARTS)


def _text(name: str) -> bool:
    """Whether a file name is text (a name in another encoding, as unzipping a GBK zip
    leaves, is not, and no path made of it can be stored or shown)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
