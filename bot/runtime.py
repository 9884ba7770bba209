"""The pieces the jobs and handlers share, kept in ``application.bot_data['runtime']``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.config import Config
from bot.ledger import Store
from bot.sending.delivery import Dispatcher
from bot.sending.digest import Digests
from bot.sending.reminders import Confirmations
from bot.sending.sender import Sender
from bot.sources.scanner import Scanner


@dataclass
class Runtime:
    config: Config
    store: Store
    scanner: Scanner
    sender: Sender
    dispatcher: Dispatcher
    digests: Digests
    confirmations: Confirmations
    feed_reader: Scanner  # its own scanner: a slow feed never holds up a scan
    http: httpx.Client  # for feeds
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    scanning: asyncio.Lock = field(default_factory=asyncio.Lock)  # one scan at a time
    scan_wanted: bool = False  # asked for while a scan ran: that scan goes round again
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    may_stand_by: bool = True  # on a PostgreSQL ledger; the console never stands by
    standing_by: bool = False  # waiting for the lease: another process is active
    reading_feeds: asyncio.Lock = field(default_factory=asyncio.Lock)
    started_at: float = field(default_factory=time.time)
    scanned_at: float | None = None  # when the last scan finished without an error
    scan_took: float = 0.0  # seconds, the last scan
    metrics_server: Any = None  # serving /metrics and /healthz, if asked for
    scan_failures: int = 0  # in a row: the first is logged with its traceback
    indexer: asyncio.Task[None] | None = None  # fills the search index after a scan
    # Admin confirmations waiting for a button press: token → what to send.
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
