"""Backups and moves as an operator makes them: `noticebot backup` beside a bot in the
middle of a broadcast, `noticebot export` and `import` into a fresh ledger."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

from bot.ledger import Chat, Store
from tests.botenv import running_bot
from tests.emulator import Emulator
from tests.process import run_cli

CHATS = 2000


async def test_a_backup_taken_during_a_broadcast_holds_every_confirmed_delivery(
    tmp_path: Path,
) -> None:
    with Emulator(limits=None, jitter=0.002) as emulator:
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.scan()
            env.subscribe(*range(1, CHATS + 1))
            env.write_article("n.md", title="停水通知")
            (article_id,) = env.scan().new
            env.runtime.store.broadcast(article_id, by_user=None)
            sending = asyncio.create_task(env.send())
            while len(emulator.delivered()) < CHATS // 5:
                await asyncio.sleep(0.01)
            started = time.monotonic()  # the emulator's clock
            copy = tmp_path / "backup.db"
            db = str(env.runtime.config.db)
            done = await asyncio.to_thread(
                run_cli, "backup", str(copy), cwd=tmp_path, NOTICEBOT_DB=db
            )
            await sending
    assert done.returncode == 0, done.stderr
    assert "integrity ok" in done.stdout
    ledger = sqlite3.connect(copy)
    assert ledger.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    held = {
        chat
        for (chat,) in ledger.execute(
            "SELECT chat_id FROM deliveries WHERE status = 'sent' AND article_id = ?", [article_id]
        )
    }
    confirmed = {chat for chat, call in emulator.delivered() if call.at < started - 0.2}
    assert 0 < len(held) < CHATS  # taken in the middle of the broadcast
    assert confirmed <= held  # every delivery Telegram confirmed before the copy began
    assert held <= {chat for chat, _ in emulator.delivered()}  # and none it did not
    assert f"{len(held)} confirmed deliveries" in done.stdout
    again = run_cli("backup", str(copy), cwd=tmp_path, NOTICEBOT_DB=db)
    assert again.returncode == 2 and "exists (use --force" in again.stderr


def test_export_then_import_into_a_fresh_ledger_gives_the_same_subscriptions(
    tmp_path: Path,
) -> None:
    old = Store(tmp_path / "old.db")
    old.subscribe(Chat(11, language="en"))
    old.update_chat(11, quiet_start="22:00", quiet_end="07:00")
    old.subscribe(Chat(-1002, type="supergroup", title="三号楼", filters=("停水", "停电")))
    old.update_chat(-1002, mode="digest", digest_time="20:00")
    old.subscribe(Chat(-1003, type="supergroup", title="业委会", thread_id=7, mode="full"))
    old.subscribe(Chat(12))
    old.unsubscribe(12)  # not a subscription: not moved
    exported = run_cli("export", str(tmp_path / "subs.json"), cwd=tmp_path, NOTICEBOT_DB="old.db")
    assert exported.returncode == 0 and "exported 3 subscribed chats" in exported.stderr
    imported = run_cli("import", "subs.json", "--create", cwd=tmp_path, NOTICEBOT_DB="new.db")
    assert imported.returncode == 0 and "3 new" in imported.stdout

    moved = ("id", "type", "title", "language", "mode", "filters", "thread_id", "quiet_start")
    moved += ("quiet_end", "digest_time", "active", "subscribed")

    def settings(store: Store) -> list[tuple]:
        return sorted(tuple(getattr(c, f) for f in moved) for c in store.subscribed_chats())

    assert settings(Store(tmp_path / "new.db")) == settings(old)
    (tmp_path / "bad.json").write_text(json.dumps({"chats": []}), "utf-8")
    refused = run_cli("import", "bad.json", cwd=tmp_path, NOTICEBOT_DB="new.db")
    assert refused.returncode == 2
    assert "noticebot import: not a noticebot subscriptions export" in refused.stderr
