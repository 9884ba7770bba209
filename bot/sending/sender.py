"""One message into one chat, with the fallbacks that never drop a notice: another
URL for a picture Telegram cannot fetch, text where the chat forbids pictures or
none can be fetched, plain text where Telegram refuses the formatting.

Used by the reconciler for the ledger's copies and, outside the ledger, for
replies such as /read and digests (``send_now``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.config import Config
from bot.formatting.outgoing import Outgoing
from bot.ledger import Chat, Store
from bot.sending.plans import Plan, Planner
from bot.sending.transport import Failure, SendFailure, Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """What Telegram took: the message ids, and by which method (a card may go as text)."""

    ids: list[int]
    kind: str


def in_quiet_hours(chat: Chat, local: datetime) -> bool:
    """Whether ``local`` (in NOTICEBOT_TZ) falls in the chat's quiet window, which may wrap."""
    if not chat.quiet_start or not chat.quiet_end:
        return False
    now = f"{local:%H:%M}"
    if chat.quiet_start <= chat.quiet_end:
        return chat.quiet_start <= now < chat.quiet_end
    return now >= chat.quiet_start or now < chat.quiet_end


class Sender:
    def __init__(
        self, store: Store, transport: Transport, config: Config, max_in_flight: int
    ) -> None:
        self.store = store
        self.transport = transport
        self.config = config
        self.planner = Planner(store, config)
        self._max_in_flight = max_in_flight
        self._slots: asyncio.Semaphore | None = None

    def plan_for(
        self,
        article_id: str,
        version: str,
        chat: Chat,
        *,
        edited: bool = False,
        asks: bool | None = None,
    ) -> Plan | None:
        return self.planner.plan_for(article_id, version, chat, edited=edited, asks=asks)

    def messages_for(
        self, article_id: str, version: str, chat: Chat, *, expired: bool = False
    ) -> list[Outgoing] | None:
        """The parts for this chat's language and mode (``/read``, previews); ``expired``:
        the card of a notice read after it expired says so (formatted and kept apart from
        the card the same chat gets before then)."""
        return self.planner.messages_for(article_id, version, chat, expired=expired)

    def in_flight(self) -> asyncio.Semaphore:
        """A slot among the requests sent but not yet recorded (``max_in_flight``)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_in_flight)
        return self._slots

    async def tell_admins(self, words: Callable[[str], str], label: str) -> None:
        """A note to every admin in private, in the language their chat with the bot
        chose (else the bot's); one that cannot be reached is logged, and the others
        are still told. ``words``: the note in a language."""
        for admin in sorted(self.config.admins):
            known = self.store.chat(admin)
            text = words((known.language if known else None) or self.config.lang)
            try:
                await self.send_now(
                    Chat(admin), [Outgoing("sendMessage", {"text": text}, "text")], label
                )
            except SendFailure as failure:
                log.warning("admin %s not told (%s): %s", admin, label, failure)

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
                    moved = self.follow(failure, chat)
                    if moved is None:
                        raise
                    chat = moved

    def follow(self, failure: SendFailure, chat: Chat) -> Chat | None:
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

    async def send_part(
        self,
        chat: Chat,
        message: Outgoing,
        label: str,
        *,
        reply: bool = False,
        urgent: bool = False,
    ) -> Sent:
        """One part, with the fallbacks that never drop a notice.

        A ``reply`` (outside the ledger) is also retried after network errors by the
        flood control; a ledger delivery keeps its own retries, after what it recorded.
        ``urgent`` rings even in the chat's quiet hours.
        """
        silent = not urgent and self._quiet(chat)
        try:
            return await self._send(chat, message, reply, silent)
        except SendFailure as failure:
            if failure.kind in (Failure.BAD_MEDIA, Failure.RESTRICTED):
                return await self._send_without_media(chat, message, failure, reply, silent)
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

    async def call(self, chat_id: int, request: Outgoing) -> None:
        """An edit, a deletion or a pin of a message already in the chat."""
        await self.transport.send(chat_id, request, thread_id=None, silent=False)

    async def _send_without_media(
        self, chat: Chat, message: Outgoing, failure: SendFailure, reply: bool, silent: bool
    ) -> Sent:
        fallback = message.with_fallback_media() if failure.kind is Failure.BAD_MEDIA else None
        if fallback is not None:
            try:
                return await self._send(chat, fallback, reply, silent)
            except SendFailure as second:
                if second.kind not in (Failure.BAD_MEDIA, Failure.RESTRICTED):
                    raise
        log.warning(
            "chat %s: pictures of %s not sent (%s)",
            chat.id,
            message.media_urls,
            failure.description,
        )
        if message.part == "card":
            return await self._send(chat, message.as_text(), reply, silent)
        return Sent([], message.method)  # an album left out: the text already went out

    def _quiet(self, chat: Chat) -> bool:
        return bool(chat.quiet_start) and in_quiet_hours(
            chat, datetime.fromtimestamp(self.store.clock(), self.config.tz)
        )

    async def _send(self, chat: Chat, message: Outgoing, reply: bool, silent: bool) -> Sent:
        ids = await self.transport.send(
            chat.id, message, thread_id=chat.thread_id, silent=silent, reply=reply
        )
        return Sent(ids, message.method)
