"""Updates of one chat in order, different chats at once, and no one user's flood in
anyone else's way.

python-telegram-bot handles updates one after another by default, so one resident
whose replies wait for their chat's pace (a burst, then one a second) would hold
up everybody else; fully concurrent handling would let one chat's replies overtake
each other. Here each chat has a queue of its own.

The library takes one of its concurrency slots for an update before handing it to
the processor, so an update that waited for its chat's turn inside a slot kept the
slot all the while: one user's 300 messages, paced at one reply a second, held every
slot and stalled everyone else's replies. So this processor decides first, without a
slot: whether the update is within its sender's budget (:class:`Admission`), and when
its chat's turn comes (a queue per chat, capped); only then does it take a slot.
A press of the confirm button needs no turn: it only answers its presser.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.chat.throttle import Admission, Budget, is_plain, sender
from bot.formatting.acks import ACK_DATA

PRESSES_AT_ONCE = 16


@dataclass(eq=False)
class _Ticket:
    """An update waiting for its chat's turn; the future says whether it runs."""

    user: int | None
    plain: bool
    turn: asyncio.Future[bool]


@dataclass
class _Queue:
    """A chat with an update running; it is forgotten when nothing is left to run.
    ``last``: whose update ran last, so the next turn goes to someone else if anyone
    else is waiting (one member's flood in a group delays another by one reply)."""

    last: int | None = None
    waiting: deque[_Ticket] = field(default_factory=deque)


class OrderPerChat(BaseUpdateProcessor):
    def __init__(
        self,
        max_concurrent_updates: int = 256,
        *,
        budget: Budget | None = None,
        exempt: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__(max_concurrent_updates)
        self.admission = Admission(budget, exempt)
        self._chats: dict[int, _Queue] = {}  # chats with an update running
        # Presses of ✅ 收到 handled at once. Unbounded, a group's fifty presses wait in
        # the HTTP pool (which looks over every connection whenever one is assigned)
        # and slow the deliveries beside them; 16 at a time, a press storm during a
        # 2,000-chat broadcast slows it from 30 to 27 cards a second, not 19.5 (make
        # chaos), and every press is answered within Telegram's 15 s.
        self._presses = asyncio.Semaphore(PRESSES_AT_ONCE)

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:  # type: ignore[misc]
        """Replaces the library's (which takes a slot first, then calls
        ``do_process_update``): admission and the chat's turn come before the slot."""
        if not self.admission.admit(update):
            _discard(coroutine)
            return
        chat = update.effective_chat if isinstance(update, Update) else None
        if _unordered(update):
            async with self._presses, self._semaphore:
                await coroutine
            return
        if chat is None:
            async with self._semaphore:
                await coroutine
            return
        if not await self._turn(chat.id, update):
            _discard(coroutine)
            return
        try:
            async with self._semaphore:
                await coroutine
        finally:
            self._pass_turn(chat.id)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Unused: :meth:`process_update` does it all (required by the base class)."""
        await coroutine

    async def _turn(self, chat_id: int, update: object) -> bool:
        """Wait for the chat's turn: True to run, False if the update was dropped."""
        queue = self._chats.get(chat_id)
        if queue is None:
            self._chats[chat_id] = _Queue(sender(update) if isinstance(update, Update) else None)
            return True
        assert isinstance(update, Update)
        ticket = _Ticket(
            sender(update), is_plain(update), asyncio.get_running_loop().create_future()
        )
        if len(queue.waiting) >= self.admission.budget.chat_queue and not self._make_room(
            queue, ticket
        ):
            return False
        queue.waiting.append(ticket)
        try:
            return await ticket.turn
        except asyncio.CancelledError:
            if ticket in queue.waiting:
                queue.waiting.remove(ticket)
            elif ticket.turn.done() and not ticket.turn.cancelled() and ticket.turn.result():
                self._pass_turn(chat_id)  # handed the turn, but stopped before taking it
            raise

    def _pass_turn(self, chat_id: int) -> None:
        """The next waiting update runs: the oldest of someone other than whose ran
        last, else the oldest (each user's own updates stay in order)."""
        queue = self._chats[chat_id]
        while queue.waiting:
            ticket = next((t for t in queue.waiting if t.user != queue.last), queue.waiting[0])
            queue.waiting.remove(ticket)
            if not ticket.turn.done():
                queue.last = ticket.user
                ticket.turn.set_result(True)
                return
        del self._chats[chat_id]

    def _make_room(self, queue: _Queue, newcomer: _Ticket) -> bool:
        """A full chat queue sheds the newcomer's own oldest plain message. A newcomer with
        nothing else waiting there is let in all the same: never dropped for another's
        flood. Otherwise the newcomer is dropped (False): a user's earlier commands keep
        their order."""
        own = [t for t in queue.waiting if t.user == newcomer.user]
        if not own:
            return True
        self.admission.dropped += 1
        oldest_plain = next((t for t in own if t.plain), None)
        if oldest_plain is None:
            return False
        queue.waiting.remove(oldest_plain)
        oldest_plain.turn.set_result(False)
        return True

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _unordered(update: object) -> bool:
    """A press of ✅ 收到: answered to the presser alone and changing no message, it waits
    for no other update of its chat (fifty members pressing at once are each answered
    within Telegram's 15 s)."""
    query = update.callback_query if isinstance(update, Update) else None
    return query is not None and (query.data or "").startswith(ACK_DATA)


def _discard(coroutine: Awaitable[Any]) -> None:
    """An update that is not handled: close its coroutine, which was never started."""
    if inspect.iscoroutine(coroutine):
        coroutine.close()
