"""Webhook mode as Telegram runs it: the bot sets its webhook with a secret token, and
Telegram (the emulator, behind a TLS-ending proxy) POSTs each update to it."""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.cli import run
from bot.config import Config
from bot.ledger import Chat
from tests.botenv import TOKEN, message_update
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


def test_the_webhook_secret_is_new_at_every_start_and_not_from_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The secret token Telegram sends with each update is new at every start and owes
    nothing to the bot token: a secret anyone with the token (or an old log) could work
    out would let them post forged updates. Two starts, their secrets taken where the bot
    hands them to python-telegram-bot's run_webhook."""
    monkeypatch.setattr(run, "_limit_webhook_server", lambda: None)  # tornado's, not ours
    taken: list[str] = []

    class Application:
        def run_webhook(self, **settings: object) -> None:
            taken.append(str(settings["secret_token"]))

    config = Config(token=TOKEN, webhook_url=PUBLIC, webhook_listen=("127.0.0.1", 8443))
    for _ in range(2):
        run._run_webhook(Application(), config, ["message"])
    first, second = taken
    assert first != second and len(first) >= 32
    derived = set()
    for source in (TOKEN, TOKEN.split(":", 1)[1]):
        derived.add(base64.urlsafe_b64encode(source.encode()).decode())
        for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b"):
            digest = hashlib.new(name, source.encode()).digest()
            derived |= {digest.hex(), base64.urlsafe_b64encode(digest).decode()}
    pieces = {d[i : i + 16] for d in derived for i in range(len(d) - 15)}  # or a cut of one
    for secret in taken:
        assert TOKEN.split(":", 1)[1] not in secret and TOKEN.split(":")[0] not in secret
        assert not any(piece in secret for piece in pieces)
