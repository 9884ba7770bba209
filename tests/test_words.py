"""What residents read, end to end: keywords as they type them, one copy per tap, no ids
or programmer's notation, a reply that fits what was sent, one vocabulary, English that
counts right."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.ledger import Chat
from tests.botenv import ADMIN, LiveBot, callback_update, live_bot, message_update
from tests.chaos import article_text
from tests.emulator import Call, Emulator
from tests.paths import SEED

SEED_ID = "f614b98f"
SEED_TITLE = "爱申活暖心春｜社区防疫不放松，新春问候暖心传递"
CONTACT = "丽园路居委会 021-5555 1234"
ORG = "丽园路居民委员会"


@pytest.fixture
async def bot(tmp_path: Path, emulator: Emulator) -> AsyncIterator[LiveBot]:
    async with _bot(tmp_path, emulator) as live:
        yield live


@pytest.fixture
async def committee_bot(tmp_path: Path, emulator: Emulator) -> AsyncIterator[LiveBot]:
    """A bot whose committee has a name and a contact configured."""
    async with _bot(tmp_path, emulator, contact=CONTACT, org_name=ORG) as live:
        yield live


@asynccontextmanager
async def _bot(tmp_path: Path, emulator: Emulator, **settings: str) -> AsyncIterator[LiveBot]:
    (tmp_path / "articles").mkdir()
    shutil.copy(SEED, tmp_path / "articles")
    async with live_bot(tmp_path, emulator, **settings) as live:
        live.runtime.scanner.scan()
        yield live


def _text(call: Call) -> str:
    return call.params.get("text") or call.params.get("caption") or ""


def _bold(call: Call) -> list[str]:
    """The words a message shows in bold."""
    units = _text(call).encode("utf-16-le")
    return [
        units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in call.params.get("entities") or []
        if e["type"] == "bold"
    ]


def test_keywords_are_apart_at_the_separators_a_chinese_keyboard_types() -> None:
    from bot.keywords import keywords

    assert keywords("停水，停电") == ("停水", "停电")
    assert keywords("停水、停电；施工") == ("停水", "停电", "施工")
    assert keywords("停水,停电;  施工 停水") == ("停水", "停电", "施工")
    assert keywords("“停水” 「停电」") == ("停水", "停电")
    assert keywords(" ，、 ") == ()


async def test_keywords_typed_with_a_chinese_comma_each_find_their_notice(bot: LiveBot) -> None:
    (reply,) = await bot.say(message_update(21, "/subscribe 停水，停电"))
    assert "“停水”或“停电”" in _text(reply)
    assert bot.runtime.store.chat(21).filters == ("停水", "停电")
    start = bot.mark()
    (bot.articles / "power.md").write_text(
        article_text("明日停电通知", "<p>明天上午九点至十一点停电。</p>"), encoding="utf-8"
    )
    (bot.articles / "trees.md").write_text(
        article_text("绿化修剪", "<p>本周修剪小区树木。</p>"), encoding="utf-8"
    )
    bot.runtime.scanner.scan()
    (card,) = await bot.wait_calls(start, 1)
    assert card.params["chat_id"] == 21 and _text(card).startswith("明日停电通知")
    assert [c for c in await bot.quiet() if c.params.get("chat_id") == 21] == []


async def test_read_full_text_under_a_card_in_private_does_not_send_the_card_again(
    bot: LiveBot,
) -> None:
    body = "<p>" + "本周六上午八点至下午五点，五号楼因管道检修停水，请提前储水。" * 12 + "</p>"
    (bot.articles / "long.md").write_text(
        article_text("五号楼停水", body, "slug: long-water\n"), encoding="utf-8"
    )
    bot.runtime.scanner.scan()
    start = bot.mark()
    bot.emulator.push(callback_update(31, 31, "read:long_water"))
    (text,) = await bot.wait_calls(start, 1)
    await bot.quiet(0.3)
    sent = [c for c in bot.emulator.calls[start:] if c.ok and c.method.startswith("send")]
    assert sent == [text] and text.method == "sendMessage"  # the rest, not the card again
    assert _text(text).startswith("五号楼停水") and _text(text).count("管道检修") == 12


async def test_lists_show_bold_titles_and_a_read_link_in_words(bot: LiveBot) -> None:
    (listing,) = await bot.say(message_update(41, "/latest"))
    lines = _text(listing).split("\n")
    assert SEED_TITLE in _bold(listing)
    assert not [line for line in lines if re.fullmatch(r"/read_\w+", line)]  # no bare id
    assert "👉 点此阅读：/read_f614b98f" in lines
    (found,) = await bot.say(message_update(41, "/search 防疫"))
    assert _text(found).startswith("找到1条与“防疫”相关的通知") and SEED_TITLE in _bold(found)


async def test_no_placeholder_or_id_in_usage_help_and_menu(bot: LiveBot) -> None:
    (usage,) = await bot.say(message_update(42, "/read"))
    assert "用法" not in _text(usage) and "编号" not in _text(usage)
    assert "/latest" in _text(usage)  # the next step
    (search,) = await bot.say(message_update(42, "/search"))
    assert "用法" not in _text(search) and "/search 停水" in _text(search)
    (helped,) = await bot.say(message_update(42, "/help"))
    assert not re.search(r"[\[\]]|编号|数量", _text(helped))
    menus = [c for c in bot.emulator.calls if c.method == "setMyCommands"]
    assert menus and all(
        "read" not in {command["command"] for command in menu.params["commands"]} for menu in menus
    )
    (missing,) = await bot.say(message_update(42, "/read nothing-here"))
    assert "nothing" not in _text(missing) and "/latest" in _text(missing)


async def test_a_notice_is_found_by_its_slug_as_written_and_its_id_in_any_case(
    bot: LiveBot,
) -> None:
    (bot.articles / "water.md").write_text(
        article_text("停水通知", "<p>本周六停水，请提前储水。</p>", "slug: TingShui-1208\n"),
        encoding="utf-8",
    )
    bot.runtime.scanner.scan()
    asked = ("/read tingshui-1208", "/read TingShui-1208", "/read_TINGSHUI_1208", "/read 停水")
    for chat, wanted in enumerate(asked, 430):  # a chat each: none waits for another's pace
        (card,) = await bot.say(message_update(chat, wanted))  # short: the card holds it all
        assert _text(card).startswith("停水通知" if chat < 433 else "没有找到这条通知"), wanted


async def test_an_unknown_command_and_a_question_get_different_replies(
    committee_bot: LiveBot,
) -> None:
    bot = committee_bot
    (unknown,) = await bot.say(message_update(51, "/foo"))
    assert "没有这个命令" in _text(unknown) and "/help" in _text(unknown)
    (question,) = await bot.say(message_update(51, "请问明天停水吗？"))
    said = _text(question)
    assert "不能回复留言" in said and "/search" in said and CONTACT in said
    (english,) = await bot.say(message_update(52, "hello", language="en"))
    assert "cannot answer messages" in _text(english) and CONTACT in _text(english)


async def test_an_announcement_is_from_the_organisation_titled_as_one(
    committee_bot: LiveBot,
) -> None:
    bot = committee_bot
    bot.runtime.store.subscribe(Chat(61))
    said = message_update(ADMIN, "/announce 本周六五号楼停水。")
    preview, question = await bot.say(said, replies=2)
    assert _text(preview).startswith("社区公告\n") and ORG in _text(preview)
    assert "user" not in _text(preview)  # not the admin's own Telegram name
    token = question.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    start = bot.mark()
    bot.emulator.push(callback_update(ADMIN, ADMIN, token, message_id=question.message_ids[0]))
    await bot.wait_calls(start, 2)
    for _ in range(100):
        cards = [c for c in bot.emulator.calls[start:] if c.ok and c.params.get("chat_id") == 61]
        if cards:
            break
        await bot.quiet(0.05)
    assert _text(cards[0]).startswith("社区公告\n") and ORG in _text(cards[0])


async def test_english_counts_and_joins_words_as_english_does(bot: LiveBot) -> None:
    (reply,) = await bot.say(message_update(71, "/subscribe water，power", language="en"))
    assert "“water” or “power”" in _text(reply) and "、" not in _text(reply)
    bot.runtime.store.subscribe(Chat(72))
    _preview, question = await bot.say(
        message_update(ADMIN, f"/broadcast {SEED_ID}", language="en"), replies=2
    )
    assert "2 subscribed chats" in _text(question)
    (found,) = await bot.say(message_update(71, "/search 防疫", language="en"))
    assert _text(found).startswith("1 notice found for “防疫”")


async def test_an_expired_notice_says_so_when_read_and_when_broadcast(bot: LiveBot) -> None:
    (bot.articles / "old.md").write_text(
        article_text(
            "旧的停水通知", "<p>上周六停水。</p>", "slug: old-water\nexpires: 2020-01-01\n"
        ),
        encoding="utf-8",
    )
    bot.runtime.scanner.scan()
    (card,) = await bot.say(message_update(81, "/read old-water"))
    assert "已过期" in _text(card)
    bot.runtime.store.subscribe(Chat(82))
    (answer,) = await bot.say(message_update(ADMIN, "/broadcast old_water"))
    assert "已过期，不会再发送" in _text(answer) and "reply_markup" not in answer.params
    assert bot.runtime.pending == {}  # nothing to confirm: its sends would all be skipped


async def test_two_slugs_that_differ_only_in_chinese_are_two_notices(bot: LiveBot) -> None:
    for name, title in (("water", "停水通知"), ("power", "停电通知")):
        (bot.articles / f"{name}.md").write_text(
            article_text(title, f"<p>{title}。</p>", f"slug: {title}-1208\n"), encoding="utf-8"
        )
    bot.runtime.scanner.scan()
    (listing,) = await bot.say(message_update(91, "/latest"))
    assert {"停水通知", "停电通知"} <= set(_bold(listing))
    (card,) = await bot.say(message_update(92, "/read 停电通知-1208"))
    assert _text(card).startswith("停电通知")


async def test_search_takes_words_as_subscribe_does(bot: LiveBot) -> None:
    for chat, asked in enumerate(("/search “防疫”", "/search 防疫，春节", "/search 防疫/春节"), 93):
        (found,) = await bot.say(message_update(chat, asked))
        assert SEED_TITLE in _bold(found), asked
    (any_word,) = await bot.say(message_update(96, "/search 防疫 停电"))  # none has both
    assert _text(any_word).startswith("找到1条含“防疫”或“停电”的通知")
    (missing,) = await bot.say(message_update(97, "/read 停水"))
    assert "/search" in _text(missing)
    (link,) = await bot.say(message_update(98, "/read_停水"))
    assert "没有找到这条通知" in _text(link)  # a read, not an unknown command


async def test_settings_of_an_unsubscribed_chat_say_nothing_comes(bot: LiveBot) -> None:
    await bot.say(message_update(99, "/subscribe 停水"))
    await bot.say(message_update(99, "/unsubscribe"))
    (menu,) = await bot.say(message_update(99, "/settings"))
    assert _text(menu).startswith("尚未订阅，目前不会收到通知。")
    buttons = [b["text"] for row in menu.params["reply_markup"]["inline_keyboard"] for b in row]
    assert "改为接收全部通知" not in buttons


async def test_keywords_are_capped_and_more_separators_count(bot: LiveBot) -> None:
    words = " ".join(f"词{n}" for n in range(40))
    (reply,) = await bot.say(message_update(101, f"/subscribe {words}"))
    assert len(bot.runtime.store.chat(101).filters) == 20 and "最多20个词" in _text(reply)
    await bot.say(message_update(102, "/subscribe 停水/停电。施工"))
    assert bot.runtime.store.chat(102).filters == ("停水", "停电", "施工")


async def test_a_broadcast_with_nobody_subscribed_says_so(bot: LiveBot) -> None:
    _preview, answer = await bot.say(message_update(ADMIN, f"/broadcast {SEED_ID}"), replies=2)
    assert "还没有任何订阅" in _text(answer) and "reply_markup" not in answer.params
