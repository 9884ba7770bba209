"""What the README and SECURITY.md promise, each held by a test that fails without it:
a channel is subscribed from private only when the bot administers it too; /metrics
counts the 429s received and the unreadable files; ``NOTICEBOT_WATCH=off`` watches
nothing; a token-shaped string that is not the bot's own token is redacted in the log
as the token is. End to end through the emulator where a chat is involved."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.config import load_config
from bot.ledger import Chat
from bot.sources.scanning import scan_now
from tests import ledgers
from tests.botenv import ADMIN, TOKEN, LiveBot, live_bot, message_update
from tests.emulator import BOT_ID, Emulator, Fault
from tests.process import clean_env, free_port
from tests.test_metrics import _values

pytestmark = ledgers.each_backend


def _notice(title: str) -> str:
    now = datetime.now(UTC)
    return f"---\ntitle: {title}\ndate: {now:%Y-%m-%d %H:%M:%S} +0000\n---\n\n本周六上午停水。\n"


async def _scanned(bot: LiveBot) -> None:
    """The first scan (at start) has taken the folder in: a file written now is new. (The
    dispatcher's pause after a start, ``RESUME_PAUSE``, ends within a second of it.)"""
    for _ in range(250):
        if bot.runtime.store.get_meta(f"first_scan_done:{bot.articles}"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no first scan")


# --- /subscribe @channel: the bot must administer the channel too ----------------------

CHANNEL = -1002700
CHANNEL_ADMIN = 2701


async def test_a_channel_where_the_bot_is_only_a_member_is_not_subscribed(
    tmp_path: Path, emulator: Emulator
) -> None:
    """README: ``/subscribe @channel`` in private by an admin of the channel "(the bot
    must be one too)". The user administers it, the bot is a plain member: refused,
    not subscribed; once the bot is made an administrator, the same command subscribes."""
    emulator.chats["@board"] = {"id": CHANNEL, "type": "channel", "title": "Board"}
    emulator.channels.add(CHANNEL)
    emulator.set_member(CHANNEL, CHANNEL_ADMIN, "administrator")
    emulator.set_member(CHANNEL, BOT_ID, "member")
    async with live_bot(tmp_path, emulator) as bot:
        (refused,) = await bot.say(message_update(CHANNEL_ADMIN, "/subscribe @board"))
        assert refused.params["chat_id"] == CHANNEL_ADMIN
        assert refused.params["text"] == "无法订阅 @board：您和机器人都必须是该频道的管理员。"
        channel = bot.runtime.store.chat(CHANNEL)
        assert channel is None or not channel.subscribed
        emulator.set_member(CHANNEL, BOT_ID, "administrator")  # the control: now it may
        (ok,) = await bot.say(message_update(CHANNEL_ADMIN, "/subscribe @board"))
        assert ok.params["text"].startswith("订阅成功！频道 @board")
        assert bot.runtime.store.chat(CHANNEL).subscribed


# --- /metrics: 429s received, unreadable files --------------------------------------------


async def _scrape(port: int) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=5) as client:
        return _values((await client.get(f"http://127.0.0.1:{port}/metrics")).text)


async def test_one_429_received_is_one_on_metrics(tmp_path: Path, emulator: Emulator) -> None:
    """README: /metrics shows "429s received". One injected 429 on a reply: the reply
    still arrives (after the wait Telegram asked for), and the counter says 1, as many
    as the emulator answered."""
    port = free_port()
    async with live_bot(tmp_path, emulator, metrics_listen=("127.0.0.1", port)) as bot:
        assert (await _scrape(port))["noticebot_flood_waits_total"] == 0
        emulator.fail(2801, "sendMessage", Fault.flood(1))
        (reply,) = await bot.say(message_update(2801, "/help"))
        assert reply.params["chat_id"] == 2801
        metrics = await _scrape(port)
    assert emulator.too_many == 1 and emulator.inside_retry_after == 0
    assert metrics["noticebot_flood_waits_total"] == 1


async def test_one_unreadable_file_is_one_source_error(tmp_path: Path, emulator: Emulator) -> None:
    """README: /metrics shows "errors per source"; for the folders, the files that could
    not be read. One file with broken YAML among good ones: 1."""
    port = free_port()
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "good.md").write_text(_notice("停水通知"), "utf-8")
    async with live_bot(tmp_path, emulator, metrics_listen=("127.0.0.1", port)) as bot:
        await _scanned(bot)
        assert (await _scrape(port))["noticebot_source_errors{source=folders}"] == 0
        (bot.articles / "broken.md").write_text("---\ntitle: [停电\n---\n\n正文\n", "utf-8")
        for _ in range(500):  # the watcher or the 0.5 s scan reads it
            if bot.runtime.store.invalid_files():
                break
            await asyncio.sleep(0.02)
        assert bot.runtime.store.invalid_files() == 1, "the broken file was never scanned"
        metrics = await _scrape(port)
    assert metrics["noticebot_source_errors{source=folders}"] == 1


# --- NOTICEBOT_WATCH=off ------------------------------------------------------------------


async def test_watch_off_in_the_environment_watches_nothing(
    tmp_path: Path, emulator: Emulator
) -> None:
    """README: ``NOTICEBOT_WATCH=off`` is for folders that send no change events: then
    only the periodic scan finds a new file. The setting read from the environment as
    the bot reads it, the scan once an hour: a new file is not sent for 2 s (watching
    sends it in about 0.7 s); a scan then sends it, so it was a notice to send."""
    articles = tmp_path / "articles"
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": emulator.url,
        "NOTICEBOT_ARTICLES": str(articles),
        "NOTICEBOT_DB": str(ledgers.current(tmp_path)),
        "NOTICEBOT_ANNOUNCE_DIR": str(tmp_path / "state" / "announcements"),
        "NOTICEBOT_ADMINS": str(ADMIN),
        "NOTICEBOT_WATCH": "off",
        "NOTICEBOT_SCAN_INTERVAL": "3600",
    }
    config = load_config(env, cwd=tmp_path)
    assert config.watch is False and config.scan_interval == 3600
    settings = {f.name: getattr(config, f.name) for f in fields(config)}
    articles.mkdir()
    async with live_bot(tmp_path, emulator, **settings) as bot:
        bot.runtime.store.subscribe(Chat(2901))
        await _scanned(bot)
        (bot.articles / "停水.md").write_text(_notice("停水通知"), "utf-8")
        assert await bot.quiet(2.0) == []
        start = bot.mark()
        await scan_now(bot.runtime)
        (card,) = await bot.wait_calls(start, 1, timeout=10)
    assert card.params["chat_id"] == 2901 and card.params["text"].startswith("停水通知")


# --- the redactor: any token-shaped string --------------------------------------------------

# Another bot's token: shaped like one (digits, a colon, 35 characters), not ours.
OTHER_TOKEN = "987654321:AAGz-other_Bot-Token-0123456789abcd"


@pytest.mark.parametrize("form", ["text", "json"])
def test_a_token_that_is_not_ours_is_redacted_at_every_level(tmp_path: Path, form: str) -> None:
    """logs.py: the formatter redacts "anything shaped like" a token, not only the
    configured one (another bot's token in a URL, a message, a traceback). The logging
    the bot sets up, at DEBUG, a line at every level from the bot and from httpx."""
    script = textwrap.dedent(
        f"""
        import logging
        from bot.logs import setup_logging
        setup_logging("DEBUG", {TOKEN!r}, {form!r})
        other = {OTHER_TOKEN!r}
        for name in ("noticebot", "httpx"):
            log = logging.getLogger(name)
            for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
                log.log(
                    getattr(logging, level),
                    "%s: GET https://api.telegram.org/bot%s/getMe; a user wrote %s",
                    level, other, other,
                )
        try:
            raise RuntimeError("a token in an error: " + other)
        except RuntimeError:
            logging.getLogger("noticebot").exception("TRACEBACK")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    text, lines = result.stderr, result.stderr.splitlines()
    if form == "json":
        assert all(isinstance(json.loads(line), dict) for line in lines)
    for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        shown = [line for line in lines if f"{level}: GET https://api.telegram.org/bot" in line]
        assert len(shown) == 2, (level, text)  # the bot's and httpx's: none dropped
    assert "TRACEBACK" in text and "RuntimeError: a token in an error: " in text
    assert OTHER_TOKEN not in text and OTHER_TOKEN.split(":")[1] not in text, text
    assert text.count("<token>") == 2 * 5 * 2 + 1  # in each URL and message, in the error
