"""README promises about chats that deliberate bugs showed no test held: a group's
language, the bounds of /latest, the first five words of /search's fallback, and a
reply thread in an ordinary group that is not a forum topic. End to end: real
python-telegram-bot polling the emulator."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.i18n import t
from tests.botenv import LiveBot, live_bot, message_update, until
from tests.emulator import Call, Emulator


@pytest.fixture(autouse=True)
def _no_resume_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """No previous process to wait out: the bot starts sending (and stops) at once."""
    monkeypatch.setattr("bot.sending.delivery.RESUME_PAUSE", 0.0)


def _notice(folder: Path, name: str, title: str, body: str, age: float = 0.0) -> None:
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() - age))
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.md").write_text(
        f"---\ntitle: '{title}'\ndate: {date}\n---\n\n<p>{body}</p>\n", encoding="utf-8"
    )


async def _known(bot: LiveBot, count: int) -> None:
    """The bot's first scan (at start) has taken in the ``count`` notices of the folder."""
    await until(lambda: len(bot.runtime.store.recent_articles(50)) == count, "first scan")


def _listed(call: Call) -> int:
    """How many notices a list shows (each with its /read_ link)."""
    return call.params["text"].count("/read_")


async def test_a_group_without_a_language_gets_the_default_whatever_its_members_speak(
    tmp_path: Path, emulator: Emulator
) -> None:
    """README: the user's Telegram language counts only in private chats; a group that
    chose none is answered in the default language (Chinese), not in the language of
    whoever typed the command. The control: the same user in private is answered in
    English."""
    async with live_bot(tmp_path, emulator) as bot:
        group = message_update(-1300, "/help", user_id=1301, chat_type="group", language="en")
        (in_group,) = await bot.say(group)
        (in_private,) = await bot.say(message_update(1301, "/help", language="en"))
    assert in_group.params["text"] == t("help", "zh")
    assert in_private.params["text"] == t("help", "en")


async def test_latest_lists_at_most_20_and_5_by_default(tmp_path: Path, emulator: Emulator) -> None:
    """README: ``/latest [n]``, "5 by default, at most 20". With 25 notices, /latest 50
    lists 20 (the newest), not 25."""
    for n in range(25):
        _notice(tmp_path / "articles", f"n{n:02}", f"通知{n:02}", "请居民知悉。", age=60.0 * n)
    async with live_bot(tmp_path, emulator) as bot:
        await _known(bot, 25)
        (capped,) = await bot.say(message_update(1310, "/latest 50"))
        (default,) = await bot.say(message_update(1310, "/latest"))
    assert _listed(capped) == 20 and "通知19" in capped.params["text"]
    assert "通知20" not in capped.params["text"]
    assert _listed(default) == 5


async def test_search_falls_back_to_any_of_the_first_five_words(
    tmp_path: Path, emulator: Emulator
) -> None:
    """README: /search finds notices with all the words, else "with any of the first
    five". A notice with 停水 alone: found when 停水 is the fifth word, not when it is
    the sixth."""
    _notice(tmp_path / "articles", "water", "五号楼停水", "本周六停水，请提前储水。")
    async with live_bot(tmp_path, emulator) as bot:
        await _known(bot, 1)
        (fifth,) = await bot.say(message_update(1320, "/search 甲 乙 丙 丁 停水"))
        (sixth,) = await bot.say(message_update(1320, "/search 甲 乙 丙 丁 戊 停水"))
    assert _listed(fifth) == 1 and "五号楼停水" in fifth.params["text"]
    assert sixth.params["text"] == t("search_empty", "zh", query="甲 乙 丙 丁 戊 停水")


async def test_a_reply_thread_in_an_ordinary_group_is_not_a_topic(
    tmp_path: Path, emulator: Emulator
) -> None:
    """Telegram gives a message in a reply thread of a group that is not a forum a
    message_thread_id, without is_topic_message. Only a forum topic is a topic: /subscribe
    there subscribes the whole group (no thread kept, the plain reply), and a notice goes
    to the group, with no message_thread_id (which names no topic there)."""
    (tmp_path / "articles").mkdir()
    emulator.members[(-1001330, 1331)] = "administrator"
    async with live_bot(tmp_path, emulator) as bot:
        await until(lambda: bot.runtime.store.get_meta(f"first_scan_done:{bot.articles}"), "scan")
        reply = message_update(
            -1001330, "/subscribe", user_id=1331, chat_type="supergroup", thread_id=9, topic=False
        )
        (subscribed,) = await bot.say(reply)
        assert subscribed.params["text"] == t("subscribed", "zh")
        assert bot.runtime.store.chat(-1001330).thread_id is None
        start = bot.mark()
        _notice(bot.articles, "power", "停电通知", "本周日停电。")
        bot.runtime.scanner.scan()  # not waiting for the watcher or the 0.5 s scan
        bot.runtime.dispatcher.wake()
        (card,) = await bot.wait_calls(start, 1)
    assert card.params["chat_id"] == -1001330 and card.params["text"].startswith("停电通知")
    assert card.params.get("message_thread_id") is None
