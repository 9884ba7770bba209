"""No secret the bot holds reaches its log, at DEBUG, in text or JSON: the bot token, the
webhook's secret token (with it, anyone could post forged updates), a feed's password
and access key; not in a URL, not in a repr of request parameters, not in a traceback."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.json_logs import JsonLineFormatter
from bot.ledger import Chat
from bot.logs import RedactingFormatter, redact
from tests.botenv import TOKEN, message_update
from tests.chaos import prepare_ledger, start_bot, wait_for
from tests.emulator import Emulator
from tests.feedserver import FeedServer
from tests.paths import ROOT
from tests.process import clean_env, free_port

PUBLIC = "https://bot.example.org/telegram/hook"
FEED_PASSWORD = "hunter2-Feed-Pass"
FEED_KEY = "AKfeedAccessKey0042"
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>One</title><link>https://example.org/1</link><guid>g1</guid></item>
</channel></rss>"""


def _leaks(text: str, *held: str) -> list[str]:
    every = (TOKEN, TOKEN.split(":", 1)[1], *held)
    return [secret for secret in every if secret in text]


@pytest.mark.parametrize("form", ["text", "json"])
def test_a_webhook_bot_at_debug_logs_no_secret(tmp_path: Path, form: str) -> None:
    """The run command as deployed: webhook mode, a feed with credentials, DEBUG, where
    python-telegram-bot logs setWebhook's parameters and every update it is posted."""
    prepare_ledger(tmp_path, [Chat(601)])
    port = free_port()
    feeds = FeedServer()
    feeds.body = RSS
    host = urlsplit(feeds.url)
    feed = f"http://reader:{FEED_PASSWORD}@{host.netloc}{host.path}?access_token={FEED_KEY}&page=1"
    log = tmp_path / "bot.log"
    try:
        with Emulator() as emulator:
            emulator.webhook_routes[PUBLIC] = f"http://127.0.0.1:{port}/telegram/hook"
            process = start_bot(
                tmp_path,
                emulator,
                log,
                NOTICEBOT_LOG_FORMAT=form,
                NOTICEBOT_WEBHOOK_URL=PUBLIC,
                NOTICEBOT_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
                NOTICEBOT_FEEDS=feed,
            )
            try:
                wait_for(lambda: emulator.webhook is not None, 60, "setWebhook")
                emulator.push(message_update(701, "/help"))
                wait_for(
                    lambda: any(c.params.get("chat_id") == 701 for c in emulator.calls),
                    30,
                    "the reply",
                )
                wait_for(lambda: 200 in feeds.answers, 30, "the feed fetched")
            finally:
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=30) == 0
            webhook_secret = emulator.webhook["secret"]
    finally:
        feeds.close()
    text = log.read_text("utf-8")
    assert len(webhook_secret) >= 32
    assert "setWebhook" in text and "Webhook received data" in text  # what was logged
    assert "reader:***@" in text or "***@127.0.0.1" in text  # the feed's fetch, shown
    basic = base64.b64encode(f"reader:{FEED_PASSWORD}".encode()).decode()
    assert _leaks(text, webhook_secret, FEED_PASSWORD, FEED_KEY, basic) == []
    if form == "json":
        assert all(isinstance(json.loads(line), dict) for line in text.splitlines())


def test_held_secrets_are_hidden_outside_urls_in_both_formats() -> None:
    """Where a URL's rules cannot see them: a parameters' repr, an address split into its
    parts, an exception's message and its traceback, their escaped forms in JSON."""
    from bot.logs import hold_secret, hold_url_secrets

    webhook_secret = secrets.token_urlsafe(32)
    password, key = f"pa:ss'\"wd-{secrets.token_hex(4)}", f"K{secrets.token_hex(8)}"
    feed = f"https://reader:{password.replace(':', '%3A')}@rss.example.org/f?apiKey={key}"
    hold_secret(webhook_secret)
    hold_url_secrets(feed)
    parts = urlsplit(feed)
    try:
        raise ValueError(f"cannot log in as reader with {password!r} (key {key})")
    except ValueError:
        record = logging.LogRecord(
            "telegram.Bot",
            logging.DEBUG,
            __file__,
            1,
            "Calling Bot API endpoint `%s` with parameters `%s`; feed %r",
            ("setWebhook", {"url": PUBLIC, "secret_token": webhook_secret}, parts),
            sys.exc_info(),
        )
    text = RedactingFormatter("%(message)s", TOKEN).format(record)
    line = JsonLineFormatter(lambda line: redact(line, TOKEN)).format(record)
    assert "Traceback" in text and "'secret_token': '***'" in text
    assert json.loads(line)["message"].startswith("Calling Bot API endpoint `setWebhook`")
    for shown in (text, line):
        assert _leaks(shown, webhook_secret, password, key, parts.netloc) == []
        assert "pa:ss" not in shown and "%3Ass" not in shown


def test_an_uncaught_traceback_goes_through_the_redactor(tmp_path: Path) -> None:
    """A traceback nobody caught, in the main thread and in another thread, is printed by
    the redacting handler, not by Python's plain hook."""
    webhook_secret = secrets.token_urlsafe(32)
    script = textwrap.dedent(
        f"""
        import threading
        from bot.logs import hold_secret, log_uncaught, setup_logging
        setup_logging("DEBUG", {TOKEN!r}, "text")
        log_uncaught()
        hold_secret({webhook_secret!r})
        def fail():
            raise RuntimeError("thread holds " + {webhook_secret!r})
        thread = threading.Thread(target=fail, name="worker")
        thread.start()
        thread.join()
        raise RuntimeError("main holds " + {webhook_secret!r} + " and " + {TOKEN!r})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "uncaught RuntimeError in thread worker" in done.stderr
    assert "RuntimeError: thread holds ***" in done.stderr
    assert "RuntimeError: main holds *** and <token>" in done.stderr
    assert _leaks(done.stderr, webhook_secret) == []
