"""Attacks on the reconciler: sequences an unlucky operator (or Telegram) can produce,
each ending with what the chat SHOWS in the emulator and plain ledger facts.

End to end: real python-telegram-bot against the emulator, a real SQLite ledger,
real article files, the test clock moved past every retry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.ledger.copies import UNKNOWN, Part
from tests import ledgers
from tests.botenv import ADMIN, BotEnv, running_bot
from tests.emulator import Emulator, Fault
from tests.test_converge import (
    GROUP,
    LEAD,
    NAME,
    A,
    B,
    album_items,
    cards,
    delivered,
    full_texts,
    older_than_48_hours,
    pictures,
    settle,
    shown,
    statuses,
    texts,
    withdraw,
    words,
    write,
)

pytestmark = ledgers.each_backend

OTHER = -556
HOUR = 3600.0
REMOVED_NOTE = "已在更正中删去"
TOO_LONG = Fault(400, "Bad Request: message is too long")


def expiring(env: BotEnv, hours: float) -> str:
    when = datetime.fromtimestamp(env.clock.now + hours * HOUR, UTC)
    return f"priority: urgent\nexpires: '{when.isoformat()}'\n"


def later(env: BotEnv, emulator: Emulator, seconds: float) -> None:
    env.clock.advance(seconds)
    emulator.advance(seconds)


# --- 1. a failed copy of an urgent notice stays pinned after it expired ------------------


async def test_an_expired_urgent_notice_is_unpinned_even_where_a_correction_failed(
    tmp_path: Path, free: Emulator
) -> None:
    """An urgent notice (expiring in 6 hours) was pinned in the group. A correction
    could not reach the group's copy for good (the card's edit and its replacement
    were refused): the row failed, its card still pinned. The notice expired: every
    other chat's pin went, the group's card stayed pinned for good (only `sent` rows
    are queued to unpin). README: a failed copy is kept, "a later withdrawal or
    correction still reaches it", and failed → queued when an urgent notice expired.
    Wanted: nothing pinned once the notice expired."""
    free.grant(GROUP, "can_pin_messages")
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.scan()
        env.subscribe(GROUP, type="group", mode="card")
        extra = expiring(env, 6)
        write(env, A, extra)
        env.scan()
        await env.send()
        (card,) = cards(free, GROUP)
        assert free.pinned[GROUP] == {card["message_id"]}
        free.fail(GROUP, "editMessageText", Fault(400, "Bad Request: message can't be edited"))
        free.fail(GROUP, "sendMessage", TOO_LONG, times=2)
        write(env, B, extra)
        env.scan()
        await settle(env, rounds=2)
        assert statuses(env, GROUP) == ["failed"]
        later(env, free, 7 * HOUR)  # the notice expired
        await settle(env)
        assert free.pinned[GROUP] == set(), f"still pinned: {free.pinned[GROUP]}"


# --- 2. cancelling a broadcast cancels a withdrawal --------------------------------------


async def test_cancelling_a_broadcast_does_not_cancel_the_withdrawal_of_its_notice(
    tmp_path: Path, free: Emulator
) -> None:
    """An admin broadcast an old notice; it reached the group. Then the notice was
    withdrawn (the file deleted) and, in the same breath, the admin cancelled the
    broadcast (`noticebot broadcast --cancel`). The row queued to retract the copy
    still carried the broadcast's id, so the cancel skipped it: the withdrawn notice
    stayed in the group for good (a skipped row is never retracted again).
    Wanted: a withdrawn notice leaves the group whatever happened to the broadcast."""
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.write_standing()
        env.scan()
        env.subscribe(GROUP, type="group", mode="full")
        month_ago = env.clock.now - 30 * 86400  # too old to be pushed
        write(env, A, "abbrlink: water-1\n", date=month_ago)
        env.scan()
        await env.send()
        assert shown(free, GROUP) == []
        broadcast_id, _ = env.runtime.store.broadcast("water_1", by_user=ADMIN)
        await settle(env)
        assert len(cards(free, GROUP)) == 1
        withdraw(env)
        env.scan()
        env.runtime.store.cancel_broadcast(broadcast_id)
        await settle(env)
        assert shown(free, GROUP) == [], f"the withdrawn notice stays: {texts(free, GROUP)}"


async def test_a_copy_half_sent_by_a_cancelled_broadcast_is_still_withdrawn(
    tmp_path: Path, free: Emulator
) -> None:
    """A broadcast's card reached the group, its text got a 502 (retried later). The
    admin cancelled the broadcast: the row was skipped with the card in the group.
    Then the notice was withdrawn: the card stayed (a skipped row is not retracted).
    Wanted: what a chat holds of a notice is retracted with it."""
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.write_standing()
        env.scan()
        env.subscribe(GROUP, type="group", mode="full")
        write(env, LEAD + A, "abbrlink: water-1\n", date=env.clock.now - 30 * 86400)
        env.scan()
        free.fail(GROUP, "sendMessage", Fault.bad_gateway())
        broadcast_id, _ = env.runtime.store.broadcast("water_1", by_user=ADMIN)
        await env.send()
        assert len(shown(free, GROUP)) == 1  # the card; the text waits for its retry
        env.runtime.store.cancel_broadcast(broadcast_id)
        withdraw(env)
        env.scan()
        await settle(env)
        assert shown(free, GROUP) == [], f"left in the chat: {texts(free, GROUP)}"


# --- 3. a chat that was gone mid-correction and came back --------------------------------


async def test_a_chat_back_after_it_was_gone_mid_correction_gets_the_withdrawal(
    tmp_path: Path, free: Emulator
) -> None:
    """A correction was being made when Telegram said the bot had been kicked from the
    group: the chat was deactivated and its row skipped, the copy half-corrected.
    The group added the bot back and subscribed again; the notice was then withdrawn:
    the group kept its (old) card for good, since skipped rows are never retracted.
    README: skipped → queued "the chat is back: the copy is kept and brought back to
    the notice". Wanted: once the chat is back, the withdrawal deletes the copy."""
    async with delivered(tmp_path, free, mode="full") as env:
        assert len(shown(free, GROUP)) == 2
        free.fail(GROUP, "editMessageText", Fault.kicked())
        write(env, B)
        env.scan()
        await settle(env, rounds=1)
        assert env.runtime.store.chat(GROUP).active is False
        env.subscribe(GROUP, type="group", mode="full")  # the bot is back, /subscribe
        await settle(env, rounds=1)
        withdraw(env)
        env.scan()
        await settle(env)
        assert shown(free, GROUP) == [], f"left in the chat: {texts(free, GROUP)}"


# --- 4. a card sent as text because its picture was refused, then the URL fixed ----------


async def test_a_corrected_picture_url_shows_the_picture(tmp_path: Path, free: Emulator) -> None:
    """The notice's picture URL was broken: Telegram could not fetch it, so the card
    went out as text. The author fixed the URL (a correction whose point is the
    picture): the card was edited as text again, and the group never saw the
    picture, though a chat subscribing now gets it. Wanted: the corrected card shows
    the picture."""
    free.bad_urls.add("https://img.example/broken.jpg")
    body = '<img src="https://img.example/broken.jpg"><p>本周六上午停水。</p>'
    async with delivered(tmp_path, free, body, mode="card") as env:
        (card,) = shown(free, GROUP)
        assert not card.get("media")  # sent as text
        write(env, LEAD + A)
        env.scan()
        await settle(env)
        (card,) = cards(free, GROUP)
        assert card.get("media") == "https://img.example/lead.jpg", f"the card: {card}"


# --- 5. edits off: a notice withdrawn half-way and published again ------------------------


async def test_edits_off_a_half_retracted_copy_republished_shows_the_new_text(
    tmp_path: Path, free: Emulator
) -> None:
    """NOTICEBOT_EDITS=off. The notice was withdrawn; in the group the card's delete
    got a 502 (retried later), another group's copy went. Before the retry the notice
    was published again with new text: the other group got the new text, the group
    whose retraction was half done got the old, withdrawn text back (its row kept the
    old version, as a "correction" of a delivered copy, which edits-off forbids).
    Wanted: published again, every chat gets the notice as it is published now."""
    async with running_bot(tmp_path, free, rate_limits=False, edits=False) as env:
        env.write_standing()
        env.scan()
        env.subscribe(GROUP, type="group", mode="full")
        env.subscribe(OTHER, type="group", mode="full")
        write(env, A)
        env.scan()
        await env.send()
        assert len(shown(free, GROUP)) == 2 and len(shown(free, OTHER)) == 2
        free.fail(GROUP, "deleteMessage", Fault.bad_gateway())
        withdraw(env)
        env.scan()
        await env.send()
        assert shown(free, OTHER) == []
        write(env, B)  # published again, new text
        env.scan()
        await settle(env)
        assert "周日" in words(cards(free, OTHER)[0])
        (card,) = cards(free, GROUP)
        assert "周日" in words(card), f"the group shows the withdrawn text: {words(card)!r}"


# --- 7. a card someone deleted, then withdrawn and published again --------------------------


async def test_published_again_the_text_does_not_come_without_its_card(
    tmp_path: Path, free: Emulator
) -> None:
    """A member deleted the card (not the text); a correction found it gone. Then
    the notice was withdrawn (the text deleted) and published again: the group got
    the text alone, with no card (no title, no buttons), while every other chat got
    the whole notice. Wanted: published again, the notice shows whole (or not at
    all), never a text without its card."""
    async with delivered(tmp_path, free, mode="full") as env:
        card, _ = shown(free, GROUP)
        content = (env.articles / NAME).read_text(encoding="utf-8")
        free.user_deletes(GROUP, card["message_id"])
        write(env, B)
        env.scan()
        await settle(env)
        withdraw(env)
        env.scan()
        await settle(env)
        assert shown(free, GROUP) == []
        (env.articles / NAME).write_text(content, encoding="utf-8")
        env.scan()
        await settle(env)
        if full_texts(free, GROUP):
            assert cards(free, GROUP), f"a text without its card: {texts(free, GROUP)}"


# --- 8. pictures corrected after 48 hours ---------------------------------------------------


async def test_pictures_corrected_after_48_hours_leave_no_old_album(
    tmp_path: Path, free: Emulator
) -> None:
    """Two days after a notice went out with an album, a wrong picture in it was
    replaced. The album could not be edited as a whole, so a new album was sent and
    the old one, too old to delete, only got a caption: the group still showed the
    wrong picture, next to the new album. Telegram lets a bot edit an album's items
    (editMessageMedia) at any age. Wanted: the group shows the new pictures only."""
    async with delivered(tmp_path, free, A + pictures(0, 1, 2)) as env:
        older_than_48_hours(env, free)
        write(env, A + pictures(0, 1, 3))
        env.scan()
        await settle(env)
        assert sorted(album_items(free, GROUP)) == [
            "https://img.example/1.jpg",
            "https://img.example/3.jpg",
        ], f"pictures shown: {[m.get('media') for m in shown(free, GROUP)]}"


# --- 9. a previous release's ledger: a group upgraded to a supergroup before v11 ----------

SUPER = -1_000_000_000_555


async def test_a_v10_copy_from_before_an_upgrade_never_touches_members_messages(
    tmp_path: Path, free: Emulator
) -> None:
    """Under the previous release the group became a supergroup: `migrate_chat` moved
    its rows to the supergroup's id with the old group's message ids (v10 rows hold
    no chat per part). Schema v11 turned them into copies in the supergroup, where
    the supergroup numbers its own messages: ids 1 and 2 are members' messages there.
    The notice was withdrawn: the bot (allowed to delete messages) deleted the
    members' messages. Wanted (README: old group ids "are never used there"): no
    member's message is edited or deleted."""
    free.grant(SUPER, "can_delete_messages")
    first = free.user_posts(SUPER, "邻居甲：明天几点停水？")
    second = free.user_posts(SUPER, "邻居乙：谢谢提醒")
    assert (first, second) == (1, 2)
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        store = env.runtime.store
        env.scan()
        env.subscribe(SUPER, type="supergroup", mode="full")
        write(env, A, "abbrlink: water-1\n", date=env.clock.now - 30 * 86400)  # not pushed
        env.scan()
        version = store.article("water_1")["content_hash"]
        # What schema v10 held after the upgrade (ids from the old group), as _v11 read it:
        # the deliveries row, then its copy built as the migration builds it.
        store._exec(
            "INSERT INTO deliveries (article_id, chat_id, kind, status, next_attempt_at,"
            " message_ids, next_part, version, shown, step, pinned, created_at, updated_at,"
            " sent_at) VALUES ('water_1', ?, 'article', 'sent', ?, '[[1],[2]]', 2, ?, ?, 0, 0,"
            " ?, ?, ?)",
            [SUPER, env.clock.now, version, version, env.clock.now, env.clock.now, env.clock.now],
        )
        migrated = tuple(
            Part(slot, SUPER, (message_id,), "", UNKNOWN, env.clock.now)
            for slot, message_id in enumerate((1, 2))
        )
        (row,) = store.deliveries(SUPER)
        await store.record_copy(row.id, migrated)
        withdraw(env)
        env.scan()
        await settle(env)
        members = [m["text"] for m in free.shown(SUPER) if not m["from_bot"]]
        assert len(members) == 2, f"members' messages left: {members}"
        assert free.tampered() == [], [(c.method, c.params) for c in free.tampered()]
