"""Which notice a file is: the id its front matter gives, else one derived from where
the file lies."""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

ID_KEYS = ("id", "slug", "abbrlink", "permalink")  # an identity that survives a rename
# /read_<id> must stay a valid bot command: [a-z0-9_], at most 32 characters in all.
MAX_ID_LENGTH = 24


def article_id(meta: dict[str, Any], path: Path, root: Path) -> str:
    for key in ID_KEYS:
        value = meta.get(key)
        if value is not None and not isinstance(value, dict | list) and str(value):
            slug = re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")
            return slug if 0 < len(slug) <= MAX_ID_LENGTH else short_hash(str(value))
    return path_id(path, root)


def path_id(path: Path, root: Path) -> str:
    """The id of an article whose front matter names none: a hash of where it lies.

    Where it lies with symlinks resolved; a plain file in a folder the scan walked
    (it does not follow linked folders) needs only its root resolved, which is cached.
    """
    where, base = os.path.abspath(path), _resolved(root)
    if where.startswith(base + os.sep) and not path.is_symlink():
        return short_hash(where[len(base) + 1 :])
    try:
        relative = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        relative = path.name
    return short_hash(relative or path.name)


@lru_cache(maxsize=64)
def _resolved(root: Path) -> str:
    return str(root.resolve())


def short_hash(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8")).hexdigest()[:8]
