"""Sending queued deliveries: every subscriber gets every notice once, in order,
and every copy delivered stays current.

A delivery is a row of the ledger (:mod:`bot.ledger`). The sender marks it
``sending``, sends its parts one by one and records each confirmed part before
the next, so a restart resumes at the first unconfirmed part: a crash can repeat
at most the part that was in flight, and loses nothing. A row queued again after
it was sent (a correction, a withdrawal, an expiry) is brought up to date by
:mod:`bot.sending.upkeep` the same way, step by step.

Telegram's limits are kept by :mod:`bot.sending.flood` on the bot, for every request.
The sender takes a chat's turn (its own pace) *before* an in-flight slot, so a
slot never idles waiting for one chat while others could use it. Failures
follow :class:`bot.sending.transport.Failure`: flood control waits, network trouble
backs off, a gone chat is deactivated, a migrated group is followed, a bad
picture falls back to its other URL and then to text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot.config import Config
from bot.formatting.formatter import announcement, format_article
from bot.formatting.outgoing import Outgoing
from bot.i18n import t
from bot.ledger import (
    ACTIVE,
    ANNOUNCEMENT,
    FAILED,
    SENDING,
    SKIPPED,
    Chat,
    Delivery,
    PartIds,
    Store,
    Work,
)
from bot.reading.articles import Article, ArticleError, article_from_json, load_article
from bot.sending.transport import Failure, SendFailure, Transport
from bot.sending.upkeep import Upkeep

log = logging.getLogger(__name__)

BATCH = 512
CRASH_TRIES = 5  # a delivery that crashes our code this often is failed, not retried forever
RETRY_WINDOW = 3600.0
BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0
RESUME_PAUSE = 1.0


@dataclass(frozen=True)
class SendPolicy:
    concurrency: int = 32
    retry_window: float = RETRY_WINDOW
    backoff_base: float = BACKOFF_BASE
    backoff_cap: float = BACKOFF_CAP
    # Requests between "sent to Telegram" and "recorded in the ledger" at once: each is a
    # message a crash could repeat. Raise it when a slow link keeps the bot under 30/s.
    max_in_flight: int = 1


def in_quiet_hours(chat: Chat, local: datetime) -> bool:
    """Whether ``local`` (in NOTICEBOT_TZ) falls in the chat's quiet window, which may wrap."""
    if not chat.quiet_start or not chat.quiet_end:
        return False
    now = f"{local:%H:%M}"
    if chat.quiet_start <= chat.quiet_end:
        return chat.quiet_start <= now < chat.quiet_end
    return now >= chat.quiet_start or now < chat.quiet_end


@dataclass(frozen=True)
class Plan:
    """One version of a notice as one chat gets it."""

    messages: list[Outgoing]
    title: str
    urgent: bool = False
    expires: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires


class Sender:
    """Brings one ledger row up to date; what to do about each failure lives here.

    Sending the parts is here; editing, retracting and pinning a delivered copy is in
    :class:`bot.sending.upkeep.Upkeep`, which sends through this class."""

    def __init__(
        self, store: Store, transport: Transport, config: Config, policy: SendPolicy
    ) -> None:
        self.store = store
        self.transport = transport
        self.config = config
        self.policy = policy
        self._plans: OrderedDict[tuple[str, str, str, str, bool], Plan] = OrderedDict()
        self._slots: asyncio.Semaphore | None = None
        self.upkeep = Upkeep(self)

    async def deliver(self, claimed: Work) -> None:
        """Do what the row needs (send the rest, edit, retract, pin); the ledger row says
        how it ended."""
        work = self.store.current(claimed)  # as it is now, not as it was claimed
        if work is None or work.delivery.status != SENDING:
            return  # skipped since it was claimed (withdrawn, chat gone)
        chat = work.chat
        while True:
            if chat is None or not chat.active:
                self.store.finish(work.delivery.id, SKIPPED, "chat is not active")
                return
            try:
                await self._bring_up_to_date(work, chat)
                return
            except SendFailure as failure:
                chat = self._handle(failure, work.delivery, chat)
                if chat is None:
                    return
                fresh = self.store.work(work.delivery.id)  # it moved with the chat
                if fresh is None:
                    return
                work = fresh

    async def _bring_up_to_date(self, work: Work, chat: Chat) -> None:
        delivery = work.delivery
        if work.article_status not in (ACTIVE, ANNOUNCEMENT):
            if not any(delivery.message_ids):
                self.store.finish(delivery.id, SKIPPED, "article withdrawn")
                return
            await self.upkeep.retract(delivery, chat, work.article_version or "")
            return
        target = work.article_version or ""
        shown = delivery.shown or target
        plan = self.plan_for(delivery.article_id, shown, chat)
        if plan is None:
            self.store.finish(delivery.id, SKIPPED, "article withdrawn or unreadable")
            return
        if delivery.parts_sent == 0 and plan.expired(self.store.clock()):
            self.store.finish(delivery.id, SKIPPED, "expired")
            return
        ids = await self._send_rest(delivery, chat, plan, shown)
        if shown != target:
            if self.config.edits:
                ids = await self.upkeep.edit(delivery, chat, shown, target, ids)
                plan = self.plan_for(delivery.article_id, target, chat) or plan
            else:
                self.store.keep_shown(delivery.id)
        await self.upkeep.pin_as_needed(delivery, chat, plan, ids)
        self.store.settle(delivery.id)

    async def _send_rest(self, delivery: Delivery, chat: Chat, plan: Plan, shown: str) -> PartIds:
        """The parts not sent yet, each recorded before the next."""
        ids = [list(part) for part in delivery.message_ids]
        for part in range(len(ids), len(plan.messages)):
            async with self.transport.turn(chat.id), self.in_flight():
                sent = await self.send_part(
                    chat, plan.messages[part], delivery.article_id, urgent=plan.urgent
                )
                ids.append(sent)
                self.store.record_part(delivery.id, ids, shown=shown)
        return ids

    def _handle(self, failure: SendFailure, delivery: Delivery, chat: Chat) -> Chat | None:
        """Decide after a failed request: a chat to go on with, or None to stop for now."""
        now = self.store.clock()
        migrated = failure.kind is Failure.MIGRATED and failure.new_chat_id is not None
        if migrated or failure.kind is Failure.GONE:
            return self._follow(failure, chat)
        if failure.kind is Failure.RETRY_AFTER:
            self.store.retry_later(
                delivery.id, now + failure.retry_after, str(failure), count_attempt=False
            )
            return None
        first_error = delivery.first_error_at or now
        if failure.kind is not Failure.TRANSIENT or now - first_error >= self.policy.retry_window:
            log.error(
                "delivery of %s to %s failed: %s", delivery.article_id, chat.id, failure.description
            )
            self.store.finish(delivery.id, FAILED, str(failure))
            return None
        delay = min(self.policy.backoff_cap, self.policy.backoff_base * 2**delivery.attempts)
        self.store.retry_later(delivery.id, now + delay * random.uniform(0.5, 1.5), str(failure))
        return None

    def _follow(self, failure: SendFailure, chat: Chat) -> Chat | None:
        """A group that became a supergroup: the chat to go on with. A chat that is gone
        (blocked, kicked, deleted): deactivated, and None."""
        if failure.kind is Failure.MIGRATED and failure.new_chat_id is not None:
            if self.store.migrate_chat(chat.id, failure.new_chat_id):
                log.info("chat %s migrated to %s", chat.id, failure.new_chat_id)
            return self.store.chat(failure.new_chat_id) or replace(chat, id=failure.new_chat_id)
        if failure.kind is Failure.GONE:
            log.warning("chat %s deactivated: %s", chat.id, failure.description)
            self.store.deactivate_chat(chat.id, failure.description)
        return None

    async def send_now(self, chat: Chat, messages: list[Outgoing], label: str) -> None:
        """Send parts right away, outside the ledger: replies such as /read, digests.
        A migrated group is followed and a gone chat deactivated, as for deliveries;
        other failures are the caller's."""
        for message in messages:
            while True:
                try:
                    async with self.transport.turn(chat.id):
                        await self.send_part(chat, message, label, reply=True)
                    break
                except SendFailure as failure:
                    moved = self._follow(failure, chat)
                    if moved is None:
                        raise
                    chat = moved

    async def send_part(
        self,
        chat: Chat,
        message: Outgoing,
        label: str,
        *,
        reply: bool = False,
        urgent: bool = False,
    ) -> list[int]:
        """One part, with the picture and formatting fallbacks that never drop a notice.

        A ``reply`` (outside the ledger) is also retried after network errors by the
        flood control; a ledger delivery keeps its own retries, after what it recorded.
        ``urgent`` rings even in the chat's quiet hours.
        """
        silent = not urgent and self._quiet(chat)
        try:
            return await self._send(chat, message, reply, silent)
        except SendFailure as failure:
            if failure.kind is Failure.BAD_MEDIA:
                return await self._send_without_bad_media(chat, message, failure, reply, silent)
            if failure.kind is Failure.BAD_REQUEST:
                log.error(
                    "Telegram refused part %s of %s for chat %s (%s); resending as plain text",
                    message.method,
                    label,
                    chat.id,
                    failure.description,
                )
                return await self._send(chat, message.without_entities(), reply, silent)
            raise

    async def call(self, chat: Chat, request: Outgoing) -> None:
        """An edit, a deletion or a pin of a message already in the chat."""
        await self.transport.send(chat.id, request, thread_id=None, silent=False)

    def in_flight(self) -> asyncio.Semaphore:
        """A slot among the requests sent but not yet recorded (``max_in_flight``)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.policy.max_in_flight)
        return self._slots

    async def _send_without_bad_media(
        self, chat: Chat, message: Outgoing, failure: SendFailure, reply: bool, silent: bool
    ) -> list[int]:
        fallback = message.with_fallback_media()
        if fallback is not None:
            try:
                return await self._send(chat, fallback, reply, silent)
            except SendFailure as second:
                if second.kind is not Failure.BAD_MEDIA:
                    raise
        log.warning("pictures of %s unusable (%s)", message.media_urls, failure.description)
        if message.part == "card":
            return await self._send(chat, message.as_text(), reply, silent)
        return []  # an album whose pictures cannot be fetched: the text already went out

    def _quiet(self, chat: Chat) -> bool:
        return bool(chat.quiet_start) and in_quiet_hours(
            chat, datetime.fromtimestamp(self.store.clock(), self.config.tz)
        )

    async def _send(self, chat: Chat, message: Outgoing, reply: bool, silent: bool) -> list[int]:
        return await self.transport.send(
            chat.id, message, thread_id=chat.thread_id, silent=silent, reply=reply
        )

    def messages_for(self, article_id: str, version: str, chat: Chat) -> list[Outgoing] | None:
        """The parts for this chat's language and mode (``/read``, previews)."""
        plan = self.plan_for(article_id, version, chat)
        return plan.messages if plan is not None else None

    def plan_for(
        self, article_id: str, version: str, chat: Chat, *, edited: bool = False
    ) -> Plan | None:
        """A version of a notice for this chat's language and mode, formatted once.

        What a version says is read from the ledger, as the scan kept it, never from the
        file (which may have changed since, or be half-written). ``edited``: the card
        says when the correction came."""
        lang = chat.language or self.config.lang
        key = (article_id, version, lang, chat.mode, edited)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        row = self.store.article(article_id)
        if row is None:
            return None
        if row["status"] == ANNOUNCEMENT:
            title = row["title"] or t("announcement", lang)
            plan = Plan(announcement(title, row["text"] or ""), title)
        else:
            article = self._version(article_id, version, row["path"])
            if article is None:
                return None
            created = self.store.version_created(article_id, version) if edited else None
            updated = datetime.fromtimestamp(created, self.config.tz) if created else None
            formatted = format_article(article, lang, self.config.tz, updated)
            expires = article.expires.timestamp() if article.expires else None
            plan = Plan(formatted.for_mode(chat.mode), article.title, article.urgent, expires)
        self._plans[key] = plan
        if len(self._plans) > 256:
            self._plans.popitem(last=False)
        return plan

    def _version(self, article_id: str, version: str, path: str) -> Article | None:
        content = self.store.version_content(article_id, version)
        if content is not None:
            return article_from_json(content)
        try:  # a notice queued before the ledger kept versions (schema 3 and older)
            article = load_article(Path(path), Path(path).parent, self.config)
        except ArticleError as error:
            log.error("article %s cannot be read at send time: %s", article_id, error)
            return None
        return replace(article, id=article_id)


class Dispatcher:
    """Takes due deliveries continuously: many chats at once, one chat's parts in order.

    Due rows are claimed and read in batches; up to ``concurrency`` workers take them
    from the backlog one by one and end when it is empty, and the dispatcher claims
    the next batch."""

    def __init__(self, store: Store, sender: Sender, concurrency: int = 32) -> None:
        self.store = store
        self.sender = sender
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._backlog: deque[Work] = deque()  # claimed (sending), not started yet
        self._started = False

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
                await self._sleep(min(BACKOFF_CAP, 2.0 ** (failures - 1)))
        await self._drain()

    def _resume(self) -> None:
        resumed = self.store.requeue_interrupted()
        if resumed:
            log.info("resuming %d deliveries a previous run was sending", resumed)
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
        """A delivery that crashes our code is retried with backoff, then failed."""
        delivery = work.delivery
        try:
            await self.sender.deliver(work)
        except Exception as exc:
            log.exception("delivery %s to %s crashed", delivery.article_id, delivery.chat_id)
            error = f"internal error: {exc!r}"
            if delivery.attempts + 1 >= CRASH_TRIES:
                self.store.finish(delivery.id, FAILED, error)
                return
            delay = min(BACKOFF_CAP, 60 * 2**delivery.attempts)
            self.store.retry_later(delivery.id, self.store.clock() + delay, error)

    def _timeout(self, idle: float) -> float:
        """Until the next scheduled delivery, at most ``idle``. Work due now but not
        started waits for a running delivery, whose end wakes us anyway."""
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
