"""What the reconciler does next: the copy a chat holds, compared with what it should
show, gives one Bot API call (or none: the copy is the target). Pure: no I/O.

One call at a time, in an order that never leaves a chat worse off than needed:
first unpin what must not stay pinned, then bring each part of the notice in
order (send what is missing, edit what differs, replace what cannot be edited),
then remove what must go, last pin the card of an urgent notice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.formatting.outgoing import Outgoing
from bot.formatting.revisions import media_of
from bot.ledger.copies import DELETING, DROPPED, GONE, LIVE, MARKED, WITHDRAWN_MARK, Copy, Part

SEND_METHODS_ONE_MESSAGE = ("sendMessage", "sendPhoto", "sendAnimation")


class Op(enum.Enum):
    SEND = "send"  # a part the copy lacks (or one dropped before, now different)
    EDIT = "edit"  # a part that shows something else, edited in place
    REPLACE = "replace"  # a part that cannot be edited to it: sent anew, the old one then goes
    DELETE = "delete"  # a part that must go (where it cannot: marked instead)
    FORGET = "forget"  # a part with no message left: only the record goes
    PIN = "pin"
    UNPIN = "unpin"


@dataclass(frozen=True)
class Target:
    """What a chat's copy should be. ``messages`` by slot; none: nothing may stay."""

    messages: tuple[Outgoing, ...] = ()
    urgent: bool = False  # rings even in the chat's quiet hours
    pin_card: bool = False
    new_parts: bool = True  # may send what the copy lacks (not to a chat that left)
    withdrawn: bool = False  # what cannot be deleted says "withdrawn", not "removed"
    acks_shown: int | None = None  # the confirmations a group's card shows


@dataclass(frozen=True)
class Step:
    op: Op
    index: int | None = None  # the part of the copy it acts on
    slot: int | None = None
    message: Outgoing | None = None


def reachable(part: Part, chat_id: int) -> bool:
    """The bot can still change this part (not someone's deletion, not an old group)."""
    return part.state not in (GONE, DROPPED) and part.chat == chat_id and bool(part.ids)


def editable(part: Part, message: Outgoing) -> bool:
    """A part whose kind allows an edit to ``message`` (else it is replaced): one message,
    or an album of as many pictures (edited item by item: Telegram lets a bot edit its
    messages at any age, while it may delete them for 48 hours only)."""
    if message.method == "sendMediaGroup":
        known = part.kind == "sendMediaGroup" and len(part.pictures) == len(part.ids)
        return known and len(part.ids) == len(message.media_urls)
    if len(part.ids) != 1 or message.method not in SEND_METHODS_ONE_MESSAGE:
        return False
    kind = part.kind or message.method
    if kind == "sendMessage" and message.method != kind:
        # a card that went out as text: edited as text while it stands for the same
        # picture; a new picture is tried anew
        return part.media == media_of(message)
    return kind == message.method


def holders(copy: Copy) -> dict[int, int]:
    """Slot → the index of the part that stands for it."""
    return {p.slot: i for i, p in enumerate(copy) if p.slot is not None}


def next_step(copy: Copy, target: Target, chat_id: int) -> Step | None:
    held = holders(copy)
    wanted = dict(enumerate(target.messages))
    for i, part in enumerate(copy):
        card_stays = target.pin_card and part.slot == 0 and part.chat == chat_id
        if (part.pinned or part.pin_unsure) and not card_stays:  # out of reach: flags cleared
            return Step(Op.UNPIN, i)
    for slot, message in wanted.items():
        i = held.get(slot)
        if i is None:
            if target.new_parts:
                return Step(Op.SEND, None, slot, message)
            continue
        part = copy[i]
        if part.hash == message.content_hash or part.state == GONE:
            continue
        if part.state == DROPPED:
            if target.new_parts:
                return Step(Op.SEND, i, slot, message)
            continue
        if not reachable(part, chat_id):
            return Step(Op.REPLACE, i, slot, message)
        op = Op.EDIT if editable(part, message) else Op.REPLACE
        return Step(op, i, slot, message)
    for i, part in enumerate(copy):
        if part.slot in wanted and held.get(part.slot) == i:
            continue
        if not part.ids or part.state == GONE:  # nothing of it shows: only the record goes
            return Step(Op.FORGET, i)
        if part.chat != chat_id:
            continue
        if part.state in (LIVE, DELETING) or (
            part.state == MARKED and target.withdrawn and not part.hash.startswith(WITHDRAWN_MARK)
        ):  # a part a correction dropped says "removed": withdrawn, it says so
            return Step(Op.DELETE, i)
    card = held.get(0)
    if target.pin_card and card is not None:
        part = copy[card]
        pinned = part.pinned and not part.pin_unsure
        if part.state == LIVE and part.chat == chat_id and not (pinned or part.pin_refused):
            return Step(Op.PIN, card)
    return None
