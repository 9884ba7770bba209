"""The delivery ledger in SQLite: one :class:`Store`, its parts split by concern.

- :mod:`bot.ledger.base`: the connection, its lock, transactions (and why);
- :mod:`bot.ledger.owner`: one sending process per ledger;
- :mod:`bot.ledger.schema`: tables and migrations;
- :mod:`bot.ledger.states`: the status words;
- :mod:`bot.ledger.catalogue`: files, articles, search;
- :mod:`bot.ledger.chats`: subscriptions and settings;
- :mod:`bot.ledger.deliveries`: one row per (article, chat) and its transitions;
- :mod:`bot.ledger.broadcasts`: admin broadcasts and their progress;
- :mod:`bot.ledger.acks`: notices that ask to be confirmed, who did, reminders;
- :mod:`bot.ledger.feeds`: each feed's last fetch, change and error;
- :mod:`bot.ledger.moves`: backups, and subscriptions exported and imported;
- :mod:`bot.ledger.reports`: status and statistics.
"""

from __future__ import annotations

from bot.ledger.acks import Acks, Asking
from bot.ledger.base import Clock
from bot.ledger.broadcasts import Broadcasts
from bot.ledger.catalogue import Catalogue, FileState
from bot.ledger.chats import Chat
from bot.ledger.deliveries import Delivery, PartIds, Work
from bot.ledger.feeds import Feeds, FeedSource, FeedState
from bot.ledger.owner import LedgerBusy
from bot.ledger.reports import Reports
from bot.ledger.schema import SCHEMA_VERSION
from bot.ledger.states import (
    ACTIVE,
    ANNOUNCEMENT,
    FAILED,
    INVALID,
    OPEN_STATUSES,
    QUEUED,
    REMINDER,
    RETRACTED,
    SENDING,
    SENT,
    SKIPPED,
    WITHDRAWN,
)


class Store(Catalogue, Broadcasts, Acks, Feeds, Reports):
    """The ledger: every part, over one connection."""


__all__ = [
    "ACTIVE",
    "ANNOUNCEMENT",
    "FAILED",
    "INVALID",
    "OPEN_STATUSES",
    "QUEUED",
    "REMINDER",
    "RETRACTED",
    "SCHEMA_VERSION",
    "SENDING",
    "SENT",
    "SKIPPED",
    "WITHDRAWN",
    "Asking",
    "Chat",
    "Clock",
    "Delivery",
    "FeedSource",
    "FeedState",
    "FileState",
    "LedgerBusy",
    "PartIds",
    "Store",
    "Work",
]
