"""/healthz answers a health check while other clients hold connections open: a
container's HEALTHCHECK must not fail because someone connected and said nothing."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

import bot.metrics
from tests.botenv import live_bot
from tests.emulator import Emulator
from tests.process import free_port


def _get(url: str) -> httpx.Response:
    """Within half the time the server gives a silent connection: a server that waited
    for those first would not answer in it."""
    return httpx.get(url, timeout=bot.metrics.TIMEOUT / 2)


async def test_healthz_answers_beside_silent_connections(
    tmp_path: Path, emulator: Emulator
) -> None:
    port = free_port()
    async with live_bot(tmp_path, emulator, metrics_listen=("127.0.0.1", port)):
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the end of it
        try:
            await asyncio.sleep(0.2)  # the server has taken them
            health = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/healthz")
            metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
        finally:
            for connection in (*silent, half):
                connection.close()
    assert health.status_code in (200, 503) and "healthy" in health.json()
    assert metrics.status_code == 200 and "noticebot_queue_depth" in metrics.text


async def test_a_silent_connection_is_closed_after_the_timeout(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not held for ever: each would keep a thread and a socket."""
    monkeypatch.setattr(bot.metrics, "TIMEOUT", 0.5)
    port = free_port()
    async with live_bot(tmp_path, emulator, metrics_listen=("127.0.0.1", port)):
        silent = socket.create_connection(("127.0.0.1", port))
        silent.settimeout(5.0)
        try:
            started = time.monotonic()
            end = await asyncio.to_thread(silent.recv, 1024)  # b"": the server hung up
            waited = time.monotonic() - started
        finally:
            silent.close()
    assert end == b""
    assert 0.3 < waited < 3.0


async def test_a_failed_scrape_is_logged_through_the_redactor(
    tmp_path: Path,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """wsgiref prints a failed request's traceback to stderr itself: it goes to the log
    instead, whose formatter hides what the error quotes."""
    feed = "https://reader:Scrape-Pass-77@rss.example.org/f"
    port = free_port()
    async with live_bot(tmp_path, emulator, metrics_listen=("127.0.0.1", port)) as bot:

        def broken() -> dict:
            raise RuntimeError(f"ledger gone while reading {urlsplit(feed)!r}")

        monkeypatch.setattr(bot.runtime.store, "status", broken)
        scrape = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
    assert scrape.status_code == 500
    assert "Scrape-Pass-77" not in capfd.readouterr().err  # nothing printed beside the log
    failed = [r for r in caplog.records if "a request failed" in r.getMessage()]
    assert len(failed) == 1 and "RuntimeError: ledger gone" in failed[0].getMessage()
    from bot.logs import RedactingFormatter, hold_url_secrets

    hold_url_secrets(feed)  # as the run command does with each configured feed
    shown = RedactingFormatter("%(message)s", None).format(failed[0])
    assert "netloc='***@rss.example.org'" in shown and "Scrape-Pass-77" not in shown
