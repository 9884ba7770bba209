"""/healthz answers a health check while other clients hold connections open: a
container's HEALTHCHECK must not fail because someone connected and said nothing."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest

import bot.metrics
from tests.botenv import live_bot
from tests.emulator import Emulator
from tests.process import free_port


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=1.0)


async def test_healthz_answers_within_a_second_beside_silent_connections(
    tmp_path: Path, emulator: Emulator
) -> None:
    port = free_port()
    async with live_bot(tmp_path, emulator, metrics_listen=("127.0.0.1", port)):
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the end of it
        try:
            await asyncio.sleep(0.2)  # the server has taken them
            started = time.monotonic()
            health = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/healthz")
            metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
            took = time.monotonic() - started
        finally:
            for connection in (*silent, half):
                connection.close()
    assert health.status_code in (200, 503) and "healthy" in health.json()
    assert metrics.status_code == 200 and "noticebot_queue_depth" in metrics.text
    assert took < 2.0


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
