"""Flood control as Telegram counts it; every request of the bot passes through here.

Telegram counts a message when it *arrives*, in any sliding second (30 for the
whole bot) and per chat (a private chat: a short burst, then about one a second;
a group or channel: 20 a minute). A limiter that counts when it *releases* a
request (a leaky bucket, AIORateLimiter's) is beaten by jitter on the way: two
requests released 34 ms apart can arrive 30 ms apart. So every count here is
closed by the request's *answer*, which comes after its arrival:

- the whole bot: a request takes a unit of a 30-unit window and gives it back one
  second after its answer; so no sliding second at the server can see 31, whatever
  the network does (an album counts one unit per item, as Telegram may);
- one chat: one request at a time (which also keeps a chat's messages in order),
  spaced by GCRA ("a burst, then one per interval") measured from the answers.
  Groups get a burst of 5 then one per 4 s, which never exceeds 20 in any minute.

On a 429 everything the bot sends (deliveries, replies, edits, button answers)
waits until ``retry_after`` has passed, then the refused request is sent again:
a 429 means Telegram took nothing. Requests outside the delivery ledger (replies,
edits, answers) are also retried after network errors, so a reply is not lost;
the ledger's sender asks for no such retry, since it keeps its own (see
:data:`LEDGER`).

Why not python-telegram-bot's AIORateLimiter: it counts at release; its pause on
RetryAfter ends as soon as any other request completes (its ``finally`` sets the
event again); it has no private-chat limit; and it logs a traceback for every 429
it gives up on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

HOLDING_LOOK = 0.05  # seconds between looks at the lease while it is not fresh


def counted(method: str) -> bool:
    """What Telegram's flood control counts: sends, copies, forwards and edits."""
    return (
        method.startswith(("send", "editMessage")) and method != "sendChatAction"
    ) or method in ("copyMessage", "forwardMessage")


@dataclass(frozen=True)
class FloodRules:
    per_second: int = 30
    private_burst: int = 3
    private_interval: float = 1.0
    group_burst: int = 5
    group_interval: float = 4.0  # 5 + 60/4 = 20 in any minute, Telegram's group limit
    flood_retries: int = 20  # 429s one request waits out before it gives up
    network_retries: int = 3  # for replies, edits and answers (not ledger deliveries)
    network_backoff: float = 1.0  # seconds, doubled per retry


@dataclass(frozen=True)
class Caller:
    """Who is asking; python-telegram-bot passes it as ``rate_limit_args``."""

    holds_turn: bool = False  # already holds the chat's turn (see FloodControl.chat_turn)
    retry_network: bool = True


# The delivery ledger's sender: it takes the chat's turn before its in-flight slot, and
# retries network trouble itself (with backoff, after recording what Telegram confirmed).
LEDGER = Caller(holds_turn=True, retry_network=False)
# The same sender sending a reply (/read, a preview, a digest): retried here like any reply.
REPLY_IN_TURN = Caller(holds_turn=True)


class Window:
    """At most ``limit`` units between a request's release and ``period`` after its answer."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self._units = asyncio.Semaphore(limit)
        self._taking = asyncio.Lock()  # one taker at a time: no two half-served takers

    async def take(self, units: int) -> None:
        units = min(units, self.limit)
        taken = 0
        async with self._taking:
            try:
                for _ in range(units):
                    await self._units.acquire()
                    taken += 1
            except BaseException:
                for _ in range(taken):
                    self._units.release()
                raise

    def give_back(self, units: int) -> None:
        """At the answer: the units return one period later."""
        loop = asyncio.get_running_loop()
        for _ in range(min(units, self.limit)):
            loop.call_later(self.period, self._units.release)


class ChatPace:
    """One chat: one request at a time, ``burst`` at once, then one per ``interval``."""

    def __init__(self, burst: int, interval: float) -> None:
        self.turn = asyncio.Lock()
        self.interval = interval
        self.tolerance = (burst - 1) * interval
        self.theoretical = 0.0  # GCRA's theoretical arrival time, advanced at answers

    async def ready(self) -> None:
        loop = asyncio.get_running_loop()
        while (wait := self.theoretical - self.tolerance - loop.time()) > 0:
            await asyncio.sleep(wait)

    def answered(self, units: int = 1, at: float | None = None) -> None:
        """A request of ``units`` messages (an album: one per picture) was answered."""
        now = asyncio.get_running_loop().time() if at is None else at
        self.theoretical = max(self.theoretical, now) + self.interval * units

    def idle(self, now: float) -> bool:
        return not self.turn.locked() and self.theoretical <= now


Request = Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]]


class FloodControl(BaseRateLimiter[Caller]):
    """python-telegram-bot's rate-limiter hook, with Telegram's limits counted as above."""

    def __init__(self, rules: FloodRules | None = None) -> None:
        self.rules = rules or FloodRules()
        self._window = Window(self.rules.per_second, 1.0)
        self._chats: dict[int | str, ChatPace] = {}
        self._resume_at = 0.0  # loop time until which everything waits (a 429)
        # Whether this process may send now: on a shared ledger, while its lease is fresh
        # (a process woken from a freeze waits here until its heartbeat says it lost).
        self.holding: Callable[[], bool] = lambda: True
        self.sent = 0  # messages Telegram took (sends, copies, edits; an album per item)
        self.flood_waits = 0  # 429s received

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @asynccontextmanager
    async def chat_turn(self, chat_id: int) -> AsyncIterator[None]:
        """Hold a chat's turn until the request is answered, ready to send at once.

        The ledger's sender takes it before an in-flight slot, so that a slot never
        waits for one chat's pace while other chats could use it.
        """
        pace = self._pace(chat_id)
        async with pace.turn:
            await pace.ready()
            yield

    def resume_pace(self, chat_id: int, sends: list[tuple[float, int]]) -> None:
        """Replay what a chat got before a restart (seconds ago, messages each), so a
        crash loop cannot start every chat's burst afresh."""
        pace = self._pace(chat_id)
        now = asyncio.get_running_loop().time()
        for ago, units in sorted(sends, reverse=True):
            pace.answered(units, at=now - ago)

    async def process_request(
        self,
        callback: Request,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Caller | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        caller = rate_limit_args or Caller()
        chat_id = data.get("chat_id")
        units = _units(data) if counted(endpoint) else 0
        pace = self._pace(chat_id) if units and chat_id is not None else None
        label = f"{endpoint} to chat {chat_id}" if chat_id is not None else endpoint
        send = partial(callback, *args, **kwargs)
        try:
            if pace is None or caller.holds_turn:
                return await self._attempts(send, units, pace, caller, label)
            async with pace.turn:
                return await self._attempts(send, units, pace, caller, label)
        except TelegramError as error:
            error.add_note(label)  # for the error handler's one line
            raise

    async def _attempts(
        self, send: Request, units: int, pace: ChatPace | None, caller: Caller, label: str
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Send until Telegram takes it (a 429 means it took nothing), within the limits."""
        floods = network_failures = 0
        while True:
            if pace is not None:
                await pace.ready()
            await self._window.take(units)
            try:
                await self._paused()
                while not self.holding():
                    await asyncio.sleep(HOLDING_LOOK)
                result = await send()
                self.sent += units
                return result
            except RetryAfter as error:
                floods += 1
                self.flood_waits += 1
                self._pause(seconds_of(error.retry_after), label)
                if floods > self.rules.flood_retries:
                    raise
            except NetworkError as error:  # timeouts and connection trouble, not BadRequest
                if isinstance(error, BadRequest) or not caller.retry_network:
                    raise
                network_failures += 1
                if network_failures > self.rules.network_retries:
                    raise
                await asyncio.sleep(self.rules.network_backoff * 2 ** (network_failures - 1))
            finally:
                self._window.give_back(units)
                if pace is not None:
                    pace.answered(units)

    async def _paused(self) -> None:
        loop = asyncio.get_running_loop()
        while (wait := self._resume_at - loop.time()) > 0:
            await asyncio.sleep(wait)

    def _pause(self, seconds: float, request: str) -> None:
        resume_at = asyncio.get_running_loop().time() + seconds
        if resume_at > self._resume_at:
            self._resume_at = resume_at
            log.warning(
                "flood control: Telegram asked to wait %.0f s (%s); every request waits",
                seconds,
                request,
            )

    def _pace(self, chat_id: Any) -> ChatPace:
        key = _chat_key(chat_id)
        pace = self._chats.get(key)
        if pace is None:
            if len(self._chats) >= 10_000:
                now = asyncio.get_running_loop().time()
                for idle in [k for k, p in self._chats.items() if p.idle(now)]:
                    del self._chats[idle]
            rules = self.rules
            private = isinstance(key, int) and key > 0
            pace = ChatPace(
                rules.private_burst if private else rules.group_burst,
                rules.private_interval if private else rules.group_interval,
            )
            self._chats[key] = pace
        return pace


def _chat_key(chat_id: Any) -> int | str:
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return str(chat_id)  # an @channel name


def _units(data: dict[str, Any]) -> int:
    media = data.get("media")
    return len(media) if isinstance(media, list | tuple) else 1


def seconds_of(retry_after: timedelta | float) -> float:
    """What a RetryAfter asks: python-telegram-bot gives a timedelta, or seconds when an
    operator's PTB_TIMEDELTA=false says so."""
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


def request_of(error: BaseException) -> str | None:
    """The request a Telegram error answered, as noted by :class:`FloodControl`."""
    notes = getattr(error, "__notes__", None)
    return notes[-1] if notes else None
