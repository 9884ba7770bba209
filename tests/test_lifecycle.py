"""A notice after it went out: corrected, withdrawn, urgent, expired.

End to end: real python-telegram-bot against the emulator, which answers edits,
deletions and pins as Telegram does (48 hours to delete, rights to pin, "message
to edit not found" once someone deleted it); a real ledger and article files.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.ledger import SENT, SKIPPED
from bot.ledger.copies import GONE
from bot.ledger.states import RETRACTED
from bot.sending.delivery import SendPolicy
from tests import ledgers
from tests.botenv import ADMIN, BotEnv, live_bot, message_update, running_bot, until
from tests.chaos import article_text
from tests.emulator import Emulator, Fault
from tests.process import run_cli

pytestmark = ledgers.each_backend

GROUP = -1_000_000_000_777
LONG = "".join(f"<p>第{i}段：本周六上午停水，请提前储水，注意安全。</p>" for i in range(200))
# One text message, longer than a card holds: a full-mode copy is card and text (a short
# notice would be its card alone).
DETAILS = "<p>停水期间请关好水龙头，如有疑问请联系居委会。</p>" * 14


@asynccontextmanager
async def delivered(
    tmp_path: Path,
    emulator: Emulator,
    body: str = "<p>本周六上午停水。</p>" + DETAILS,
    edits: bool = True,
    **chats: str,
) -> AsyncIterator[BotEnv]:
    """A notice delivered to a private chat (101, card) and a supergroup (full text), by a
    bot configured with ``edits`` (NOTICEBOT_EDITS)."""
    limits = emulator.limits is not None
    async with running_bot(tmp_path, emulator, rate_limits=limits, edits=edits) as env:
        env.write_standing()
        env.scan()
        env.subscribe(101)
        env.subscribe(GROUP, type="supergroup", mode=chats.get("group_mode", "full"))
        env.write_article("n.md", title="停水通知", body=body, extra=chats.get("extra", ""))
        env.scan()
        await env.send()
        yield env


def texts(emulator: Emulator, chat_id: int) -> list[str]:
    return [m["text"] or "" for m in emulator.shown(chat_id)]


def sends(emulator: Emulator, start: int = 0) -> list[str]:
    return [c.method for c in emulator.calls[start:] if c.ok and c.method.startswith("send")]


async def test_a_correction_edits_every_copy_in_place(tmp_path: Path, free: Emulator) -> None:
    async with delivered(tmp_path, free) as env:
        before = {chat: [m["message_id"] for m in free.shown(chat)] for chat in (101, GROUP)}
        start = len(free.calls)
        env.clock.advance(600)
        env.write_article("n.md", title="停水通知", body="<p>停水改到周日上午。</p>" + DETAILS)
        report = env.scan()
        assert report.corrected and report.editing == 2
        await env.send()
        assert sends(free, start) == []  # nothing new: every copy edited where it is
        for chat in (101, GROUP):
            assert [m["message_id"] for m in free.shown(chat)] == before[chat]
            assert any("停水改到周日上午" in text for text in texts(free, chat))
            assert not any("本周六上午停水" in text for text in texts(free, chat))
            assert "🔄 已于" in texts(free, chat)[0]  # the card says it was corrected
        rows = {d.chat_id: d for d in env.runtime.store.deliveries()}
        assert {d.status for d in rows.values()} == {SENT}
        assert len({d.shown for d in rows.values()}) == 1


async def test_a_longer_version_adds_parts_and_a_shorter_one_removes_them(
    tmp_path: Path, free: Emulator
) -> None:
    async with delivered(tmp_path, free) as env:
        assert len(free.shown(GROUP)) == 2  # card and text
        card = free.shown(GROUP)[0]["message_id"]
        start = len(free.calls)
        env.write_article("n.md", title="停水通知", body=LONG)
        env.scan()
        await env.send()
        longer = free.shown(GROUP)
        assert len(longer) > 2
        extra = [c for c in free.calls[start:] if c.ok and c.method == "sendMessage"]
        assert extra and all(c.params["reply_parameters"]["message_id"] == card for c in extra)
        assert len(free.shown(101)) == 1  # a card-only chat still has its card only
        env.write_article("n.md", title="停水通知", body="<p>停水取消。</p>" + DETAILS)
        env.scan()
        await env.send()
        shorter = free.shown(GROUP)
        assert len(shorter) == 2 and "停水取消" in shorter[1]["text"]
        assert {m["message_id"] for m in longer[2:]} <= {key[1] for key in free.deleted}
        (row,) = env.runtime.store.deliveries(GROUP)
        assert len(row.message_ids) == 2 and row.status == SENT


async def test_a_withdrawal_deletes_every_copy_within_48_hours(
    tmp_path: Path, free: Emulator
) -> None:
    async with delivered(tmp_path, free) as env:
        (env.articles / "n.md").unlink()
        report = env.scan()
        assert report.withdrawn and report.retracting == 2
        await env.send()
        assert free.shown(101) == [] and free.shown(GROUP) == []
        assert {d.status for d in env.runtime.store.deliveries()} == {RETRACTED}


async def test_after_48_hours_a_withdrawn_card_says_so(tmp_path: Path, free: Emulator) -> None:
    async with delivered(tmp_path, free) as env:
        free.advance(49 * 3600)
        env.write_article("n.md", title="停水通知", extra="draft: true\n")
        env.scan()
        await env.send()
        for chat in (101, GROUP):
            card = texts(free, chat)[0]
            assert card.startswith("停水通知") and "此通知已撤回" in card
            assert free.shown(chat)[0]["reply_markup"] is None  # no buttons on a withdrawn notice
        assert {d.status for d in env.runtime.store.deliveries()} == {RETRACTED}


async def test_published_again_after_a_withdrawal_it_is_sent_anew(
    tmp_path: Path, free: Emulator
) -> None:
    async with delivered(tmp_path, free) as env:
        env.write_article("n.md", title="停水通知", extra="withdrawn: true\n")
        env.scan()
        await env.send()
        assert free.shown(101) == []
        env.write_article("n.md", title="停水通知", body="<p>停水照常进行。</p>")
        env.scan()
        await env.send()
        assert "停水照常进行" in texts(free, 101)[0]
        assert {d.status for d in env.runtime.store.deliveries()} == {SENT}


async def test_a_copy_someone_deleted_is_recorded_as_gone_not_sent_again(
    tmp_path: Path, free: Emulator
) -> None:
    async with delivered(tmp_path, free) as env:
        (text_part,) = [m for m in free.shown(GROUP)[1:]]
        free.user_deletes(GROUP, text_part["message_id"])
        start = len(free.calls)
        env.write_article("n.md", title="停水通知", body="<p>停水改到周日。</p>" + DETAILS)
        env.scan()
        await env.send()
        refused = [c.error for c in free.calls[start:] if c.error]
        assert refused == ["Bad Request: message to edit not found"]
        assert sends(free, start) == []
        assert len(free.shown(GROUP)) == 1 and "🔄 已于" in texts(free, GROUP)[0]
        (row,) = env.runtime.store.deliveries(GROUP)
        assert row.status == SENT and row.copy[1].state == GONE


async def test_an_urgent_notice_is_pinned_and_unpinned_when_it_expires(
    tmp_path: Path, free: Emulator
) -> None:
    free.grant(GROUP, "can_pin_messages")
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.scan()
        env.subscribe(GROUP, type="supergroup")
        env.subscribe(-1_000_000_000_888, type="supergroup")  # may not pin
        env.subscribe(101, quiet_start="00:00", quiet_end="23:59")
        expires = "expires: 2099-01-01 00:00:00\n"
        env.write_article("u.md", title="紧急停水", extra=f"urgent: true\n{expires}")
        env.scan()
        await env.send()
        card = free.shown(GROUP)[0]["message_id"]
        assert free.pinned[GROUP] == {card}
        pins = [c for c in free.calls if c.method == "pinChatMessage" and c.ok]
        assert all(c.params["disable_notification"] for c in pins)
        assert free.pinned[-1_000_000_000_888] == set()
        assert len(free.shown(-1_000_000_000_888)) == 1  # the notice itself still arrived
        assert env.runtime.store.chat(-1_000_000_000_888).pin_refused_at is not None
        private = [c for c in free.calls if c.ok and c.params.get("chat_id") == 101]
        assert not any(c.params.get("disable_notification") for c in private)  # rings
        env.clock.now = 4_070_908_800 + 60  # 2099-01-01, past the expiry
        assert env.scan().unpinning == 1
        await env.send()
        assert free.pinned[GROUP] == set()
        (row,) = env.runtime.store.deliveries(GROUP)
        assert row.status == SENT and not row.pinned


async def test_an_expired_notice_is_no_longer_pushed(tmp_path: Path, free: Emulator) -> None:
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.scan()
        env.subscribe(101, 102)
        env.write_article("e.md", title="已过期的通知", extra="expires: 2099-01-01\n")
        assert env.scan().queued == 2
        env.clock.now = 4_070_908_800 + 86_400 + 1  # the end of 2099-01-01 has passed
        await env.send()
        env.write_article("f.md", title="过期才写", extra="expires: 2000-01-01\n")
        assert env.scan().expired
        assert free.delivered() == []
        assert {d.status for d in env.runtime.store.deliveries()} == {SKIPPED}


async def test_with_edits_off_a_correction_leaves_copies_alone(
    tmp_path: Path, free: Emulator
) -> None:
    async with delivered(tmp_path, free, edits=False) as env:  # NOTICEBOT_EDITS=off
        start = len(free.calls)
        env.write_article("n.md", title="停水通知", body="<p>停水改到周日。</p>")
        assert env.scan().editing == 0
        await env.send()
        assert free.calls[start:] == []
        assert {d.status for d in env.runtime.store.deliveries()} == {SENT}


async def test_a_correction_while_the_notice_goes_out_ends_at_the_latest_version(
    tmp_path: Path, free: Emulator
) -> None:
    """The scan corrects the notice while its send is on the way: the copy goes out,
    then is edited, never left at the old version."""
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.scan()
        env.subscribe(101)
        env.write_article("n.md", title="停水通知", body="<p>周六停水。</p>")
        env.scan()
        free.once[101].append(Fault.slow(0.5))
        sending = asyncio.create_task(env.send())
        while not any(c.params.get("chat_id") == 101 for c in free.calls):
            await asyncio.sleep(0.01)
        env.write_article("n.md", title="停水通知", body="<p>周日停水。</p>")
        assert env.scan().corrected
        await sending
        first, *rest = [c for c in free.calls if c.ok and c.params.get("chat_id") == 101]
        assert "周六停水" in (first.params.get("text") or first.params.get("caption"))
        assert [c.method for c in rest] == ["editMessageText"]
        assert "周日停水" in texts(free, 101)[0]
        (row,) = env.runtime.store.deliveries(101)
        assert row.status == SENT


async def test_what_people_see_of_pins_expiry_and_upkeep(tmp_path: Path, free: Emulator) -> None:
    """``/settings`` tells a group's admins that the bot may not pin (and nothing else
    does); ``/stats`` and ``noticebot status`` count the upkeep."""
    (tmp_path / "articles").mkdir()
    async with live_bot(tmp_path, free, policy=SendPolicy()) as bot:
        await until(lambda: bot.runtime.scanned_at, "first scan")  # the empty archive's baseline
        free.members[(GROUP, 5)] = "administrator"
        group = {"user_id": 5, "chat_type": "supergroup"}
        await bot.say(message_update(GROUP, "/subscribe", **group))
        (bot.articles / "u.md").write_text(
            article_text("紧急停水", extra="urgent: true\nexpires: 2000-01-02\n"), encoding="utf-8"
        )
        (bot.articles / "p.md").write_text(
            article_text("紧急停电", extra="priority: urgent\n"), encoding="utf-8"
        )
        for _ in range(100):
            if bot.runtime.store.chat(GROUP).pin_refused_at is not None:
                break
            await asyncio.sleep(0.05)
        (menu,) = await bot.say(message_update(GROUP, "/settings", **group))
        assert "没有置顶消息的权限" in menu.params["text"]
        (stats,) = await bot.say(message_update(ADMIN, "/stats"))
        assert "置顶0条" in stats.params["text"]
    status = run_cli("status", cwd=tmp_path)
    assert "copies kept current: 0 edits, 0 retracted, 0 pinned now" in status.stdout


async def test_latest_marks_an_expired_notice(tmp_path: Path, free: Emulator) -> None:
    (tmp_path / "articles").mkdir()
    async with live_bot(tmp_path, free, policy=SendPolicy()) as bot:
        await until(lambda: bot.runtime.scanned_at, "first scan")
        (bot.articles / "e.md").write_text(
            article_text("旧的停水通知", extra="expires: 2000-01-02\n"), encoding="utf-8"
        )
        for _ in range(100):
            if bot.runtime.store.recent_articles(1):
                break
            await asyncio.sleep(0.05)
        (listing,) = await bot.say(message_update(101, "/latest"))
    assert re.search(r"旧的停水通知\n[^\n]* · 已过期\n", listing.params["text"])


async def test_in_a_channel_without_the_right_to_delete_the_card_says_withdrawn(
    tmp_path: Path, free: Emulator
) -> None:
    channel = -1_000_000_000_999
    free.channels.add(channel)
    free.grant(channel, "can_post_messages")
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.write_standing()
        env.scan()
        env.subscribe(channel, type="channel")
        env.write_article("n.md", title="停水通知")
        env.scan()
        await env.send()
        (env.articles / "n.md").unlink()
        env.scan()
        await env.send()
        (card,) = texts(free, channel)
        assert card.startswith("停水通知") and "此通知已撤回" in card
        assert {d.status for d in env.runtime.store.deliveries()} == {RETRACTED}
