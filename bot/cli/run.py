"""`noticebot run`: the bot, polling or behind a webhook, or console mode."""

from __future__ import annotations

import argparse
import itertools
import logging
import secrets
import signal
import sys
import threading
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from bot.config import Config
from bot.ledger import LedgerBusy
from bot.logs import hold_secret, hold_url_secrets, log_uncaught, redact, setup_logging, shown_url

# A Telegram update is a few kilobytes; a webhook body over this is refused before it is
# read (the secret token is checked only once the whole body is in memory).
WEBHOOK_MAX_BODY = 1_000_000
WEBHOOK_BODY_TIMEOUT = 30.0  # seconds for a body to arrive: no dripping sender held longer
WEBHOOK_IDLE_TIMEOUT = 120.0  # seconds a connection may sit between requests, or in headers


def run(args: argparse.Namespace, config: Config) -> int:
    config = replace(
        config,
        articles=tuple(args.articles) if args.articles else config.articles,
    )
    if args.console or not config.token:
        from bot.console import run_console  # python-telegram-bot loads only when running

        setup_logging(args.log_level or "WARNING", config.token, config.log_format)
        try:
            run_console(config, db=args.db)
        except LedgerBusy as error:  # the same line as beside plain `run`
            print(f"noticebot: {error}", file=sys.stderr)
            return 1
        return 0
    from telegram import Update
    from telegram.error import InvalidToken

    from bot.app import build_application
    from bot.metrics import PortInUse

    setup_logging(args.log_level or config.log_level, config.token, config.log_format)
    log_uncaught()
    for feed in config.feeds:  # before anything is fetched or logged
        hold_url_secrets(feed)
    if isinstance(config.db, str):
        from bot.ledger.postgres import hold_secrets

        hold_secrets(config.db)
    logging.getLogger(__name__).info(
        "noticebot starting: articles %s, database %s, API %s",
        ", ".join(map(str, config.articles)),
        shown_url(str(config.db)),
        shown_url(config.api_url),
    )
    try:
        application = build_application(config)  # first: a ledger it cannot open is said now
        if not _reach_bot_api(config):
            return 0  # stopped while waiting for the Bot API
        if config.webhook_url:
            _run_webhook(application, config, Update.ALL_TYPES)
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    except (LedgerBusy, PortInUse, TokenRejected) as error:
        print(f"noticebot: {redact(str(error), config.token)}", file=sys.stderr)
        return 1
    except InvalidToken:
        print(f"noticebot: {TokenRejected.SAID}", file=sys.stderr)
        return 1
    return 0


class TokenRejected(RuntimeError):
    """Telegram answered getMe with 401 or 404: the token is wrong or revoked."""

    SAID = "Telegram rejected the bot token: check TELEGRAM_BOT_TOKEN (from @BotFather)"


def _reach_bot_api(config: Config) -> bool:
    """Ask getMe until the Bot API answers, one log line per try and a growing pause
    (1 s to a minute): a network still coming up at boot is waited for, not a crash
    restarted every 5 s. A rejected token is :class:`TokenRejected`. False when stopped
    (SIGTERM, Ctrl-C) while waiting."""
    import httpx

    log = logging.getLogger(__name__)
    url = f"{config.api_url}/bot{config.token}/getMe"
    stop = _Stop()
    delay = 1.0
    try:
        for attempt in itertools.count(1):
            try:
                answer = httpx.post(url, timeout=15)
            except httpx.HTTPError as error:
                why = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            else:
                if answer.status_code in (401, 404):
                    raise TokenRejected(f"{TokenRejected.SAID} (getMe: {answer.status_code})")
                if answer.status_code < 500 and answer.status_code != 429:
                    return True
                why = f"HTTP {answer.status_code}"
            log.warning(
                "Bot API %s not reachable (try %d: %s); trying again in %.0f s",
                shown_url(config.api_url),
                attempt,
                redact(why, config.token),
                delay,
            )
            if stop.wait(delay):
                return False
            delay = min(delay * 2, 60.0)
    except KeyboardInterrupt:
        return False
    finally:
        stop.restore()
    return False  # not reached: the loop ends by returning


class _Stop:
    """SIGTERM and Ctrl-C while waiting for the Bot API: a clean stop, exit status 0."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.previous = signal.signal(signal.SIGTERM, lambda *_: self.event.set())

    def wait(self, seconds: float) -> bool:
        try:
            return self.event.wait(seconds)
        except KeyboardInterrupt:
            return True

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self.previous)


def _run_webhook(application: Any, config: Config, updates: list[str]) -> None:
    """Telegram POSTs each update to NOTICEBOT_WEBHOOK_URL (a proxy in front of us ends
    TLS); we listen on NOTICEBOT_WEBHOOK_LISTEN at the same path. The secret token is
    new at every start, so a request without this run's token is refused; it is held by
    the redactor before python-telegram-bot logs setWebhook's parameters at DEBUG."""
    assert config.webhook_url is not None and config.webhook_listen is not None
    host, port = config.webhook_listen
    secret = secrets.token_urlsafe(32)
    hold_secret(secret)
    _limit_webhook_server()
    logging.getLogger(__name__).info(
        "webhook: Telegram posts to %s, served on %s:%d", config.webhook_url, host, port
    )
    application.run_webhook(
        listen=host,
        port=port,
        url_path=urlsplit(config.webhook_url).path.lstrip("/"),
        webhook_url=config.webhook_url,
        secret_token=secret,
        allowed_updates=updates,
    )


def _limit_webhook_server() -> None:
    """python-telegram-bot makes its tornado ``HTTPServer`` with tornado's defaults (a
    100 MB body read whole before the secret is checked, an hour for headers) and has no
    parameter for them; tornado's documented ``Configurable.configure`` sets defaults for
    every ``HTTPServer`` the process makes, and the webhook's is the only one. A body over
    the limit is refused on its Content-Length, before it is read."""
    from tornado.httpserver import HTTPServer

    HTTPServer.configure(
        None,
        max_body_size=WEBHOOK_MAX_BODY,
        body_timeout=WEBHOOK_BODY_TIMEOUT,
        idle_connection_timeout=WEBHOOK_IDLE_TIMEOUT,
    )
