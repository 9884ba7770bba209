"""Sending: the ledger's deliveries → Telegram, within its limits, and kept current."""
