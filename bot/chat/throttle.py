"""Per-user command throttle, so one person cannot drive the bot into flood control.

Admins are exempt: they are few, trusted, and their broadcasts are paced anyway.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.chat.replies import Context, is_admin, reply

MAX_COMMANDS = 5
WINDOW = 10.0  # seconds


class Throttle:
    """At most ``limit`` updates per ``window`` seconds per user; the first excess is answered."""

    def __init__(
        self,
        limit: int = MAX_COMMANDS,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[int, deque[float]] = {}

    def check(self, user_id: int) -> str:
        """'ok', 'warn' (first excess in a window) or 'drop'."""
        now = self.clock()
        times = self._seen.setdefault(user_id, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        times.append(now)
        if len(self._seen) > 10_000:
            self._forget_idle(now)
        if len(times) <= self.limit:
            return "ok"
        return "warn" if len(times) == self.limit + 1 else "drop"

    def _forget_idle(self, now: float) -> None:
        for user_id in [u for u, t in self._seen.items() if not t or now - t[-1] >= self.window]:
            del self._seen[user_id]

    async def __call__(self, update: Update, context: Context) -> None:
        """A handler in group -1: stops further handling of a throttled user's update."""
        user = update.effective_user
        if user is None or is_admin(update, context):
            return
        verdict = self.check(user.id)
        if verdict == "ok":
            return
        if verdict == "warn" and update.effective_message:
            await reply(update, context, "throttled")
        raise ApplicationHandlerStop
