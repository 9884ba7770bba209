"""Feeds as a source: real feed files (tests/feeds, sources in SOURCES.md) served by a
local HTTP server that can answer 304, 500, slowly, a byte at a time, with garbage or
50 MB; the bot reads them over real HTTP into a real ledger and sends through the
emulator."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.config import Config
from bot.formatting.formatter import format_article
from bot.ledger import Chat, FeedState
from bot.logs import RedactingFormatter
from bot.reading.articles import ArticleError, article_from_json
from bot.sending.delivery import RESUME_PAUSE
from bot.sources.feeds import newest, read_feed
from tests.botenv import TOKEN, LiveBot, live_bot, running_bot
from tests.emulator import Emulator
from tests.feedserver import LOCAL_CERT, FeedServer, rss_of
from tests.invariants import check_messages
from tests.paths import ROOT
from tests.process import free_port, run_cli

FEEDS = sorted(
    p for p in (ROOT / "tests" / "feeds").iterdir() if p.suffix in (".xml", ".atom", ".json")
)
WEIBO = ROOT / "tests" / "feeds" / "rsshub-weibo-shenzhen-health-commission.xml"
INTERVAL = 300.0


def other_items(feed: bytes) -> bytes:
    """The feed's posts under other addresses: a second feed with items of its own (the
    same item in two feeds is one notice)."""
    return feed.replace(b"https://weibo.com/", b"https://weibo.cn/")


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
    good.write_bytes(other_items(WEIBO.read_bytes()))
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


async def test_a_feed_whose_first_read_fails_pushes_nothing_at_its_first_good_read(
    tmp_path: Path, emulator: Emulator
) -> None:
    """The first read of a feed takes its entries in without pushing them: the first read
    that succeeds, not the first try. A feed not there when the bot first asks, then with
    today's items: none goes to the subscribers. The control: an item after that is sent.
    (A feed file: the test HTTP server takes half a second to stop.)"""
    feed = tmp_path / "feed.xml"
    async with running_bot(tmp_path, emulator, feeds=(str(feed),)) as env:
        env.scan()
        env.subscribe(101)
        with httpx.Client(timeout=5) as client:
            assert env.runtime.scanner.read_feeds(client).feed_errors
            feed.write_bytes(rss_of([(f"urn:jmj:{n}", "", f"旧通知{n}") for n in range(3)]))
            env.clock.advance(2 * INTERVAL)  # past the backoff of one failure
            healed = env.runtime.scanner.read_feeds(client)
            assert len(healed.new) == 3 and healed.queued == 0
            await env.send()
            assert emulator.delivered() == []
            feed.write_bytes(rss_of([("urn:jmj:new", "", "停水通知")]))
            env.clock.advance(INTERVAL)
            assert env.runtime.scanner.read_feeds(client).queued == 1
        await env.send()
    (card,) = [c for _, c in emulator.delivered() if c.params["chat_id"] == 101]
    assert card.params["text"].startswith("停水通知")


async def test_the_running_bot_reads_its_feeds_when_due(
    tmp_path: Path, emulator: Emulator, server: FeedServer
) -> None:
    server.body = WEIBO.read_bytes()
    async with live_bot(tmp_path, emulator, feeds=(server.url,), feed_interval=0.3) as bot:
        await _baselined(bot, server.url, within=5.0)
        bot.runtime.store.subscribe(Chat(101))
        await asyncio.sleep(RESUME_PAUSE)
        start = bot.mark()
        server.body = _with_item(server.body, "n2", "停电通知", "本周日停电。")
        (card,) = await bot.wait_calls(start, 1, timeout=10)
    assert card.params["chat_id"] == 101 and card.params["text"].startswith("停电通知")
    assert 304 in server.answers  # asked again and again; read only when it changed


async def test_the_running_bot_reads_its_feeds_at_start(
    tmp_path: Path, emulator: Emulator, server: FeedServer
) -> None:
    """Not one look interval later (python-telegram-bot's first=0 waits one)."""
    server.body = WEIBO.read_bytes()
    async with live_bot(tmp_path, emulator, feeds=(server.url,), feed_interval=600) as bot:
        assert await _baselined(bot, server.url, within=3.0), "not read at start"


async def _baselined(bot: LiveBot, url: str, *, within: float) -> bool:
    """Whether the running bot has read the feed once, waiting up to ``within`` s."""
    for _ in range(int(within / 0.02)):
        if bot.runtime.store.feed_state(url).baselined_at:
            return True
        await asyncio.sleep(0.02)
    return False


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


@pytest.mark.parametrize(
    ("mode", "tls"), [("drip-headers", False), ("drip-body", False), ("drip-headers", True)]
)
async def test_a_dripping_feed_ends_at_its_deadline_and_the_next_feed_is_read_in_the_round(
    tmp_path: Path, emulator: Emulator, mode: str, tls: bool
) -> None:
    """A server that sends a byte every half second never trips a per-read timeout: the
    fetch's own deadline ends it, and the feed after it is read all the same."""
    server, other = FeedServer(tls), FeedServer()
    server.body, server.mode = WEIBO.read_bytes(), mode
    other.body = other_items(WEIBO.read_bytes())
    verify = ssl.create_default_context(cadata=LOCAL_CERT)
    try:
        feeds = (server.url, other.url)
        async with running_bot(tmp_path, emulator, feeds=feeds, feed_deadline=1.5) as env:
            with httpx.Client(timeout=5, verify=verify) as client:
                report = env.runtime.scanner.read_feeds(client)
                dripping_still = not server.dripped.is_set()
                # the client still open, as the bot's is: the fetch's connection was cut
                assert server.hung_up.wait(10)
            assert report.feed_errors == [(server.url, "no answer within 1.5 s")]
            assert len(report.new) == 10 and other.answers == [200]  # the same round
            state = env.runtime.store.feed_state(server.url)
            assert state.failures == 1 and state.next_at == env.clock.now + 2 * INTERVAL
        assert dripping_still  # the round was over before the server was
    finally:
        server.close()
        other.close()


def _big_feed(kind: str, count: int, start: float) -> bytes:
    """``count`` entries, one a minute from ``start``, the oldest first: the newest are
    the last in the feed."""
    stamps = [start + minutes * 60 for minutes in range(count)]
    if kind == "json":
        items = [
            {
                "id": f"n{i}",
                "title": f"通知 {i}",
                "content_text": f"第 {i} 号通知。",
                "date_published": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
            }
            for i, at in enumerate(stamps)
        ]
        feed = {"version": "https://jsonfeed.org/version/1.1", "title": "大", "items": items}
        return json.dumps(feed, ensure_ascii=False).encode()
    if kind == "atom":
        entries = "".join(
            f"<entry><id>n{i}</id><title>通知 {i}</title><content>第 {i} 号通知。</content>"
            f"<updated>{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(at))}</updated></entry>"
            for i, at in enumerate(stamps)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>大</title><id>big</id>{entries}</feed>"
        ).encode()
    items = "".join(
        f"<item><title>通知 {i}</title><description>第 {i} 号通知。</description>"
        f"<guid>n{i}</guid><pubDate>{email.utils.formatdate(at, usegmt=True)}</pubDate></item>"
        for i, at in enumerate(stamps)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>大</title>'
        f"{items}</channel></rss>"
    ).encode()


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
async def test_a_feed_of_60000_entries_gives_its_newest_200_in_one_line(
    tmp_path: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """Only the newest 200 entries by date (the last ones in this feed) become notices, and
    the log says so once; the rest is never turned into notices."""
    feed = tmp_path / f"big.{kind}"
    feed.write_bytes(_big_feed(kind, 60_000, time.time() - 60_000 * 60))
    async with running_bot(tmp_path, emulator, feeds=(str(feed),)) as env:
        with caplog.at_level(logging.INFO, logger="bot"), httpx.Client() as client:
            report = env.runtime.scanner.read_feeds(client)
        titles = {row["title"] for row in env.runtime.store.recent_articles(1000)}
        assert env.runtime.store.feed_state(str(feed)).error is None
    assert len(report.new) == 200 and report.invalid == []
    assert titles == {f"通知 {i}" for i in range(59_800, 60_000)}
    lines = [r.getMessage() for r in caplog.records if "entries" in r.getMessage()]
    assert lines == [
        f"feed {feed}: 60000 entries, only the newest 200 read (NOTICEBOT_FEED_MAX_ENTRIES)"
    ]


async def test_credentials_in_a_feed_address_are_never_shown(
    tmp_path: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A password in the address, an access key and a token in its query: the running
    bot's log at DEBUG (httpx and httpcore included, through the bot's formatter), its
    /metrics and its errors show the feeds as ``***`` where the secrets were."""
    failing, working = FeedServer(), FeedServer()
    failing.mode = "500"
    empty = b"<item><guid>empty</guid></item>"  # an entry with nothing in it: invalid
    working.body = WEIBO.read_bytes().replace(b"<item>", empty + b"<item>", 1)
    secrets = ("hunter2", "AK-SECRET-1", "TK-SECRET-2")
    port = free_port()
    host = failing.url.removeprefix("http://").removesuffix("/feed")
    locked = f"http://reader:hunter2@{host}/feed?access_key=AK-SECRET-1&tags=a,b"
    tokened = f"{working.url}?token=TK-SECRET-2"
    caplog.handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s", TOKEN))
    caplog.set_level(logging.DEBUG)
    for chatty in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=chatty)
    try:
        async with (
            live_bot(
                tmp_path,
                emulator,
                feeds=(locked, tokened),
                feed_interval=0.3,
                metrics_listen=("127.0.0.1", port),
            ) as bot,
            httpx.AsyncClient(timeout=5) as client,
        ):
            store = bot.runtime.store
            for _ in range(500):
                if store.feed_state(locked).failures and store.feed_state(tokened).baselined_at:
                    break
                await asyncio.sleep(0.02)
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            states = [store.feed_state(locked), store.feed_state(tokened)]
        with httpx.Client(timeout=5) as sync_client:
            read = read_feed(tokened, FeedState(tokened), Config(), sync_client, time.time())
    finally:
        failing.close()
        working.close()
    shown_locked = f"http://***@{host}/feed?access_key=***&tags=a,b"
    log = caplog.text
    assert f"HTTP Request: GET {shown_locked}" in log  # httpx's line, the secrets hidden
    assert f"feed {shown_locked}: HTTP 500" in log  # the bot's warning
    assert f'noticebot_source_errors{{source="{shown_locked}"}}' in metrics
    assert f'noticebot_source_errors{{source="{working.url}?token=***"}} 0.0' in metrics
    assert states[0].error == "HTTP 500 Internal Server Error" and states[1].error is None
    (error,) = [e for e in read.entries if isinstance(e, ArticleError)]
    assert str(error.path) == str(Path(f"{working.url}?token=***#empty"))
    shown = "\n".join([log, metrics, str(error)])
    assert not [s for s in secrets if s in shown]


def test_the_newest_entries_by_date_else_in_feed_order() -> None:
    dates = {"a": 3.0, "b": None, "c": 9.0, "d": 1.0, "e": None, "f": 9.0}
    assert newest(list(dates), 3, dates.get) == ["a", "c", "f"]  # dated first, in feed order
    assert newest(list(dates), 5, dates.get) == ["a", "b", "c", "d", "f"]  # undated: first wins
    assert newest(["x", "y", "z"], 2, lambda _: None) == ["x", "y"]  # no dates: feed order
    assert newest(["x"], 2, lambda _: None) == ["x"]


async def test_one_item_in_two_feeds_is_one_notice(tmp_path: Path, emulator: Emulator) -> None:
    """A residents' committee's feed and the street office's feed that mirrors it carry
    the same item (the same URL guid); the mirror gives it a shorter text. One notice,
    sent once, and the mirror's version never corrects it."""
    own, mirror = FeedServer(), FeedServer()
    try:
        own.body = rss_of([])
        mirror.body = rss_of([])
        async with running_bot(tmp_path, emulator, feeds=(own.url, mirror.url)) as env:
            env.scan()
            env.subscribe(101)
            with httpx.Client(timeout=5) as client:
                env.runtime.scanner.read_feeds(client)  # both feeds' first read
                item = ("https://jmj.example.org/n/7", "https://jmj.example.org/n/7", "停水通知")
                own.body = rss_of([item])
                mirror.body = rss_of([item]).replace("停水通知。".encode(), "停水。".encode())
                env.clock.advance(INTERVAL)
                first = env.runtime.scanner.read_feeds(client)
                env.clock.advance(INTERVAL)
                again = env.runtime.scanner.read_feeds(client)
            await env.send()
        assert len(first.new) == 1 and first.queued == 1
        assert again.new == again.changed == []
        (card,) = [c for _, c in emulator.delivered() if c.params["chat_id"] == 101]
        assert "停水通知。" in card.params["text"]
    finally:
        own.close()
        mirror.close()


async def test_a_changed_guid_keeps_the_notice_its_link_names(
    tmp_path: Path, emulator: Emulator, server: FeedServer
) -> None:
    """Feed software that renumbers its items (a guid that is no address) changes no
    notice: the link says which item it is."""
    server.body = rss_of([])
    async with running_bot(tmp_path, emulator, feeds=(server.url,)) as env:
        env.scan()
        env.subscribe(101)
        with httpx.Client(timeout=5) as client:
            env.runtime.scanner.read_feeds(client)
            server.body = rss_of([("1001", "https://jmj.example.org/a", "停水通知")])
            env.clock.advance(INTERVAL)
            first = env.runtime.scanner.read_feeds(client)
            server.body = rss_of([("2001", "https://jmj.example.org/a", "停水通知")])
            env.clock.advance(INTERVAL)
            renumbered = env.runtime.scanner.read_feeds(client)
        await env.send()
    assert len(first.new) == 1 and renumbered.new == []
    assert len([c for _, c in emulator.delivered() if c.params["chat_id"] == 101]) == 1


def test_an_entry_keeps_the_id_a_ledger_gave_it(tmp_path: Path, server: FeedServer) -> None:
    """Ids given before the same item in two feeds was one notice live on in a ledger."""
    from bot.ledger import Store
    from bot.reading.identity import earlier_feed_entry_id, feed_entry_id
    from bot.sources.scanner import Scanner

    guid = "https://jmj.example.org/n/7"
    server.body = rss_of([(guid, guid, "停水通知")])
    earlier = earlier_feed_entry_id(server.url, guid, guid, "停水通知")
    assert earlier != feed_entry_id(server.url, guid, guid, "停水通知")
    store = Store(tmp_path / "db.sqlite")
    store.save_article(
        {
            "id": earlier,
            "path": f"{server.url}#{earlier}",
            "title": "停水通知",
            "date": time.time(),
            "categories": "[]",
            "tags": "[]",
            "search_text": "",
            "content_hash": "old",
            "error": None,
            "urgent": 0,
            "expires": None,
            "status": "active",
        }
    )
    with httpx.Client(timeout=5) as client:
        report = Scanner(store, Config(feeds=(server.url,))).read_feeds(client)
    assert report.new == [] and report.changed == [earlier]


async def test_status_and_scan_reports_show_a_feed_without_its_credentials(
    tmp_path: Path, emulator: Emulator, server: FeedServer
) -> None:
    server.mode = "500"
    locked = server.url.replace("http://", "http://reader:hunter2@") + "?access_key=AK-SECRET-1"
    shown = server.url.replace("http://", "http://***@") + "?access_key=***"
    async with running_bot(tmp_path, emulator, feeds=(locked,)) as env:
        with httpx.Client(timeout=5) as client:
            report = env.runtime.scanner.read_feeds(client)
        db = str(env.runtime.config.db)
        text = run_cli("status", cwd=tmp_path, NOTICEBOT_DB=db).stdout
        as_json = run_cli("status", "--json", cwd=tmp_path, NOTICEBOT_DB=db).stdout
    assert report.feed_errors == [(shown, "HTTP 500 Internal Server Error")]
    assert f"feed {shown}: " in text and json.loads(as_json)["feeds"][0]["url"] == shown
    assert not [s for s in ("hunter2", "AK-SECRET-1") if s in text + as_json]
