"""The reconciler's choice of the next call, as a pure function of copy and target."""

from __future__ import annotations

from bot.formatting.outgoing import Outgoing
from bot.ledger.copies import (
    DELETING,
    DROPPED,
    GONE,
    LIVE,
    MARKED,
    REMOVED_MARK,
    WITHDRAWN_MARK,
    Part,
    dumps,
    loads,
)
from bot.sending.steps import Op, Target, next_step
from tests import ledgers

pytestmark = ledgers.each_backend

CHAT = -555


def _text(text: str, part: str = "text") -> Outgoing:
    return Outgoing("sendMessage", {"text": text, "entities": []}, part)  # type: ignore[arg-type]


def _card(caption: str, url: str = "u1") -> Outgoing:
    return Outgoing("sendPhoto", {"photo": url, "caption": caption}, "card")


def _album(*urls: str) -> Outgoing:
    media = [{"type": "photo", "media": u} for u in urls]
    return Outgoing("sendMediaGroup", {"media": media}, "album")


def _part(slot: int | None, message: Outgoing, *ids: int, **changes: object) -> Part:
    ids = ids or ((slot or 0) + 10,)
    return Part(slot, CHAT, ids, message.method, message.content_hash, 0.0).but(**changes)


def _steps(copy: tuple[Part, ...], target: Target) -> tuple[Op, int | None, int | None] | None:
    step = next_step(copy, target, CHAT)
    return None if step is None else (step.op, step.index, step.slot)


def test_a_complete_current_copy_needs_nothing() -> None:
    card, text = _card("A"), _text("A")
    assert _steps((_part(0, card), _part(1, text)), Target((card, text))) is None


def test_missing_parts_are_sent_in_order_and_not_to_a_chat_that_left() -> None:
    card, text = _card("A"), _text("A")
    assert _steps((), Target((card, text))) == (Op.SEND, None, 0)
    assert _steps((_part(0, card),), Target((card, text))) == (Op.SEND, None, 1)
    assert _steps((_part(0, card),), Target((card, text), new_parts=False)) is None


def test_a_part_showing_something_else_is_edited_or_replaced() -> None:
    copy = (_part(0, _card("A")), _part(1, _text("A")))
    assert _steps(copy, Target((_card("B"), _text("A")))) == (Op.EDIT, 0, 0)
    assert _steps(copy, Target((_card("A"), _text("B")))) == (Op.EDIT, 1, 1)
    # a card that lost its picture cannot be edited from photo to text
    assert _steps(copy, Target((_text("A", "card"), _text("A")))) == (Op.REPLACE, 0, 0)
    album = (*copy, _part(2, _album("x", "y"), 20, 21))
    assert _steps(album, Target((_card("A"), _text("A"), _album("x", "z")))) == (
        Op.REPLACE,
        2,
        2,
    )


def test_an_album_of_as_many_pictures_is_edited_in_place() -> None:
    album = _part(2, _album("x", "y"), 20, 21).but(pictures=("x", "y"))
    copy = (_part(0, _card("A")), _part(1, _text("A")), album)
    target = Target((_card("A"), _text("A"), _album("x", "z")))
    assert _steps(copy, target) == (Op.EDIT, 2, 2)
    longer = Target((_card("A"), _text("A"), _album("x", "y", "z")))
    assert _steps(copy, longer) == (Op.REPLACE, 2, 2)


def test_a_card_sent_as_text_is_tried_again_with_a_new_picture() -> None:
    as_text = _part(0, _card("A", "u1")).but(kind="sendMessage", media="u1")
    assert _steps((as_text,), Target((_card("B", "u1"),))) == (Op.EDIT, 0, 0)
    assert _steps((as_text,), Target((_card("A", "u2"),))) == (Op.REPLACE, 0, 0)


def test_an_edit_cut_short_is_made_again() -> None:
    copy = (_part(0, _card("A")).but(hash=""),)
    assert _steps(copy, Target((_card("A"),))) == (Op.EDIT, 0, 0)


def test_a_withdrawn_notice_deletes_every_part_and_keeps_what_is_marked() -> None:
    copy = (_part(0, _card("A")), _part(1, _text("A")))
    assert _steps(copy, Target(withdrawn=True)) == (Op.DELETE, 0, None)
    marked = (_part(0, _card("A")).but(state=MARKED, hash=WITHDRAWN_MARK + "x"),)
    assert _steps(marked, Target(withdrawn=True)) is None
    # a part a correction dropped says "removed"; withdrawn, it is made to say so
    removed = (_part(1, _text("A")).but(state=MARKED, hash=REMOVED_MARK + "x"),)
    assert _steps(removed, Target(withdrawn=True)) == (Op.DELETE, 0, None)
    assert _steps(removed, Target((_card("A"),), new_parts=False)) is None


def test_a_part_whose_delete_may_have_happened_is_deleted_again_or_edited_back() -> None:
    deleting = (_part(0, _card("A")).but(state=DELETING, hash=""),)
    assert _steps(deleting, Target(withdrawn=True)) == (Op.DELETE, 0, None)
    assert _steps(deleting, Target((_card("A"),))) == (Op.EDIT, 0, 0)


def test_a_marked_card_is_edited_back_when_the_notice_returns() -> None:
    marked = (_part(0, _card("A")).but(state=MARKED, hash="mark:x"), _part(1, _text("A")))
    assert _steps(marked, Target((_card("A"), _text("A")))) == (Op.EDIT, 0, 0)


def test_a_replaced_part_goes_after_its_successor_is_in() -> None:
    old = _part(None, _album("x", "y"), 20, 21)
    new = _part(2, _album("x", "z"), 30, 31)
    target = Target((_card("A"), _text("A"), _album("x", "z")))
    copy = (_part(0, _card("A")), _part(1, _text("A")), old, new)
    assert _steps(copy, target) == (Op.DELETE, 2, None)


def test_what_someone_deleted_is_not_sent_again() -> None:
    copy = (_part(0, _card("A")), _part(1, _text("A")).but(state=GONE))
    assert _steps(copy, Target((_card("A"), _text("B")))) is None


def test_a_dropped_album_is_tried_again_only_when_it_changes() -> None:
    album = _album("x", "y")
    copy = (_part(0, _card("A")), Part(1, CHAT, (), "sendMediaGroup", album.content_hash, 0.0))
    copy = (copy[0], copy[1].but(state=DROPPED))
    assert _steps(copy, Target((_card("A"), album))) is None
    assert _steps(copy, Target((_card("A"), _album("x", "z")))) == (Op.SEND, 1, 1)
    assert _steps(copy, Target(withdrawn=True))[0] is Op.DELETE  # type: ignore[index]


def test_messages_left_in_an_old_group_are_replaced_not_touched() -> None:
    old = _part(0, _card("A")).but(chat=-1)
    assert _steps((old,), Target((_card("A"),))) is None  # it still shows the notice
    assert _steps((old,), Target((_card("B"),))) == (Op.REPLACE, 0, 0)
    assert _steps((old.but(slot=None),), Target(withdrawn=True)) is None


def test_pins_follow_the_card() -> None:
    card = _card("A")
    assert _steps((_part(0, card),), Target((card,), pin_card=True)) == (Op.PIN, 0, None)
    pinned = (_part(0, card).but(pinned=True),)
    assert _steps(pinned, Target((card,), pin_card=True)) is None
    assert _steps(pinned, Target((card,))) == (Op.UNPIN, 0, None)  # expired, or no longer urgent
    refused = (_part(0, card).but(pin_refused=True),)
    assert _steps(refused, Target((card,), pin_card=True)) is None
    # a replaced card: the old one is unpinned before it goes, the new one pinned
    swapped = (_part(None, card).but(pinned=True), _part(0, _text("A", "card"), 40))
    target = Target((_text("A", "card"),), pin_card=True)
    assert _steps(swapped, target) == (Op.UNPIN, 0, None)


def test_a_pin_left_unsure_in_a_group_since_upgraded_is_settled() -> None:
    card = _card("A")
    unsure = (_part(0, card).but(chat=-1, pin_unsure=True),)
    assert _steps(unsure, Target((card,), pin_card=True)) == (Op.UNPIN, 0, None)
    assert _steps((unsure[0].but(pin_unsure=False),), Target((card,), pin_card=True)) is None


def test_a_copy_round_trips_through_the_ledger() -> None:
    copy = (_part(0, _card("A")).but(pinned=True, media="u1"), _part(None, _text("A"), 3, 4))
    assert loads(dumps(copy)) == copy
    assert loads("[]") == () and copy[0].state == LIVE
