"""Exactly once on the paths real chats take: group upgrades, draft toggles, restarts.

End to end: real python-telegram-bot against the emulator, a real SQLite ledger,
real article files; multi-part deliveries and several chats where a bug needs them.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from telegram import Update

from bot.app import build_application, runtime_of
from bot.config import Config
from bot.ledger import FAILED, QUEUED, SENDING, SENT, Chat, Store
from bot.ledger.copies import Part
from bot.sources.scanner import Scanner
from tests import ledgers
from tests.botenv import NOTICE_BODY, bot_config, live_bot, message_update, running_bot
from tests.chaos import article_text, prepare_ledger, start_bot, wait_for
from tests.emulator import Emulator, Fault
from tests.paths import SEED
from tests.process import run_cli

pytestmark = ledgers.each_backend


def _notice() -> str:
    return article_text("停水通知", "<p>本周六停水。</p>")


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
        body = f"<p>停水通知：本周六上午停水。</p>{NOTICE_BODY}{IMAGES}"  # card, text, album
        env.write_article("n.md", body=body)
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
            article_text("停水通知", "<p>本周六停水。</p>" + NOTICE_BODY), encoding="utf-8"
        )
        calls = await bot.wait_calls(start, 2)  # card and text
        assert {c.params["chat_id"] for c in calls} == {upgraded}


async def test_an_upgrade_onto_a_known_supergroup_keeps_the_copy_that_got_further(
    tmp_path: Path, emulator: Emulator
) -> None:
    """Both the group and its new supergroup were subscribed when a notice came: the group
    got it, the supergroup's copy waits to retry (a 502). Then Telegram says the group
    became the supergroup: the group's sent copy is the one that stays, and the notice is
    not sent to the supergroup a second time."""
    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(-558, type="group")
        env.subscribe(SUPER, type="supergroup")
        emulator.fail(SUPER, "sendMessage", Fault.bad_gateway())
        env.write_article("n.md", title="停水通知")
        assert env.scan().queued == 2
        await env.send()
        assert emulator.cards_per_chat() == {-558: 1}  # the supergroup's waits to retry
        said = {"message_id": 9, "date": 0, "chat": {"id": -558, "type": "group"}}
        upgraded = {"update_id": 1, "message": {**said, "migrate_to_chat_id": SUPER}}
        await env.app.process_update(Update.de_json(upgraded, env.app.bot))
        assert env.runtime.store.chat(-558) is None
        env.clock.advance(3600)  # past any retry
        await env.send()
        assert [d.status for d in env.runtime.store.deliveries(SUPER)] == [SENT]
    assert emulator.cards_per_chat() == {-558: 1}


async def test_an_upgrade_found_while_sending_keeps_the_supergroups_copy(
    tmp_path: Path, emulator: Emulator
) -> None:
    """The other order: the supergroup got the notice first, then the group's send is
    answered "upgraded". The supergroup's copy is the one that stays (it is the one the
    bot can still edit), and the group's row, caught while sending, is not sent again."""
    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(-559, type="group")
        env.subscribe(SUPER - 4, type="supergroup")
        emulator.upgrade_group(-559, SUPER - 4)
        env.write_article("n.md", title="停电通知")
        assert env.scan().queued == 2
        await env.send()
        await env.send()
        assert [d.status for d in env.runtime.store.deliveries(SUPER - 4)] == [SENT]
    assert emulator.cards_per_chat() == {SUPER - 4: 1}


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

    store = Store(ledgers.current(tmp_path))
    store.subscribe(Chat(-1, type="group"))
    store.enqueue("a", [-1])
    (due,) = store.due(store.clock() + 1, 10)
    assert store.claim([due]) == [due]
    assert store.claim([due]) == []
    store.migrate_chat(-1, -100)
    assert store.due(store.clock() + 1, 10) == []
    assert [d.status for d in store.deliveries(-100)] == [SENDING]
    store.requeue_interrupted()
    assert [d.status for d in store.deliveries(-100)] == [QUEUED]


def test_a_claimed_batch_is_read_again_once_anything_else_writes(tmp_path: Path) -> None:
    """The sender trusts the claim's read only while the sender alone has written."""
    now = [1000.0]
    store = Store(ledgers.current(tmp_path), clock=lambda: now[0])
    for chat_id in (1, 2, 3):
        store.subscribe(Chat(chat_id))
    store.enqueue("a", [1, 2, 3])
    first, second, third = store.claim_work(now[0], 10)
    asyncio.run(
        store.record_copy(first.delivery.id, (Part(0, 1, (7,), "sendMessage", "h", now[0]),))
    )
    asyncio.run(store.settle(first.delivery.id, SENT, "v1"))
    assert store.current(second) is second  # only the sender's own record since

    store.update_chat(2, language="en")  # a settings change: read again
    fresh = store.current(second)
    assert fresh is not second and fresh is not None and fresh.chat is not None
    assert fresh.chat.language == "en"

    store.deactivate_chat(3, "blocked")  # the row says so at once
    latest = store.current(third)
    assert latest is not None and latest.delivery.status == "skipped"

    store.enqueue("b", [1])
    (later,) = store.claim_work(now[0], 10)
    now[0] += 2  # older than a second: another process may have written meanwhile
    assert store.current(later) is not later


@ledgers.sqlite_only
def test_a_second_bot_on_the_same_ledger_refuses_to_start(tmp_path: Path) -> None:

    prepare_ledger(tmp_path, [Chat(1)])
    with (
        Emulator() as emulator,
        _bot_process(tmp_path, emulator, "first.log", NOTICEBOT_LOG_LEVEL="INFO") as first,
    ):
        wait_for(lambda: any(c.method == "getUpdates" for c in emulator.calls), 60, "start")
        with _bot_process(tmp_path, emulator, "second.log") as second:
            assert second.wait(timeout=60) == 1
        said = (tmp_path / "second.log").read_text(encoding="utf-8")
        assert f"another noticebot (pid {first.pid}) is already running" in said
        env = {"NOTICEBOT_DB": str(tmp_path / "state" / "noticebot.db")}
        env["NOTICEBOT_ARTICLES"] = str(tmp_path / "articles")
        assert run_cli("status", cwd=tmp_path, **env).returncode == 0  # beside it
        assert run_cli("scan", cwd=tmp_path, **env).returncode == 0
        assert first.poll() is None
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0


@contextmanager
def _bot_process(
    work: Path, emulator: Emulator, log: str, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``noticebot run``, gone when the block ends whatever failed in it (a bot that should
    have refused to start, or would not stop, is killed, not left running)."""
    process = start_bot(work, emulator, work / log, **env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


async def test_the_baseline_is_taken_at_start_not_one_interval_later(
    tmp_path: Path, emulator: Emulator
) -> None:
    """On a fresh install a notice written in the first minute is new, not archive."""

    config = bot_config(tmp_path, emulator, scan_interval=60.0)
    app = build_application(config)
    runtime = runtime_of(app)
    runtime.store.subscribe(Chat(701))
    async with app:
        await app.post_init(app)  # type: ignore[misc]
        await app.start()
        try:
            for _ in range(100):  # the baseline scan, within moments of the start
                if runtime.store.get_meta(f"first_scan_done:{config.articles[0]}"):
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("no scan at start")
            (config.articles[0] / "n.md").write_text(
                article_text("停水通知", "<p>本周六停水。</p>"), encoding="utf-8"
            )
            report = runtime.scanner.scan()
            assert report.new and report.queued == 1
        finally:
            await app.stop()
            await app.post_stop(app)  # type: ignore[misc]


def test_a_folder_missing_at_the_first_start_is_baselined_when_it_appears(
    tmp_path: Path,
) -> None:

    folder = tmp_path / "posts"
    store = Store(ledgers.current(tmp_path))
    store.subscribe(Chat(1))
    scanner = Scanner(store, Config(articles=(folder,)))
    assert scanner.scan().missing_roots == [str(folder)]
    folder.mkdir()
    (folder / "last-week.md").write_text(article_text("上周的通知"), encoding="utf-8")
    report = scanner.scan()  # the path is fixed: this is the archive, not news
    assert report.first_scan and report.new and report.queued == 0
    (folder / "new.md").write_text(article_text("新通知"), encoding="utf-8")
    assert scanner.scan().queued == 1


async def test_the_dispatcher_survives_a_database_error(
    tmp_path: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A real SQLite error in due() (the table gone for a moment): logged once with its
    traceback, shown by status, and delivery goes on once the database is back."""

    (tmp_path / "articles").mkdir()
    async with live_bot(tmp_path, emulator) as bot:
        bot.runtime.scanner.scan()
        bot.runtime.store.subscribe(Chat(801))
        other = ledgers.Raw(bot.runtime.store)
        other.execute("ALTER TABLE deliveries RENAME TO deliveries_away")
        for _ in range(200):  # until the dispatcher has failed twice (once is not "again")
            if len([r for r in caplog.records if "dispatcher failed" in r.getMessage()]) >= 2:
                break
            await asyncio.sleep(0.05)
        other.execute("ALTER TABLE deliveries_away RENAME TO deliveries")
        other.close()
        start = bot.mark()
        (bot.articles / "n.md").write_text(
            article_text("停水通知", "<p>本周六停水。</p>"), encoding="utf-8"
        )
        (card,) = await bot.wait_calls(start, 1, timeout=30)
        assert card.params["chat_id"] == 801
        troubles = bot.runtime.store.status()["troubles"]
    error = troubles["dispatcher"]["error"]
    assert "no such table: deliveries" in error or '"deliveries" does not exist' in error
    failed = [r for r in caplog.records if "dispatcher failed" in r.getMessage()]
    assert len(failed) >= 2 and len([r for r in failed if r.exc_info]) == 1  # one traceback


async def test_a_half_written_file_keeps_what_was_queued(
    tmp_path: Path, emulator: Emulator
) -> None:
    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(101, 102)
        path = env.write_article("n.md", title="停水通知")
        env.scan()
        path.write_text("", encoding="utf-8")  # an editor mid-write: truncated, not yet written
        report = env.scan()
        assert report.invalid and not report.withdrawn
        await env.send()
        assert env.runtime.store.recent_articles(1)[0]["title"] == "停水通知"
    cards = [c.params["text"] for _, c in emulator.delivered()]
    assert len(cards) == 2 and all(text.startswith("停水通知\n") for text in cards)


async def test_a_delivery_sends_the_version_it_was_queued_for(
    tmp_path: Path, emulator: Emulator
) -> None:
    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(101)
        path = env.write_article("n.md", body="<p>周六停水。</p>")
        env.scan()
        path.write_text(path.read_text(encoding="utf-8").replace("周六", "周日"), "utf-8")
        await env.send()  # before the next scan has read the change
    (card,) = [c.params["text"] for _, c in emulator.delivered()]
    assert "周六停水" in card


async def test_a_renamed_or_moved_notice_is_the_same_notice(
    tmp_path: Path, emulator: Emulator
) -> None:
    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(101)
        env.write_article("a.md", title="停水通知")
        env.write_article("b.md", title="停电通知", extra="abbrlink: 3f2a\n")
        env.scan()
        await env.send()
        (env.articles / "2022").mkdir()
        (env.articles / "a.md").rename(env.articles / "2022" / "a-renamed.md")  # same content
        moved = (env.articles / "b.md").read_text(encoding="utf-8").replace("停电", "停电（更正）")
        (env.articles / "b.md").unlink()
        (env.articles / "2022" / "b.md").write_text(moved, encoding="utf-8")  # same id
        report = env.scan()
        assert report.new == [] and report.withdrawn == []
        await env.send()
        assert len(env.runtime.store.recent_articles(10)) == 2
    assert emulator.cards_per_chat() == {101: 2}


async def test_a_scan_saves_a_notice_and_its_deliveries_together(
    tmp_path: Path, emulator: Emulator
) -> None:
    """A failure between saving the article and queueing it (here the deliveries table
    is away for a moment) leaves nothing half done: the next scan queues it."""

    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(101)
        env.write_article("n.md")
        other = ledgers.Raw(env.runtime.store)
        other.execute("ALTER TABLE deliveries RENAME TO deliveries_away")
        with pytest.raises(ledgers.DatabaseError):
            env.scan()
        other.execute("ALTER TABLE deliveries_away RENAME TO deliveries")
        other.close()
        assert env.scan().queued == 1
        await env.send()
    assert emulator.cards_per_chat() == {101: 1}


async def test_a_delivery_that_crashes_our_code_backs_off_then_fails(
    tmp_path: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Not retried every minute forever: later and later, then failed, for status."""

    async with running_bot(tmp_path, emulator) as env:
        env.scan()
        env.subscribe(101)
        env.write_article("n.md")
        env.scan()
        other = ledgers.Raw(env.runtime.store)
        other.execute("UPDATE versions SET content = '{not json'")  # a bug's worth of data
        other.close()
        tries = []
        for minute in range(60 * 24):
            before = len([r for r in caplog.records if "crashed" in r.getMessage()])
            await env.send()
            if len([r for r in caplog.records if "crashed" in r.getMessage()]) > before:
                tries.append(minute)
            env.clock.advance(60)
        (delivery,) = env.runtime.store.deliveries(101)
        (failure,) = env.runtime.store.status()["last_failures"]
    assert delivery.status == FAILED and "internal error" in failure["last_error"]
    assert len(tries) == 5 and tries[1] - tries[0] >= 1 and tries[4] - tries[3] >= 8
    assert emulator.delivered() == []
