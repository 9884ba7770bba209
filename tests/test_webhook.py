"""Webhook mode as Telegram runs it: the bot sets its webhook with a secret token, and
Telegram (the emulator, behind a TLS-ending proxy) POSTs each update to it."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from pathlib import Path

from bot.ledger import Chat
from tests.botenv import message_update
from tests.chaos import prepare_ledger, start_bot, wait_for
from tests.emulator import Emulator
from tests.process import free_port

PUBLIC = "https://bot.example.org/telegram/hook"


def test_updates_arrive_by_webhook_and_a_wrong_secret_changes_nothing(tmp_path: Path) -> None:
    prepare_ledger(tmp_path, [Chat(601)])
    port = free_port()
    local = f"http://127.0.0.1:{port}/telegram/hook"
    with Emulator() as emulator:
        emulator.webhook_routes[PUBLIC] = local
        process = start_bot(
            tmp_path,
            emulator,
            tmp_path / "bot.log",
            NOTICEBOT_LOG_LEVEL="INFO",
            NOTICEBOT_WEBHOOK_URL=PUBLIC,
            NOTICEBOT_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        )
        try:
            wait_for(lambda: emulator.webhook is not None, 60, "setWebhook")
            assert emulator.webhook["url"] == PUBLIC and len(emulator.webhook["secret"]) >= 32
            emulator.push(message_update(701, "/subscribe"))
            wait_for(
                lambda: any(c.params.get("chat_id") == 701 for c in emulator.calls), 30, "reply"
            )
            forged = urllib.request.Request(
                local,
                data=json.dumps({"update_id": 99, **message_update(702, "/subscribe")}).encode(),
                headers={
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": "not-the-secret",
                },
            )
            try:
                urllib.request.urlopen(forged, timeout=10)
                refused = 200
            except urllib.error.HTTPError as error:
                refused = error.code
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
    assert emulator.webhook_answers == [200]  # the real update, taken
    assert refused == 403  # the forged one: refused
    assert not any(c.params.get("chat_id") == 702 for c in emulator.calls)
    assert "getUpdates" not in {c.method for c in emulator.calls}  # no polling beside it
    log = (tmp_path / "bot.log").read_text("utf-8")
    assert "webhook: Telegram posts to https://bot.example.org/telegram/hook" in log
