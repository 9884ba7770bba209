"""Feeds managed by the admins, end to end: /addfeed, /feeds and their buttons against the
emulator, `noticebot feeds` as a process, feeds served by a local host over HTTP, a
real ledger on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.ledger import Chat, Store
from bot.sources.managed_feeds import remove_feed
from bot.sources.scanner import Scanner
from tests.botenv import ADMIN, LiveBot, callback_update, live_bot, message_update, until
from tests.emulator import Call, Emulator
from tests.feedserver import FeedHost, feed_of

WATER = [("w1", "停水通知"), ("w2", "燃气检修"), ("w3", "垃圾分类新规")]
PRIVATE_OK = {"NOTICEBOT_FEEDS_ALLOW_PRIVATE": "on"}
WITHIN = 30.0  # seconds for what a test waits for: only a failing run waits that long


def _to(bot: LiveBot, chat: int, start: int) -> list[Call]:
    """What was sent to ``chat`` since ``start`` (sends only)."""
    return [
        c
        for c in bot.emulator.calls[start:]
        if c.ok and c.method.startswith("send") and c.params.get("chat_id") == chat
    ]


def _buttons(call: Call) -> list[tuple[str, str]]:
    rows = call.params.get("reply_markup", {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def _text(call: Call) -> str:
    return str(call.params.get("text") or call.params.get("caption") or "")


async def _say(bot: LiveBot, text: str, *, user: int = ADMIN, chat: int | None = None) -> int:
    start = bot.mark()
    kind = "supergroup" if chat and chat < 0 else "private"
    bot.emulator.push(message_update(chat or user, text, user_id=user, chat_type=kind))
    return start


async def _replies(bot: LiveBot, start: int, chat: int, count: int) -> list[Call]:
    await until(lambda: len(_to(bot, chat, start)) >= count, f"{count} replies", 15)
    return _to(bot, chat, start)


async def _press(bot: LiveBot, call: Call, data: str, user: int = ADMIN) -> int:
    start = bot.mark()
    bot.emulator.press(call.params["chat_id"], call.message_ids[0], user, data)
    await bot.answer(start)
    return start


def _edited_text(bot: LiveBot, call: Call) -> str:
    return str(bot.emulator.messages[(call.params["chat_id"], call.message_ids[0])]["text"])


async def _add_from_chat(bot: LiveBot, url: str, category: str = "") -> list[Call]:
    """/addfeed, its answer (summary, preview, question) and the press that adds it."""
    start = await _say(bot, f"/addfeed {url} {category}".strip())
    await until(
        lambda: any("fd:a:" in str(c.params) for c in _to(bot, ADMIN, start)), "the question", 15
    )
    replies = _to(bot, ADMIN, start)
    question = replies[-1]
    (add,) = [data for _, data in _buttons(question) if data.startswith("fd:a:")]
    await _press(bot, question, add)
    await until(lambda: "已添加" in _edited_text(bot, question), "the feed added", 15)
    return replies


def _card_of(call: Call) -> dict:
    """What a subscriber sees of a message: all but where it went."""
    return {k: v for k, v in call.params.items() if k not in ("chat_id", "message_thread_id")}


async def test_a_feed_added_from_the_chat_is_previewed_as_sent_baselined_and_new_entries_go_once(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    host.feeds["/water"] = feed_of("自来水公司通知", WATER)
    url = host.url("/water")
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=0.5) as bot:
        store = bot.runtime.store
        store.subscribe(Chat(101))
        store.subscribe(Chat(102, filters=("停水",)))
        replies = await _add_from_chat(bot, url, "停水")
        summary, *preview, _question = replies
        assert "自来水公司通知" in _text(summary) and "现有 3 条" in _text(summary)
        assert "分类：停水" in _text(summary)
        assert preview and "停水通知" in _text(preview[0])
        (source,) = store.feed_sources()
        assert (source.url, source.category, source.added_by) == (url, "停水", str(ADMIN))
        assert store.feed_state(url).baselined_at is not None
        start = bot.mark()
        asked = host.asked("/water")
        # read again and again (304s): three more rounds, each after the one before had
        # taken in what it read; the baseline is never sent (nor queued)
        await until(lambda: host.asked("/water") >= asked + 3, "three more reads", WITHIN)
        assert not store.deliveries(101) and not store.deliveries(102)
        assert not _to(bot, 101, start) and not _to(bot, 102, start)

        host.feeds["/water"] = feed_of("自来水公司通知", [("w4", "周末检修"), *WATER])
        await until(lambda: _to(bot, 101, start) and _to(bot, 102, start), "the new entry")
        await asyncio.sleep(1.5)
        news = _to(bot, 101, start)
        assert [_text(c).split("\n")[0] for c in news] == ["周末检修"]  # once
        # the feed's category is the notice's: a chat that filters on it gets the entry
        assert len(_to(bot, 102, start)) == 1

        # the preview is what a subscriber gets: the admin broadcasts the previewed notice
        newest = store.recent_articles(10)
        previewed = next(r for r in newest if r["title"] == "停水通知")
        start = await _say(bot, f"/broadcast {previewed['id']}")
        await until(lambda: any("bc:yes:" in str(c.params) for c in _to(bot, ADMIN, start)), "ask")
        question = _to(bot, ADMIN, start)[-1]
        (yes,) = [d for _, d in _buttons(question) if d.startswith("bc:yes:")]
        sent = bot.mark()
        await _press(bot, question, yes)
        await until(lambda: _to(bot, 101, sent), "the broadcast")
    assert [_card_of(c) for c in _to(bot, 101, sent)] == [_card_of(c) for c in preview]


async def _feeds_page(bot: LiveBot) -> Call:
    start = await _say(bot, "/feeds")
    (page,) = await _replies(bot, start, ADMIN, 1)
    return page


def _button(call_or_markup: Call | dict, prefix: str) -> str:
    markup = call_or_markup if isinstance(call_or_markup, dict) else call_or_markup.params
    rows = markup.get("reply_markup", {}).get("inline_keyboard", [])
    (data,) = [
        b["callback_data"] for row in rows for b in row if b["callback_data"].startswith(prefix)
    ]
    return data


def _shown(bot: LiveBot, page: Call) -> dict:
    """The page message as it is now (after its edits)."""
    return bot.emulator.messages[(ADMIN, page.message_ids[0])]


async def test_pause_resume_and_remove_keeping_or_withdrawing_from_the_chat(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    host.feeds["/a"] = feed_of("一号楼", [("a1", "一号楼通知")])
    host.feeds["/b"] = feed_of("二号楼", [("b1", "二号楼通知")])
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=0.3) as bot:
        store = bot.runtime.store
        store.subscribe(Chat(101))
        await _add_from_chat(bot, host.url("/a"))
        await _add_from_chat(bot, host.url("/b"))
        a, b = store.feed_sources()
        page = await _feeds_page(bot)
        assert "一号楼" in _text(page) and "二号楼" in _text(page) and host.url("/a") in _text(page)
        assert "最近新通知：从未" in _text(page)  # the baseline's entries are not new

        await _press(bot, page, _button(page, f"fd:p:{a.id}"))
        await until(lambda: "已暂停" in _shown(bot, page)["text"], "the page shows it paused")
        assert store.feed_sources()[0].paused
        async with bot.runtime.reading_feeds:  # a round under way ends: the next sees it paused
            pass
        asked = host.asked("/a")
        start = bot.mark()
        host.feeds["/a"] = feed_of("一号楼", [("a2", "一号楼停电"), ("a1", "一号楼通知")])
        await asyncio.sleep(1.5)  # five intervals: a paused feed is not read
        assert host.asked("/a") == asked and not _to(bot, 101, start)

        await _press(bot, page, _button(_shown(bot, page), f"fd:r:{a.id}"))
        await until(lambda: _to(bot, 101, start), "the entry, once resumed")
        assert [_text(c).split("\n")[0] for c in _to(bot, 101, start)] == ["一号楼停电"]
        (delivered_a,) = _to(bot, 101, start)

        # removed, its notices kept: the delivered copy stays as it is
        await _press(bot, page, _button(_shown(bot, page), f"fd:x:{a.id}"))
        await until(lambda: "删除订阅源" in _shown(bot, page)["text"], "the question")
        assert "2 条" in _shown(bot, page)["text"]  # the question says how many
        keep = _button(_shown(bot, page), f"fd:k:{a.id}")
        start = bot.mark()
        await _press(bot, page, keep)
        # the answer, not the question (which says 保留 and 撤回 too): the feed is gone
        await until(lambda: "已删除" in _shown(bot, page)["text"], "removed, kept", WITHIN)
        assert "保留" in _shown(bot, page)["text"]
        assert [s.url for s in store.feed_sources()] == [b.url]
        assert (
            store.article(delivered_a.params["text"] and _id_of(store, "一号楼停电"))["status"]
            == "active"
        )
        host.feeds["/a"] = feed_of("一号楼", [("a3", "一号楼再通知")])
        await asyncio.sleep(1.0)
        # nothing retracted, nothing read from the removed feed
        assert not [c for c in bot.changed(start) if c.params.get("chat_id") == 101]

        # removed, its notices withdrawn: the delivered copy is retracted
        host.feeds["/b"] = feed_of("二号楼", [("b2", "二号楼停水"), ("b1", "二号楼通知")])
        await until(lambda: any("二号楼停水" in _text(c) for c in _to(bot, 101, start)), "b2")
        (delivered_b,) = [c for c in _to(bot, 101, start) if "二号楼停水" in _text(c)]
        page = await _feeds_page(bot)
        await _press(bot, page, _button(page, f"fd:x:{b.id}"))
        await until(lambda: "删除订阅源" in _shown(bot, page)["text"], "the question")
        retract = bot.mark()
        await _press(bot, page, _button(_shown(bot, page), f"fd:w:{b.id}"))
        await until(lambda: "已删除" in _shown(bot, page)["text"], "removed, withdrawn", WITHIN)
        assert "撤回" in _shown(bot, page)["text"]
        await until(
            lambda: any(
                c.params.get("message_id") == delivered_b.message_ids[0]
                for c in bot.changed(retract)
                if c.params.get("chat_id") == 101
            ),
            "the copy retracted",
        )
        assert not store.feed_sources()
        assert store.article(_id_of(store, "二号楼停水"))["status"] == "withdrawn"
        assert store.article(_id_of(store, "一号楼停电"))["status"] == "active"
        assert "还没有订阅源" in _text(await _feeds_page(bot))


def _id_of(store: Store, title: str) -> str:
    (row,) = store.db.execute("SELECT id FROM articles WHERE title = ?", [title]).fetchall()
    return row[0]


async def test_only_an_admin_in_private_sees_or_changes_feeds_and_credentials_are_hidden(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    host.feeds["/locked"] = feed_of("内部通知", WATER)
    locked = host.url("/locked").replace("http://", "http://reader:s3cr3t-pw@")
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=0.5) as bot:
        replies = await _add_from_chat(bot, locked)
        (source,) = bot.runtime.store.feed_sources()
        page = await _feeds_page(bot)
        resident = 555
        for text in ("/feeds", f"/addfeed {host.url('/x')}"):
            start = await _say(bot, text, user=resident)
            (refusal,) = await _replies(bot, start, resident, 1)
            assert "仅限" in _text(refusal) and "127.0.0.1" not in _text(refusal)
        group = -100123
        start = await _say(bot, "/feeds", chat=group)
        (elsewhere,) = await _replies(bot, start, group, 1)
        assert "私聊" in _text(elsewhere) and "127.0.0.1" not in _text(elsewhere)
        # a resident pressing an admin's button (the data is all they need) changes nothing
        start = bot.mark()
        bot.emulator.push(callback_update(resident, resident, f"fd:w:{source.id}:0"))
        refused = await bot.answer(start)
        assert "仅限" in refused.params["text"] and bot.runtime.store.feed_sources() == [source]
        shown = [_text(c) for c in [*replies, page]] + [_edited_text(bot, replies[-1])]
    assert not any("s3cr3t-pw" in text for text in shown)
    assert any("reader:***@" in text or "***" in text for text in shown)
    assert not any("s3cr3t-pw" in str(c.params) for c in emulator.calls)


async def test_bad_input_in_the_chat_gets_one_clear_line_and_adds_nothing(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    host.feeds["/page"] = b"<!doctype html><html><body>not a feed</body></html>"
    host.feeds["/ok"] = feed_of("好的", WATER)
    async with live_bot(tmp_path, emulator, feed_interval=0.5) as bot:  # private ones refused
        cases = {
            "/addfeed": "用法",
            "/addfeed ftp://example.org/feed": "不是订阅源的网址",
            "/addfeed example.org/feed": "不是订阅源的网址",
            f"/addfeed {host.url('/ok')}": "本机或内部网络",
            "/addfeed http://localhost:1/feed": "本机或内部网络",
            f"/addfeed {host.url('/ok')} {'很长的分类' * 10}": "分类最多",
        }
        for text, said in cases.items():
            start = await _say(bot, text)
            (answer,) = await _replies(bot, start, ADMIN, 1)
            assert said in _text(answer), (text, _text(answer))
        assert not bot.runtime.store.feed_sources()
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=0.5) as bot:
        start = await _say(bot, f"/addfeed {host.url('/page')}")
        (answer,) = await _replies(bot, start, ADMIN, 1)
        assert "无法读取" in _text(answer) and "HTML" in _text(answer)
        await _add_from_chat(bot, host.url("/ok"))
        start = await _say(bot, f"/addfeed {host.url('/ok')}")
        (answer,) = await _replies(bot, start, ADMIN, 1)
        assert "已经在读取" in _text(answer)
        assert len(bot.runtime.store.feed_sources()) == 1


async def test_a_feed_failing_for_a_while_is_told_once_and_once_when_it_recovers(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    host.feeds["/flaky"] = feed_of("街道办", WATER)
    settings = {"feeds_allow_private": True, "feed_interval": 0.2, "feed_alert_after": 1.0}
    async with live_bot(tmp_path, emulator, **settings) as bot:
        bot.runtime.store.subscribe(Chat(ADMIN))
        await _add_from_chat(bot, host.url("/flaky"))
        start = bot.mark()
        host.failing.add("/flaky")
        told = lambda: [c for c in _to(bot, ADMIN, start) if "读取失败" in _text(c)]  # noqa: E731
        await until(told, "the admins told", 15)
        assert "街道办" in _text(told()[0]) and "500" in _text(told()[0])
        failures = bot.runtime.store.feed_state(host.url("/flaky")).failures
        await until(
            lambda: bot.runtime.store.feed_state(host.url("/flaky")).failures > failures,
            "one more failure",
            15,
        )
        assert len(told()) == 1
        host.failing.clear()
        well = lambda: [c for c in _to(bot, ADMIN, start) if "已恢复" in _text(c)]  # noqa: E731
        await until(well, "the admins told it recovered", 20)
        await asyncio.sleep(1.0)
        assert len(told()) == 1 and len(well()) == 1


async def test_a_feed_removed_while_it_is_being_read_stays_removed(
    tmp_path: Path, emulator: Emulator, host: FeedHost
) -> None:
    """The command line removes a feed (withdrawing its notices) while the running bot
    is reading it: what that read brings is not saved, the feed not brought back."""
    host.feeds["/slow"] = feed_of("慢", [("s1", "旧通知")])
    async with live_bot(tmp_path, emulator, feeds_allow_private=True, feed_interval=0.3) as bot:
        store = bot.runtime.store
        store.subscribe(Chat(101))
        await _add_from_chat(bot, host.url("/slow"))
        (source,) = store.feed_sources()
        host.slow["/slow"] = 1.5
        host.feeds["/slow"] = feed_of("慢", [("s2", "新通知"), ("s1", "旧通知")])
        asked = len(host.arrived)
        await until(lambda: "/slow" in host.arrived[asked:], "a read under way")
        start = bot.mark()
        remove_feed(store, Scanner(store, bot.runtime.config), source, withdraw=True)
        await until(lambda: len(host.requests) > asked, "the slow answer", 10)
        await asyncio.sleep(0.5)  # the read's results, were they taken in
        assert store.feed_sources() == [] and store.feed_states() == []
        assert not store.db.execute("SELECT id FROM articles WHERE title = '新通知'").fetchall()
        assert not _to(bot, 101, start)
