"""The emulator's webhook delivery: as Telegram does, it keeps an update the bot's server
cannot take yet (python-telegram-bot sets its webhook before it listens) and retries it,
in order, instead of losing it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx

from tests.chaos import wait_for
from tests.emulator import Emulator
from tests.process import free_port

TOKEN = "123:hook"
PUBLIC = "https://bot.example.org/telegram/hook"
SECRET = "s3cret-token_value"


def call(emulator: Emulator, method: str, **params: Any) -> dict[str, Any]:
    """One request as the bot makes it; the JSON answer."""
    return httpx.post(f"{emulator.url}/bot{TOKEN}/{method}", json=params, timeout=10).json()


@contextmanager
def bot_server(port: int) -> Iterator[list[tuple[int, str]]]:
    """The bot's webhook server on ``port``: what it was posted (update_id, secret), in
    the order it arrived; it answers 200."""
    posted: list[tuple[int, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            posted.append((body["update_id"], self.headers["X-Telegram-Bot-Api-Secret-Token"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield posted
    finally:
        server.shutdown()
        server.server_close()


def test_updates_pushed_before_the_bot_listens_arrive_in_order() -> None:
    port = free_port()
    with Emulator(limits=None) as emulator:
        emulator.webhook_routes[PUBLIC] = f"http://127.0.0.1:{port}/telegram/hook"
        assert call(emulator, "setWebhook", url=PUBLIC, secret_token=SECRET)["ok"]
        ids = [emulator.push({"message": {"text": str(i)}}) for i in range(3)]
        wait_for(lambda: emulator.webhook_refused >= 1, 30, "a refused delivery")
        with bot_server(port) as posted:
            wait_for(lambda: len(emulator.webhook_answers) == 3, 60, "the updates delivered")
            later = emulator.push({"message": {"text": "later"}})
            wait_for(lambda: len(emulator.webhook_answers) == 4, 30, "the later update")
    assert posted == [(update_id, SECRET) for update_id in [*ids, later]]
    assert emulator.webhook_answers == [200] * 4  # refused connections are not answers


def test_an_update_still_retried_when_the_webhook_is_deleted_waits_for_get_updates() -> None:
    port = free_port()
    with Emulator(limits=None) as emulator:
        emulator.webhook_routes[PUBLIC] = f"http://127.0.0.1:{port}/telegram/hook"
        assert call(emulator, "setWebhook", url=PUBLIC)["ok"]
        first = emulator.push({"message": {"text": "first"}})
        wait_for(lambda: emulator.webhook_refused >= 1, 30, "a refused delivery")
        second = emulator.push({"message": {"text": "second"}})
        assert call(emulator, "deleteWebhook")["ok"]
        wait_for(lambda: len(emulator.updates) == 2, 30, "the updates kept")
        third = emulator.push({"message": {"text": "third"}})
        got = call(emulator, "getUpdates", timeout=0)["result"]
    assert [update["update_id"] for update in got] == [first, second, third]
    assert emulator.webhook_answers == []
