"""Which files in an article folder are articles: one ``os.scandir`` walk, shared by
the scanner (whose rescan must cost little more than the walk) and the preview.

A walk says what it could not see as well as what it saw: a folder it could not
list, or a file it could not stat, is not a folder or a file that is gone.
"""

from __future__ import annotations

import os
import stat
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
            if not entry.name.startswith("."):
                _judge(entry, walk, pending, not_articles)
    return walk


def walk_file(path: Path) -> FolderWalk:
    """One file named on its own, judged by the rules each file of a walk is judged
    by, so that a preview of it refuses what a scan refuses, in the same words (a
    folder or a hidden name gives an empty walk)."""
    walk = FolderWalk()
    _judge(_Named(str(path)), walk, [], {})
    return walk


def _judge(
    entry: os.DirEntry[str] | _Named,
    walk: FolderWalk,
    pending: list[str],
    not_articles: dict[str, FileKey],
) -> None:
    """One entry of a folder: a folder to walk, an article, HTML that is none, invalid
    (with why), or nothing the bot reads."""
    if not _text(entry.name):
        shown = os.fsencode(entry.path).decode("utf-8", "replace")
        walk.invalid.append((shown, "its name is not UTF-8 text: rename it to be read"))
        return
    try:
        if entry.is_dir(follow_symlinks=False):
            pending.append(entry.path)
        elif _is_markdown(entry):
            walk.files.append((entry.path, entry.stat(follow_symlinks=False)))
        elif _is_html(entry):
            status = entry.stat(follow_symlinks=False)
            key = (status.st_size, status.st_mtime_ns)
            if not_articles.get(entry.path) == key or not has_front_matter(entry.path):
                walk.not_articles[entry.path] = key
            else:
                walk.files.append((entry.path, status))
        elif entry.name.lower().endswith(ARTICLE_SUFFIXES + HTML_SUFFIXES):
            # a named pipe (or a socket, a device) by an article's name: reading it could
            # wait for ever, and a file nobody is told of is a post believed sent
            kind = _special_kind(entry.stat(follow_symlinks=False).st_mode)
            walk.invalid.append((entry.path, f"not a regular file ({kind}): not read"))
    except OSError as error:
        walk.unseen.append((entry.path, error.strerror or str(error)))


class _Named:
    """A path as a walk's entry (what ``os.scandir`` yields), for a file named alone."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = os.path.basename(path)

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return stat.S_ISDIR(self._mode(follow_symlinks))

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        return stat.S_ISREG(self._mode(follow_symlinks))

    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self._mode(False))

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        return os.stat(self.path, follow_symlinks=follow_symlinks)

    def _mode(self, follow_symlinks: bool) -> int:
        try:
            return self.stat(follow_symlinks=follow_symlinks).st_mode
        except OSError:  # as a DirEntry says of a link that leads nowhere (or round)
            if follow_symlinks:
                return 0
            raise


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "an odd kind of file"


def _is_markdown(entry: os.DirEntry[str] | _Named) -> bool:
    """A Markdown file: an article (a link too: the loader refuses it, so it is reported)."""
    return entry.name.lower().endswith(ARTICLE_SUFFIXES) and (entry.is_symlink() or entry.is_file())


def _is_html(entry: os.DirEntry[str] | _Named) -> bool:
    """An HTML file of its own: an article if it opens with front matter."""
    return entry.name.lower().endswith(HTML_SUFFIXES) and entry.is_file(follow_symlinks=False)


def has_front_matter(path: str) -> bool:
    """Whether a file opens with front matter (after a byte order mark), as Jekyll
    decides which HTML files are posts."""
    head = read_head(path, 8)
    return head.removeprefix(b"\xef\xbb\xbf").startswith(_FRONT_MATTER_STARTS)


def read_head(path: str | Path, size: int, *, follow: bool = False) -> bytes:
    """A file's first bytes (empty if it cannot be read), never waiting on a pipe and,
    unless ``follow``, never through a link."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return b""
    try:
        return os.read(fd, size)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _text(name: str) -> bool:
    """Whether a file name is text (a name in another encoding, as unzipping a GBK zip
    leaves, is not, and no path made of it can be stored or shown)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
