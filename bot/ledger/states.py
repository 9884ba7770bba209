"""The ledger's words for where an article and a delivery stand."""

from __future__ import annotations

# articles
ACTIVE, WITHDRAWN, INVALID, ANNOUNCEMENT = "active", "withdrawn", "invalid", "announcement"
REMINDER = "reminder"  # a reminder to confirm a notice: sent like one, never listed or read
SENDABLE = (ACTIVE, ANNOUNCEMENT, REMINDER)  # what a chat's copy may show
# deliveries (the transitions are in bot.ledger.deliveries)
QUEUED, SENDING, SENT, FAILED, SKIPPED = "queued", "sending", "sent", "failed", "skipped"
RETRACTED = "retracted"  # a withdrawn notice's copy, deleted or marked as withdrawn
OPEN_STATUSES = (QUEUED, SENDING)

# SQL over deliveries, shared by the transitions (bot.ledger.deliveries, bot.ledger.chats).
HAS_COPY = "copy != '[]'"  # the chat holds (or held) something of the notice
# A settled row brought back to the reconciler, due now; parameters: status (QUEUED),
# next_attempt_at, updated_at.
REQUEUE = "status = ?, next_attempt_at = ?, attempts = 0, first_error_at = NULL, updated_at = ?"
