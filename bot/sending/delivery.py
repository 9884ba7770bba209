"""Sending queued deliveries: every subscriber gets every notice once, in order,
and every copy delivered stays current.

A delivery is a row of the ledger (:mod:`bot.ledger`). The dispatcher claims due
rows in batches, fairly (every chat with due work gets its turn), and hands each
to the reconciler (:mod:`bot.sending.reconciler`), which brings the chat's copy
to the notice one recorded call at a time: a crash can repeat at most the one
message in flight, and loses nothing.

Telegram's limits are kept by :mod:`bot.sending.flood` on the bot, for every
request; a restart resumes each chat's pace from what the ledger says it sent
in the last minute. A worker never dies of an error: a delivery that fails in
our code or the database is backed off (or, when even that cannot be written,
released as soon as the ledger takes writes again), and ``/healthz`` reports a
dispatcher whose deliveries keep failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from bot.ledger import FAILED, Store, Work
from bot.sending.policy import SendPolicy
from bot.sending.reconciler import Reconciler
from bot.trigger import OutsideBroadcasts

log = logging.getLogger(__name__)

BATCH = 512
CRASH_TRIES = 5  # a delivery that crashes our code this often is failed, not retried forever
RESUME_PAUSE = 1.0
PACE_MEMORY = 60.0  # seconds of sends a restart replays into each chat's pace
FAILING = 3  # deliveries in a row that crash: /healthz says the dispatcher is failing


class Dispatcher:
    """Takes due deliveries continuously: many chats at once, one chat's parts in order.

    Due rows are claimed and read in batches; up to ``concurrency`` workers take them
    from the backlog one by one and end when it is empty, and the dispatcher claims
    the next batch."""

    def __init__(self, store: Store, reconciler: Reconciler, concurrency: int = 32) -> None:
        self.store = store
        self.reconciler = reconciler
        self.concurrency = concurrency
        self.failing = 0  # deliveries in a row that crashed (our code, the database)
        self.last_failure: str | None = None
        self._unreleased: set[int] = set()  # claimed rows whose end could not be written
        self._pause_until = 0.0  # after a crash nothing new is claimed until then (ledger clock)
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._backlog: deque[Work] = deque()  # claimed (sending), not started yet
        self._started = False
        self.outside = OutsideBroadcasts(store)  # logged here as an admin's are in the chat

    def wake(self) -> None:
        """New work was queued: look now instead of at the next tick."""
        self._wake.set()

    async def run(self, idle: float = 1.0) -> None:
        """Deliver until stopped; first, resume what a previous process was sending.

        Supervised: an error (a locked or broken database, a bug) is logged once with
        its traceback and recorded for ``noticebot status``, and the loop starts again
        after a backoff, instead of ending while the bot still answers commands.
        """
        failures = 0
        while not self._stopping:
            try:
                if not self._started:
                    self._resume()
                    # Telegram still counts what a previous process sent in its last
                    # second (a restart after a crash takes a tenth of one).
                    await asyncio.sleep(RESUME_PAUSE)
                self._start_due()
                self.outside.look()
                await self._sleep(self._timeout(idle))
                failures = 0
            except Exception as error:
                failures += 1
                if failures == 1:
                    log.exception("the dispatcher failed; it starts again in a moment")
                else:
                    log.error("the dispatcher failed again (%d times): %r", failures, error)
                with contextlib.suppress(Exception):
                    self.store.record_trouble("dispatcher", repr(error))
                await self._sleep(min(self.reconciler.policy.backoff_cap, 2.0 ** (failures - 1)))
        await self._drain()

    def _resume(self) -> None:
        resumed = self.store.requeue_interrupted()
        if resumed:
            log.info("resuming %d deliveries a previous run was sending", resumed)
        now = self.store.clock()
        transport = self.reconciler.sender.transport
        for chat_id, sends in self.store.recent_sends(now - PACE_MEMORY).items():
            transport.resume_pace(chat_id, [(now - at, units) for at, units in sends])
        self._started = True

    async def run_until_idle(self) -> None:
        """Send until nothing is due (tests, benchmarks and the command line)."""
        while True:
            self._start_due()
            if not self._tasks:
                return
            await self._sleep(None)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _start_due(self) -> None:
        """Refill the backlog when it is empty, and start workers in free slots.

        One query and one claim per batch instead of per delivery keeps a broadcast
        to thousands of chats linear. Rows are claimed by id in the ledger (queued →
        sending), so a row is sent by one task only, even if it moves to another chat
        meanwhile; the sender checks that each row is still as claimed before sending.
        """
        if self.store.clock() < self._pause_until:
            return  # deliveries keep crashing (a full disk, a bug): back off, all of them
        if self._unreleased:
            self.store.requeue_interrupted(self._unreleased)
            self._unreleased.clear()
        if not self._backlog:
            self._backlog.extend(self.store.claim_work(self.store.clock(), BATCH))
        while self._backlog and len(self._tasks) < self.concurrency:
            task = asyncio.create_task(self._work())
            self._tasks.add(task)
            task.add_done_callback(self._done)

    async def _work(self) -> None:
        """A worker takes claimed deliveries until the backlog is empty, then ends: the
        dispatcher refills and starts workers again (a task per delivery cost a tenth
        of the send rate once Telegram answers fast)."""
        while self._backlog and not self._stopping:
            await self._guarded(self._backlog.popleft())

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _guarded(self, work: Work) -> None:
        """A delivery that crashes our code or the database is retried with backoff,
        then failed; the worker goes on with the next."""
        delivery = work.delivery
        try:
            await self.reconciler.reconcile(work)
            self.failing = 0
            return
        except Exception as exc:
            self.failing += 1
            self.last_failure = repr(exc)
            pause = min(self.reconciler.policy.backoff_cap, 0.5 * 2 ** min(self.failing - 1, 12))
            self._pause_until = self.store.clock() + pause
            log.exception("delivery %s to %s crashed", delivery.article_id, delivery.chat_id)
            error = f"internal error: {exc!r}"
        try:
            if delivery.attempts + 1 >= CRASH_TRIES:
                self.store.finish(delivery.id, FAILED, error)
            else:
                delay = min(self.reconciler.policy.backoff_cap, 60 * 2**delivery.attempts)
                self.store.retry_later(delivery.id, self.store.clock() + delay, error)
        except Exception:
            log.exception("delivery %s: its failure could not be recorded", delivery.id)
            self._unreleased.add(delivery.id)

    def _timeout(self, idle: float) -> float:
        """Until the next scheduled delivery, at most ``idle``. Work due now but not
        started waits for a running delivery, whose end wakes us anyway."""
        paused = self._pause_until - self.store.clock()
        if paused > 0:
            return min(idle, paused)
        next_due = self.store.next_due_time()
        now = self.store.clock()
        if next_due is not None and next_due > now:
            return max(0.01, min(idle, next_due - now))
        return idle

    async def _sleep(self, timeout: float | None) -> None:
        """Until a delivery ends, new work is queued, or the timeout passes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    async def _drain(self, grace: float = 10.0) -> None:
        """On shutdown: let in-flight parts finish; what is cut off stays resumable."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


__all__ = ["Dispatcher", "SendPolicy"]
