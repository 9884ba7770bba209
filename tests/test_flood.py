"""Flood control as Telegram enforces it, end to end: the emulator counts as Telegram does
(a sliding second for the bot, each chat's own pace, a wait for the whole bot after a
429), and every request of the bot stays within it: deliveries, replies, edits, answers."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.sending.delivery import SendPolicy
from tests import ledgers
from tests.botenv import (
    ADMIN,
    BotEnv,
    LiveBot,
    callback_update,
    live_bot,
    message_update,
    running_bot,
)
from tests.emulator import Call, Emulator, Fault
from tests.paths import SEED

pytestmark = ledgers.each_backend


@pytest.fixture
async def bot(tmp_path: Path, emulator: Emulator) -> AsyncIterator[LiveBot]:
    (tmp_path / "articles").mkdir()
    shutil.copy(SEED, tmp_path / "articles")
    async with live_bot(tmp_path, emulator) as live:
        live.runtime.scanner.scan()
        yield live


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def test_a_broadcast_never_puts_31_into_a_sliding_second(tmp_path: Path) -> None:
    """Jitter on the way bunches requests up: evenly spaced at 30/s is not enough."""
    with Emulator(jitter=0.03) as emulator:
        async with running_bot(tmp_path, emulator) as env:
            env.scan()
            env.subscribe(*range(1, 121))
            env.write_article("n.md")
            env.scan()
            await env.send()
    assert emulator.cards_per_chat() == {chat: 1 for chat in range(1, 121)}
    assert emulator.too_many == 0 and emulator.inside_retry_after == 0


async def test_a_flood_wait_holds_replies_and_button_answers_too(bot: LiveBot) -> None:
    for chat in (201, 202, 203):
        await bot.say(message_update(chat, "/subscribe"))
    (menu,) = await bot.say(message_update(205, "/settings"))
    bot.emulator.once[201].append(Fault.flood(2))  # on the announcement's delivery
    bot.emulator.push(message_update(ADMIN, "/announce 今晚停电"))
    _preview, question = await _asked(bot)
    token = question.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    bot.emulator.push(callback_update(ADMIN, ADMIN, token, message_id=question.message_ids[0]))
    while bot.emulator.too_many == 0:
        await asyncio.sleep(0.01)
    start = bot.mark()
    bot.emulator.push(message_update(204, "/latest 1"))
    press = bot.emulator.pressed(205, menu.message_ids[0], 205, "set:quiet:on")
    bot.emulator.push(press)
    reply = await _sent_to(bot, 204, start)
    answer = await _answer_to(bot, start, press["callback_query"]["id"])
    # Held until the wait was over, then done, not dropped or refused: /latest's list; the
    # press answered (the admin's answer was held too, and may come after `start`), its
    # setting saved and its menu edited to say so.
    assert "/read_" in reply.params["text"], reply.params["text"]
    assert answer.params.get("text") == "已保存", answer.params
    assert bot.runtime.store.chat(205).quiet_start is not None
    edited = await _sent_to(bot, 205, start, "editMessageText")
    assert edited.params["message_id"] == menu.message_ids[0]
    assert "夜间静音：开" in edited.params["text"], edited.params["text"]
    assert bot.emulator.inside_retry_after == 0 and bot.emulator.too_many == 1
    for chat in (201, 202, 203):
        assert "今晚停电" in (await _sent_to(bot, chat, start)).params["text"]


async def _asked(bot: LiveBot) -> list:
    """The announcement's preview and its question, once both have gone out."""
    for _ in range(400):
        calls = [c for c in bot.emulator.calls if c.ok and c.params.get("chat_id") == ADMIN]
        if len(calls) >= 2:
            return calls[-2:]
        await asyncio.sleep(0.02)
    raise AssertionError("no confirmation question")


async def _sent_to(bot: LiveBot, chat_id: int, start: int, method: str = "sendMessage") -> Call:
    for _ in range(500):
        for call in bot.emulator.calls[start:]:
            if call.ok and call.method == method and call.params["chat_id"] == chat_id:
                return call
        await asyncio.sleep(0.02)
    raise AssertionError(f"nothing sent to {chat_id}")


async def _answer_to(bot: LiveBot, start: int, query_id: str) -> Call:
    """The last answer to one button press (one refused in a flood wait is answered again)."""
    for _ in range(500):
        answers = [
            c
            for c in bot.emulator.calls[start:]
            if c.method == "answerCallbackQuery" and str(c.params["callback_query_id"]) == query_id
        ]
        if answers and answers[-1].ok:
            return answers[-1]
        await asyncio.sleep(0.02)
    raise AssertionError("callback not answered")


async def test_a_burst_of_commands_gets_every_reply(
    bot: LiveBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Four residents send /latest 3 five times within a second (the throttle allows 5)."""
    users = (301, 302, 303, 304)
    start = bot.mark()
    for _ in range(5):
        for user in users:
            bot.emulator.push(message_update(user, "/latest 3"))
    replies = await bot.wait_calls(start, 20, timeout=30)
    assert Counter(c.params["chat_id"] for c in replies) == dict.fromkeys(users, 5)
    assert bot.emulator.too_many == 0 and bot.emulator.inside_retry_after == 0
    assert tracebacks(caplog) == []
    assert "No error handlers" not in caplog.text


async def test_a_stalled_broadcast_edits_its_progress_only_when_it_changes(
    tmp_path: Path, emulator: Emulator
) -> None:
    """One chat's delivery backs off for about 7 s; the progress message is looked at
    every 2 s all that time, and never edited to the text it already shows."""
    (tmp_path / "articles").mkdir()
    shutil.copy(SEED, tmp_path / "articles")
    policy = SendPolicy(backoff_base=0.5, backoff_cap=4.0)
    async with live_bot(tmp_path, emulator, policy=policy) as bot:
        bot.runtime.scanner.scan()
        for chat in (401, 402, 403):
            await bot.say(message_update(chat, "/subscribe"))
        emulator.once[403].extend(Fault(502, "Bad Gateway") for _ in range(4))
        article_id = bot.runtime.store.recent_articles(1)[0]["id"]
        bot.emulator.push(message_update(ADMIN, f"/broadcast {article_id}"))
        _preview, question = await _asked(bot)
        token = question.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        bot.emulator.push(callback_update(ADMIN, ADMIN, token, message_id=question.message_ids[0]))
        for _ in range(450):
            edits = [c for c in emulator.calls if c.method == "editMessageText"]
            if edits and "发送完成" in (edits[-1].params.get("text") or ""):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the broadcast did not finish")
    refused = [c for c in emulator.calls if c.params.get("chat_id") == 403 and c.error]
    assert len(refused) == 4  # it really stalled: four refusals, backing off each time
    assert emulator.not_modified_count() == 0
    assert all(c.ok for c in edits)
    assert "成功3" in edits[-1].params["text"]


async def test_a_digest_of_200_notices_arrives_split_once(
    tmp_path: Path, emulator: Emulator
) -> None:
    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(501, mode="digest")
        env.runtime.store.update_chat(501, digest_time="00:00")
        for i in range(200):
            env.write_article(f"n{i:03d}.md", title=f"第{i:03d}号通知：小区停水安排")
        assert len(env.scan().new) == 200
        env.clock.advance(1)
        await env.runtime.digests.send_due()
        await env.runtime.digests.send_due()
    parts = [c.params["text"] for _, c in emulator.delivered()]
    assert len(parts) >= 2 and all(len(p) <= 4096 for p in parts)
    assert parts[0].startswith("新通知汇总（共200条）")
    text = "\n".join(parts)
    assert all(text.count(f"第{i:03d}号通知") == 1 for i in range(200))
    assert emulator.too_many == 0


async def test_overlapping_digest_runs_send_one_digest(tmp_path: Path, emulator: Emulator) -> None:
    """A digest run that starts while a slow one is still sending (its answer late, as in a
    flood wait) sent the chat the same digest twice."""
    async with running_bot(tmp_path, emulator) as env:
        _a_notice_for_a_digest_chat(env, 503)
        emulator.fail(503, "sendMessage", Fault.slow(0.5))
        await asyncio.gather(env.runtime.digests.send_due(), env.runtime.digests.send_due())
    assert [call.method for chat, call in emulator.delivered() if chat == 503] == ["sendMessage"]


def _a_notice_for_a_digest_chat(env: BotEnv, chat_id: int) -> None:
    """A chat in digest mode, due since midnight, and one notice for it; the test clock
    at ten in the morning of its day in the bot's time zone, so a test's minutes never
    cross the bot's midnight."""
    local = datetime.fromtimestamp(env.clock.now, env.runtime.config.tz)
    env.clock.now = local.replace(hour=10, minute=0, second=0, microsecond=0).timestamp()
    env.scan()
    env.subscribe(chat_id, mode="digest")
    env.runtime.store.update_chat(chat_id, digest_time="00:00")
    env.write_article("n.md")
    env.scan()
    env.clock.advance(1)


async def test_a_refused_digest_backs_off_then_is_reported(
    tmp_path: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tmp_path, emulator) as env:
        _a_notice_for_a_digest_chat(env, 502)  # 40 minutes never cross the bot's midnight
        emulator.always[502] = Fault(400, "Bad Request: message is too long")
        tries = []
        for _ in range(40):  # 40 minutes of the digest job, once a minute
            before = len(emulator.calls)
            await env.runtime.digests.send_due()
            tries.append(len(emulator.calls) > before)
            env.clock.advance(60)
        chat = env.runtime.store.chat(502)
    assert sum(tries) == 5  # at 0, 1, 3, 7 and 15 minutes; then given up for the day
    assert tries[:2] == [True, True] and tries[2] is False
    assert chat.last_digest_at is not None
    assert any("given up" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


async def test_a_digest_follows_a_group_that_became_a_supergroup(
    tmp_path: Path, emulator: Emulator
) -> None:
    """The sender follows an upgrade for replies and digests as it does for deliveries."""
    supergroup = -1_000_000_000_503
    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(-503, type="group", mode="digest")
        env.runtime.store.update_chat(-503, digest_time="00:00")
        env.write_article("n.md")
        env.scan()
        env.clock.advance(1)
        emulator.always[-503] = Fault.migrated(supergroup)
        await env.runtime.digests.send_due()
        assert env.runtime.store.chat(-503) is None
        assert env.runtime.store.chat(supergroup).mode == "digest"
    (digest,) = [c for chat, c in emulator.delivered() if chat == supergroup]
    assert digest.params["text"].startswith("新通知汇总（共1条）")
