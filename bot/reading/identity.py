"""Which notice a file is: the id its front matter gives, else one derived from where
the file lies."""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ID_KEYS = ("id", "slug", "abbrlink", "permalink")  # an identity that survives a rename
# /read_<id> must stay a valid bot command: [a-z0-9_], at most 32 characters in all.
MAX_ID_LENGTH = 24
_PLAIN_SLUG = re.compile(r"[A-Za-z0-9_\-\s./]+")  # a slug whose id keeps its words


def article_id(meta: dict[str, Any], path: Path, root: Path, home: Path | None = None) -> str:
    for key in ID_KEYS:
        value = meta.get(key)
        if value is not None and not isinstance(value, dict | list) and str(value):
            return slug_id(str(value))
    return path_id(path, root, home)


def slug_id(slug: str) -> str:
    """The id of a notice whose front matter names it ``slug``: ``Tingshui-1208`` →
    ``tingshui_1208``, so the slug as an editor wrote it finds the notice too. A slug
    with other letters (``停水通知-1208``) or too long for a command is a hash of it,
    whatever its case: dropping its Chinese would make ``停电通知-1208`` the same id."""
    if _PLAIN_SLUG.fullmatch(slug):
        normal = re.sub(r"[^a-z0-9]+", "_", slug.lower()).strip("_")
        if 0 < len(normal) <= MAX_ID_LENGTH:
            return normal
    return short_hash(slug.lower())


def path_id(path: Path, root: Path, home: Path | None = None) -> str:
    """The id of an article whose front matter names none: a hash of where it lies in
    its folder, and of the folder unless it is ``home``, the first articles folder (the
    same name in two folders is two notices; home keeps the ids it always had).

    Where it lies with symlinks resolved; a plain file in a folder the scan walked
    (it does not follow linked folders) needs only its root resolved, which is cached.
    """
    where, base = os.path.abspath(path), _resolved(root)
    if where.startswith(base + os.sep) and not path.is_symlink():
        relative = where[len(base) + 1 :]
    else:
        try:
            relative = path.resolve().relative_to(root.resolve()).as_posix() or path.name
        except ValueError:
            relative = path.name
    if home is not None and (root == home or base == _resolved(home)):
        return short_hash(relative)
    return short_hash(f"{base}\n{relative}")


@lru_cache(maxsize=64)
def _resolved(root: Path) -> str:
    return str(root.resolve())


def short_hash(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8")).hexdigest()[:8]


def feed_entry_id(feed: str, guid: str | None, link: str | None, title: str | None) -> str:
    """A feed entry's id: its guid when that names it anywhere (a URL, a ``urn:`` or a
    ``tag:``), else its link, else the feed and the guid: the same item in two feeds is
    one notice, and a guid changed by the feed's software keeps the notice its link has."""
    if guid and _global(guid):
        key = guid
    elif link:
        key = link
    else:
        key = f"{feed}\n{guid or title or ''}"
    return "f" + hashlib.sha1(key.encode()).hexdigest()[:11]


def earlier_feed_entry_id(feed: str, guid: str | None, link: str | None, title: str | None) -> str:
    """The id earlier releases gave an entry (a ledger keeps it)."""
    key = guid or link or title or ""
    return "f" + hashlib.sha1(f"{feed}\n{key}".encode()).hexdigest()[:11]


def _global(guid: str) -> bool:
    if guid.lower().startswith(("urn:", "tag:")):
        return True
    parts = urlsplit(guid)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
