"""What a chat's settings may hold: the one set of rules /settings offers and
`noticebot import` checks, so an import never stores a value the bot cannot use."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from bot.config import LANGUAGES
from bot.formatting.formatter import DIGEST_TIMES, MODE_CARD, MODE_DIGEST, MODE_FULL

MODES = (MODE_CARD, MODE_FULL, MODE_DIGEST)
CHAT_TYPES = ("private", "group", "supergroup", "channel")
QUIET_START, QUIET_END = "22:00", "07:00"  # what the quiet-hours button turns on
# every field an exported chat may hold: any other is a typing mistake, refused rather
# than dropped (a misspelt setting would otherwise come back as its default, unsaid)
FIELDS = (
    "id",
    "type",
    "title",
    "language",
    "mode",
    "filters",
    "quiet_start",
    "quiet_end",
    "digest_time",
    "thread_id",
)
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def is_clock(value: object) -> bool:
    """``HH:MM`` on a 24-hour clock, zero-padded: quiet hours compare as text."""
    return isinstance(value, str) and _CLOCK.fullmatch(value) is not None


def is_integer(value: object) -> bool:
    """A JSON integer SQLite can store (64 bits); not true or false."""
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def shown(value: object) -> str:
    """A value as its user wrote it: quoted text, JSON otherwise (never a Python repr)."""
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return {list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _one_of(name: str, value: object, allowed: tuple[str, ...]) -> str | None:
    if value in allowed and isinstance(value, str):
        return None
    return f"{name} {shown(value)} is not one of {', '.join(allowed)}"


def _unknown(name: str) -> str:
    """An unknown field, with the known one it most likely misspells."""
    close = difflib.get_close_matches(name, FIELDS, n=1)
    return f"unknown field {shown(name)}" + (f" ({close[0]}?)" if close else "")


def problems(item: Mapping[str, Any]) -> list[str]:
    """Everything wrong with one exported chat, one phrase per field; empty when it may
    be stored as it is. Absent or null settings are the defaults."""
    found = [_unknown(name) for name in item if name not in FIELDS]
    if not is_integer(item.get("id")) or item.get("id") == 0:
        found.append(f"id {shown(item.get('id'))} is not a chat id (a non-zero integer)")
    if item.get("type") is not None and (error := _one_of("type", item["type"], CHAT_TYPES)):
        found.append(error)
    if item.get("title") is not None and not isinstance(item["title"], str):
        found.append(f"title {shown(item['title'])} is not text")
    if item.get("mode") is not None and (error := _one_of("mode", item["mode"], MODES)):
        found.append(error)
    if item.get("language") is not None and (
        error := _one_of("language", item["language"], LANGUAGES)
    ):
        found.append(error)
    if item.get("digest_time") is not None and (
        error := _one_of("digest time", item["digest_time"], DIGEST_TIMES)
    ):
        found.append(error)
    start, end = item.get("quiet_start"), item.get("quiet_end")
    for name, value in (("quiet_start", start), ("quiet_end", end)):
        if value is not None and not is_clock(value):
            found.append(f"{name} {shown(value)} is not a time HH:MM (00:00 to 23:59)")
    if (start is None) != (end is None):
        found.append("quiet hours need both quiet_start and quiet_end")
    filters = item.get("filters")
    if filters is not None and (
        not isinstance(filters, list)
        or not all(isinstance(word, str) and word.strip() for word in filters)
    ):
        found.append(f"filters {shown(filters)} is not a list of words")
    thread = item.get("thread_id")
    if thread is not None and (not is_integer(thread) or thread <= 0):
        found.append(f"thread_id {shown(thread)} is not a forum topic (a positive integer)")
    return found
