"""A delivered copy converges on what the notice says now, whatever was interrupted.

Each test is a bug from the tracker: a sequence of publish, correct, withdraw,
republish, (un)subscribe and broadcast, with one Bot API call failing or its answer
lost on the way; then the bot is left to settle (scans and sends, the clock moving
past every retry) and the test looks at what the chat SHOWS in the emulator.

End to end: real python-telegram-bot against the emulator, a real SQLite ledger,
real article files. The ledger is read in one place only (:func:`statuses`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests import ledgers
from tests.botenv import ADMIN, BotEnv, running_bot
from tests.emulator import Emulator, Fault

pytestmark = ledgers.each_backend

GROUP = -555
TITLE = "停水通知"
NAME = "n.md"
WITHDRAWN_MARK = "此通知已撤回"
# Longer than a card holds, so a full-mode copy is card and text (a short notice would
# be its card alone).
DETAILS = "<p>停水期间请关好水龙头，如有疑问请联系居委会。</p>" * 14
A = "<p>本周六上午停水。</p>" + DETAILS
B = "<p>停水改到周日上午。</p>" + DETAILS
LEAD = '<img src="https://img.example/lead.jpg">'
LONG = "".join(f"<p>第{i}段：本周六上午停水，请提前储水，注意安全。</p>" for i in range(200))
OLD_PARAGRAPH = "段：本周六上午停水"
HOURS_49 = 49 * 3600


def pictures(*numbers: int) -> str:
    return "".join(f'<img src="https://img.example/{n}.jpg">' for n in numbers)


# --- the one read of the ledger -------------------------------------------------------


def statuses(env: BotEnv, chat_id: int) -> list[str]:
    """The status of each of the chat's rows ('sent', 'retracted', 'failed', ...)."""
    return [d.status for d in env.runtime.store.deliveries(chat_id)]


# --- what the chat shows --------------------------------------------------------------


def shown(emulator: Emulator, chat_id: int) -> list[dict[str, Any]]:
    """The bot's messages the chat shows now, oldest first."""
    return [m for m in emulator.shown(chat_id) if m.get("from_bot", True)]


def words(message: dict[str, Any]) -> str:
    return message.get("text") or ""


def texts(emulator: Emulator, chat_id: int) -> list[str]:
    return [words(m) for m in shown(emulator, chat_id)]


def is_card(message: dict[str, Any]) -> bool:
    """A card of the notice: it has the "read" button, or (in full mode, where its text
    follows it and it needs none) it ends with the notice's hashtags, which only a card
    shows. A withdrawn card has neither."""
    markup = message.get("reply_markup") or {}
    buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
    if any(str(b.get("callback_data", "")).startswith("read:") for b in buttons):
        return True
    return bool(re.search(r"\n\n#\w+$", words(message)))


def cards(emulator: Emulator, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in shown(emulator, chat_id) if is_card(m)]


def full_texts(emulator: Emulator, chat_id: int) -> list[dict[str, Any]]:
    """The text parts: no picture, no buttons, not a withdrawn card."""
    return [
        m
        for m in shown(emulator, chat_id)
        if not m.get("media") and not is_card(m) and WITHDRAWN_MARK not in words(m)
    ]


def album_items(emulator: Emulator, chat_id: int) -> list[str]:
    """The pictures of albums the chat shows (pictures without a caption), by URL."""
    return [m["media"] for m in shown(emulator, chat_id) if m.get("media") and not words(m)]


# --- driving the bot ------------------------------------------------------------------


def write(env: BotEnv, body: str, extra: str = "", date: float | None = None) -> Path:
    return env.write_article(NAME, title=TITLE, body=body, extra=extra, date=date)


def withdraw(env: BotEnv) -> None:
    (env.articles / NAME).unlink()


def unsubscribe(env: BotEnv, chat_id: int) -> None:
    """What /unsubscribe does."""
    env.runtime.store.unsubscribe(chat_id)


def broadcast(env: BotEnv, article_id: str) -> None:
    """What an admin's confirmed /broadcast (and `noticebot broadcast`) records."""
    env.runtime.store.broadcast(article_id, by_user=ADMIN)


async def settle(env: BotEnv, rounds: int = 6) -> None:
    """Let the bot work until nothing is left: scans and sends, the clock moving past
    every retry's backoff."""
    for _ in range(rounds):
        env.clock.advance(60)
        env.scan()
        await env.send()


@asynccontextmanager
async def delivered(
    tmp_path: Path, emulator: Emulator, body: str = A, *, mode: str = "full", extra: str = ""
) -> AsyncIterator[BotEnv]:
    """The notice delivered to the group (full mode: card and text, and albums)."""
    async with running_bot(tmp_path, emulator, rate_limits=False) as env:
        env.write_standing()
        env.scan()
        env.subscribe(GROUP, type="group", mode=mode)
        write(env, body, extra)
        env.scan()
        await env.send()
        yield env


def older_than_48_hours(env: BotEnv, emulator: Emulator) -> None:
    emulator.advance(HOURS_49)
    env.clock.advance(HOURS_49)


# --- 1. an interrupted retraction, then published again --------------------------------


async def test_republished_after_an_interrupted_retraction_the_whole_notice_shows_once(
    tmp_path: Path, free: Emulator
) -> None:
    """The notice was withdrawn; Telegram deleted its card but the bot never heard so
    (the answer was lost: a kill). The file was written back. The group kept only the
    text, without its card, and the bot called the copy sent. Wanted: card and text,
    once each."""
    async with delivered(tmp_path, free) as env:
        assert len(cards(free, GROUP)) == 1 and len(full_texts(free, GROUP)) == 1
        content = (env.articles / NAME).read_text(encoding="utf-8")
        free.fail(GROUP, "deleteMessage", Fault.lost())
        withdraw(env)
        env.scan()
        await env.send()
        assert cards(free, GROUP) == []  # Telegram deleted the card; the bot does not know
        (env.articles / NAME).write_text(content, encoding="utf-8")  # published again
        env.scan()
        await settle(env)
        assert len(cards(free, GROUP)) == 1, f"the card is missing: {texts(free, GROUP)}"
        assert len(full_texts(free, GROUP)) == 1 and len(shown(free, GROUP)) == 2
        assert "本周六上午停水" in words(full_texts(free, GROUP)[0])
        assert statuses(env, GROUP) == ["sent"]


@pytest.mark.parametrize("interrupted", [False, True], ids=["retracted", "mark-answer-lost"])
async def test_republished_after_48_hours_no_withdrawn_mark_is_left(
    tmp_path: Path, free: Emulator, interrupted: bool
) -> None:
    """After 48 hours the withdrawn notice's card could only be marked "此通知已撤回"
    (its text stayed). The file was written back: the group still showed the card as
    withdrawn (with a second copy below it, or, when the mark's answer was lost, as
    the only card). Wanted: the card shows the notice again, no withdrawn mark anywhere,
    the notice's text once."""
    async with delivered(tmp_path, free) as env:
        content = (env.articles / NAME).read_text(encoding="utf-8")
        older_than_48_hours(env, free)
        if interrupted:
            free.fail(GROUP, "editMessageText", Fault.lost())
        withdraw(env)
        env.scan()
        await env.send()
        assert WITHDRAWN_MARK in texts(free, GROUP)[0]  # the card says withdrawn
        (env.articles / NAME).write_text(content, encoding="utf-8")  # published again
        env.scan()
        await settle(env)
        marked = [t for t in texts(free, GROUP) if WITHDRAWN_MARK in t]
        assert marked == [], f"still marked withdrawn: {marked}"
        assert len(cards(free, GROUP)) == 1
        assert [words(m) for m in full_texts(free, GROUP) if "本周六上午停水" in words(m)]
        assert len(full_texts(free, GROUP)) == 1, texts(free, GROUP)
        assert statuses(env, GROUP) == ["sent"]


# --- 2. an interrupted edit, then the correction reverted -------------------------------


async def test_a_reverted_correction_after_an_interrupted_edit_shows_the_first_version(
    tmp_path: Path, free: Emulator
) -> None:
    """A correction to B edited the card, but the text's edit got a 502; before the
    retry the file went back to A. The group kept B's card above A's text, and the bot
    called it current. Wanted: exactly A, card and text."""
    async with delivered(tmp_path, free, A + LEAD) as env:
        content = (env.articles / NAME).read_text(encoding="utf-8")
        card, text = shown(free, GROUP)
        assert card.get("media") and not text.get("media")  # a photo card, then text
        free.fail(GROUP, "editMessageText", Fault.bad_gateway())
        write(env, B + LEAD)
        env.scan()
        await env.send()
        assert "周日" in words(shown(free, GROUP)[0])  # the card shows B; its text waits
        (env.articles / NAME).write_text(content, encoding="utf-8")  # the correction reverted
        env.scan()
        await settle(env)
        card, text = shown(free, GROUP)
        assert "周日" not in words(card), f"the card still shows B: {words(card)!r}"
        assert "本周六上午停水" in words(card) and "本周六上午停水" in words(text)
        assert not any("周日" in t for t in texts(free, GROUP))


# --- 3. a replaced album whose old album could not be deleted -----------------------------


async def test_a_replaced_album_leaves_no_orphan_album(tmp_path: Path, free: Emulator) -> None:
    """A correction changed the pictures: a new album went out, and deleting the old one
    got a 502. The retry sent the new album again: the group showed it twice, and a
    later withdrawal left one of them behind. Wanted: one album, the new one; nothing
    of the notice after the withdrawal."""
    async with delivered(tmp_path, free, A + pictures(0, 1, 2)) as env:
        assert sorted(album_items(free, GROUP)) == [
            "https://img.example/1.jpg",
            "https://img.example/2.jpg",
        ]
        free.fail(GROUP, "deleteMessage", Fault.bad_gateway())
        write(env, A + pictures(0, 3, 4))
        env.scan()
        await settle(env)
        assert sorted(album_items(free, GROUP)) == [
            "https://img.example/3.jpg",
            "https://img.example/4.jpg",
        ], f"albums shown: {album_items(free, GROUP)}"
        withdraw(env)
        env.scan()
        await settle(env)
        assert shown(free, GROUP) == []


# --- 4. an urgent card that is replaced ---------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"), [(A + LEAD, B), (A, B + LEAD)], ids=["photo-to-text", "text-to-photo"]
)
async def test_a_replaced_urgent_card_is_pinned(
    tmp_path: Path, free: Emulator, before: str, after: str
) -> None:
    """An urgent notice was pinned; a correction changed its card's kind (the lead
    picture added or removed), so the card was sent anew and the old one deleted. The
    group showed the new card unpinned. Wanted: the card shown is pinned, nothing else."""
    free.grant(GROUP, "can_pin_messages")
    async with delivered(tmp_path, free, before, mode="card", extra="priority: urgent\n") as env:
        (card,) = cards(free, GROUP)
        assert free.pinned[GROUP] == {card["message_id"]}
        write(env, after, "priority: urgent\n")
        env.scan()
        await settle(env)
        (card,) = cards(free, GROUP)
        assert "周日" in words(card)
        assert free.pinned[GROUP] == {card["message_id"]}, (
            f"pinned {free.pinned[GROUP]}, the card is {card['message_id']}"
        )


# --- 5. a broadcast of a notice published again ------------------------------------------


async def test_a_broadcast_of_a_republished_notice_sends_its_new_text(
    tmp_path: Path, free: Emulator
) -> None:
    """A notice went out, was withdrawn, and was published again with new text a week
    later (too old to be pushed). An admin broadcast it: the group got the withdrawn
    text, a chat new to it the new one. Wanted: every chat gets the new text."""
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.write_standing()
        env.scan()
        env.subscribe(GROUP, type="group")
        date = env.clock.now
        write(env, A, "abbrlink: water-1\n", date=date)
        env.scan()
        await env.send()
        assert "本周六上午停水" in words(cards(free, GROUP)[0])
        withdraw(env)
        env.scan()
        await env.send()
        assert shown(free, GROUP) == []
        env.clock.advance(8 * 86400)
        write(env, B, "abbrlink: water-1\n", date=date)  # published again, new text
        env.scan()
        await settle(env)
        assert shown(free, GROUP) == []  # a week old: not pushed
        env.subscribe(-556, type="group")
        broadcast(env, "water_1")
        await settle(env)
        for chat in (-556, GROUP):
            (card,) = cards(free, chat)
            assert "本周六上午停水" not in words(card), f"chat {chat} got the withdrawn text"
            assert "周日" in words(card)


# --- 6. unsubscribed chats, failed rows ---------------------------------------------------


async def test_a_copy_is_kept_current_after_the_chat_unsubscribes(
    tmp_path: Path, free: Emulator
) -> None:
    """The group unsubscribed while a correction was queued: its copy kept the old
    text for good, even after it subscribed again, and a withdrawal no longer reached
    it. Wanted: the copy is still corrected and withdrawn; subscribing again sends no
    second copy."""
    async with delivered(tmp_path, free, mode="card") as env:
        write(env, B)
        env.scan()  # the correction is queued ...
        unsubscribe(env, GROUP)  # ... and the group leaves
        await settle(env)
        (card,) = shown(free, GROUP)
        assert "周日" in words(card), f"the copy was not corrected: {words(card)!r}"
        env.subscribe(GROUP, type="group")
        await settle(env)
        assert len(shown(free, GROUP)) == 1  # no second copy
        unsubscribe(env, GROUP)
        withdraw(env)
        env.scan()
        await settle(env)
        assert shown(free, GROUP) == []


async def test_a_withdrawal_deletes_the_parts_of_a_copy_that_failed(
    tmp_path: Path, free: Emulator
) -> None:
    """The card went out, the text part was refused for good (a 400, with and without
    formatting): the delivery failed. The notice was withdrawn: its card stayed in the
    group. Wanted: what was delivered of a failed copy is retracted too."""
    free.fail(GROUP, "sendMessage", Fault(400, "Bad Request: message is too long"), times=2)
    async with delivered(tmp_path, free, A + LEAD) as env:
        assert len(cards(free, GROUP)) == 1 and full_texts(free, GROUP) == []
        assert statuses(env, GROUP) == ["failed"]
        withdraw(env)
        env.scan()
        await settle(env)
        assert shown(free, GROUP) == [], f"left in the chat: {texts(free, GROUP)}"


# --- 7. surplus parts after 48 hours ------------------------------------------------------


async def test_a_shorter_version_after_48_hours_leaves_no_old_text(
    tmp_path: Path, free: Emulator
) -> None:
    """A long notice (several text messages) was shortened two days later: the
    surplus messages could not be deleted, and kept showing the old text, forgotten by
    the bot, so the withdrawal did not reach them either. Wanted: no old text visible,
    and the withdrawal still deals with those messages."""
    async with delivered(tmp_path, free, LONG) as env:
        before = shown(free, GROUP)
        assert len(before) > 2  # card and several text parts
        surplus = [m["message_id"] for m in before[2:]]
        older_than_48_hours(env, free)
        write(env, "<p>停水取消。</p>")
        env.scan()
        await settle(env)
        old = [m["message_id"] for m in shown(free, GROUP) if OLD_PARAGRAPH in words(m)]
        assert old == [], f"messages {old} still show the old text ({surplus} were surplus)"
        start = len(free.calls)
        withdraw(env)
        env.scan()
        await settle(env)
        reached = {
            int(c.params["message_id"])
            for c in free.calls[start:]
            if c.method in ("deleteMessage", "editMessageText") and "message_id" in c.params
        }
        assert set(surplus) <= reached, f"the withdrawal left {set(surplus) - reached} alone"
