"""What the reconciler does when a part can no longer be deleted (it is marked: edited
to say the notice was withdrawn, as a caption or as text) and when it pins or unpins an
urgent card, including each refusal Telegram answers with: the paths mutation testing
(``make mutate``) found no test for. End to end, as tests/test_converge.py drives the
bot; the test looks at what the group shows, the calls the bot made, what it logged and
what its ledger says."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.ledger.copies import GONE, MARKED
from tests import ledgers
from tests.botenv import BotEnv
from tests.emulator import NO_PIN_RIGHTS, Emulator, Fault
from tests.test_converge import (
    GROUP,
    LEAD,
    WITHDRAWN_MARK,
    A,
    cards,
    delivered,
    older_than_48_hours,
    pictures,
    settle,
    shown,
    statuses,
    withdraw,
    words,
    write,
)

pytestmark = ledgers.each_backend

URGENT = "priority: urgent\n"
CORRECTED = A.replace("周六", "周日")
OTHER = "m.md"  # a second notice in the folder


def _calls(emulator: Emulator, start: int, message_id: int | None = None) -> list[str]:
    """The edits, deletes, pins and unpins since ``start`` (of one message, if given)."""
    return [
        c.method
        for c in emulator.calls[start:]
        if c.method.startswith(("editMessage", "deleteMessage", "pinChat", "unpinChat"))
        and (message_id is None or c.params.get("message_id") == message_id)
    ]


def _sends(emulator: Emulator, start: int) -> list[str]:
    return [c.method for c in emulator.calls[start:] if c.method.startswith("send")]


def _said(caplog: pytest.LogCaptureFixture, words_in: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if words_in in r.getMessage()]


def _parts(env: BotEnv, chat_id: int = GROUP) -> list[tuple[tuple[int, ...], str]]:
    """The ledger's copy of the chat's first row: each part's messages and state."""
    return [(p.ids, p.state) for p in env.runtime.store.deliveries(chat_id)[0].copy]


def _pinned(env: BotEnv) -> list[bool]:
    return [d.pinned for d in env.runtime.store.deliveries(GROUP)]


async def _withdrawn_after_48_hours(env: BotEnv, emulator: Emulator) -> int:
    """The notice withdrawn two days after it went out (its messages can no longer be
    deleted); the first call index of the withdrawal."""
    older_than_48_hours(env, emulator)
    start = len(emulator.calls)
    withdraw(env)
    env.scan()
    await settle(env)
    return start


# --- a part that can no longer be deleted is marked, the right way -----------------------


async def test_a_photo_card_its_text_and_an_album_are_each_marked_the_right_way_at_once(
    tmp_path: Path, free: Emulator
) -> None:
    """A photo's card gets a caption, the text part a text, an album its first
    picture's caption: each mark is one edit, not a wrong guess first. The ledger records
    them marked, so publishing the notice again edits them back instead of sending a
    second copy."""
    async with delivered(tmp_path, free, A + LEAD + pictures(1, 2)) as env:
        content = (env.articles / "n.md").read_text(encoding="utf-8")
        card, text, first, second = (m["message_id"] for m in shown(free, GROUP))
        start = await _withdrawn_after_48_hours(env, free)
        assert _calls(free, start, card) == ["deleteMessage", "editMessageCaption"]
        assert _calls(free, start, text) == ["deleteMessage", "editMessageText"]
        assert _calls(free, start, first) == ["deleteMessage", "editMessageCaption"]
        shows = [words(m) for m in shown(free, GROUP)]
        assert [WITHDRAWN_MARK in s for s in shows] == [True, True, True, False]
        assert statuses(env, GROUP) == ["retracted"]
        assert [state for _, state in _parts(env)] == [MARKED, MARKED, MARKED]

        start = len(free.calls)
        (env.articles / "n.md").write_text(content, encoding="utf-8")  # published again
        env.scan()
        await settle(env)
        assert _sends(free, start) == []  # edited back, not sent again
        assert not any(WITHDRAWN_MARK in words(m) for m in shown(free, GROUP))
        assert [m["message_id"] for m in shown(free, GROUP)] == [card, text, first, second]
        assert statuses(env, GROUP) == ["sent"]


async def test_a_card_that_went_out_as_text_is_marked_as_text(
    tmp_path: Path, free: Emulator
) -> None:
    """Its picture was refused, so the card went out as text though the notice has a
    photo: the mark edits its text, without trying a caption first."""
    free.fail(GROUP, "sendPhoto", Fault.bad_photo())
    async with delivered(tmp_path, free, A + LEAD, mode="card") as env:
        (card,) = shown(free, GROUP)
        assert not card.get("media")
        start = await _withdrawn_after_48_hours(env, free)
        assert _calls(free, start) == ["deleteMessage", "editMessageText"]
        (marked,) = shown(free, GROUP)
        assert WITHDRAWN_MARK in words(marked)
        assert statuses(env, GROUP) == ["retracted"]


async def test_a_photo_card_the_ledger_did_not_know_is_marked_by_caption_after_text_fails(
    tmp_path: Path, free: Emulator
) -> None:
    """A row recorded before copies were kept knows its messages' ids, not their kind
    (the schema upgrade leaves it empty): a photo card is taken for text. Telegram
    answers "there is no text in the message to edit": the mark is made as a caption."""
    async with delivered(tmp_path, free, A + LEAD, mode="card") as env:
        (card,) = shown(free, GROUP)
        assert card.get("media")
        store = env.runtime.store
        (row,) = store.deliveries(GROUP)
        await store.record_copy(
            row.id, tuple(p.but(kind="", hash="", media=None) for p in row.copy)
        )
        start = await _withdrawn_after_48_hours(env, free)
        assert _calls(free, start) == ["deleteMessage", "editMessageText", "editMessageCaption"]
        (marked,) = shown(free, GROUP)
        assert WITHDRAWN_MARK in words(marked) and marked.get("media")
        assert statuses(env, GROUP) == ["retracted"]


# --- what Telegram answers to a mark --------------------------------------------------------


@pytest.mark.parametrize(
    "refusal",
    ["Bad Request: message to edit not found", "Bad Request: message can't be edited"],
    ids=["not-found", "cannot-be-edited"],
)
async def test_a_part_telegram_will_not_let_be_marked_is_gone_and_left_alone(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture, refusal: str
) -> None:
    """Someone deleted it between the delete and the mark, or it is not the bot's: the
    part is gone. Nothing more is tried on it (no caption, no second delete), nothing is
    logged as a failure, and the row settles without it."""
    async with delivered(tmp_path, free, mode="card") as env:
        free.fail(GROUP, "editMessageText", Fault(400, refusal))
        start = await _withdrawn_after_48_hours(env, free)
        assert _calls(free, start) == ["deleteMessage", "editMessageText"]
        assert _said(caplog, "could not be marked") == []
        assert statuses(env, GROUP) == ["retracted"]
        assert _parts(env) == []  # gone: nothing of it is left to do
        assert _pinned(env) == [False]


async def test_a_mark_telegram_calls_unchanged_is_a_mark_made(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The mark went through but its answer was lost; tried again, Telegram says the
    message "is not modified": it is marked, no other way is tried and nothing logged.
    Published again, it is edited back, not sent a second time."""
    async with delivered(tmp_path, free, mode="card") as env:
        content = (env.articles / "n.md").read_text(encoding="utf-8")
        (card,) = shown(free, GROUP)
        free.fail(GROUP, "editMessageText", Fault.lost())
        start = await _withdrawn_after_48_hours(env, free)
        edits = ["deleteMessage", "editMessageText"]
        assert _calls(free, start) == edits + edits
        again = [c for c in free.calls[start:] if c.method == "editMessageText"][-1]
        assert "not modified" in (again.error or "")  # Telegram's answer to the second
        assert _said(caplog, "could not be marked") == []
        assert WITHDRAWN_MARK in words(shown(free, GROUP)[0])
        assert statuses(env, GROUP) == ["retracted"]
        assert _parts(env) == [((card["message_id"],), MARKED)]

        start = len(free.calls)
        (env.articles / "n.md").write_text(content, encoding="utf-8")
        env.scan()
        await settle(env)
        assert _sends(free, start) == []
        (again,) = shown(free, GROUP)
        assert again["message_id"] == card["message_id"] and WITHDRAWN_MARK not in words(again)


async def test_a_mark_refused_otherwise_is_logged_and_the_part_counted_marked(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Another Bad Request: the bot says so once and gives the part up as marked,
    without trying it as a caption or again later."""
    caplog.set_level(logging.WARNING)
    refusal = "Bad Request: can't parse entities: unsupported start tag"
    async with delivered(tmp_path, free, mode="card") as env:
        (card,) = shown(free, GROUP)
        free.fail(GROUP, "editMessageText", Fault(400, refusal))
        start = await _withdrawn_after_48_hours(env, free)
        assert _calls(free, start) == ["deleteMessage", "editMessageText"]
        assert _said(caplog, "could not be marked") == [
            f"chat {GROUP}: a part could not be marked"
            " (bad_request: Can't parse entities: unsupported start tag)"
        ]
        assert statuses(env, GROUP) == ["retracted"]
        assert _parts(env) == [((card["message_id"],), MARKED)]


async def test_a_mark_that_failed_on_the_way_is_made_later(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A 502 is no answer about the message: the mark is tried again, and made."""
    async with delivered(tmp_path, free, mode="card") as env:
        free.fail(GROUP, "editMessageText", Fault.bad_gateway())
        start = await _withdrawn_after_48_hours(env, free)
        edits = ["deleteMessage", "editMessageText"]
        assert _calls(free, start) == edits + edits
        assert WITHDRAWN_MARK in words(shown(free, GROUP)[0])
        assert _said(caplog, "could not be marked") == []
        assert statuses(env, GROUP) == ["retracted"]


# --- pins and unpins --------------------------------------------------------------------------


def _ordinary_again(env: BotEnv) -> None:
    """A correction: the notice is no longer urgent (its card is to be unpinned)."""
    write(env, CORRECTED)
    env.scan()


async def test_an_unpin_telegram_refuses_is_logged_and_recorded_unpinned(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot lost its right to pin before the notice stopped being urgent: Telegram
    refuses the unpin. The bot says so, records the card unpinned (nothing it can do)
    and does not ask again."""
    caplog.set_level(logging.INFO)
    free.grant(GROUP, "can_pin_messages")
    async with delivered(tmp_path, free, mode="card", extra=URGENT) as env:
        assert _pinned(env) == [True]
        free.fail(GROUP, "unpinChatMessage", Fault(400, NO_PIN_RIGHTS))
        start = len(free.calls)
        _ordinary_again(env)
        await settle(env)
        assert [m for m in _calls(free, start) if "pin" in m] == ["unpinChatMessage"]
        assert _said(caplog, "unpin refused") == [
            f"chat {GROUP}: unpin refused (Not enough rights to manage pinned messages in the chat)"
        ]
        assert _pinned(env) == [False]
        assert not any(p.pin_unsure for p in env.runtime.store.deliveries(GROUP)[0].copy)
        assert statuses(env, GROUP) == ["sent"]


async def test_an_unpin_that_failed_on_the_way_is_made_later(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A 502 is no refusal: the card is unpinned on the next try, not left pinned."""
    free.grant(GROUP, "can_pin_messages")
    async with delivered(tmp_path, free, mode="card", extra=URGENT) as env:
        free.fail(GROUP, "unpinChatMessage", Fault.bad_gateway())
        _ordinary_again(env)
        await settle(env)
        assert free.pinned[GROUP] == set()
        assert _said(caplog, "unpin refused") == []
        assert _pinned(env) == [False]
        assert statuses(env, GROUP) == ["sent"]


async def test_an_unpin_names_the_card_and_leaves_other_pins_alone(
    tmp_path: Path, free: Emulator
) -> None:
    """Two urgent notices are pinned; one becomes ordinary: only its card is unpinned."""
    free.grant(GROUP, "can_pin_messages")
    async with delivered(tmp_path, free, mode="card", extra=URGENT) as env:
        env.write_article(OTHER, title="停电通知", body=A, extra=URGENT)
        env.scan()
        await env.send()
        first, other = (m["message_id"] for m in cards(free, GROUP))
        assert free.pinned[GROUP] == {first, other}
        start = len(free.calls)
        _ordinary_again(env)
        await settle(env)
        unpins = [c.params for c in free.calls[start:] if c.method == "unpinChatMessage"]
        assert [p.get("message_id") for p in unpins] == [first]
        assert free.pinned[GROUP] == {other}


async def test_a_card_deleted_before_its_pin_is_gone_not_refused(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """ "message to pin not found": someone deleted the card. It is recorded gone, so a
    withdrawal deletes nothing and no refusal to pin is noted for the chat."""
    caplog.set_level(logging.INFO)
    free.grant(GROUP, "can_pin_messages")
    free.fail(GROUP, "pinChatMessage", Fault(400, "Bad Request: message to pin not found"))
    async with delivered(tmp_path, free, mode="card", extra=URGENT) as env:
        (card,) = shown(free, GROUP)
        assert _parts(env) == [((card["message_id"],), GONE)]
        assert env.runtime.store.chat(GROUP).pin_refused_at is None
        assert _said(caplog, "no right to pin") == []
        start = len(free.calls)
        withdraw(env)
        env.scan()
        await settle(env)
        assert _calls(free, start) == []  # gone: nothing to delete
        assert statuses(env, GROUP) == ["retracted"]


async def test_no_right_to_pin_is_noted_and_logged_once_and_cleared_by_a_pin(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the right to pin, each urgent card's pin is refused once (not asked
    again); the chat is noted for /settings and the log says so, once, however many
    notices. Once the right is given, the next pin clears the note."""
    caplog.set_level(logging.INFO)
    async with delivered(tmp_path, free, mode="card", extra=URGENT) as env:
        store = env.runtime.store
        noted = store.chat(GROUP).pin_refused_at
        assert noted is not None
        env.clock.advance(60)
        env.write_article(OTHER, title="停电通知", body=A, extra=URGENT)
        env.scan()
        await settle(env)
        assert [c.method for c in free.calls if c.method == "pinChatMessage"] == [
            "pinChatMessage",
            "pinChatMessage",
        ]
        assert store.chat(GROUP).pin_refused_at == noted  # noted once, not again
        assert _said(caplog, "no right to pin") == [f"chat {GROUP}: no right to pin urgent notices"]
        assert free.pinned[GROUP] == set() and _pinned(env) == [False, False]

        free.grant(GROUP, "can_pin_messages")
        env.write_article("third.md", title="停气通知", body=A, extra=URGENT)
        env.scan()
        await settle(env)
        assert len(free.pinned[GROUP]) == 1 and _pinned(env) == [False, False, True]
        assert store.chat(GROUP).pin_refused_at is None


async def test_a_pin_that_failed_on_the_way_is_made_later(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A 502 is no refusal: the card is pinned on the next try."""
    free.grant(GROUP, "can_pin_messages")
    free.fail(GROUP, "pinChatMessage", Fault.bad_gateway())
    async with delivered(tmp_path, free, mode="card", extra=URGENT) as env:
        await settle(env)
        (card,) = cards(free, GROUP)
        assert free.pinned[GROUP] == {card["message_id"]}
        assert _pinned(env) == [True]
        assert env.runtime.store.chat(GROUP).pin_refused_at is None


async def test_a_gone_card_whose_pin_is_unsure_is_not_unpinned(
    tmp_path: Path, free: Emulator
) -> None:
    """The card's pin went through but its answer was lost; then someone deleted the
    card (a correction found it gone). When the notice stops being urgent the bot
    records it unpinned without asking Telegram about a message that is not there."""
    free.grant(GROUP, "can_pin_messages")
    free.fail(GROUP, "pinChatMessage", Fault.lost())
    async with delivered(tmp_path, free, mode="card", extra=URGENT) as env:
        (card,) = shown(free, GROUP)
        free.user_deletes(GROUP, card["message_id"])
        write(env, CORRECTED, URGENT)
        env.scan()
        await settle(env)
        assert _parts(env) == [((card["message_id"],), GONE)]
        unsure = env.runtime.store.deliveries(GROUP)[0].copy[0].pin_unsure
        start = len(free.calls)
        _ordinary_again(env)
        await settle(env)
        assert _calls(free, start) == []
        copy = env.runtime.store.deliveries(GROUP)[0].copy
        assert unsure and not copy[0].pin_unsure and not copy[0].pinned
        assert statuses(env, GROUP) == ["sent"]
