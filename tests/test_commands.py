"""The bot people talk to, end to end: real python-telegram-bot polling the emulator."""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.ledger import Chat
from bot.ledger.states import OPEN_STATUSES
from tests import ledgers
from tests.botenv import (
    ADMIN,
    LiveBot,
    callback_update,
    live_bot,
    member_update,
    message_update,
    until,
)
from tests.chaos import article_text, now_rfc
from tests.emulator import Call, Emulator, Fault
from tests.paths import SEED

pytestmark = ledgers.each_backend

WITHIN = 30.0  # seconds for what a test waits for: only a failing run waits that long


@pytest.fixture
async def bot(tmp_path: Path, emulator: Emulator) -> AsyncIterator[LiveBot]:
    shutil.copy(SEED, tmp_path / "articles" if (tmp_path / "articles").exists() else _mk(tmp_path))
    async with live_bot(tmp_path, emulator) as live:
        live.runtime.scanner.scan()
        yield live


def _mk(tmp_path: Path) -> Path:
    (tmp_path / "articles").mkdir()
    return tmp_path / "articles"


SEED_TITLE = "爱申活暖心春｜社区防疫不放松，新春问候暖心传递"


def _text(call: Call) -> str:
    return call.params.get("text") or call.params.get("caption") or ""


WATER = "五号楼停水"


def _save(path: Path, text: str) -> None:
    """``text`` into ``path`` at once, as an editor's save-and-rename does: written in
    place, the bot's own scan (every 0.5 s) may read it empty and tell the admins it is
    broken, a message a test would take for the answer it waits for."""
    partial = path.parent.parent / f"{path.name}.partial"  # outside the scanned folder
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _water_notice(bot: LiveBot, pictures: int) -> str:
    """A notice with a few pictures and more text than its card holds (card, text, and an
    album from two more pictures): what the seed's eleven album pictures showed, without
    waiting a chat's pace (about one message a second, a picture each) for them. Its id."""
    images = "".join(f'<img src="https://example.com/water-{n}.jpg">' for n in range(pictures))
    body = "<p>" + "本周六上午八点至下午五点，五号楼因管道检修停水，请提前储水。" * 12 + "</p>"
    _save(bot.articles / "water.md", article_text(WATER, images + body, "slug: water-5\n"))
    bot.runtime.scanner.scan()  # the bot's own watch may have read it first
    assert bot.runtime.store.article("water_5") is not None
    return "water_5"


async def test_start_and_help_in_both_languages(bot: LiveBot) -> None:
    (zh,) = await bot.say(message_update(11, "/start"))
    assert "社区通知机器人" in _text(zh) and "/subscribe" in _text(zh)
    (en,) = await bot.say(message_update(12, "/start", language="en"))
    assert "Hello!" in _text(en)
    (other,) = await bot.say(message_update(13, "/help", language="fr"))
    assert _text(other).startswith("可以发送这些命令")  # default language for the others
    (admin_help,) = await bot.say(message_update(ADMIN, "/help", language="en"))
    assert "/broadcast" in _text(admin_help)
    commands = [c for c in bot.emulator.calls if c.method == "setMyCommands"]
    scopes = {str(c.params.get("scope")) for c in commands}
    assert any(str(ADMIN) in s for s in scopes)
    assert {c.params.get("language_code") for c in commands} == {None, "en"}


async def test_subscribe_in_private_and_by_deep_link(bot: LiveBot) -> None:
    (reply,) = await bot.say(message_update(21, "/subscribe"))
    assert _text(reply).startswith("订阅成功！有新通知会第一时间发到这里。")
    (reply,) = await bot.say(message_update(22, "/start subscribe", language="en"))
    assert _text(reply).startswith("Subscribed! New notices will be sent here")
    (reply,) = await bot.say(message_update(23, "/subscribe 停水 停电"))
    assert "“停水”或“停电”" in _text(reply)
    assert bot.runtime.store.chat(23).filters == ("停水", "停电")
    (reply,) = await bot.say(message_update(21, "/unsubscribe"))
    assert _text(reply).startswith("已取消订阅")
    assert not bot.runtime.store.chat(21).subscribed


async def test_group_subscribe_needs_an_admin(bot: LiveBot) -> None:
    bot.emulator.members[(-31, 501)] = "administrator"
    (refused,) = await bot.say(message_update(-31, "/subscribe", user_id=502, chat_type="group"))
    assert "管理员" in _text(refused)
    assert bot.runtime.store.chat(-31) is None or not bot.runtime.store.chat(-31).subscribed
    (ok,) = await bot.say(message_update(-31, "/subscribe", user_id=501, chat_type="group"))
    assert _text(ok).startswith("订阅成功")
    (refused,) = await bot.say(message_update(-31, "/unsubscribe", user_id=502, chat_type="group"))
    assert "管理员" in _text(refused) and bot.runtime.store.chat(-31).subscribed


async def test_channel_subscribes_by_post_and_from_private(bot: LiveBot) -> None:
    (reply,) = await bot.say(message_update(-1001, "/subscribe", chat_type="channel"))
    assert _text(reply).startswith("订阅成功")
    assert bot.runtime.store.chat(-1001).type == "channel"
    bot.emulator.chats["@notices"] = {"id": -1002, "type": "channel", "title": "Notices"}
    (refused,) = await bot.say(message_update(41, "/subscribe @notices"))
    assert "管理员" in _text(refused)
    bot.emulator.members[(-1002, 41)] = "creator"
    (ok,) = await bot.say(message_update(41, "/subscribe @notices"))
    assert "@notices" in _text(ok) and bot.runtime.store.chat(-1002).subscribed


async def test_forum_topic_subscription_receives_in_its_thread(bot: LiveBot) -> None:
    bot.emulator.members[(-1005, 51)] = "administrator"
    update = message_update(-1005, "/subscribe", user_id=51, chat_type="supergroup", thread_id=7)
    (reply,) = await bot.say(update)
    assert reply.params["message_thread_id"] == 7
    assert bot.runtime.store.chat(-1005).thread_id == 7
    start = bot.mark()
    _save(
        bot.articles / "new.md",
        SEED.read_text(encoding="utf-8")
        .replace("爱申活", "新通知")
        .replace("Tue, 01 Feb 2022 08:57:15 GMT", now_rfc()),
    )
    (card,) = await bot.wait_calls(start, 1)
    assert card.params["chat_id"] == -1005 and card.params["message_thread_id"] == 7


async def test_latest_then_read_round_trip(bot: LiveBot) -> None:
    _water_notice(bot, pictures=3)
    (listing,) = await bot.say(message_update(61, "/latest"))
    text = _text(listing)
    assert text.startswith("最新通知") and SEED_TITLE in text
    assert text.index(WATER) < text.index(SEED_TITLE)  # the newest first
    link = re.search(r"/read_\w+", text).group()  # the first link: the water notice's
    calls = await bot.say(message_update(61, link), replies=3)
    assert [c.method for c in calls] == ["sendPhoto", "sendMessage", "sendMediaGroup"]
    assert _text(calls[0]).startswith(WATER) and _text(calls[1]).startswith(WATER)
    assert [m["media"] for m in calls[2].params["media"]] == [
        "https://example.com/water-1.jpg",
        "https://example.com/water-2.jpg",
    ]
    for chat, asked in ((62, "/read ../../etc/passwd"), (63, "/read_" + "9" * 30)):
        (missing,) = await bot.say(message_update(chat, asked))  # a chat each: no pace
        assert "没有找到这条通知" in _text(missing)


async def test_search_finds_by_chinese_keyword(bot: LiveBot) -> None:
    (found,) = await bot.say(message_update(71, "/search 防疫"))
    assert SEED_TITLE in _text(found) and "/read_" in _text(found)
    (found,) = await bot.say(message_update(71, "/search 打浦桥街道"))
    assert SEED_TITLE in _text(found)
    (none,) = await bot.say(message_update(71, '/search "NEAR( * AND -x'))
    assert "没有找到" in _text(none)
    (none,) = await bot.say(message_update(71, "/search " + "字" * 4000))
    assert "没有找到" in _text(none)
    # another resident, so the throttle does not answer instead
    (none,) = await bot.say(message_update(72, "/search '; DROP TABLE articles; --"))
    assert "没有找到" in _text(none)
    (still,) = await bot.say(message_update(72, "/search 打浦桥 OR 1=1"))
    assert _text(still).count("/read_") == 1  # words, each just text: no injection widens it
    assert _text(still).startswith("找到1条含“打浦桥”、“OR”或“1=1”的通知")
    (found,) = await bot.say(message_update(72, "/latest"))
    assert SEED_TITLE in _text(found)
    # the bot's own scan job fills the search index: then the same words find the same
    unindexed = "SELECT COUNT(*) AS n FROM articles WHERE indexed = 0"
    for _ in range(250):
        if not bot.runtime.store._rows(unindexed)[0]["n"]:
            break
        await asyncio.sleep(0.02)
    (found,) = await bot.say(message_update(73, "/search 打浦桥街道"))
    assert SEED_TITLE in _text(found)
    assert bot.runtime.store._rows(unindexed)[0]["n"] == 0


async def test_settings_change_mode_and_language(bot: LiveBot) -> None:
    (menu,) = await bot.say(message_update(81, "/settings"))
    buttons = [b for row in menu.params["reply_markup"]["inline_keyboard"] for b in row]
    data = {b["callback_data"] for b in buttons}
    assert {"set:mode:full", "set:lang:en", "set:quiet:on"} <= data

    async def press(data: str) -> Call:  # on the menu itself, as a resident taps it
        start = bot.mark()
        bot.emulator.press(81, menu.message_ids[0], 81, data)
        (edited,) = await bot.wait_calls(start, 1)
        return edited

    edited = await press("set:mode:full")
    assert edited.method == "editMessageText" and "接收方式：摘要和全文" in _text(edited)
    assert "Delivery: summary and full text" in _text(await press("set:lang:en"))
    chat = bot.runtime.store.chat(81)
    assert (chat.mode, chat.language) == ("full", "en")
    assert "Night mute: on (from 22:00 to 07:00" in _text(await press("set:quiet:on"))
    (reply,) = await bot.say(message_update(81, "/start"))
    assert "Hello!" in _text(reply)


async def test_admin_broadcast_with_confirm(bot: LiveBot) -> None:
    for chat_id in (101, 102, 103):
        await bot.say(message_update(chat_id, "/subscribe"))
    article_id = bot.runtime.store.recent_articles(1)[0]["id"]
    preview, question = await bot.say(message_update(ADMIN, f"/broadcast {article_id}"), replies=2)
    assert preview.method == "sendPhoto" and preview.params["chat_id"] == ADMIN
    assert "3" in _text(question)
    token = question.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    start = bot.mark()
    bot.emulator.push(callback_update(ADMIN, ADMIN, token, message_id=question.message_ids[0]))
    await bot.wait_calls(start, 4)  # three cards and at least one progress edit
    for _ in range(100):
        edits = [c for c in bot.emulator.calls[start:] if c.method == "editMessageText"]
        if edits and "完成" in _text(edits[-1]):
            break
        await bot.quiet(0.1)
    assert "发送完成：成功3，失败0，已屏蔽或退出0" in _text(edits[-1])
    cards = bot.emulator.cards_per_chat()
    assert {k: v for k, v in cards.items() if k in (101, 102, 103)} == {101: 1, 102: 1, 103: 1}
    start = bot.mark()
    bot.emulator.push(callback_update(ADMIN, ADMIN, token, message_id=question.message_ids[0]))
    for _ in range(200):
        answers = [c for c in bot.emulator.calls[start:] if c.method == "answerCallbackQuery"]
        if answers:
            break
        await bot.quiet(0.03)
    await bot.quiet(0.3)
    (answer,) = answers
    assert "失效" in answer.params["text"]  # a second press sends and edits nothing
    made = [c.method for c in bot.emulator.calls[start:] if c.method != "getUpdates"]
    assert made == ["answerCallbackQuery"]
    _preview, nobody = await bot.say(message_update(ADMIN, f"/broadcast {article_id}"), replies=2)
    assert "无需再发送" in _text(nobody) and "reply_markup" not in nobody.params  # all have it


async def test_non_admins_are_refused_and_nothing_is_sent(bot: LiveBot) -> None:
    await bot.say(message_update(111, "/subscribe"))
    article_id = bot.runtime.store.recent_articles(1)[0]["id"]
    attempts = [  # different users, so the throttle does not answer instead
        message_update(112, f"/broadcast {article_id}"),
        message_update(113, "/announce 假通知"),
        message_update(114, "/stats"),
        message_update(-9, f"/broadcast {article_id}", user_id=115, chat_type="group"),
        message_update(116, f"/broadcast {article_id}", kind="edited_message"),
        message_update(117, f"/broadcast {article_id}", forward=True),
    ]
    for update in attempts:
        start = bot.mark()
        (refusal,) = await bot.say(update)
        assert "仅限" in _text(refusal)
        await bot.quiet(0.2)
        others = [c for c in bot.emulator.calls[start:] if c.ok and c.params.get("chat_id") == 111]
        assert others == []
    assert bot.runtime.store.status()["deliveries"] == {}
    # The confirmation comes, but from someone else (a forged press of an admin's button):
    # still nothing. Then the admin's own press sends, so the checks above could fail.
    _preview, question = await bot.say(message_update(ADMIN, f"/broadcast {article_id}"), replies=2)
    token = question.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    start = bot.mark()
    bot.emulator.push(callback_update(ADMIN, 118, token, message_id=question.message_ids[0]))
    await until(lambda: _answers(bot, start), "the forged press answered", WITHIN)
    await bot.quiet(0.5)  # what a press taken for the admin's would send meanwhile
    assert [c for c in bot.emulator.calls[start:] if c.params.get("chat_id") == 111] == []
    assert bot.runtime.store.status()["deliveries"] == {}
    (refusal,) = _answers(bot, start)
    assert "仅限" in refusal.params["text"]
    bot.emulator.push(callback_update(ADMIN, ADMIN, token, message_id=question.message_ids[0]))
    for _ in range(100):
        if bot.emulator.cards_per_chat().get(111):
            break
        await bot.quiet(0.05)
    assert bot.emulator.cards_per_chat().get(111) == 1


async def test_announce_splits_a_long_text(bot: LiveBot) -> None:
    bot.runtime.store.subscribe(Chat(121, mode="full"))
    text = "居民朋友们：" + "请按时参加核酸检测，注意个人防护。" * 600
    assert len(text) > 10_000
    _preview, question = await bot.say(message_update(ADMIN, f"/announce {text}"), replies=2)
    token = question.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    start = bot.mark()
    bot.emulator.push(callback_update(ADMIN, ADMIN, token, message_id=question.message_ids[0]))
    for _ in range(200):
        parts = [c for c in bot.emulator.calls[start:] if c.ok and c.params.get("chat_id") == 121]
        if len(parts) >= 4:
            break
        await bot.quiet(0.05)
    card, *texts = [_text(p) for p in parts]
    assert card.startswith("社区公告\n") and len(texts) == 3 and all(len(t) <= 4096 for t in texts)
    assert texts[0].startswith("社区公告\n")
    assert "".join(texts).replace("\n", "").count("请按时参加核酸检测") == 600


async def test_stats_for_admin(bot: LiveBot) -> None:
    (reply,) = await bot.say(message_update(ADMIN, "/stats"))
    assert _text(reply).startswith("通知：有效1\n") and "发送记录：无" in _text(reply)
    assert not re.search("[A-Za-z]", _text(reply))  # every word in the reader's language
    (reply,) = await bot.say(message_update(ADMIN, "/stats", language="en"))
    assert _text(reply).startswith("Notices: active 1\n")


async def test_bot_removed_from_group_is_deactivated(bot: LiveBot) -> None:
    (greeting,) = await bot.say(member_update(-71, "group", "left", "member"))
    assert "/subscribe" in _text(greeting)
    bot.emulator.members[(-71, 5)] = "administrator"
    await bot.say(message_update(-71, "/subscribe", user_id=5, chat_type="group"))
    bot.emulator.push(member_update(-71, "group", "member", "kicked"))
    await until(lambda: not bot.runtime.store.chat(-71).active, "deactivation")
    assert bot.runtime.store.chat(-71).deactivated_reason == "bot removed"


async def test_private_chatter_gets_a_hint_groups_are_ignored(bot: LiveBot) -> None:
    (hint,) = await bot.say(message_update(131, "你好"))
    assert "不能回复留言" in _text(hint) and "/search" in _text(hint)
    bot.emulator.push(message_update(-132, "大家好", user_id=5, chat_type="group"))
    assert await bot.quiet() == []


async def test_throttle_stops_a_hammering_user(bot: LiveBot) -> None:
    start = bot.mark()
    for _ in range(12):
        bot.emulator.push(message_update(-141, "/latest", user_id=7, chat_type="group"))
    await bot.wait_calls(start, 6)  # paced as a group is: a burst of five, then one per 4 s
    await bot.quiet(1.5)
    replies = [c for c in bot.emulator.calls[start:] if c.ok and c.method == "sendMessage"]
    assert len(replies) == 6  # five answers, then one "too many requests"
    assert "频繁" in _text(replies[-1])


async def test_daily_digest_lists_the_days_notices(bot: LiveBot) -> None:
    from datetime import datetime, timedelta

    from bot.app import digest_job

    await bot.say(message_update(151, "/subscribe"))
    now = datetime.now(bot.runtime.config.tz)
    due = now - timedelta(minutes=1)
    when = f"{due:%H:%M}" if due.date() == now.date() else "00:00"
    bot.runtime.store.update_chat(151, mode="digest", digest_time=when)
    _save(  # after the chat chose digests: in its first
        bot.articles / "water.md", "---\ntitle: 本周六停水\n---\n\n<p>本周六上午停水。</p>\n"
    )
    for _ in range(200):  # the watcher's scan takes it in
        if bot.runtime.store.search("本周六停水"):
            break
        await asyncio.sleep(0.05)
    start = bot.mark()
    bot.app.job_queue.run_once(digest_job, 0)
    (digest,) = await bot.wait_calls(start, 1)
    assert digest.params["chat_id"] == 151
    assert _text(digest).startswith("新通知汇总（共1条）") and "本周六停水" in _text(digest)
    assert SEED_TITLE not in _text(digest)  # read before the chat chose digests
    bot.app.job_queue.run_once(digest_job, 0)
    assert await bot.quiet() == []  # once a day


async def test_read_button_in_a_group_goes_to_the_reader_privately(bot: LiveBot) -> None:
    article_id = _water_notice(bot, pictures=1)  # card and text: within a chat's burst
    await bot.say(message_update(162, "/start"))  # a reader the bot may write to
    start = bot.mark()
    calls = await bot.say(callback_update(-161, 162, f"read:{article_id}"), replies=2)
    assert {c.params["chat_id"] for c in calls} == {162}
    assert calls[0].method == "sendPhoto"
    (answer,) = _answers(bot, start)
    assert answer.at < calls[0].at and "私聊" in answer.params["text"]  # the spinner stops first

    start = bot.mark()  # a reader who never opened the bot is taken there
    bot.emulator.push(callback_update(-161, 163, f"read:{article_id}"))
    (answer,) = await _answered(bot, start)
    assert answer.params["url"] == f"https://t.me/noticebot_test_bot?start=read_{article_id}"
    (text, *_) = await bot.say(message_update(163, f"/start read_{article_id}"), replies=2)
    assert text.method == "sendPhoto" and text.params["chat_id"] == 163

    bot.emulator.always[163] = Fault.blocked()  # ... and who blocks it later
    start = bot.mark()
    bot.emulator.push(callback_update(-161, 163, f"read:{article_id}"))
    await _answered(bot, start)
    for _ in range(400):  # the refused send comes when the chat's pace allows
        if not bot.runtime.store.chat(163).active:
            break
        await bot.quiet(0.05)
    assert not bot.runtime.store.chat(163).active
    start = bot.mark()
    bot.emulator.push(callback_update(-161, 163, f"read:{article_id}"))
    (answer,) = await _answered(bot, start)
    assert answer.params["url"].endswith(f"start=read_{article_id}")
    assert [c for c in bot.emulator.calls if c.ok and c.params.get("chat_id") == -161] == []


async def test_read_in_a_group_posts_the_notice_only_for_admins(bot: LiveBot) -> None:
    article_id = _water_notice(bot, pictures=1)  # card and text: within a group's burst
    group = {"chat_type": "supergroup"}
    (line,) = await bot.say(message_update(-171, f"/read {article_id}", user_id=172, **group))
    assert line.params["chat_id"] == -171 and "私聊" in _text(line)
    (button,) = line.params["reply_markup"]["inline_keyboard"][0]
    assert button["url"].endswith(f"?start=read_{article_id}")

    await bot.say(message_update(173, "/start"))
    calls = await bot.say(
        message_update(-171, f"/read_{article_id}", user_id=173, **group), replies=3
    )
    assert [c.params["chat_id"] for c in calls] == [173, 173, -171]
    assert "私聊" in _text(calls[-1])

    bot.emulator.members[(-171, 174)] = "administrator"
    calls = await bot.say(
        message_update(-171, f"/read {article_id}", user_id=174, **group), replies=2
    )
    assert [(c.params["chat_id"], c.method) for c in calls] == [
        (-171, "sendPhoto"),
        (-171, "sendMessage"),
    ]
    assert _text(calls[0]).startswith(WATER)


def _answers(bot: LiveBot, start: int) -> list[Call]:
    return [c for c in bot.emulator.calls[start:] if c.method == "answerCallbackQuery"]


async def _answered(bot: LiveBot, start: int) -> list[Call]:
    for _ in range(200):
        if answers := _answers(bot, start):
            return answers
        await bot.quiet(0.05)
    raise AssertionError("the button was not answered")


def _delivered(bot: LiveBot, chat: int, start: int) -> bool:
    """``chat`` got something since ``start``, and none of its deliveries is still
    waiting or being sent: what it got is all it gets of them."""
    got = [c for c in bot.emulator.calls[start:] if c.ok and c.params.get("chat_id") == chat]
    deliveries = bot.runtime.store.deliveries(chat)
    return bool(got) and all(d.status not in OPEN_STATUSES for d in deliveries)


def _entity(text: str, part: str, kind: str, **extra: str) -> dict:
    """An entity over the first ``part`` in ``text``, in UTF-16 units as Telegram counts."""
    start = len(text[: text.index(part)].encode("utf-16-le")) // 2
    length = len(part.encode("utf-16-le")) // 2
    return {"type": kind, "offset": start, "length": length, **extra}


async def test_an_announcement_keeps_its_formatting_in_its_file_and_every_chat(
    bot: LiveBot,
) -> None:
    """Bold, a link and a list typed in /announce: Markdown in the announcement's file,
    entities and bullets in every chat; the file is the notice from then on."""
    bot.runtime.store.subscribe(Chat(131))
    bot.runtime.store.subscribe(Chat(132, mode="full"))
    text = "/announce 停水通知\n本周六上午停水，详见公告。\n- 甲楼\n- 乙楼"
    entities = [
        _entity(text, "停水通知", "bold"),
        _entity(text, "上午", "bold"),
        _entity(text, "公告", "text_link", url="https://jmj.example.org/a"),
    ]
    update = message_update(ADMIN, text, entities=entities)
    preview, question = await bot.say(update, replies=2)
    assert _text(preview).startswith("停水通知\n")  # the first bold line is the title
    token = question.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    start = bot.mark()
    bot.emulator.push(callback_update(ADMIN, ADMIN, token, message_id=question.message_ids[0]))
    # each chat's card: a short announcement's card holds it all, with its formatting,
    # so the full-text chat gets no second copy (its delivery done, every part is out)
    await until(
        lambda: _delivered(bot, 131, start) and _delivered(bot, 132, start), "both copies", WITHIN
    )
    (path,) = bot.runtime.config.announce_dir.glob("*.md")
    written = path.read_text("utf-8")
    assert "title: 停水通知" in written and "author: ''" in written and "公告" in written
    assert "本周六**上午**停水，详见[公告](https://jmj.example.org/a)。" in written
    assert "\n* 甲楼\n* 乙楼\n" in written
    (whole,) = [c for c in bot.emulator.calls[start:] if c.ok and c.params.get("chat_id") == 132]
    card_132 = whole.params
    assert "本周六上午停水，详见公告。\n• 甲楼\n• 乙楼" in card_132["text"]  # as a card shows it
    assert "reply_markup" not in card_132  # nothing more to read
    shown = {
        (e["type"], card_132["text"][e["offset"] : e["offset"] + e["length"]])
        for e in card_132["entities"]
    }
    assert {("bold", "上午"), ("text_link", "公告")} <= shown
    (card,) = [c for c in bot.emulator.calls[start:] if c.ok and c.params.get("chat_id") == 131]
    assert _text(card).startswith("停水通知\n")
    # another announcement stays (an emptied folder's withdrawals are held, in case it
    # is only not there yet); deleting the file withdraws this one from every chat
    _save(path.parent / "standing.md", "---\ntitle: 长期公告\n---\n正文\n")
    path.unlink()
    for _ in range(200):
        if bot.emulator.shown(131) == bot.emulator.shown(132) == []:
            break
        await bot.quiet(0.05)
    assert bot.emulator.shown(131) == bot.emulator.shown(132) == []


async def test_a_search_runs_off_the_event_loop_and_reads_no_control_character(
    bot: LiveBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow search (a huge archive) keeps no other chat waiting; a NUL in a query is
    no part of a word (it made SQLite raise, and the user got no reply)."""
    (found,) = await bot.say(message_update(75, "/search 防疫\x00"))
    assert SEED_TITLE in _text(found)
    store = bot.runtime.store
    real_search = store.search

    entered, release = threading.Event(), threading.Event()

    def slow_search(*args: object, **kwargs: object) -> list[dict]:
        entered.set()
        release.wait(WITHIN)  # the ledger's time, as on a big archive: until /help is answered
        return real_search(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "search", slow_search)
    start = bot.mark()

    def replied() -> list[int]:
        calls = bot.emulator.calls[start:]
        return [c.params["chat_id"] for c in calls if c.ok and c.method == "sendMessage"]

    bot.emulator.push(message_update(76, "/search 防疫"))
    try:
        await until(entered.is_set, "the search under way", WITHIN)
        bot.emulator.push(message_update(77, "/help"))
        await until(replied, "an answer", WITHIN)
    finally:
        release.set()
    await until(lambda: len(replied()) >= 2, "both answers", WITHIN)
    assert replied()[:2] == [77, 76]  # /help did not wait for the search
