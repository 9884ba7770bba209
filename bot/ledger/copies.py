"""A chat's copy of a notice: what the chat holds, message by message.

The ledger records what Telegram confirmed is in the chat, not the steps of an
operation: each part with its message ids, the call it shows (a content hash),
whether it is pinned, and what can still be done to it. The reconciler
(:mod:`bot.sending.reconciler`) compares this with what the notice says now and
makes the next call; nothing a chat may still see is ever dropped from the record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

# What can still be done to a part.
LIVE = "live"  # the bot's message as sent or edited: edit, delete, pin
MARKED = "marked"  # could not be deleted: edited to a note (withdrawn, removed); may be edited back
GONE = "gone"  # someone deleted it: nothing to do, and it is not sent again
DELETING = "deleting"  # a delete (or the mark that follows it) may or may not have happened
DROPPED = "dropped"  # never shown (an album whose pictures Telegram refused): no message

UNKNOWN = ""  # the hash of a part whose edit may or may not have happened (interrupted)
WITHDRAWN_MARK = "mark:withdrawn:"  # hash prefixes of marked parts: what the mark says
REMOVED_MARK = "mark:removed:"


@dataclass(frozen=True)
class Part:
    """One part of a copy. ``slot`` is the part of the notice it stands for (card 0,
    text 1…); None for a part that is to go (replaced, or surplus after a correction).
    ``chat`` is where the messages are: a group's old id after it became a supergroup,
    where Telegram refuses every change to them (the part is then out of reach)."""

    slot: int | None
    chat: int
    ids: tuple[int, ...]
    kind: str  # the method that sent it: sendPhoto, sendMessage (a card sent as text)…
    hash: str  # the planned call it shows (see bot.formatting.outgoing.content_hash)
    at: float  # sent at (deletable for 48 hours)
    media: str | None = None  # the picture it shows, to tell a caption edit from a media edit
    pictures: tuple[str, ...] = ()  # an album's, item by item: edited in place one by one
    state: str = LIVE
    pinned: bool = False
    pin_refused: bool = False
    pin_unsure: bool = False  # a pin or unpin was sent and its answer never came

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in FIELDS}  # asdict copies deeply: slower
        data["ids"] = list(self.ids)
        data["pictures"] = list(self.pictures)
        return {k: v for k, v in data.items() if OPTIONAL.get(k, ...) != v}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        return cls(
            **{
                **data,
                "ids": tuple(data.get("ids", ())),
                "pictures": tuple(data.get("pictures", ())),
            }
        )

    def but(self, **changes: Any) -> Part:
        return replace(self, **changes)


Copy = tuple[Part, ...]
FIELDS = tuple(f.name for f in fields(Part))
OPTIONAL = {
    "media": None,
    "pictures": [],
    "state": LIVE,
    "pinned": False,
    "pin_refused": False,
}  # left out


def dumps(copy: Iterable[Part]) -> str:
    return json.dumps([p.to_json() for p in copy], separators=(",", ":"))


def loads(text: str | None) -> Copy:
    if not text or text == "[]":
        return ()
    return tuple(Part.from_json(p) for p in json.loads(text))


def by_slot(copy: Copy) -> list[list[int]]:
    """The message ids of each slot, in slot order: what older callers called
    ``message_ids`` (a slot with no message: an empty list)."""
    slots = [p for p in copy if p.slot is not None]
    size = max((p.slot for p in slots), default=-1) + 1  # type: ignore[type-var]
    ids: list[list[int]] = [[] for _ in range(size)]
    for part in slots:
        ids[part.slot] = list(part.ids)  # type: ignore[index]
    return ids


def visible(copy: Copy) -> list[Part]:
    """Parts that put a message in a chat, as far as the bot knows."""
    return [p for p in copy if p.ids and p.state != GONE]
