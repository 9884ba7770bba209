"""/metrics and /healthz on NOTICEBOT_METRICS_LISTEN, scraped over HTTP from a running
bot during a broadcast, as Prometheus and a container's health check do."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.ledger import SENT, Chat
from bot.metrics import health
from tests.botenv import live_bot, until
from tests.emulator import Emulator
from tests.paths import SEED
from tests.process import free_port

CHATS = 90  # three seconds at Telegram's 30 messages a second


def _values(text: str) -> dict[str, float]:
    """Each sample by name and labels: ``noticebot_deliveries{status=sent}``."""
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


async def test_metrics_move_during_a_broadcast_and_health_follows_the_dispatcher(
    tmp_path: Path, emulator: Emulator
) -> None:
    (tmp_path / "articles").mkdir()
    shutil.copy(SEED, tmp_path / "articles")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with (
        live_bot(tmp_path, emulator, metrics_listen=("127.0.0.1", port)) as bot,
        httpx.AsyncClient(base_url=base, timeout=5) as client,
    ):
        for chat in range(1, CHATS + 1):
            bot.runtime.store.subscribe(Chat(chat))
        await until(lambda: bot.runtime.scanned_at, "first scan")
        article_id = bot.runtime.store.recent_articles(1)[0]["id"]
        bot.runtime.store.broadcast(article_id, by_user=None)
        bot.runtime.dispatcher.wake()
        samples = []
        while len(emulator.delivered()) < CHATS:
            samples.append(_values((await client.get("/metrics")).text))
            await asyncio.sleep(0.3)
        store = bot.runtime.store  # Telegram has them all: the ledger follows
        await until(lambda: all(d.status == SENT for d in store.deliveries()), "ledger caught up")
        final = _values((await client.get("/metrics")).text)
        healthy = await client.get("/healthz")
        bot.runtime.dispatcher.stop()
        await asyncio.gather(*bot.runtime.tasks[:1], return_exceptions=True)
        stopped = await client.get("/healthz")
        for job in bot.app.job_queue.get_jobs_by_name("scan"):
            job.schedule_removal()
        await until(lambda: not bot.app.job_queue.get_jobs_by_name("scan"), "scan job removed")
        no_scans = await client.get("/healthz")
    sent = [s["noticebot_messages_sent_total"] for s in samples]
    depth = [s["noticebot_queue_depth"] for s in samples]
    assert len(set(sent)) >= 3 and sent == sorted(sent)  # moving, and only up
    assert max(depth) > 0 and final["noticebot_queue_depth"] == 0
    assert final["noticebot_deliveries{status=sent}"] == CHATS
    assert final["noticebot_messages_sent_total"] >= CHATS
    assert final["noticebot_flood_waits_total"] == 0
    assert final["noticebot_last_successful_scan_timestamp_seconds"] > 0
    assert final["noticebot_source_errors{source=folders}"] == 0
    assert healthy.status_code == 200 and healthy.json() == {
        "healthy": True,
        "standby": False,
        "problems": [],
    }
    assert stopped.status_code == 503
    assert stopped.json()["problems"] == ["the dispatcher has stopped"]
    assert no_scans.json()["problems"][1:] == ["the scan job has stopped"]


async def test_health_turns_bad_when_the_last_scan_is_older_than_three_intervals() -> None:
    """The rule alone (a pure function of the runtime's state): a scan job that runs
    but never succeeds makes the bot unhealthy after three intervals."""
    dispatcher = asyncio.create_task(asyncio.sleep(10), name="dispatcher")
    now = time.time()
    state = SimpleNamespace(
        tasks=[dispatcher],
        scanned_at=None,
        started_at=now,
        config=SimpleNamespace(scan_interval=60),
        dispatcher=SimpleNamespace(failing=0, last_failure=None),
    )
    try:
        assert health(state, lambda: True) == []  # just started
        state.started_at = now - 200
        assert health(state, lambda: True) == ["no successful scan for 200 s (limit 180 s)"]
        state.scanned_at = now - 10
        assert health(state, lambda: True) == []
        state.dispatcher.failing, state.dispatcher.last_failure = 3, "OperationalError('full')"
        assert health(state, lambda: True) == [
            "3 deliveries in a row failed: OperationalError('full')"
        ]
    finally:
        dispatcher.cancel()
