"""Delivery end to end: real python-telegram-bot over HTTP against the emulator,
a real SQLite ledger and real article files."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.ledger import FAILED, SENT, SKIPPED
from tests import ledgers
from tests.botenv import NOTICE_BODY, BotEnv, running_bot
from tests.emulator import Emulator, Fault

pytestmark = ledgers.each_backend

DAY = 86400.0


@pytest.fixture
async def env(tmp_path: Path, emulator: Emulator) -> AsyncIterator[BotEnv]:
    async with running_bot(tmp_path, emulator) as bot_env:
        bot_env.scan()  # the first scan of an (empty) archive
        yield bot_env


def _status(env: BotEnv, chat_id: int) -> str:
    (delivery,) = env.runtime.store.deliveries(chat_id)
    return delivery.status


async def test_three_chats_each_get_a_new_notice_once(env: BotEnv) -> None:
    env.subscribe(101, 102, 103)
    env.write_article("notice.md")
    report = env.scan()
    assert len(report.new) == 1 and report.queued == 3
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 1, 102: 1, 103: 1}
    env.scan()
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 1, 102: 1, 103: 1}
    assert all(_status(env, c) == SENT for c in (101, 102, 103))
    card = env.emulator.delivered()[0][1]
    assert card.method == "sendMessage" and card.params["text"].startswith("社区通知\n")


async def test_existing_archive_is_not_pushed_at_first_start(
    tmp_path: Path, emulator: Emulator
) -> None:
    async with running_bot(tmp_path, emulator) as env:
        env.subscribe(101)
        env.write_article("old-1.md")
        env.write_article("old-2.md", title="另一篇")
        report = env.scan()
        assert report.first_scan and len(report.new) == 2 and report.queued == 0
        await env.send()
        assert emulator.delivered() == []
        env.write_article("fresh.md", title="新通知")
        assert env.scan().queued == 1


async def test_old_article_is_not_pushed(env: BotEnv) -> None:
    env.subscribe(101)
    env.write_article("old.md", date=env.clock.now - 30 * DAY)
    report = env.scan()
    assert report.too_old and report.queued == 0
    await env.send()
    assert env.emulator.delivered() == []


async def test_future_article_is_pushed_when_its_date_comes(env: BotEnv) -> None:
    env.subscribe(101)
    env.write_article("later.md", date=env.clock.now + 3600)
    report = env.scan()
    assert report.scheduled and report.queued == 1
    await env.send()
    assert env.emulator.delivered() == []
    env.clock.advance(3599)
    await env.send()
    assert env.emulator.delivered() == []
    env.clock.advance(2)
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 1}


async def test_flood_wait_holds_every_chat_then_delivers(env: BotEnv) -> None:
    """A 429 is a wait for the whole bot: nobody is sent to until it has passed."""
    env.subscribe(101, 102, 103)
    env.emulator.once[101].append(Fault.flood(2))
    env.write_article("n.md")
    env.scan()
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 1, 102: 1, 103: 1}
    assert env.emulator.too_many == 1 and env.emulator.inside_retry_after == 0


async def test_blocked_chat_is_deactivated_and_others_unaffected(env: BotEnv) -> None:
    env.subscribe(101, 102, 103)
    env.emulator.always[102] = Fault.blocked()
    env.emulator.always[103] = Fault.chat_not_found()
    env.write_article("n.md")
    env.scan()
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 1}
    store = env.runtime.store
    assert store.chat(102).active is False
    assert "blocked" in store.chat(102).deactivated_reason
    assert "chat not found" in store.chat(103).deactivated_reason.lower()
    assert _status(env, 102) == SKIPPED
    env.write_article("n2.md", title="第二篇")
    assert env.scan().queued == 1  # only the active chat


async def test_bad_photo_uses_the_fallback_then_text(env: BotEnv) -> None:
    env.subscribe(101)
    proxy = "https://cors.zfour.workers.dev/?"
    inner = "http://img.example/a.jpeg"
    env.emulator.bad_urls.add(inner)
    env.write_article("a.md", body=f'<p><img src="{proxy}{inner}" data-size="800,600">图文</p>')
    env.scan()
    await env.send()
    calls = [c for _, c in env.emulator.delivered()]
    assert [(c.method, c.params.get("photo")) for c in calls] == [("sendPhoto", proxy + inner)]

    env.emulator.bad_urls.add(proxy + inner)
    body = f'<p><img src="{proxy}{inner}">图文</p>{NOTICE_BODY}'  # more than its card holds
    env.write_article("b.md", title="第二篇", body=body)
    env.scan()
    await env.send()
    last = env.emulator.delivered()[-1][1]
    assert last.method == "sendMessage" and last.params["text"].startswith("第二篇")
    assert env.emulator.cards_per_chat() == {101: 2}


async def test_server_errors_back_off_then_fail_visibly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The ledger's own backoff over an hour of refusals (flood control off on both
    sides: some 30 tries to one chat would otherwise take half a minute of pacing); the
    failure is logged once, naming the notice, the chat and Telegram's reason."""
    caplog.set_level(logging.ERROR)
    with Emulator(limits=None) as emulator:
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.scan()
            env.subscribe(101, 102)
            emulator.once[101].extend([Fault(502, "Bad Gateway"), Fault(500, "Server Error")])
            emulator.always[102] = Fault(500, "Internal Server Error")
            env.write_article("n.md")
            env.scan()
            for _ in range(40):
                await env.send()
                env.clock.advance(120)
            assert emulator.cards_per_chat() == {101: 1}
            assert _status(env, 102) == FAILED
            status = env.runtime.store.status()
    assert status["deliveries"] == {"sent": 1, "failed": 1}
    (failure,) = status["last_failures"]
    assert "Internal Server Error" in failure["last_error"]
    said = [r.getMessage() for r in caplog.records if "failed:" in r.getMessage()]
    assert said == [f"delivery of {failure['article_id']} to 102 failed: Internal Server Error"]


async def test_other_bad_request_is_resent_as_plain_text(env: BotEnv) -> None:
    env.subscribe(101)
    env.emulator.once[101].append(Fault(400, "Bad Request: can't parse entities: oops"))
    env.write_article("n.md")
    env.scan()
    await env.send()
    ((chat_id, call),) = env.emulator.delivered()
    assert chat_id == 101 and "entities" not in call.params
    assert call.params["text"].startswith("社区通知")


async def test_full_mode_resumes_at_the_unsent_part(env: BotEnv) -> None:
    env.subscribe(101, mode="full")
    images = "".join(f'<img src="https://img.example/{i}.jpg">' for i in range(3))
    env.write_article("n.md", body=f"<p>第一段。</p>{NOTICE_BODY}{images}")  # card, text, album
    env.scan()
    # fail the second part once: the card must not be sent again
    original = env.emulator._fault_for

    def second_part_fails(method: str, params: dict) -> Fault | None:
        if method == "sendMessage" and not params.get("reply_markup") and not failed:
            failed.append(True)
            return Fault(500, "Internal Server Error")
        return original(method, params)

    failed: list[bool] = []
    env.emulator._fault_for = second_part_fails  # type: ignore[method-assign]
    await env.send()
    env.clock.advance(10)
    await env.send()
    methods = [c.method for _, c in env.emulator.delivered()]
    assert methods == ["sendPhoto", "sendMessage", "sendMediaGroup"]
    (delivery,) = env.runtime.store.deliveries()
    assert delivery.status == SENT and len(delivery.message_ids) == 3


async def test_withdrawn_article_is_not_sent(env: BotEnv) -> None:
    env.subscribe(101)
    path = env.write_article("n.md", date=env.clock.now + 600)
    env.write_standing()
    env.scan()
    path.unlink()
    report = env.scan()
    assert len(report.withdrawn) == 1
    env.clock.advance(601)
    await env.send()
    assert env.emulator.delivered() == []
    env.write_article("d.md", title="草稿", extra="draft: true\n")
    assert env.scan().queued == 0


async def test_edited_article_is_changed_not_resent(env: BotEnv) -> None:
    env.subscribe(101)
    path = env.write_article("n.md")
    env.scan()
    await env.send()
    path.write_text(path.read_text(encoding="utf-8").replace("注意", "务必注意"), encoding="utf-8")
    report = env.scan()
    assert len(report.changed) == 1 and report.queued == 0
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 1}
    assert env.scan().unchanged == 1


async def test_filters_choose_the_chats(env: BotEnv) -> None:
    env.subscribe(101, filters=("社区",))
    env.subscribe(102, filters=("停水",))
    env.subscribe(103)
    env.write_article("n.md", body="<p>本周六停水。</p>" + NOTICE_BODY)
    env.write_article("m.md", title="其他", extra="tags: [体育]\n")
    env.scan()
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 2, 102: 1, 103: 2}


async def test_broadcast_reaches_every_active_chat_once(env: BotEnv) -> None:
    env.subscribe(101, 102, filters=("不相关",))
    env.subscribe(103)
    env.emulator.always[104] = Fault.blocked()
    env.subscribe(104)
    env.write_article("old.md", date=env.clock.now - 100 * DAY)
    article_id = env.scan().too_old[0]
    store = env.runtime.store
    broadcast_id, queued = store.broadcast(article_id, by_user=1)
    assert queued == 4
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 1, 102: 1, 103: 1}
    assert store.broadcast_progress(broadcast_id) == {
        "sent": 3,
        "failed": 0,
        "deactivated": 1,
        "skipped": 0,
        "remaining": 0,
    }
    assert store.broadcast(article_id, by_user=1)[1] == 0  # nobody lacks it now


async def test_announcement_is_split_and_recorded(env: BotEnv) -> None:
    env.subscribe(101)
    store = env.runtime.store
    text = "居民朋友们：" + "请注意安全。" * 1700
    article_id = store.add_announcement(text, "通知")
    store.broadcast(article_id, by_user=1)
    await env.send()
    parts = [c.params["text"] for _, c in env.emulator.delivered()]
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "").endswith("请注意安全。")
    assert _status(env, 101) == SENT


async def test_private_chats_are_paced(tmp_path: Path, emulator: Emulator) -> None:
    """The chat's own pace holds back the 4th message to one private chat."""
    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(101, mode="full")
        images = "".join(f'<img src="https://img.example/{i}.gif">' for i in range(3))
        env.write_article("n.md", body=f"<p>文字</p>{NOTICE_BODY}{images}")
        env.scan()
        await env.send()
        times = [c.at for _, c in emulator.delivered()]
        assert [c.method for _, c in emulator.delivered()] == [
            "sendAnimation",
            "sendMessage",
            "sendAnimation",
            "sendAnimation",
        ]
        assert times[3] - times[0] >= 0.9  # a burst of three, then the fourth waits
        assert emulator.too_many == 0


async def test_dropped_connection_is_retried(env: BotEnv) -> None:
    env.subscribe(101)
    env.emulator.once[101].append(Fault(drop=True))
    env.write_article("n.md")
    env.scan()
    await env.send()
    assert env.emulator.cards_per_chat() == {}
    assert "transient" in env.runtime.store.status()["last_failures"][0]["last_error"]
    env.clock.advance(10)
    await env.send()
    assert env.emulator.cards_per_chat() == {101: 1}


async def test_a_card_opens_the_notices_web_page(tmp_path: Path, emulator: Emulator) -> None:
    """With NOTICEBOT_SITE_URL, the card's 🔗 网页版 button opens the notice's page there:
    front matter ``permalink`` (relative, so on the site), else Hexo's pattern."""
    site = "https://jmj.example.org"
    async with running_bot(tmp_path, emulator, site_url=site) as env:
        env.scan()
        env.subscribe(101)
        when = 1_700_000_000.0  # 2023-11-14 22:13 UTC: 2023-11-15 in Shanghai
        env.clock.now = when
        env.write_article("2023/停水.md", date=when)
        env.write_article("b.md", title="另一条", date=when, extra="permalink: /notices/b/\n")
        env.scan()
        await env.send()
    buttons = {
        card.params["text"].split("\n")[0]: card.params["reply_markup"]["inline_keyboard"][0]
        for _, card in emulator.delivered()
    }
    assert buttons["社区通知"][1] == {
        "text": "🔗 网页版",
        "url": f"{site}/2023/11/15/2023/%E5%81%9C%E6%B0%B4/",
    }
    assert buttons["另一条"][1] == {"text": "🔗 网页版", "url": f"{site}/notices/b/"}
