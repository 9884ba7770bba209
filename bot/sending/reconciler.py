"""The reconciler: brings a chat's copy of a notice to what the notice says now.

Transitions in the ledger only set the target (:mod:`bot.ledger.deliveries`).
Here the copy (what the chat holds, :mod:`bot.ledger.copies`) is compared with
the target, and the next Bot API call is made (:func:`bot.sending.steps.next_step`),
one at a time, each outcome recorded before the next. So after any interruption
(an error, a kill) the ledger knows what may have happened: an edit that may have
happened is marked unknown before it is sent, and is simply made again; a delete
or a pin is tried again; a send whose answer was lost is the only possible
duplicate, one per interruption at most.

Where the target cannot be reached, the copy settles on the best it can be, and
says why: a message that can no longer be deleted is edited to say the notice
was withdrawn (or the part removed); a message someone deleted is not sent
again; messages left in a group that became a supergroup are recorded where
they are, and the supergroup gets the notice anew when it changes.

What Telegram's errors say about the chat decides the rest: gone (blocked,
kicked, deleted) deactivates it; restricted (no pictures) sends text; held (a
closed topic, a muted bot) waits and tells the admins once; retry (5xx, network,
429) backs off; one message's trouble (not found, can't be deleted) is that
message's alone.
"""

from __future__ import annotations

import logging
import random
from contextlib import AsyncExitStack

from bot.config import Config
from bot.formatting.acks import with_ack_button
from bot.formatting.formatter import removed_part, withdrawn_card
from bot.formatting.outgoing import Outgoing
from bot.formatting.revisions import (
    MEDIA_METHODS,
    album_item,
    as_reply_to,
    delete,
    edit_to,
    mark_withdrawn,
    media_of,
    pin,
    unpin,
)
from bot.i18n import t
from bot.ledger import FAILED, REMINDER, RETRACTED, SENDING, SENT, SKIPPED, Chat, Store, Work
from bot.ledger.copies import (
    DELETING,
    DROPPED,
    GONE,
    LIVE,
    MARKED,
    REMOVED_MARK,
    UNKNOWN,
    WITHDRAWN_MARK,
    Copy,
    Part,
    visible,
)
from bot.sending.policy import SendPolicy
from bot.sending.sender import Sender, Sent
from bot.sending.steps import Op, Step, Target, holders, next_step
from bot.sending.transport import Failure, SendFailure

log = logging.getLogger(__name__)

PINNABLE = ("group", "supergroup", "channel")
HOLD_FOR = 600.0  # a held chat (closed topic, muted bot) is tried again this much later
MAX_STEPS = 500  # calls one claim may make; a copy that needs more goes on at its next turn


def _says(failure: SendFailure, *phrases: str) -> bool:
    return failure.kind is Failure.BAD_REQUEST and any(
        p in failure.description.lower() for p in phrases
    )


def _unsure(part: Part, message: Outgoing) -> Part:
    """The part as recorded before an edit to ``message`` that a crash or a lost answer may
    cut short: what it shows is unknown, and so is its picture (an album's pictures) where
    the edit changes it. The next edit, to this version or to any later one, then sets the
    picture again: a recorded picture the chat may no longer show would make it edit the
    caption alone (``edit_to``) and skip an album's picture it takes for unchanged."""
    if message.method == "sendMediaGroup":
        if len(part.pictures) != len(message.media_urls):
            return part  # replaced, not edited
        pairs = zip(part.pictures, message.media_urls, strict=True)
        return part.but(pictures=tuple(old if old == new else "" for old, new in pairs))
    if (part.kind or message.method) in MEDIA_METHODS and part.media != media_of(message):
        return part.but(media=None)  # never a picture's URL: editMessageMedia
    return part


class Reconciler:
    def __init__(self, store: Store, sender: Sender, config: Config, policy: SendPolicy) -> None:
        self.store = store
        self.sender = sender
        self.config = config
        self.policy = policy
        self.held: list[tuple[Chat, str]] = []  # chats newly held, for the admins

    async def reconcile(self, claimed: Work) -> None:
        """Bring one claimed row's copy to its target; the row says how it ended."""
        work = self.store.current(claimed)  # as it is now, not as it was claimed
        if work is None or work.delivery.status != SENDING:
            return  # settled since it was claimed (withdrawn before sending, chat gone)
        chat, copy = work.chat, work.delivery.copy
        edited = False
        for _ in range(MAX_STEPS):
            if chat is None or not chat.active:
                self.store.finish(work.delivery.id, SKIPPED, "chat is not active")
                return
            target = self._target(work, chat, copy)
            if target is None:
                return
            step = next_step(copy, target, chat.id)
            if step is None:
                await self._settle(work, chat, copy, target, edited)
                return
            edited = edited or step.op in (Op.EDIT, Op.REPLACE)
            try:
                async with AsyncExitStack() as unrecorded:  # a send's slot, until recorded
                    copy = await self._apply(step, work, chat, copy, target, unrecorded)
                    if next_step(copy, target, chat.id) is None:  # done: one write, not two
                        await self._settle(work, chat, copy, target, edited, record=True)
                        return
                    await self.store.record_copy(work.delivery.id, copy)
            except SendFailure as failure:
                moved = self._after(failure, work, chat)
                if moved is None:
                    return
                # the group became a supergroup: the row may have given way to the
                # supergroup's own, which holds the notice already
                if self.store.work(work.delivery.id) is None:
                    return
                chat = moved
            finally:
                if self.held:
                    await self.tell_admins()
        self.store.retry_later(
            work.delivery.id, self.store.clock(), "more to do", count_attempt=False
        )

    # --- the target -------------------------------------------------------------------
    def _target(self, work: Work, chat: Chat, copy: Copy) -> Target | None:
        """What the copy should be; None when the row settled here instead."""
        delivery = work.delivery
        shows = bool(visible(copy))
        if not chat.subscribed and not shows:
            self.store.finish(delivery.id, SKIPPED, "unsubscribed")
            return None
        if not work.published:
            return Target(new_parts=False, withdrawn=True)
        version = work.article_version or ""
        edited = delivery.shown is not None and delivery.shown != version
        plan = self.sender.plan_for(
            delivery.article_id, version, chat, edited=edited, asks=work.asks
        )
        if plan is None:
            self.store.finish(delivery.id, FAILED, "article unreadable")
            return None
        expired = plan.expired(self.store.clock())
        if expired and not shows:
            self.store.finish(delivery.id, SKIPPED, "expired")
            return None
        if delivery.kind == REMINDER and not shows and self._confirmed(work, chat):
            self.store.finish(delivery.id, SKIPPED, "confirmed before the reminder")
            return None
        messages, count = plan.messages, None
        if plan.asks:  # a group's card shows its count; a private card the button alone
            count = 0
            if chat.type != "private":
                count = self.store.ack_count(delivery.article_id, chat.id)
                lang = chat.language or self.config.lang
                messages = with_ack_button(messages, delivery.article_id, lang, count)
        return Target(
            tuple(messages),
            urgent=plan.urgent,
            pin_card=plan.urgent and not expired and chat.type in PINNABLE,
            new_parts=chat.subscribed,
            acks_shown=count,
        )

    def _confirmed(self, work: Work, chat: Chat) -> bool:
        """A private subscriber who confirmed since the reminder was queued needs none."""
        of = self.store.reminder_of(work.delivery.article_id)
        return (
            chat.type == "private"
            and of is not None
            and self.store.has_confirmed(of[0], chat.id, of[1])
        )

    async def _settle(
        self, work: Work, chat: Chat, copy: Copy, target: Target, edited: bool, record: bool = False
    ) -> None:
        """The row ends as the copy reached its target; ``record``: with the copy the
        last call left, in the same write."""
        if chat.trouble:
            self.store.note_trouble(chat.id, None)
        if target.acks_shown is not None:
            self.store.note_acks_shown(work.delivery.id, target.acks_shown)
        # a count brought up to date, or the button added, is not a correction
        corrected = work.delivery.shown != (work.article_version or "")
        edited = edited and (corrected or target.acks_shown is None)
        recorded = copy if record else None
        if target.messages:
            await self.store.settle(
                work.delivery.id, SENT, work.article_version, edited=edited, copy=recorded
            )
        elif copy or work.delivery.shown is not None:
            version = work.article_version
            await self.store.settle(work.delivery.id, RETRACTED, version, copy=recorded)
        else:
            if record:
                await self.store.record_copy(work.delivery.id, copy)
            self.store.finish(work.delivery.id, SKIPPED, "article withdrawn")

    # --- one call ---------------------------------------------------------------------
    async def _apply(
        self,
        step: Step,
        work: Work,
        chat: Chat,
        copy: Copy,
        target: Target,
        unrecorded: AsyncExitStack,
    ) -> Copy:
        """Make the step's call; the copy as it is after it, for the caller to record
        (with the row's end, when it was the last call). A send leaves its in-flight
        slot in ``unrecorded``, held until the caller recorded what it sent."""
        parts = list(copy)
        delivery_id = work.delivery.id
        transport = self.sender.transport
        if step.op is Op.FORGET:
            assert step.index is not None
            del parts[step.index]
        elif step.op in (Op.SEND, Op.REPLACE):
            assert step.message is not None and step.slot is not None
            message = self._placed(step, parts, chat, work)
            async with transport.turn(chat.id):
                await unrecorded.enter_async_context(self.sender.in_flight())
                sent = await self.sender.send_part(
                    chat, message, work.delivery.article_id, urgent=target.urgent
                )
            part = self._part(step.slot, chat, sent, step.message)
            if step.op is Op.REPLACE:
                assert step.index is not None
                parts[step.index] = parts[step.index].but(slot=None)
                parts.append(part)
            elif step.index is not None:  # a part dropped before, tried again
                parts[step.index] = part
            else:
                parts.append(part)
        elif step.op is Op.EDIT:
            assert step.index is not None and step.message is not None
            part = parts[step.index].but(hash=UNKNOWN)
            parts[step.index] = _unsure(part, step.message)
            await self.store.record_copy(delivery_id, tuple(parts))  # an edit a crash may cut short
            async with transport.turn(chat.id):
                edited = await self._edit(chat, part, step.message)
            if edited is None:
                del parts[step.index]
            else:
                parts[step.index] = edited
            if edited is not None and edited.state == LIVE and edited.hash == UNKNOWN:
                # Telegram would not edit it: replace it
                return await self._apply(
                    Step(Op.REPLACE, step.index, step.slot, step.message),
                    work,
                    chat,
                    tuple(parts),
                    target,
                    unrecorded,
                )
        elif step.op is Op.DELETE:
            assert step.index is not None
            async with transport.turn(chat.id):
                part = await self._delete(chat, parts, step.index, work, target)
            if part is None:
                del parts[step.index]
            else:
                parts[step.index] = part
        else:
            assert step.index is not None
            parts[step.index] = parts[step.index].but(pin_unsure=True)
            await self.store.record_copy(delivery_id, tuple(parts))  # a pin a crash may cut short
            async with transport.turn(chat.id):
                parts[step.index] = await self._pin(chat, parts[step.index], step.op is Op.PIN)
        return tuple(parts)

    def _placed(self, step: Step, parts: list[Part], chat: Chat, work: Work) -> Outgoing:
        """A part sent after the copy was complete once goes under the card it belongs to."""
        assert step.message is not None
        card = holders(tuple(parts)).get(0)
        if step.slot == 0 or card is None or work.delivery.shown is None:
            return step.message
        card_part = parts[card]
        if card_part.chat != chat.id or card_part.state not in (LIVE, MARKED):
            return step.message
        return as_reply_to(step.message, card_part.ids[0])

    def _part(self, slot: int, chat: Chat, sent: Sent, planned: Outgoing) -> Part:
        return Part(
            slot,
            chat.id,
            tuple(sent.ids),
            sent.kind,
            planned.content_hash,
            self.store.clock(),
            media=media_of(planned),  # the picture it stands for, even if sent as text
            pictures=tuple(planned.media_urls) if planned.method == "sendMediaGroup" else (),
            state=LIVE if sent.ids else DROPPED,
        )

    async def _edit(self, chat: Chat, part: Part, message: Outgoing) -> Part | None:
        """The part edited to ``message``; its hash stays unknown if it must be replaced;
        None if it is gone because the bot's own delete went through after all."""
        if message.method == "sendMediaGroup":
            return await self._edit_album(chat, part, message)
        edit = edit_to(message, part.ids[0], part.kind, part.media)
        if edit is None:
            return part
        try:
            await self.sender.call(part.chat, edit)
        except SendFailure as failure:
            if _says(failure, "message to edit not found"):
                return None if part.state == DELETING else part.but(state=GONE, pinned=False)
            if not _says(failure, "message is not modified"):
                if failure.kind not in (Failure.BAD_REQUEST, Failure.BAD_MEDIA, Failure.RESTRICTED):
                    raise
                log.warning("chat %s: edit refused (%s); replaced", chat.id, failure.description)
                return part
        media = edit.params["media"]["media"] if edit.method == "editMessageMedia" else part.media
        kind = part.kind or message.method
        return part.but(hash=message.content_hash, state=LIVE, kind=kind, media=media)

    async def _edit_album(self, chat: Chat, part: Part, message: Outgoing) -> Part | None:
        """An album's pictures changed one by one; what Telegram refuses is replaced."""
        pairs = zip(part.ids, part.pictures, message.media_urls, strict=True)
        for n, (message_id, old, new) in enumerate(pairs):
            if old == new and not (n == 0 and part.state == MARKED):  # a mark: its caption
                continue
            try:
                await self.sender.call(part.chat, album_item(message_id, new))
            except SendFailure as failure:
                if _says(failure, "message to edit not found"):
                    if part.state == DELETING:
                        return None  # the bot's own delete went through after all
                    # someone cut a picture: the rest is replaced (and so still reachable)
                    kept = [(i, url) for i, url in zip(part.ids, part.pictures, strict=True)]
                    kept = [(i, url) for i, url in kept if i != message_id]
                    ids, pictures = (
                        (tuple(x) for x in zip(*kept, strict=True)) if kept else ((), ())
                    )
                    return part.but(ids=ids, pictures=pictures, hash=UNKNOWN)
                if _says(failure, "message is not modified"):
                    continue
                if failure.kind not in (Failure.BAD_REQUEST, Failure.BAD_MEDIA, Failure.RESTRICTED):
                    raise
                log.warning("chat %s: album edit refused (%s); replaced", chat.id, failure)
                return part
        pictures = tuple(message.media_urls)
        return part.but(hash=message.content_hash, state=LIVE, pictures=pictures)

    async def _delete(
        self, chat: Chat, parts: list[Part], index: int, work: Work, target: Target
    ) -> Part | None:
        """Delete the part's messages one by one, each recorded (None: all gone); what
        Telegram no longer lets the bot delete is marked instead."""
        if not parts[index].kind and str(parts[index].chat).startswith("-100"):
            # Recorded before copies were kept: in a supergroup or channel its id may come
            # from the group it was upgraded from. Marked first, so only the bot's own
            # message (Telegram edits no one else's) is then deleted.
            checked = await self._mark(chat, parts[index], work, target)
            if checked.state == GONE:
                return checked
        part = parts[index] = parts[index].but(state=DELETING, hash=UNKNOWN)
        # a delete a crash may cut short
        await self.store.record_copy(work.delivery.id, tuple(parts))
        while part.ids:
            try:
                await self.sender.call(part.chat, delete(part.ids[0]))
            except SendFailure as failure:
                if _says(failure, "can't be deleted", "not enough rights"):
                    return await self._mark(chat, part, work, target)
                if not _says(failure, "message to delete not found"):
                    raise
            part = part.but(ids=part.ids[1:])
            if part.ids:
                parts[index] = part
                await self.store.record_copy(work.delivery.id, tuple(parts))
        return None

    async def _mark(self, chat: Chat, part: Part, work: Work, target: Target) -> Part:
        """A part that can no longer be deleted says so instead of its old content."""
        note = self._note(chat, part, work, target)
        caption = (part.kind or "sendMessage") in MEDIA_METHODS or len(part.ids) > 1
        for as_caption in (caption, not caption):
            try:
                await self.sender.call(
                    part.chat, mark_withdrawn(note, part.ids[0], caption=as_caption)
                )
            except SendFailure as failure:
                if _says(failure, "message to edit not found", "message can't be edited"):
                    return part.but(state=GONE, pinned=False)  # gone, or not the bot's
                if _says(failure, "message is not modified"):
                    break
                if _says(failure, "no caption in the message", "no text in the message"):
                    continue
                if failure.kind is Failure.BAD_REQUEST:
                    log.warning("chat %s: a part could not be marked (%s)", chat.id, failure)
                    break
                raise
            break
        says = WITHDRAWN_MARK if target.withdrawn else REMOVED_MARK
        return part.but(state=MARKED, hash=says + note.content_hash)

    def _note(self, chat: Chat, part: Part, work: Work, target: Target) -> Outgoing:
        lang = chat.language or self.config.lang
        if not target.withdrawn:
            return removed_part(lang)
        if part.slot == 0:
            row = self.store.article(work.delivery.article_id)
            return withdrawn_card((row or {}).get("title") or "", lang)
        return removed_part(lang, withdrawn=True)

    async def _pin(self, chat: Chat, part: Part, pinning: bool) -> Part:
        if not pinning and (part.chat != chat.id or part.state in (GONE, DROPPED)):
            return part.but(pinned=False, pin_unsure=False)  # out of reach
        try:
            await self.sender.call(part.chat, pin(part.ids[0]) if pinning else unpin(part.ids[0]))
        except SendFailure as failure:
            if failure.kind is not Failure.BAD_REQUEST:
                raise
            if not pinning:
                log.info("chat %s: unpin refused (%s)", chat.id, failure.description)
                return part.but(pinned=False, pin_unsure=False)
            if _says(failure, "message to pin not found"):
                return part.but(state=GONE, pin_unsure=False)
            if "rights" in failure.description.lower() and chat.pin_refused_at is None:
                log.info("chat %s: no right to pin urgent notices", chat.id)
                self.store.note_pin_refused(chat.id, True)
            return part.but(pin_refused=True, pin_unsure=False)
        if pinning and chat.pin_refused_at is not None:
            self.store.note_pin_refused(chat.id, False)
        return part.but(pinned=pinning, pin_refused=False, pin_unsure=False)

    # --- what a failure means ---------------------------------------------------------
    def _after(self, failure: SendFailure, work: Work, chat: Chat) -> Chat | None:
        """After a failed call: the chat to go on with, or None to stop for now (the
        row was retried later, held, failed or skipped)."""
        delivery = work.delivery
        now = self.store.clock()
        if failure.kind in (Failure.MIGRATED, Failure.GONE):
            return self.sender.follow(failure, chat)
        if failure.kind is Failure.RETRY_AFTER:
            self.store.retry_later(
                delivery.id, now + failure.retry_after, str(failure), count_attempt=False
            )
            return None
        if failure.kind is Failure.HELD:
            self.store.retry_later(delivery.id, now + HOLD_FOR, str(failure), count_attempt=False)
            if self.store.note_trouble(chat.id, failure.description):
                log.warning("chat %s is held: %s", chat.id, failure.description)
                self.held.append((chat, failure.description))
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

    async def tell_admins(self) -> None:
        """Each newly held chat, told to the admins once, in private."""
        while self.held:
            chat, reason = self.held.pop(0)
            name = chat.title or chat.id
            why = "held_topic_closed" if "topic_closed" in reason.lower() else "held_no_rights"
            await self.sender.tell_admins(
                lambda lang, name=name, why=why: t(
                    "chat_held", lang, chat=name, reason=t(why, lang)
                ),
                "held chat",
            )
