"""The ledger's confirmation work that follows the clock: each group's count brought
to its card, a round's reminder queued when its time comes (after a chat's quiet
hours), and who confirmed forgotten when the notice is old enough."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.config import Config
from bot.ledger import Chat, Store
from bot.sending.sender import in_quiet_hours

FORGET_EVERY = 3600.0  # seconds between looks for confirmations old enough to forget


def after_quiet_hours(chat: Chat, now: float, config: Config) -> float:
    """``now``, or when the chat's quiet hours end if ``now`` is in them."""
    local = datetime.fromtimestamp(now, config.tz)
    if not chat.quiet_end or not in_quiet_hours(chat, local):
        return now
    hour, minute = (int(n) for n in chat.quiet_end.split(":"))
    end = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.timestamp()


class Confirmations:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._forgot_at = 0.0

    def tick(self) -> int:
        """One round of the clock's work: the rows it queued (the dispatcher's to wake)."""
        now = self.store.clock()
        queued = self.store.queue_ack_counts()
        for asking in self.store.reminders_due(now):
            chats = self.store.to_remind(asking.article_id, asking.round)
            times = {chat.id: after_quiet_hours(chat, now, self.config) for chat in chats}
            queued += self.store.send_reminder(asking, times)
        if now - self._forgot_at >= FORGET_EVERY:
            self._forgot_at = now
            self.store.forget_acks(now - self.config.ack_keep_days * 86400)
        return queued
