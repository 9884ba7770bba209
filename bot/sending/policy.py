"""How the sender paces itself and retries: one policy the dispatcher, the sender
and the reconciler read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendPolicy:
    concurrency: int = 32
    retry_window: float = 3600.0
    backoff_base: float = 2.0
    backoff_cap: float = 600.0
    # Requests between "sent to Telegram" and "recorded in the ledger" at once: each is a
    # message a crash could repeat. Raise it when a slow link keeps the bot under 30/s.
    max_in_flight: int = 1
