"""Attacks on the feeds the admins manage (issue 23), each a failing test first: what a
demanding admin or a hostile feed does to /addfeed, /feeds, `noticebot feeds` and the
running bot that reads them. End to end where it can be: the live bot against the
emulator, the command line as a process, feeds served over HTTP, a real ledger."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from bot.config import Config
from bot.ledger import Chat, FeedSource, Store
from bot.ledger.states import OPEN_STATUSES
from bot.sources.managed_feeds import set_paused
from bot.sources.scanner import Scanner
from tests.botenv import ADMIN, LiveBot, live_bot, message_update, until
from tests.emulator import Call, Emulator
from tests.feedenv import feeds_cli, new_ledger, sent_to, text_of
from tests.feedserver import FeedHost, feed_of, rss_of

WITHIN = 30.0  # seconds for what a test waits for: only a failing run waits that long


def first_lines(bot: LiveBot, chat: int, start: int) -> list[str]:
    return [text_of(c).split("\n")[0] for c in sent_to(bot, chat, start)]


def settled(bot: LiveBot, chat: int) -> bool:
    """No delivery to ``chat`` is waiting or being sent: what it got is all it gets."""
    return all(d.status not in OPEN_STATUSES for d in bot.runtime.store.deliveries(chat))


def refused_calls(emulator: Emulator, start: int) -> list[Call]:
    return [c for c in emulator.calls[start:] if not c.ok and c.error is not None]


async def say(bot: LiveBot, text: str, user: int = ADMIN) -> int:
    start = bot.mark()
    bot.emulator.push(message_update(user, text, user_id=user, chat_type="private"))
    return start


# --- addresses ---------------------------------------------------------------------------


def test_the_same_feed_spelled_another_way_is_not_added_twice(
    tmp_path: Path, host: FeedHost
) -> None:
    """`feeds add http://example.org/rss`, then `http://Example.org:80/rss#new` (the same
    feed: host case, default port, a fragment): both are added, and every new entry of
    the feed becomes two notices for each subscriber."""
    first, again = "http://example.org/rss", "http://Example.org:80/rss#new"
    host.feeds[first] = feed_of("物业公告", [("p1", "电梯检修")])  # served as a proxy serves it
    proxy = {"HTTP_PROXY": host.base, "NO_PROXY": "", "NOTICEBOT_FEED_INTERVAL": "1"}
    new_ledger(tmp_path)
    done = feeds_cli(tmp_path, "add", first, **proxy)
    assert done.returncode == 0, done.stderr
    twice = feeds_cli(tmp_path, "add", again, **proxy)

    db = tmp_path / "state" / "noticebot.db"
    store = Store(db)
    store.subscribe(Chat(101))
    host.feeds[first] = feed_of("物业公告", [("p2", "周六停水"), ("p1", "电梯检修")])
    config = Config(db=db, articles=(tmp_path / "articles",), feeds_allow_private=True)
    time.sleep(1.1)  # due again
    with httpx.Client(proxy=host.base) as client:
        report = Scanner(store, config).read_feeds(client)
    feeds = [s.url for s in store.feed_sources()]
    store.close()
    assert twice.returncode == 2 and "read already" in twice.stderr, (
        f"added twice: {feeds}; one new entry became {len(report.new)} notices and "
        f"{report.queued} deliveries to one chat"
    )


def test_an_address_typed_with_a_capital_scheme_is_read_over_http(
    tmp_path: Path, host: FeedHost
) -> None:
    """`Http://…` (a phone capitalises the first letter): the address check takes it, the
    read takes it for a file path (relative to the bot's folder) and reads that file."""
    host.feeds["/water"] = feed_of("自来水公司", [("w1", "停水通知")])
    typed = host.url("/water").replace("http://", "Http://")
    new_ledger(tmp_path)
    # what the "address" names as a path below the working folder: a file, not the feed
    planted = tmp_path / typed.replace("://", ":/")
    planted.parent.mkdir(parents=True)
    planted.write_bytes(feed_of("本机的文件", [("x1", "这是一个本地文件")]))
    done = feeds_cli(tmp_path, "add", typed)
    assert done.returncode == 0, done.stderr
    assert host.asked("/water") >= 1 and "本机的文件" not in done.stdout, (
        f"read the local file {planted.relative_to(tmp_path)} instead: {done.stdout}"
    )


def test_a_public_feed_can_be_added_behind_a_local_proxy_with_private_addresses_refused(
    tmp_path: Path, host: FeedHost
) -> None:
    """The machine reaches the web through a proxy of its own (HTTP_PROXY=127.0.0.1:…, as
    many do where feeds are blocked): with NOTICEBOT_FEEDS_ALLOW_PRIVATE off, every feed
    is refused, because the check judges the proxy's address, not the feed's."""
    host.feeds["http://example.org/rss"] = feed_of("物业公告", [("p1", "电梯检修")])
    new_ledger(tmp_path)
    env = {"HTTP_PROXY": host.base, "NO_PROXY": "", "NOTICEBOT_FEEDS_ALLOW_PRIVATE": "off"}
    done = feeds_cli(tmp_path, "add", "http://example.org/rss", **env)
    assert done.returncode == 0, done.stderr


# --- what the chat shows ----------------------------------------------------------------


async def test_an_undated_entry_is_previewed_with_the_date_subscribers_get(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """/addfeed of a feed whose entries carry no date (many notice boards' feeds): the
    preview "exactly as subscribers would get it" is dated 1 January 1970."""
    from tests.test_feeds_managed import _add_from_chat

    item = (
        "<item><title>小区停水通知</title><description>明天上午九点到十二点停水。"
        "</description><guid isPermaLink='false'>u1</guid></item>"
    )
    host.feeds["/undated"] = (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>物业</title>{item}"
        "</channel></rss>"
    ).encode()
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=0.5) as bot:
        replies = await _add_from_chat(bot, host.url("/undated"))
        _summary, preview, _question = replies
        (row,) = bot.runtime.store.recent_articles(10)
    shown = text_of(preview)
    assert "1970" not in shown, f"the preview says:\n{shown}\n(the notice is dated {row['date']})"


async def test_a_page_of_eight_feeds_with_long_addresses_fits_in_a_message(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """Eight news-search feeds (an address of ~450 characters each: keywords percent-encoded)
    make /feeds' first page longer than Telegram's 4,096 characters: the admin gets no
    page at all, and cannot pause or remove any feed from the chat."""
    words = "+OR+".join("%E5%81%9C%E6%B0%B4%E9%80%9A%E7%9F%A5%E5%B0%8F%E5%8C%BA" for _ in range(8))
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=60) as bot:
        store = bot.runtime.store
        for number in range(8):
            key = f"/rss/search?q={words}&hl=zh-CN&gl=CN&ceid=CN:zh-Hans&n={number}"
            host.feeds[key] = feed_of(f"新闻搜索 {number}", [(f"g{number}", "通知")])
            store.add_feed_source(
                FeedSource(host.url(key), added_at=store.clock() + number, added_by=str(ADMIN))
            )
        await until(lambda: len(store.feed_states()) == 8, "the eight feeds read", 10)
        start = await say(bot, "/feeds")
        await until(  # a page too long is refused, and none comes after
            lambda: sent_to(bot, ADMIN, start) or refused_calls(emulator, start),
            "the page or its refusal",
            WITHIN,
        )
        pages = sent_to(bot, ADMIN, start)
        refused = refused_calls(emulator, start)
    assert pages and not refused, [(c.method, c.error) for c in refused]


async def test_an_opml_interval_beyond_any_duration_breaks_neither_feeds_nor_list(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """An OPML file with noticebotInterval="1e999" (infinity once read): imported as is
    (the setting itself is capped at a year), then /feeds fails (OverflowError) and
    `feeds list --json` prints `Infinity`, which is not JSON."""
    host.feeds["/a"] = feed_of("一号楼", [("a1", "一号楼通知")])
    opml = (
        "<?xml version='1.0'?><opml version='2.0'><body>"
        f"<outline text='一号楼' xmlUrl='{host.url('/a')}' noticebotInterval='1e999'/>"
        "</body></opml>"
    )
    (tmp_path / "in.opml").write_text(opml, encoding="utf-8")
    new_ledger(tmp_path)
    done = feeds_cli(tmp_path, "import", str(tmp_path / "in.opml"))
    assert done.returncode == 0, done.stdout + done.stderr
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=60) as bot:
        start = await say(bot, "/feeds")
        await until(lambda: sent_to(bot, ADMIN, start), "answer to /feeds", WITHIN)
    listed = feeds_cli(tmp_path, "list", "--json")

    def no_constants(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    json.loads(listed.stdout, parse_constant=no_constants)


# --- what the command line shows ----------------------------------------------------------


def test_a_feed_title_with_control_characters_reaches_no_terminal_and_exports(
    tmp_path: Path, host: FeedHost
) -> None:
    """A JSON Feed titled with terminal escapes (ESC ]2; sets the window title, ESC [2J
    clears the screen): `feeds list` prints them raw to the admin's terminal, and
    `feeds export` dies with lxml's ValueError (control characters are no XML)."""
    title = "\u001b]2;pwned\u0007居委会\u001b[2J"
    item = {"id": "https://example.org/n/1", "title": "通知", "content_text": "明天停水。"}
    host.feeds["/json"] = json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": title, "items": [item]}
    ).encode()
    new_ledger(tmp_path)
    done = feeds_cli(tmp_path, "add", host.url("/json"))
    assert done.returncode == 0, done.stderr
    listed = feeds_cli(tmp_path, "list")
    exported = feeds_cli(tmp_path, "export")
    assert "\u001b" not in listed.stdout + done.stdout, repr(listed.stdout)
    assert exported.returncode == 0, exported.stderr[-300:]


# --- notices, alerts and categories -------------------------------------------------------


async def test_withdrawing_a_removed_feeds_notices_does_not_send_one_again(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """One item in two feeds is one notice. Feed A is removed with its notices withdrawn
    (the item is retracted from every chat); feed B, which carries the item too, then
    brings any new entry: the withdrawn item is published and sent to every chat again."""
    shared = ("", "https://example.org/n/7", "七号楼停电")
    host.feeds["/a"] = rss_of([("", "https://example.org/n/1", "一号楼通知")])
    host.feeds["/b"] = rss_of([("", "https://example.org/n/2", "二号楼通知")])
    env = {"NOTICEBOT_FEED_INTERVAL": "0.5"}
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=0.5) as bot:
        store = bot.runtime.store
        store.subscribe(Chat(101))
        for key in ("/a", "/b"):
            done = await asyncio.to_thread(feeds_cli, tmp_path, "add", host.url(key), **env)
            assert done.returncode == 0, done.stderr
        await until(lambda: host.asked("/a") >= 2 and host.asked("/b") >= 2, "the bot's reads")
        start = bot.mark()
        host.feeds["/a"] = rss_of([shared, ("", "https://example.org/n/1", "一号楼通知")])
        await until(lambda: "七号楼停电" in first_lines(bot, 101, start), "the shared item")
        host.feeds["/b"] = rss_of([shared, ("", "https://example.org/n/2", "二号楼通知")])
        b_read = len([r for r in host.requests if r[1] == "/b" and r[2] == 200])
        await until(
            lambda: len([r for r in host.requests if r[1] == "/b" and r[2] == 200]) > b_read,
            "B read with the item",
        )
        async with bot.runtime.reading_feeds:  # the round that read it has saved what it brought
            pass
        done = await asyncio.to_thread(
            feeds_cli, tmp_path, "remove", host.url("/a"), "--withdraw", **env
        )
        assert done.returncode == 0, done.stderr
        for _ in range(150):  # its retraction reaches the chat, unless a carried notice stays
            if any(c.method == "deleteMessage" for c in bot.changed(start)):
                break
            await asyncio.sleep(0.02)
        host.feeds["/b"] = rss_of(
            [
                ("", "https://example.org/n/8", "八号楼停水"),
                shared,
                ("", "https://example.org/n/2", "二号楼通知"),
            ]
        )
        await until(lambda: "八号楼停水" in first_lines(bot, 101, start), "B's new entry")
        await asyncio.sleep(1.0)
        sent = first_lines(bot, 101, start)
    assert sent.count("七号楼停电") == 1, f"the chat got, in order: {sent}"


async def test_a_feed_that_failed_once_before_a_pause_is_not_told_failing_when_resumed(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """A feed fails once, an admin pauses it; resumed later (its host fixed), it is told
    to the admins as failing for the whole pause, then at once as recovered: the time it
    was paused counted as time failing."""
    from tests.test_feeds_managed import _add_from_chat

    host.feeds["/flaky"] = feed_of("街道办", [("s1", "街道通知")])
    settings = {"feeds_allow_private": True, "feed_interval": 0.5, "feed_alert_after": 2.0}
    async with live_bot(tmp_path, emulator, **settings) as bot:
        store = bot.runtime.store
        store.subscribe(Chat(ADMIN))
        await _add_from_chat(bot, host.url("/flaky"))
        start = bot.mark()
        host.failing.add("/flaky")
        await until(lambda: store.feed_state(host.url("/flaky")).failures >= 1, "one failure")
        (source,) = store.feed_sources()
        set_paused(store, source, True)  # as the ⏸ button does
        await asyncio.sleep(2.5)  # paused longer than NOTICEBOT_FEED_ALERT_AFTER
        host.failing.clear()
        set_paused(store, store.feed_sources()[0], False)  # as the ▶️ button does
        await until(lambda: store.feed_state(host.url("/flaky")).failures == 0, "a good read")
        await asyncio.sleep(1.0)
        said = [text_of(c) for c in sent_to(bot, ADMIN, start)]
    assert not [t for t in said if "读取失败" in t or "已恢复" in t], said


async def test_a_feed_category_is_one_a_resident_can_subscribe_to(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """/addfeed URL 3号楼 物业 gives the category "3号楼 物业" (only commas are refused);
    /subscribe splits on spaces (and 、，/ …), so no resident can ever name it: one who
    types /subscribe 3号楼 物业 never gets the feed's notices."""
    from tests.test_feeds_managed import _add_from_chat

    host.feeds["/b3"] = feed_of("三号楼", [("e1", "电梯检修")])
    resident = 555
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=0.5) as bot:
        start = await say(bot, "/subscribe 3号楼 物业", user=resident)
        await until(lambda: sent_to(bot, resident, start), "subscribed")
        replies = await _add_from_chat(bot, host.url("/b3"), "3号楼 物业")
        if "分类" not in text_of(replies[0]):
            return  # refused or split: a category a resident can name
        start = bot.mark()
        host.feeds["/b3"] = feed_of("三号楼", [("e2", "周六停水"), ("e1", "电梯检修")])
        await until(lambda: bot.runtime.store.feed_notices(host.url("/b3")), "read")
        await until(lambda: len(bot.runtime.store.feed_notices(host.url("/b3"))) == 2, "new")
        # queued as it was saved: once the resident's deliveries are done, it has all
        await until(lambda: settled(bot, resident), "the resident's deliveries done", WITHIN)
        got = first_lines(bot, resident, start)
        (category,) = {s.category for s in bot.runtime.store.feed_sources()}
    assert got == ["周六停水"], f"category {category!r}; the resident got {got}"


def test_a_feed_address_with_a_password_stays_hidden_after_export_and_import(
    tmp_path: Path, host: FeedHost
) -> None:
    """A feed with credentials in its address and no title of its own: `feeds export`
    names its outline by the whole address, password and all; imported elsewhere, that
    name becomes the feed's title, which `feeds list` (and /feeds, the failing alerts)
    show unredacted."""
    item = "<item><title>内部通知</title><link>https://example.org/i/1</link></item>"
    host.feeds["/locked"] = (
        f"<?xml version='1.0'?><rss version='2.0'><channel>{item}</channel></rss>"
    ).encode()
    locked = host.url("/locked").replace("http://", "http://reader:s3cr3t-pw@")
    old, fresh = tmp_path / "old", tmp_path / "fresh"
    for where in (old, fresh):
        where.mkdir()
        new_ledger(where)
    done = feeds_cli(old, "add", locked)
    assert done.returncode == 0, done.stderr
    exported = old / "feeds.opml"
    done = feeds_cli(old, "export", str(exported))
    assert done.returncode == 0, done.stderr
    done = feeds_cli(fresh, "import", str(exported))
    assert done.returncode == 0, done.stdout + done.stderr
    shown = (
        done.stdout + feeds_cli(fresh, "list").stdout + feeds_cli(fresh, "list", "--json").stdout
    )
    assert "s3cr3t-pw" not in shown, shown


async def _feeds_page(bot: LiveBot) -> Call:
    start = await say(bot, "/feeds")
    await until(lambda: sent_to(bot, ADMIN, start), "the page", 10)
    return sent_to(bot, ADMIN, start)[0]


def _data(bot: LiveBot, page: Call, prefix: str) -> str:
    shown = bot.emulator.messages[(ADMIN, page.message_ids[0])]
    rows = shown.get("reply_markup", {}).get("inline_keyboard", [])
    (data,) = [
        b["callback_data"] for row in rows for b in row if b["callback_data"].startswith(prefix)
    ]
    return data


def _answers(bot: LiveBot, start: int) -> list[Call]:
    """The answers to presses since ``start`` that the emulator took or refused (a call
    is listed as it arrives, before either)."""
    calls = bot.emulator.calls[start:]
    return [c for c in calls if c.method == "answerCallbackQuery" and (c.ok or c.error is not None)]


async def _press(bot: LiveBot, page: Call, data: str) -> Call:
    start = bot.mark()
    bot.emulator.press(ADMIN, page.message_ids[0], ADMIN, data)
    await until(lambda: _answers(bot, start), "the press answered", WITHIN)
    return _answers(bot, start)[0]


def _page_text(bot: LiveBot, page: Call) -> str:
    """The page message as it is now (after its edits)."""
    return str(bot.emulator.messages[(ADMIN, page.message_ids[0])]["text"])


async def test_pausing_a_feed_named_by_a_long_address_is_answered(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """A feed without a title of its own is named by its address; at 200 characters or
    more, the ⏸ press's toast ("已暂停“…”") is longer than Telegram takes (200): the
    answer is refused, the handler fails, and the page never shows the feed paused."""
    item = "<item><title>通知</title><link>https://example.org/i/1</link></item>"
    key = "/rss/search?q=" + "%E5%81%9C%E6%B0%B4" * 20 + "&hl=zh-CN"
    host.feeds[key] = (
        f"<?xml version='1.0'?><rss version='2.0'><channel>{item}</channel></rss>"
    ).encode()
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=60) as bot:
        store = bot.runtime.store
        source = FeedSource(host.url(key), added_at=store.clock(), added_by=str(ADMIN))
        store.add_feed_source(source)
        await until(lambda: store.feed_state(source.url).fetched_at, "the feed read")
        page = await _feeds_page(bot)
        answer = await _press(bot, page, _data(bot, page, f"fd:p:{source.id}"))
        assert answer.ok, f"{answer.error}: {answer.params.get('text')!r}"
        # the handler answers, then edits the page
        await until(lambda: "已暂停" in _page_text(bot, page), "the page showing it paused", WITHIN)


async def test_removing_a_feed_is_answered_while_another_feed_is_slow(
    tmp_path: Path, emulator: Emulator, host: FeedHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removing waits for the round of reads under way (rt.reading_feeds), which a slow
    feed holds for up to NOTICEBOT_FEED_DEADLINE (30 s) — longer than Telegram waits for
    a press's answer (about 15 s), given only after. The answer is refused, the handler
    fails before it edits the question: the admin sees nothing happen, presses again,
    and is told the feed does not exist. Here the slow feed is held until the press is
    answered (the reader's deadline and timeout longer than the test waits): an answer
    given only after the round never comes."""
    host.feeds["/slow"] = feed_of("慢的", [("s1", "慢通知")])
    host.feeds["/a"] = feed_of("一号楼", [("a1", "一号楼通知")])
    held, release = threading.Event(), threading.Event()
    release.set()  # not slow yet
    serve = host.answer

    def slow_answer(request: BaseHTTPRequestHandler) -> None:
        if request.path == "/slow" and not release.is_set():
            held.set()
            release.wait(2 * WITHIN)
        serve(request)

    monkeypatch.setattr(host, "answer", slow_answer)
    settings = {"feeds_allow_private": True, "feed_interval": 0.3, "feed_deadline": 4 * WITHIN}
    async with live_bot(tmp_path, emulator, **settings) as bot:
        bot.runtime.http.timeout = httpx.Timeout(4 * WITHIN)  # silence is not the end of it
        store = bot.runtime.store
        for number, key in enumerate(("/slow", "/a")):
            store.add_feed_source(
                FeedSource(host.url(key), added_at=store.clock() + number, added_by="cli")
            )
        await until(lambda: len(store.feed_states()) == 2, "both read")
        gone = store.feed_sources()[1]
        page = await _feeds_page(bot)
        await _press(bot, page, _data(bot, page, f"fd:x:{gone.id}"))
        await until(
            lambda: "fd:w:" in str(bot.emulator.messages[(ADMIN, page.message_ids[0])]), "?"
        )
        release.clear()
        try:
            await until(held.is_set, "a round reading the slow feed", WITHIN)
            answer = await _press(bot, page, _data(bot, page, f"fd:w:{gone.id}"))
        finally:
            release.set()
        assert answer.ok, answer.error
        # the question edited once the round ended and the feed was removed
        await until(lambda: "已删除" in _page_text(bot, page), "the feed removed", WITHIN)
        shown = _page_text(bot, page)
        left = [s.url for s in store.feed_sources()]
    assert "撤回" in shown and left == [host.url("/slow")], (shown, left)
