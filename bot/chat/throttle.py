"""Per-user limits, so one person can neither drive the bot into flood control nor
keep it busy for everyone else.

Two layers: :class:`Admission` (used by the update processor) drops any kind of update
over a user's budget before it is handled at all; :class:`Throttle` as a handler
answers a user's sixth command in a window once, then stays silent.
Admins are exempt: they are few, trusted, and their broadcasts are paced anyway.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.chat.replies import Context, is_admin, reply

log = logging.getLogger(__name__)

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
        # Only the newest limit + 2 times matter: they tell ok, warn and drop apart
        # exactly as the full list would, and a flood cannot grow the list.
        times = self._seen.setdefault(user_id, deque(maxlen=self.limit + 2))
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
        who = sender(update)
        if who is None or update.effective_user is None or is_admin(update, context):
            return
        verdict = self.check(who)
        if verdict == "ok":
            return
        if verdict == "warn" and update.effective_message:
            await reply(update, context, "throttled")
        raise ApplicationHandlerStop


@dataclass(frozen=True)
class Budget:
    """What one user may have handled; the rest is dropped before it takes a slot."""

    updates: int = 20  # of any kind (commands, text, button presses, edits) a window
    plain: int = 1  # messages that are no command a window: each gets a reply at most
    window: float = WINDOW
    chat_queue: int = 10  # one chat's updates waiting for their turn (see OrderPerChat)


def sender(update: Update) -> int | None:
    """Whom an update counts against: its user; the chat a message speaks as (an
    anonymous admin, a channel), whose stand-in user every such chat shares; the chat
    for a channel's posts."""
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


def is_plain(update: Update) -> bool:
    """A message that is no command: nothing the bot does with it but one reply in private."""
    message = (
        update.message or update.edited_message or update.channel_post or update.edited_channel_post
    )
    if message is None or _is_news(update):
        return False
    return not (message.text or "").startswith("/")


def _is_news(update: Update) -> bool:
    """Telegram's word on a chat (the bot added or removed, a group's new id): counted
    like anything else, but never dropped, or the ledger would not learn of it."""
    message = update.effective_message
    migration = message is not None and bool(
        message.migrate_to_chat_id or message.migrate_from_chat_id
    )
    return migration or update.my_chat_member is not None or update.chat_member is not None


class Admission:
    """Decides, as an update arrives, whether it is handled at all."""

    def __init__(
        self,
        budget: Budget | None = None,
        exempt: frozenset[int] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = budget = budget or Budget()
        self.exempt = exempt
        self._updates = Throttle(budget.updates, budget.window, clock)
        self._plain = Throttle(budget.plain, budget.window, clock)
        self.dropped = 0  # updates turned away, for the logs and the tests

    def admit(self, update: object) -> bool:
        if not isinstance(update, Update):
            return True
        user = sender(update)
        if user is None or user in self.exempt:
            return True
        verdict = self._updates.check(user)
        if _is_news(update):
            return True
        if verdict == "warn":
            budget = self.budget
            log.info(
                "%s sent over %d updates in %.0f s: the rest are dropped",
                user,
                budget.updates,
                budget.window,
            )
        if verdict == "ok" and (not is_plain(update) or self._plain.check(user) == "ok"):
            return True
        self.dropped += 1
        return False
