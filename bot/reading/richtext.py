"""Text with Telegram entities, and splitting it into parts Telegram accepts.

Offsets inside a :class:`RichText` are Python string indices (code points), so
that slicing is simple and a cut can never fall inside a surrogate pair; they are
converted to UTF-16 code units, as Telegram counts them, only on the way out
(:meth:`RichText.entity_dicts`). Lengths against Telegram's limits are always
measured in UTF-16 units, which is never less than what Telegram counts.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex

_GRAPHEME = regex.compile(r"\X")  # one user-perceived character (Unicode's rules)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 units each
# Cut preferences, best first: paragraph, line, sentence end, clause, space.
_BREAKS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"[。！？；!?;](?:[”’」』）)\"']*)|[.](?=\s)"),
    re.compile(r"[，、,：:]"),
    re.compile(r"[ \t]"),
)
# Among spans over the same text, the order Telegram reads as outer to inner:
# a quote holds everything, and code/pre may hold nothing.
_NESTING_RANK = {"blockquote": 0, "code": 2, "pre": 2}
# A part shorter than this share of the room is worse than a cut at a lower preference.
_MIN_FILL = 0.5


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP take two units
    (counted by the codec, at C speed: a loop over characters was a preview's
    largest cost per article; a lone surrogate is one unit, as before)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True)
class Entity:
    """A formatting span ``[start, end)`` in code points."""

    type: str
    start: int
    end: int
    url: str | None = None
    language: str | None = None

    def shifted(self, start: int, end: int) -> Entity:
        return Entity(self.type, start, end, self.url, self.language)  # replace() is slow


@dataclass
class RichText:
    """Plain text plus entities; what one Telegram message or caption carries."""

    text: str = ""
    entities: list[Entity] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.text)

    def utf16_len(self) -> int:
        return utf16_len(self.text)

    def append(self, text: str, entity_type: str | None = None, **extra: Any) -> RichText:
        """Add text, optionally as one entity; returns self so calls can chain."""
        start = len(self.text)
        self.text += text
        if entity_type and text.strip():
            self.entities.append(Entity(entity_type, start, len(self.text), **extra))
        return self

    def extend(self, other: RichText) -> RichText:
        offset = len(self.text)
        self.text += other.text
        self.entities.extend(e.shifted(e.start + offset, e.end + offset) for e in other.entities)
        return self

    def slice(self, start: int, end: int) -> RichText:
        """The part ``[start, end)``; entities crossing a border are clipped to it."""
        clipped = [
            e.shifted(max(e.start, start) - start, min(e.end, end) - start)
            for e in self.entities
            if e.start < end and e.end > start
        ]
        return RichText(self.text[start:end], clipped).normalized()

    def normalized(self) -> RichText:
        """Entities trimmed of edge whitespace, empty ones dropped, sorted outer first.

        Trimming keeps nesting intact: a contained span's visible characters stay
        inside its container's visible characters.
        """
        text = self.text
        result: list[Entity] = []
        for e in self.entities:
            start, end = e.start, e.end
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if start < end:
                result.append(e.shifted(start, end))
        result.sort(key=lambda e: (e.start, -e.end, _NESTING_RANK.get(e.type, 1)))
        return RichText(text, result)

    def stripped(self) -> RichText:
        """Without leading/trailing whitespace, as Telegram would show it."""
        left = len(self.text) - len(self.text.lstrip())
        right = len(self.text.rstrip())
        return self.slice(left, max(left, right))

    def entity_dicts(self) -> list[dict[str, Any]]:
        """Entities as Bot API MessageEntity dicts with UTF-16 offsets."""
        units = utf16_prefix(self.text)
        out: list[dict[str, Any]] = []
        for e in self.entities:
            item: dict[str, Any] = {
                "type": e.type,
                "offset": units[e.start],
                "length": units[e.end] - units[e.start],
            }
            if e.url is not None:
                item["url"] = e.url
            if e.language is not None:
                item["language"] = e.language
            out.append(item)
        return out


def utf16_prefix(text: str) -> Sequence[int]:
    """``prefix[i]`` = UTF-16 length of ``text[:i]``: index ↔ Telegram offset.

    Without astral characters (most Chinese text) the two are the same: a range.
    Otherwise built from runs between astral characters (each two units), so the
    work is done by ``range`` in C rather than a Python step per character."""
    if _ASTRAL.search(text) is None:
        return range(len(text) + 1)
    prefix: list[int] = []
    extra = start = 0
    for match in _ASTRAL.finditer(text):
        prefix.extend(range(start + extra, match.start() + extra + 1))
        extra += 1
        start = match.start() + 1
    prefix.extend(range(start + extra, len(text) + extra + 1))
    return prefix


def index_at(prefix: Sequence[int], offset: int) -> int:
    """The string index for a UTF-16 ``offset`` (inside a surrogate pair: the next one)."""
    return min(bisect_left(prefix, offset), len(prefix) - 1)


def split(rich: RichText, limit: int, max_entities: int = 100) -> list[RichText]:
    """Cut into parts of at most ``limit`` UTF-16 units and ``max_entities`` entities.

    Cuts fall at a paragraph, else a line, else a sentence end, else a comma or
    space, else anywhere but inside a grapheme. An entity crossing a cut goes on
    in the next part. No part is empty; whitespace at the cuts is dropped.
    """
    rich = rich.normalized()
    text = rich.text
    units = utf16_prefix(text)
    parts: list[RichText] = []
    pos = _skip_space(text, 0)
    while pos < len(text):
        end = _room_end(units, pos, limit)
        end = min(end, _entity_cap(rich.entities, pos, end, max_entities))
        cut = len(text) if end >= len(text) else _best_cut(text, pos, end)
        if cut <= pos:  # no cut moves on: a character wider than a whole part
            raise ValueError(f"a part of {limit} UTF-16 units cannot hold {text[pos]!r}")
        part = rich.slice(pos, cut).stripped()
        if part.text:
            parts.append(part)
        pos = _skip_space(text, cut)
    return parts


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _room_end(units: Sequence[int], pos: int, limit: int) -> int:
    """The furthest index whose text from ``pos`` still fits in ``limit`` units."""
    return bisect_right(units, units[pos] + limit, pos) - 1


def _entity_cap(entities: Iterable[Entity], pos: int, end: int, max_entities: int) -> int:
    """Shorten ``[pos, end)`` so that it holds at most ``max_entities`` entities."""
    starts = sorted(max(e.start, pos) for e in entities if e.start < end and e.end > pos)
    if len(starts) <= max_entities:
        return end
    return max(starts[max_entities], pos + 1)


def _best_cut(text: str, pos: int, end: int) -> int:
    """Where to end the part that starts at ``pos`` and may run to ``end``."""
    floor = pos + int((end - pos) * _MIN_FILL)
    for pattern in _BREAKS:
        cut = _last_break(pattern, text, pos, floor, end)
        if cut is not None:
            return cut
    for pattern in _BREAKS:
        cut = _last_break(pattern, text, pos, pos + 1, end)
        if cut is not None:
            return cut
    return _grapheme_safe(text, pos, end)


def _last_break(pattern: re.Pattern[str], text: str, pos: int, lo: int, hi: int) -> int | None:
    """The end of the last match of ``pattern`` in the part from ``pos`` that ends within
    ``(lo, hi]``, however early it begins (a blank line with spaces in it, 。」』)."""
    best = None
    for match in pattern.finditer(text, pos, hi):
        if match.end() > lo:
            best = match.end()
    return best


def _grapheme_safe(text: str, pos: int, end: int) -> int:
    """The last grapheme boundary within ``(pos, end]`` (Unicode's rules, through the
    ``regex`` module: keycaps, flags, ZWJ sequences, marks), so a hard cut never
    splits what a reader sees as one character. A single grapheme longer than a
    whole part is cut inside, as nothing else can be done."""
    cut = pos
    for match in _GRAPHEME.finditer(text, pos):
        if match.end() > end:
            break
        cut = match.end()
    return cut if cut > pos else end
