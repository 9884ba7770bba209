"""The ledger's words for where an article and a delivery stand."""

from __future__ import annotations

# articles
ACTIVE, WITHDRAWN, INVALID, ANNOUNCEMENT = "active", "withdrawn", "invalid", "announcement"
# deliveries
PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"
OPEN_STATUSES = (PENDING, SENDING)
