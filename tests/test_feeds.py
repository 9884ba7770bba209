"""Feeds as a source: real feed files (tests/feeds, sources in SOURCES.md) served by a
local HTTP server that can answer 304, 500, slowly, with garbage or 50 MB; the
bot reads them over real HTTP into a real ledger and sends through the emulator."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from bot.config import Config
from bot.formatting.formatter import format_article
from bot.ledger import Chat, FeedState
from bot.reading.articles import ArticleError, article_from_json
from bot.sending.delivery import RESUME_PAUSE
from bot.sources.feeds import read_feed
from tests.botenv import live_bot, running_bot
from tests.emulator import Emulator
from tests.invariants import check_messages
from tests.paths import ROOT
from tests.process import run_cli

FEEDS = sorted(
    p for p in (ROOT / "tests" / "feeds").iterdir() if p.suffix in (".xml", ".atom", ".json")
)
WEIBO = ROOT / "tests" / "feeds" / "rsshub-weibo-shenzhen-health-commission.xml"
INTERVAL = 300.0


class FeedServer:
    """Serves ``body`` at /feed with an ETag, as a feed host does; ``mode`` misbehaves."""

    def __init__(self) -> None:
        self.body = b""
        self.mode = "ok"  # ok, 500, slow, garbage, huge
        self.answers: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/feed"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        etag = '"' + hashlib.sha1(self.body).hexdigest() + '"'
        status, body = 200, self.body
        if self.mode == "500":
            status, body = 500, b"Internal Server Error"
        elif self.mode == "garbage":
            body = b"<html><body>\xff\xfe Service temporarily unavailable</body></html>"
        elif self.mode == "slow":
            time.sleep(1.0)
        elif request.headers.get("If-None-Match") == etag:
            status, body = 304, b""
        self.answers.append(status)
        request.send_response(status)
        request.send_header("ETag", etag)
        request.send_header("Content-Type", "application/rss+xml")
        if self.mode == "huge":
            request.send_header("Content-Length", str(50 * 1024 * 1024))
            request.end_headers()
            chunk = b"<!-- padding -->" * 4096
            try:
                for _ in range(50 * 1024 * 1024 // len(chunk)):
                    request.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the reader stopped at its limit
            return
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer()
    yield feed_server
    feed_server.close()


def _with_item(feed: bytes, guid: str, title: str, text: str) -> bytes:
    """The feed with one more item at the top, dated now."""
    now = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    item = (
        f"<item><title>{title}</title><description>&lt;p&gt;{text}&lt;/p&gt;</description>"
        f"<link>https://weibo.com/n/{guid}</link><guid>{guid}</guid><pubDate>{now}</pubDate>"
        "</item>"
    ).encode()
    return feed.replace(b"<item>", item + b"<item>", 1)


@pytest.mark.parametrize("feed", FEEDS, ids=lambda p: p.name)
def test_every_real_feed_reads_as_notices_telegram_accepts(feed: Path) -> None:
    with httpx.Client() as client:
        read = read_feed(str(feed), FeedState(str(feed)), Config(), client, time.time())
    assert read.state.error is None and read.entries
    ids = set()
    for entry in read.entries:
        assert not isinstance(entry, ArticleError), entry
        article = article_from_json(entry.version)
        ids.add(article.id)
        assert article.title and article.body.text.strip()
        formatted = format_article(article, "zh", Config().tz)
        check_messages(formatted.all())
    assert len(ids) == len(read.entries)  # every entry its own notice


async def test_a_feed_entry_arrives_once_and_a_304_costs_no_parse(
    tmp_path: Path, emulator: Emulator, server: FeedServer
) -> None:
    server.body = WEIBO.read_bytes()
    async with running_bot(tmp_path, emulator, feeds=(server.url,)) as env:
        env.scan()
        env.subscribe(101)
        with httpx.Client(timeout=5) as client:
            first = env.runtime.scanner.read_feeds(client)
            assert len(first.new) == 10 and first.queued == 0  # taken in, not pushed
            assert env.runtime.scanner.read_feeds(client).new == []  # not due: not even asked
            assert server.answers == [200]

            env.clock.advance(INTERVAL)
            changed_at = env.runtime.store.feed_state(server.url).changed_at
            unchanged = env.runtime.scanner.read_feeds(client)
            assert server.answers[-1] == 304 and unchanged.new == unchanged.changed == []
            state = env.runtime.store.feed_state(server.url)
            assert state.changed_at == changed_at and state.fetched_at == env.clock.now

            server.body = _with_item(server.body, "n1", "停水通知", "本周六上午停水。")
            env.clock.advance(INTERVAL)
            fresh = env.runtime.scanner.read_feeds(client)
            assert len(fresh.new) == 1 and fresh.queued == 1
            await env.send()
            (card,) = [c for _, c in emulator.delivered() if c.params["chat_id"] == 101]
            assert card.params["text"].startswith("停水通知")

            server.body = server.body.replace("本周六上午停水".encode(), "停水改到周日".encode())
            env.clock.advance(INTERVAL)
            corrected = env.runtime.scanner.read_feeds(client)
            assert corrected.corrected and corrected.editing == 1
            await env.send()
            assert any("停水改到周日" in (m["text"] or "") for m in emulator.shown(101))

            server.body = WEIBO.read_bytes()  # the entry fell off the end of the feed
            env.clock.advance(INTERVAL)
            assert env.runtime.scanner.read_feeds(client).withdrawn == []
            await env.send()
            assert emulator.shown(101)  # still there: feeds keep only their latest entries
        assert len([c for _, c in emulator.delivered() if c.params["chat_id"] == 101]) == 1


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("500", "HTTP 500"),
        ("garbage", "not a feed"),
        ("slow", "no answer in time"),
        ("huge", "larger than 10 MB"),
    ],
)
async def test_a_broken_feed_is_reported_retried_later_and_stops_no_other(
    tmp_path: Path, emulator: Emulator, server: FeedServer, mode: str, error: str
) -> None:
    good = tmp_path / "good.xml"
    good.write_bytes(WEIBO.read_bytes())
    server.body, server.mode = WEIBO.read_bytes(), mode
    async with running_bot(tmp_path, emulator, feeds=(server.url, str(good))) as env:
        with httpx.Client(timeout=0.5) as client:
            report = env.runtime.scanner.read_feeds(client)
            assert len(report.new) == 10  # the good feed, all the same
            ((feed, reason),) = report.feed_errors
            assert feed == server.url and reason.startswith(error)
            state = env.runtime.store.feed_state(server.url)
            assert state.failures == 1 and state.next_at == env.clock.now + 2 * INTERVAL
            shown = run_cli("status", cwd=tmp_path, NOTICEBOT_DB=str(env.runtime.config.db))
            line = next(x for x in shown.stdout.splitlines() if x.startswith(f"feed {server.url}"))
            assert "changed never" in line and "failing (1 in a row) since" in line
            assert error in line and "next try" in line
            env.clock.advance(INTERVAL)
            asked = len(server.answers)
            env.runtime.scanner.read_feeds(client)
            assert len(server.answers) == asked  # backing off: not asked again yet
            server.mode = "ok"
            env.clock.advance(INTERVAL)
            healed = env.runtime.scanner.read_feeds(client)
            assert healed.feed_errors == [] and len(healed.new) == 10  # first good read
        status = env.runtime.store.status()["feeds"]
        assert [(f["url"], f["error"], f["failures"]) for f in status] == [
            (str(good), None, 0),
            (server.url, None, 0),
        ]


async def test_the_running_bot_reads_its_feeds_when_due(
    tmp_path: Path, emulator: Emulator, server: FeedServer
) -> None:
    server.body = WEIBO.read_bytes()
    async with live_bot(tmp_path, emulator, feeds=(server.url,), feed_interval=0.3) as bot:
        for _ in range(250):
            if bot.runtime.store.feed_state(server.url).baselined_at:
                break
            await asyncio.sleep(0.02)
        bot.runtime.store.subscribe(Chat(101))
        await asyncio.sleep(RESUME_PAUSE)
        start = bot.mark()
        server.body = _with_item(server.body, "n2", "停电通知", "本周日停电。")
        (card,) = await bot.wait_calls(start, 1, timeout=10)
    assert card.params["chat_id"] == 101 and card.params["text"].startswith("停电通知")
    assert 304 in server.answers  # asked again and again; read only when it changed


async def test_an_impossible_address_stops_no_other_feed_and_undated_entries_keep_their_date(
    tmp_path: Path, emulator: Emulator
) -> None:
    undated = tmp_path / "hot.json"  # a real JSON Feed whose entries carry no date
    original = (ROOT / "tests" / "feeds" / "jsonfeed-1-zh-weibo-hot-topics.json").read_text("utf-8")
    undated.write_text(original, "utf-8")
    async with running_bot(tmp_path, emulator, feeds=("http://[::1", str(undated))) as env:
        with httpx.Client(timeout=5) as client:
            first = env.runtime.scanner.read_feeds(client)
            assert len(first.new) == 50
            ((feed, reason),) = first.feed_errors
            assert feed == "http://[::1" and reason.startswith("cannot fetch")
            dates = {r["id"]: r["date"] for r in env.runtime.store.recent_articles(100)}
            env.clock.advance(INTERVAL)
            undated.write_text(
                original.replace('"items": [', '"items": [{"id": "new", "title": "新话题"},', 1),
                "utf-8",
            )
            second = env.runtime.scanner.read_feeds(client)
        assert len(second.new) == 1 and second.changed == []  # the others: as they were
        again = {r["id"]: r["date"] for r in env.runtime.store.recent_articles(100)}
        assert all(again[i] == d for i, d in dates.items())
