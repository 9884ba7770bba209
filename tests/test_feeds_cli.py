"""`noticebot feeds` as a user runs it: a real process on a real ledger, feeds on a local
host over HTTP, and a running bot that picks up what the command line changed."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from lxml import etree

from bot.ledger import Chat, Store
from tests.botenv import LiveBot, live_bot, until
from tests.emulator import Emulator
from tests.feedenv import feeds_cli, new_ledger
from tests.feedserver import FeedHost, feed_of
from tests.paths import ROOT

FEEDLY = ROOT / "tests" / "feeds" / "opml" / "feedly-zh-tw-kywk.opml"


def listed(tmp_path: Path) -> list[dict]:
    done = feeds_cli(tmp_path, "list", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def first_lines_to(bot: LiveBot, chat: int, start: int) -> list[str]:
    return [
        str(c.params.get("text") or c.params.get("caption")).split("\n")[0]
        for c in bot.emulator.calls[start:]
        if c.ok and c.method.startswith("send") and c.params.get("chat_id") == chat
    ]


async def test_the_running_bot_takes_up_what_the_command_line_adds_pauses_and_removes(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    host.feeds["/news"] = feed_of("居委会", [("n1", "居委会通知")])
    interval = 1.0
    async with live_bot(
        tmp_path, emulator, feeds_allow_private=True, feed_interval=interval
    ) as bot:
        bot.runtime.store.subscribe(Chat(101))
        env = {"NOTICEBOT_FEED_INTERVAL": str(interval)}
        done = await asyncio.to_thread(
            feeds_cli, tmp_path, "add", host.url("/news"), "--category", "通知", **env
        )
        assert done.returncode == 0, done.stderr
        assert "1 entry taken in as its baseline" in done.stdout
        added = time.monotonic()
        await until(lambda: host.asked("/news") >= 2, "the bot's first read", 10)
        first_read = next(at for at, key, _ in host.requests[1:] if key == "/news") - added
        start = bot.mark()
        host.feeds["/news"] = feed_of("居委会", [("n2", "周日停水"), ("n1", "居委会通知")])
        await until(lambda: first_lines_to(bot, 101, start), "the new entry", 10)
        assert first_lines_to(bot, 101, start) == ["周日停水"]  # and the baseline's entry never

        (feed,) = listed(tmp_path)
        assert feed["category"] == "通知" and feed["state"] == "active"
        done = await asyncio.to_thread(feeds_cli, tmp_path, "pause", feed["id"])
        assert done.returncode == 0 and "paused" in done.stdout, done.stderr
        async with bot.runtime.reading_feeds:  # a round under way ends: the next sees it paused
            pass
        asked = host.asked("/news")
        await asyncio.sleep(3 * interval)
        assert host.asked("/news") == asked  # no longer read

        done = await asyncio.to_thread(feeds_cli, tmp_path, "resume", host.url("/news"))
        assert done.returncode == 0, done.stderr
        await until(lambda: host.asked("/news") > asked, "read again once resumed", 10)

        done = await asyncio.to_thread(feeds_cli, tmp_path, "remove", feed["id"], "--withdraw")
        assert done.returncode == 0 and "withdrawn" in done.stdout, done.stderr
        (card,) = [
            c
            for c in emulator.calls[start:]
            if c.ok and c.method.startswith("send") and c.params.get("chat_id") == 101
        ]
        await until(
            lambda: any(
                c.params.get("message_id") == card.message_ids[0] for c in bot.changed(start)
            ),
            "the withdrawn notice retracted by the running bot",
            10,
        )
        assert listed(tmp_path) == []
    print(f"the bot's first read of a feed the command line added: {first_read:.2f} s later")


def test_opml_export_then_import_into_a_fresh_ledger_gives_the_same_feeds(
    tmp_path: Path, host: FeedHost
) -> None:
    for name in ("a", "b", "c"):
        host.feeds[f"/{name}"] = feed_of(f"{name}楼", [(f"{name}1", f"{name}楼通知")])
    old, fresh = tmp_path / "old", tmp_path / "fresh"
    for where in (old, fresh):
        where.mkdir()
        new_ledger(where)
    for args in (
        ("add", host.url("/a"), "--category", "停水停电"),
        ("add", host.url("/b"), "--interval", "10m"),
        ("add", host.url("/c"), "--category", "活动"),
        ("pause", host.url("/c")),
    ):
        done = feeds_cli(old, *args)
        assert done.returncode == 0, done.stderr
    exported = old / "feeds.opml"
    done = feeds_cli(old, "export", str(exported))
    assert done.returncode == 0, done.stderr
    assert exported.stat().st_mode & 0o077 == 0  # an address may hold a password
    tree = etree.parse(str(exported))
    assert tree.getroot().get("version") == "2.0"
    folders = {o.get("text") for o in tree.getroot().iter("outline") if o.get("xmlUrl") is None}
    assert folders == {"停水停电", "活动"}

    done = feeds_cli(fresh, "import", str(exported))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported 3 of 3 feeds" in done.stdout

    def kept(row: dict) -> tuple:
        return row["url"], row["title"], row["category"], row["interval"], row["state"]

    assert sorted(map(kept, listed(fresh))) == sorted(map(kept, listed(old)))
    assert [r["entries"] for r in listed(fresh)] == [1, 1, 1]  # each baselined on import
    again = feeds_cli(fresh, "import", str(exported))
    assert again.returncode == 0 and "3 already read (not added again)" in again.stdout
    assert len(listed(fresh)) == 3


def test_a_feed_readers_real_export_is_imported_with_its_folders_as_categories(
    tmp_path: Path, host: FeedHost
) -> None:
    """Feedly's export (tests/feeds/opml/SOURCES.md). Its http feeds are served by the
    local host acting as their proxy; its https ones cannot be reached from here and are
    reported so; feeds filed in two folders are read once, under the first."""
    first_folder: dict[str, str] = {}
    for folder in etree.parse(str(FEEDLY)).getroot().find("body"):
        for feed in folder:
            first_folder.setdefault(feed.get("xmlUrl"), folder.get("title"))
    reachable = {url for url in first_folder if url.startswith("http://")}
    for number, url in enumerate(sorted(reachable)):
        host.feeds[url] = feed_of(f"feed {number}", [(f"g{number}", "文章")])
    new_ledger(tmp_path)
    done = feeds_cli(tmp_path, "import", str(FEEDLY), HTTP_PROXY=host.base, NO_PROXY="")
    assert done.returncode == 1, done.stderr  # some could not be reached
    out = done.stdout
    assert f"imported {len(reachable)} of {len(first_folder)} feeds" in out
    unreachable = len(first_folder) - len(reachable)
    assert f"{unreachable} unreachable or not a feed (not added)" in out
    assert "21 listed twice in the file (read once)" in out
    rows = listed(tmp_path)
    assert {r["url"]: r["category"] for r in rows} == {u: first_folder[u] for u in reachable}
    assert {r["title"] for r in rows} >= {"上下游News&Market新聞市集"}  # an entity, decoded
    assert all(r["entries"] == 1 for r in rows)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("add", "not a url"), "is not a feed's address"),
        (("add", "ftp://example.org/feed.xml"), "is not a feed's address"),
        (("add", "file:///etc/passwd"), "is not a feed's address"),
        (("add", "http://example.org/f", "--interval", "5s"), "--interval"),
        (("remove", "0123abcd"), "No such feed"),
        (("pause", "http://example.org/none"), "No such feed"),
        (("import", "missing.opml"), "No such file"),
    ],
)
def test_bad_input_gets_one_line_and_changes_nothing(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    new_ledger(tmp_path)
    done = feeds_cli(tmp_path, *args)
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2  # the ledger's name, then why
    assert listed(tmp_path) == []


def test_what_cannot_be_a_feed_is_refused_with_its_reason(tmp_path: Path, host: FeedHost) -> None:
    host.feeds["/page"] = b"<!doctype html><html><body>a page</body></html>"
    host.feeds["/ok"] = feed_of("好的", [("o1", "通知")])
    new_ledger(tmp_path)
    (tmp_path / "bad.opml").write_bytes(b"<opml><body><outline xmlUrl='x'></body>")
    (tmp_path / "notopml.opml").write_bytes(b"<rss version='2.0'><channel/></rss>")
    configured = {"NOTICEBOT_FEEDS": host.url("/ok")}
    cases = [
        (("add", host.url("/ok")), {"NOTICEBOT_FEEDS_ALLOW_PRIVATE": "off"}, "local network"),
        (("add", host.url("/page")), {}, "not a feed (an HTML page)"),
        (("add", host.url("/gone")), {}, "HTTP 404"),
        (("add", host.url("/ok")), configured, "read already"),
        (("remove", host.url("/ok")), configured, "in the configuration"),
        (("import", str(tmp_path / "bad.opml")), {}, "not XML"),
        (("import", str(tmp_path / "notopml.opml")), {}, "not OPML"),
    ]
    for args, env, said in cases:
        done = feeds_cli(tmp_path, *args, **env)
        assert done.returncode == 2 and said in done.stderr, (args, done.stderr)
        assert listed(tmp_path) == [] or env == configured
    store = Store(tmp_path / "state" / "noticebot.db")
    assert store.feed_sources() == [] and store.feed_states() == []
    store.close()
