"""Keeping delivered copies current: a correction edits them, a withdrawal retracts
them, an urgent notice is pinned (and unpinned when it expires).

Each step is recorded in the ledger before the next (``record_step``), so a crash
resumes where it stopped, and repeats at most one edit or deletion, which is
harmless. What Telegram answers decides the rest:

- "message is not modified": the copy already shows it;
- "message to edit not found": someone deleted the copy; it is gone, and is not
  sent again;
- "message can't be deleted" (older than 48 hours, or no right to): the card is
  edited to say the notice was withdrawn, its title kept;
- "not enough rights to manage pinned messages": the notice still goes out, and
  ``/settings`` tells the chat's admins, once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.formatting.formatter import withdrawn_card
from bot.formatting.outgoing import Outgoing
from bot.formatting.revisions import (
    MEDIA_METHODS,
    as_reply_to,
    delete,
    edit_as_text,
    edit_of,
    mark_withdrawn,
    pin,
    unpin,
)
from bot.ledger import Chat, Delivery, PartIds
from bot.sending.transport import Failure, SendFailure

if TYPE_CHECKING:
    from bot.sending.delivery import Plan, Sender

log = logging.getLogger(__name__)

PINNABLE = ("group", "supergroup", "channel")


def _says(failure: SendFailure, *phrases: str) -> bool:
    return failure.kind is Failure.BAD_REQUEST and any(
        p in failure.description.lower() for p in phrases
    )


class Upkeep:
    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.store = sender.store

    async def edit(
        self, delivery: Delivery, chat: Chat, shown: str, target: str, ids: PartIds
    ) -> PartIds:
        """Bring the copy from version ``shown`` to ``target``, part by part: edited in
        place, extra parts sent under the card, surplus parts deleted."""
        # What the copy shows, as the ledger kept it; unknown for copies sent before it
        # kept versions (then every part is edited, never wrongly taken as unchanged).
        known_shown = self.store.has_version(delivery.article_id, shown)
        old = self.sender.plan_for(delivery.article_id, shown, chat) if known_shown else None
        new = self.sender.plan_for(delivery.article_id, target, chat, edited=True)
        if new is None:
            return ids
        ids = [list(part) for part in ids]
        card_id = ids[0][0] if ids and ids[0] else None
        known = len(ids)
        for i in range(delivery.step, max(known, len(new.messages))):
            async with self.sender.transport.turn(chat.id), self.sender.in_flight():
                if i < known and i < len(new.messages):
                    before = old.messages[i] if old and i < len(old.messages) else None
                    ids[i] = await self._revise(chat, ids[i], before, new.messages[i], card_id)
                elif i < len(new.messages):
                    extra = as_reply_to(new.messages[i], card_id)
                    ids.append(await self.sender.send_part(chat, extra, delivery.article_id))
                else:
                    await self._delete_all(chat, ids[i])
                    ids[i] = []
                self.store.record_step(delivery.id, i + 1, ids)
        ids = ids[: len(new.messages)]
        self.store.record_edit(delivery.id, target, ids)
        return ids

    async def _revise(
        self, chat: Chat, part: list[int], old: Outgoing | None, new: Outgoing, card_id: int | None
    ) -> list[int]:
        """One part edited in place, or replaced when it cannot be."""
        if not part:
            return []  # gone (deleted by someone, or an album that could not be sent)
        if old is not None and (old.method, old.params) == (new.method, new.params):
            return part
        edit = edit_of(new, part[0], old) if len(part) == 1 else None
        if edit is not None:
            try:
                await self.sender.call(chat, edit)
                return part
            except SendFailure as failure:
                outcome = await self._after_failed_edit(chat, part, new, failure)
                if outcome is not None:
                    return outcome
        sent = await self.sender.send_part(chat, as_reply_to(new, card_id), "correction")
        await self._delete_all(chat, part)
        return sent

    async def _after_failed_edit(
        self, chat: Chat, part: list[int], new: Outgoing, failure: SendFailure
    ) -> list[int] | None:
        """What a refused edit means: the part as it stands, or None to replace it."""
        if _says(failure, "message is not modified"):
            return part
        if _says(failure, "message to edit not found"):
            return []
        if new.part == "card" and _says(failure, "no caption in the message"):
            try:  # the card went out as text (its picture could not be sent)
                await self.sender.call(chat, edit_as_text(new, part[0]))
                return part
            except SendFailure as second:
                if _says(second, "message is not modified"):
                    return part
                if second.kind is not Failure.BAD_REQUEST:
                    raise
                return None
        if failure.kind is not Failure.BAD_REQUEST:
            raise failure
        log.warning("chat %s: edit refused (%s); part replaced", chat.id, failure.description)
        return None

    async def retract(self, delivery: Delivery, chat: Chat, version: str) -> None:
        """Delete every message of the copy; where Telegram no longer allows it, the card
        says the notice was withdrawn."""
        plan = self.sender.plan_for(delivery.article_id, delivery.shown or version, chat)
        ids = [list(part) for part in delivery.message_ids]
        for i in range(delivery.step, len(ids)):
            async with self.sender.transport.turn(chat.id), self.sender.in_flight():
                if ids[i] and await self._delete_all(chat, ids[i]):
                    ids[i] = []
                elif ids[i] and i == 0 and plan is not None:
                    await self._mark_withdrawn(chat, ids[0][0], plan)
                self.store.record_step(delivery.id, i + 1, ids)
        if delivery.pinned and ids and ids[0]:
            await self._unpin(chat, ids[0][0])
        self.store.finish_retract(delivery.id)

    async def _mark_withdrawn(self, chat: Chat, card_id: int, plan: Plan) -> None:
        note = withdrawn_card(plan.title, chat.language or self.sender.config.lang)
        caption = plan.messages[0].method in MEDIA_METHODS if plan.messages else False
        for as_caption in (caption, not caption):
            try:
                await self.sender.call(chat, mark_withdrawn(note, card_id, caption=as_caption))
                return
            except SendFailure as failure:
                if _says(failure, "message is not modified", "message to edit not found"):
                    return
                if not _says(failure, "no caption in the message", "no text in the message"):
                    raise

    async def _delete_all(self, chat: Chat, part: list[int]) -> bool:
        """Delete a part's messages; False if Telegram no longer lets the bot."""
        for message_id in part:
            try:
                await self.sender.call(chat, delete(message_id))
            except SendFailure as failure:
                if _says(failure, "message to delete not found"):
                    continue
                if _says(failure, "can't be deleted", "not enough rights"):
                    return False
                raise
        return True

    async def pin_as_needed(self, delivery: Delivery, chat: Chat, plan: Plan, ids: PartIds) -> None:
        """An urgent notice is pinned in groups and channels while it has not expired."""
        card_id = ids[0][0] if ids and ids[0] else None
        if card_id is None:
            return
        expired = plan.expired(self.store.clock())
        if delivery.pinned and (expired or not plan.urgent):
            await self._unpin(chat, card_id)
            self.store.set_pinned(delivery.id, False)
        elif not delivery.pinned and plan.urgent and not expired and chat.type in PINNABLE:
            try:
                async with self.sender.transport.turn(chat.id):
                    await self.sender.call(chat, pin(card_id))
            except SendFailure as failure:
                if not _says(failure, "not enough rights", "message to pin not found"):
                    raise
                if chat.pin_refused_at is None and "rights" in failure.description.lower():
                    log.info("chat %s: no right to pin urgent notices", chat.id)
                    self.store.note_pin_refused(chat.id, True)
                return
            self.store.set_pinned(delivery.id, True)
            if chat.pin_refused_at is not None:
                self.store.note_pin_refused(chat.id, False)

    async def _unpin(self, chat: Chat, card_id: int) -> None:
        try:
            async with self.sender.transport.turn(chat.id):
                await self.sender.call(chat, unpin(card_id))
        except SendFailure as failure:
            if failure.kind is not Failure.BAD_REQUEST:
                raise
            log.info("chat %s: unpin refused (%s)", chat.id, failure.description)
