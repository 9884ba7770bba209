"""Attacks on the feeds the admins manage, a second round (issue 23), each a failing test
first: what the first round's fixes (one spelling of an address, the redirects judged
behind a proxy, the cut lines of /feeds) missed or broke, and what an English-speaking
admin, an OPML file from another reader and a hostile feed host meet. End to end where
it can be: the live bot against the emulator, the command line as a process, feeds
served over HTTP (directly or as a proxy serves them), a real ledger."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from bot.config import Config
from bot.ledger import Chat, FeedSource, FeedState, Store
from bot.sources.feeds import read_feed
from bot.sources.scanner import Scanner
from tests.botenv import ADMIN, LiveBot, live_bot, message_update, until
from tests.emulator import Call, Emulator
from tests.feedenv import feeds_cli, new_ledger, sent_to, text_of
from tests.feedserver import FeedHost, feed_of

# --- helpers -------------------------------------------------------------------------------


def refused_to(bot: LiveBot, chat: int, start: int) -> list[Call]:
    return [
        c
        for c in bot.emulator.calls[start:]
        if not c.ok and c.error is not None and c.params.get("chat_id") == chat
    ]


async def say(bot: LiveBot, text: str, user: int = ADMIN) -> int:
    start = bot.mark()
    bot.emulator.push(message_update(user, text, user_id=user, chat_type="private"))
    return start


def english_admin(bot: LiveBot) -> None:
    """The admin's private chat set to English, as /settings sets it."""
    store = bot.runtime.store
    store.subscribe(Chat(ADMIN, language="en"))
    store.update_chat(ADMIN, language="en")


class Redirector:
    """An HTTP proxy (asked for whole addresses) that answers from ``routes``: an address
    → (status, headers, body); every request is logged."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.asked: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy.asked.append(self.path)
                status, headers, body = proxy.routes.get(self.path, (404, {}, b"Not Found"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def redirector() -> Iterator[Redirector]:
    proxy = Redirector()
    yield proxy
    proxy.close()


# --- addresses: one feed, one spelling ------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "again", "served"),
    [
        # RSSHub's routes take words: typed in Chinese, or pasted from a browser's bar
        ("/rss/keyword/停水", "/rss/keyword/%E5%81%9C%E6%B0%B4", "/rss/keyword/%E5%81%9C%E6%B0%B4"),
        # a Chinese domain name, and the same name as the browser copies it (punycode)
        (
            "http://社区.测试/rss",
            "http://xn--dkrp89f.xn--0zwm56d/rss",
            "http://xn--dkrp89f.xn--0zwm56d/rss",
        ),
    ],
    ids=["path-in-chinese-and-percent-encoded", "chinese-domain-and-punycode"],
)
def test_a_feed_whose_address_is_written_in_chinese_or_encoded_is_not_added_twice(
    tmp_path: Path, host: FeedHost, first: str, again: str, served: str
) -> None:
    """`feeds add …/停水`, then …/%E5%81%9C%E6%B0%B4 (or 社区.测试, then xn--…): added twice."""
    env = {"HTTP_PROXY": host.base, "NO_PROXY": ""}  # a name: served as a proxy serves it
    if first.startswith("/"):
        first, again, env = host.url(first), host.url(again), {}
    host.feeds[served] = feed_of("停水通知", [("w1", "周六停水")])
    new_ledger(tmp_path)
    done = feeds_cli(tmp_path, "add", first, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    twice = feeds_cli(tmp_path, "add", again, **env)
    listed = feeds_cli(tmp_path, "list", **env).stdout
    assert twice.returncode == 2 and "read already" in twice.stderr, listed


def test_a_configured_feed_spelled_another_way_is_read_once(tmp_path: Path, host: FeedHost) -> None:
    """NOTICEBOT_FEEDS has http://Example.org:80/rss, added as …//example.org/rss: read twice."""
    added, configured = "http://example.org/rss", "http://Example.org:80/rss"
    host.feeds[added] = feed_of("物业公告", [("p1", "电梯检修")])  # as a proxy serves it
    proxy = {"HTTP_PROXY": host.base, "NO_PROXY": "", "NOTICEBOT_FEED_INTERVAL": "1"}
    new_ledger(tmp_path)
    done = feeds_cli(tmp_path, "add", added, **proxy)
    assert done.returncode == 0, done.stdout + done.stderr

    db = tmp_path / "state" / "noticebot.db"
    config = Config(
        db=db,
        articles=(tmp_path / "articles",),
        feeds=(configured,),
        feed_interval=1.0,
        feeds_allow_private=True,
    )
    store = Store(db)
    try:
        store.subscribe(Chat(101))
        scanner = Scanner(store, config, owner=True)  # the running bot's
        with httpx.Client(proxy=host.base) as client:
            scanner.read_feeds(client)  # the configured spelling's first read: its baseline
            host.feeds[added] = feed_of("物业公告", [("p2", "周六停水"), ("p1", "电梯检修")])
            time.sleep(1.1)  # due again
            report = scanner.read_feeds(client)
        read = [s.url for s in scanner.feeds()]
    finally:
        store.close()
    assert len(report.new) == 1 and report.queued == 1, (
        f"feeds read: {read}; one new entry became {len(report.new)} notices and "
        f"{report.queued} deliveries to one chat"
    )


# --- redirects behind a proxy ---------------------------------------------------------------


async def test_a_redirect_to_a_port_beyond_65535_is_answered_in_the_chat(
    tmp_path: Path, emulator: Emulator, redirector: Redirector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a proxy, /addfeed of a feed redirecting to http://b.example:99999/: no answer."""
    monkeypatch.setenv("HTTP_PROXY", redirector.base)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # the emulator is reached directly
    redirector.routes["http://a.example/rss"] = (
        302,
        {"Location": "http://b.example:99999/rss"},
        b"",
    )
    async with live_bot(tmp_path, emulator, feeds_allow_private=False) as bot:
        start = await say(bot, "/addfeed http://a.example/rss")
        await until(lambda: "http://a.example/rss" in redirector.asked, "the feed asked for")
        for _ in range(150):  # 3 s: a refusal is immediate
            if sent_to(bot, ADMIN, start):
                break
            await asyncio.sleep(0.02)
        answers = [text_of(c) for c in sent_to(bot, ADMIN, start)]
    assert answers, "the admin's /addfeed got no answer at all"


def test_a_feed_httpx_sends_through_the_proxy_is_judged_as_proxied(
    tmp_path: Path, host: FeedHost
) -> None:
    """NO_PROXY=.example.org: httpx proxies example.org, the judge thinks not: refused, private."""
    host.feeds["http://example.org/rss"] = feed_of("物业公告", [("p1", "电梯检修")])
    new_ledger(tmp_path)
    env = {
        "HTTP_PROXY": host.base,
        "NO_PROXY": ".example.org",
        "NOTICEBOT_FEEDS_ALLOW_PRIVATE": "off",
    }
    done = feeds_cli(tmp_path, "add", "http://example.org/rss", **env)
    assert done.returncode == 0, done.stderr
    assert host.asked("http://example.org/rss") >= 1


def test_a_redirect_that_leaves_the_proxy_is_judged_where_it_connects(
    host: FeedHost, redirector: Redirector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxied feed redirects off the proxy (NO_PROXY=.cn) to a rebinding name: 127.0.0.1 read."""
    host.feeds["/admin"] = feed_of("路由器管理页", [("r1", "管理员密码 admin123")])
    port = host.httpd.server_port
    monkeypatch.setenv("HTTP_PROXY", redirector.base)
    monkeypatch.setenv("NO_PROXY", ".cn")
    redirector.routes["http://feeds.example/rss"] = (
        302,
        {"Location": f"http://rebind.evil.cn:{port}/admin"},
        b"",
    )
    real = socket.getaddrinfo
    answers: list[str] = []

    def rebinding(name, *args, **kwargs):  # noqa: ANN001, ANN202 (as socket's)
        if name != "rebind.evil.cn":
            return real(name, *args, **kwargs)
        answers.append("93.184.216.34" if not answers else "127.0.0.1")
        return real(answers[-1], *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = "http://feeds.example/rss"
    with httpx.Client(follow_redirects=True, timeout=5.0) as client:
        read = read_feed(url, FeedState(url), Config(), client, time.time(), private_ok=False)
    assert host.asked("/admin") == 0, (
        f"the private service was read (resolved as {answers}): {read.state.title!r}, "
        f"{len(read.entries)} entries"
    )
    # connected where DNS said when it connected (checked there), not where it said before
    assert read.state.error and not read.entries


# --- an admin who reads English ----------------------------------------------------------------


async def _add_from_chat(bot: LiveBot, url: str) -> tuple[list[Call], str]:
    """/addfeed, its answers, the press on Add; and the question as it ends."""
    start = await say(bot, f"/addfeed {url}")
    await until(
        lambda: any("fd:a:" in str(c.params) for c in sent_to(bot, ADMIN, start)), "the ask", 15
    )
    replies = sent_to(bot, ADMIN, start)
    question = replies[-1]
    rows = question.params["reply_markup"]["inline_keyboard"]
    (add,) = [b["callback_data"] for row in rows for b in row if b["callback_data"][:5] == "fd:a:"]
    bot.emulator.press(ADMIN, question.message_ids[0], ADMIN, add, language="en")

    def shown() -> str:
        return str(bot.emulator.messages[(ADMIN, question.message_ids[0])]["text"])

    await until(lambda: "✅" in shown(), "the feed added", 15)
    return replies, shown()


async def test_an_english_admin_adding_a_feed_of_one_entry_reads_one_entry(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """An English admin adds a feed of one entry: "1 entries now", "its 1 current entries"."""
    host.feeds["/new"] = feed_of("New notice board", [("n1", "Water off on Saturday")])
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=60) as bot:
        english_admin(bot)
        replies, added = await _add_from_chat(bot, host.url("/new"))
        start = await say(bot, "/feeds")
        await until(lambda: sent_to(bot, ADMIN, start), "the page", 10)
        page = text_of(sent_to(bot, ADMIN, start)[0])
    said = [text_of(c) for c in replies] + [added, page]
    assert not [s for s in said if "1 entries" in s or "1 current entries" in s], said


async def test_a_feed_failing_for_minutes_is_not_told_failing_for_hours(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """NOTICEBOT_FEED_ALERT_AFTER under an hour: told "has failed for 1 hours" after 2 s."""
    host.feeds["/flaky"] = feed_of("Street office", [("s1", "Notice")])
    settings = {"feeds_allow_private": True, "feed_interval": 0.5, "feed_alert_after": 2.0}
    async with live_bot(tmp_path, emulator, **settings) as bot:
        english_admin(bot)
        store = bot.runtime.store
        store.add_feed_source(
            FeedSource(host.url("/flaky"), added_at=store.clock(), added_by="cli")
        )
        await until(lambda: store.feed_state(host.url("/flaky")).baselined_at, "the first read")
        start = bot.mark()
        host.failing.add("/flaky")
        await until(
            lambda: any("failed" in text_of(c) for c in sent_to(bot, ADMIN, start)), "the alert"
        )
        (alert,) = [text_of(c) for c in sent_to(bot, ADMIN, start) if "failed" in text_of(c)]
        since = store.feed_state(host.url("/flaky")).failing_since
        failing_for = store.clock() - since
    assert "hour" not in alert, f"after {failing_for:.0f} s failing, the admin reads: {alert}"


# --- /feeds ------------------------------------------------------------------------------------

SSL_ERROR = (
    "cannot fetch: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get"
    " local issuer certificate (_ssl.c:1006)"
)


async def test_a_page_of_eight_feeds_at_their_longest_fits_in_an_english_message(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """Eight feeds at /feeds' longest lines, in English: a page of 4,430 characters, refused."""
    title = (
        "Residents' committee of Garden District, buildings 1 to 12: water and power cuts,"
        " lift repairs, elections, community events"
    )
    search = "/rss/search?q=%22water+cut%22+OR+%22power+cut%22+OR+%22lift+repair%22&hl=en-US"
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=600) as bot:
        english_admin(bot)
        store = bot.runtime.store
        now = store.clock()
        async with bot.runtime.reading_feeds:  # no read meanwhile: the states stay as set
            for number in range(8):
                url = host.url(f"{search}&gl=US&ceid=US:en&district={number}")
                store.add_feed_source(
                    FeedSource(
                        url,
                        title=f"{title} {number}",
                        category="Garden District water power lifts repair",
                        paused=True,
                        added_at=now + number,
                        added_by="cli",
                    )
                )
                failing = FeedState(
                    url,
                    fetched_at=now - 86400,
                    changed_at=now - 2 * 86400,
                    baselined_at=now - 30 * 86400,
                    entries=200,
                    error=SSL_ERROR,
                    error_at=now,
                    failures=12,
                    next_at=now + 86400,
                    failing_since=now - 86400,
                    told_failing=1,
                )
                store.save_feed_state(failing)
        start = await say(bot, "/feeds")
        await until(lambda: sent_to(bot, ADMIN, start) or refused_to(bot, ADMIN, start), "page")
        refused = refused_to(bot, ADMIN, start)
    length = len(text_of(refused[0])) if refused else 0
    assert not refused, f"the page ({length} characters) was refused: {refused[0].error}"


# --- OPML ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "folder",
    [
        "News, local",
        "街道办事处、居委会、物业公司和业主委员会发布的停水停电燃气电梯检修及社区活动通知汇总",
    ],
    ids=["comma", "long-name"],
)
def test_a_feed_readers_folder_name_keeps_none_of_its_feeds_out(
    tmp_path: Path, host: FeedHost, folder: str
) -> None:
    """A feed reader's folder "News, local" (or of 45 characters): none of its feeds imported."""
    host.feeds["/a"] = feed_of("一号楼", [("a1", "一号楼通知")])
    host.feeds["/b"] = feed_of("二号楼", [("b1", "二号楼通知")])
    opml = (
        "<?xml version='1.0' encoding='UTF-8'?><opml version='1.0'><body>"
        f"<outline text='{folder}' title='{folder}'>"
        f"<outline type='rss' text='一号楼' xmlUrl='{host.url('/a')}'/>"
        f"<outline type='rss' text='二号楼' xmlUrl='{host.url('/b')}'/>"
        "</outline></body></opml>"
    )
    (tmp_path / "feedly.opml").write_text(opml, encoding="utf-8")
    new_ledger(tmp_path)
    done = feeds_cli(tmp_path, "import", str(tmp_path / "feedly.opml"))
    assert "imported 2 of 2" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0, done.stdout


# --- alerts ----------------------------------------------------------------------------------


async def test_a_feed_that_failed_once_before_the_bot_stopped_is_not_told_failing_at_start(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """A feed failed once before a night's stop: told failing, then recovered, at the next start."""
    host.feeds["/a"] = feed_of("街道办", [("s1", "街道通知")])
    settings = {"feeds_allow_private": True, "feed_interval": 0.5, "feed_alert_after": 2.0}
    async with live_bot(tmp_path, emulator, **settings) as bot:
        store = bot.runtime.store
        store.add_feed_source(FeedSource(host.url("/a"), added_at=store.clock(), added_by="cli"))
        await until(lambda: store.feed_state(host.url("/a")).baselined_at, "the first read")
        host.failing.add("/a")  # the network drops
        await until(lambda: store.feed_state(host.url("/a")).failures == 1, "one failure")
    host.failing.clear()  # the network is back when the machine is
    await asyncio.sleep(2.5)  # off for longer than NOTICEBOT_FEED_ALERT_AFTER
    async with live_bot(tmp_path, emulator, **settings) as bot:
        start = bot.mark()
        store = bot.runtime.store
        await until(lambda: store.feed_state(host.url("/a")).failures == 0, "a good read")
        await asyncio.sleep(1.0)
        said = [text_of(c) for c in sent_to(bot, ADMIN, start)]
    assert not said, said
