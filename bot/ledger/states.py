"""The ledger's words for where an article and a delivery stand."""

from __future__ import annotations

# articles
ACTIVE, WITHDRAWN, INVALID, ANNOUNCEMENT = "active", "withdrawn", "invalid", "announcement"
# deliveries (the transitions are in bot.ledger.deliveries)
QUEUED, SENDING, SENT, FAILED, SKIPPED = "queued", "sending", "sent", "failed", "skipped"
RETRACTED = "retracted"  # a withdrawn notice's copy, deleted or marked as withdrawn
OPEN_STATUSES = (QUEUED, SENDING)
