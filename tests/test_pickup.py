"""Instant pickup: the running bot watches its article folders and pushes a notice
as soon as its file is written, long before the periodic scan would."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.ledger import Chat
from bot.sending.delivery import RESUME_PAUSE
from bot.sources.watcher import QUIET_MS, SETTLE
from tests.botenv import LiveBot, live_bot, until
from tests.emulator import Emulator

HOUR = 3600.0  # the periodic scan, out of the way


def _notice(body: str) -> str:
    now = datetime.now(UTC)
    return f"---\ntitle: 停水通知\ndate: {now:%Y-%m-%d %H:%M:%S} +0000\n---\n\n{body}\n"


async def _ready(bot: LiveBot) -> int:
    """Chat 101 subscribed, the first scan (at start) has taken the folder in, and the
    dispatcher's pause after a start (``RESUME_PAUSE``) is over: sends go out as soon
    as they are queued. What the emulator has had so far."""
    bot.runtime.store.subscribe(Chat(101))
    await until(lambda: bot.runtime.store.get_meta(f"first_scan_done:{bot.articles}"), "first scan")
    await asyncio.sleep(RESUME_PAUSE)
    return bot.mark()


async def test_a_file_written_while_the_bot_runs_is_pushed_at_once(
    tmp_path: Path, emulator: Emulator
) -> None:
    async with live_bot(tmp_path, emulator, scan_interval=HOUR) as bot:
        start = await _ready(bot)
        (bot.articles / "2024").mkdir()
        (bot.articles / "2024" / "停水.md").write_text(_notice("本周六上午停水。"), "utf-8")
        (card,) = await bot.wait_calls(start, 1)
    assert card.params["chat_id"] == 101 and card.params["text"].startswith("停水通知")


async def test_a_file_written_in_steps_goes_out_once_as_finally_written(
    tmp_path: Path, emulator: Emulator
) -> None:
    """An editor saving in three writes 0.3 s apart: the chat gets the last, once."""
    async with live_bot(tmp_path, emulator, scan_interval=HOUR) as bot:
        start = await _ready(bot)
        path = bot.articles / "notice.md"
        text = _notice("本周六上午停水，请提前储水。" * 10 + "最后一句。")
        for end in (len(text) // 3, 2 * len(text) // 3, len(text)):
            path.write_text(text[:end], "utf-8")
            await asyncio.sleep(0.3)
        (card,) = await bot.wait_calls(start, 1)
        assert await bot.quiet(1.5) == []  # no second copy, no correction
    assert card.params["text"].endswith("最后一句。")
    assert [c.method for c in emulator.calls[start:] if c.method.startswith("edit")] == []


async def test_without_watching_the_periodic_scan_still_finds_it(
    tmp_path: Path, emulator: Emulator
) -> None:
    """Not watched, a new file waits for the bot's periodic scan job, which finds it.
    That job is due in an hour, so no scan can run while the quiet is checked; then it
    is made due now."""
    async with live_bot(tmp_path, emulator, watch=False, scan_interval=HOUR) as bot:
        start = await _ready(bot)
        (bot.articles / "notice.md").write_text(_notice("本周六上午停水。"), "utf-8")
        # nothing watches: no card when a watcher would have sent it, from the settled write
        assert await bot.quiet(QUIET_MS / 1000 + SETTLE + 1.5) == []
        assert bot.app.job_queue is not None
        (periodic,) = bot.app.job_queue.get_jobs_by_name("scan")
        periodic.job.modify(next_run_time=datetime.now(UTC))
        (card,) = await bot.wait_calls(start, 1)
    assert card.params["text"].startswith("停水通知")
