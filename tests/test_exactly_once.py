"""Exactly once on the paths real chats take: group upgrades, draft toggles, restarts.

End to end: real python-telegram-bot against the emulator, a real SQLite ledger,
real article files; multi-part deliveries and several chats where a bug needs them.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from pathlib import Path

from bot.ledger import QUEUED, SENDING, SENT, Chat
from tests.botenv import live_bot, message_update, running_bot
from tests.emulator import Emulator
from tests.paths import SEED

IMAGES = "".join(f'<img src="https://img.example/{i}.jpg">' for i in range(3))
SUPER = -1_000_000_000_555


async def test_a_group_upgraded_mid_delivery_gets_each_part_once(
    tmp_path: Path, emulator: Emulator
) -> None:
    """The first send answers "upgraded": the row moves to the new id while it is being
    sent, and must not be taken a second time there."""
    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(-555, -556, -557, type="group", mode="full")
        emulator.upgrade_group(-555, SUPER)
        env.write_article("n.md", body=f"<p>停水通知：本周六上午停水。</p>{IMAGES}")
        env.scan()
        await env.send()
        await env.send()
        store = env.runtime.store
        assert store.chat(-555) is None and store.chat(SUPER).subscribed
        assert [d.status for d in store.deliveries(SUPER)] == [SENT]
    sent = Counter((chat, call.method) for chat, call in emulator.delivered())
    reference = {method: n for (chat, method), n in sent.items() if chat == -556}
    assert sum(reference.values()) >= 3  # card, text and album: a multi-part delivery
    assert {method: n for (chat, method), n in sent.items() if chat == SUPER} == reference


async def test_an_upgrade_keeps_the_subscription_when_the_supergroup_is_known(
    tmp_path: Path, emulator: Emulator
) -> None:
    """Someone used the bot in the new supergroup before the next notice: the group's
    subscription, keywords and mode must still move there, as Telegram says it moved."""
    (tmp_path / "articles").mkdir()
    shutil.copy(SEED, tmp_path / "articles")
    async with live_bot(tmp_path, emulator) as bot:
        bot.runtime.scanner.scan()
        emulator.members[(-601, 5)] = "administrator"
        group = {"user_id": 5, "chat_type": "group"}
        await bot.say(message_update(-601, "/subscribe 停水", **group))
        bot.runtime.store.update_chat(-601, mode="full")
        upgraded = -1_000_000_000_601
        emulator.members[(upgraded, 5)] = "administrator"
        await bot.say(message_update(upgraded, "/settings", user_id=5, chat_type="supergroup"))
        emulator.upgrade_group(-601, upgraded)
        for _ in range(100):
            if bot.runtime.store.chat(-601) is None:
                break
            await asyncio.sleep(0.05)
        chat = bot.runtime.store.chat(upgraded)
        assert bot.runtime.store.chat(-601) is None
        assert chat.subscribed and chat.filters == ("停水",) and chat.mode == "full"
        start = bot.mark()
        (bot.articles / "n.md").write_text(
            f"---\ntitle: 停水通知\ndate: {_now()}\n---\n\n<p>本周六停水。</p>\n", encoding="utf-8"
        )
        calls = await bot.wait_calls(start, 2)
        assert {c.params["chat_id"] for c in calls} == {upgraded}


async def test_a_draft_published_again_is_delivered(tmp_path: Path, emulator: Emulator) -> None:
    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(101, 102)
        env.write_article("n.md")
        env.scan()  # queued ...
        env.write_article("n.md", extra="draft: true\n")
        assert env.scan().withdrawn  # ... withdrawn before it went out ...
        env.write_article("n.md", extra="draft: false\n")
        env.scan()  # ... and published again
        await env.send()
    assert emulator.cards_per_chat() == {101: 1, 102: 1}


async def test_work_is_claimed_by_delivery_id(tmp_path: Path) -> None:
    """A claimed row is not due again, wherever it moves; a second claim fails."""
    from bot.ledger import Store

    store = Store(tmp_path / "l.db")
    store.subscribe(Chat(-1, type="group"))
    store.enqueue("a", [-1])
    (due,) = store.due(store.clock() + 1, 10)
    assert store.claim([due.id]) == [due.id]
    assert store.claim([due.id]) == []
    store.migrate_chat(-1, -100)
    assert store.due(store.clock() + 1, 10) == []
    assert [d.status for d in store.deliveries(-100)] == [SENDING]
    store.requeue_interrupted()
    assert [d.status for d in store.deliveries(-100)] == [QUEUED]


def _now() -> str:
    from tests.chaos import now_rfc

    return now_rfc()
