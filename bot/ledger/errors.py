"""What can go wrong with a ledger, said the same way whichever database holds it."""

from __future__ import annotations

from bot.config import ConfigError


class LedgerUnusable(ConfigError):
    """The ledger named is none that can be opened (a directory, a path below a file, a
    file that is not a database, a server that refuses us): a configuration mistake,
    said in one line."""


class LedgerTooNew(LedgerUnusable, RuntimeError):
    """A ledger written by a later noticebot: upgrade this one."""


class SearchTooSlow(Exception):
    """A search stopped at its time limit (a pathological query, a huge archive)."""
