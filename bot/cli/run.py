"""`noticebot run`: the bot, polling or behind a webhook, or console mode."""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from bot.config import Config
from bot.ledger import LedgerBusy
from bot.logs import setup_logging


def run(args: argparse.Namespace, config: Config) -> int:
    config = replace(
        config,
        articles=tuple(args.articles) if args.articles else config.articles,
        db=args.db or config.db,
    )
    if args.console or not config.token:
        from bot.console import run_console  # python-telegram-bot loads only when running

        setup_logging(args.log_level or "WARNING", config.token, config.log_format)
        run_console(config)
        return 0
    from telegram import Update

    from bot.app import build_application

    setup_logging(args.log_level or config.log_level, config.token, config.log_format)
    logging.getLogger(__name__).info(
        "noticebot starting: articles %s, database %s, API %s",
        ", ".join(map(str, config.articles)),
        config.db,
        config.api_url,
    )
    try:
        application = build_application(config)
        if config.webhook_url:
            _run_webhook(application, config, Update.ALL_TYPES)
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    except LedgerBusy as error:
        print(f"noticebot: {error}", file=sys.stderr)
        return 1
    return 0


def _run_webhook(application: Any, config: Config, updates: list[str]) -> None:
    """Telegram POSTs each update to NOTICEBOT_WEBHOOK_URL (a proxy in front of us ends
    TLS); we listen on NOTICEBOT_WEBHOOK_LISTEN at the same path. The secret token is
    new at every start, so a request without this run's token is refused."""
    assert config.webhook_url is not None and config.webhook_listen is not None
    host, port = config.webhook_listen
    logging.getLogger(__name__).info(
        "webhook: Telegram posts to %s, served on %s:%d", config.webhook_url, host, port
    )
    application.run_webhook(
        listen=host,
        port=port,
        url_path=urlsplit(config.webhook_url).path.lstrip("/"),
        webhook_url=config.webhook_url,
        secret_token=secrets.token_urlsafe(32),
        allowed_updates=updates,
    )
