"""The bot's own membership: removed or blocked → deactivate; added to a group → greet."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType

from bot.chat.replies import Context, runtime
from bot.i18n import t

log = logging.getLogger(__name__)

GONE = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)
PRESENT = (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.RESTRICTED)


async def my_chat_member(update: Update, context: Context) -> None:
    change = update.my_chat_member
    chat = change.chat
    old, new = change.old_chat_member.status, change.new_chat_member.status
    store = runtime(context).store
    if new in GONE:
        reason = "bot blocked by the user" if chat.type == ChatType.PRIVATE else "bot removed"
        log.info("chat %s: %s", chat.id, reason)
        if store.chat(chat.id) is not None:
            store.deactivate_chat(chat.id, reason)
        return
    if new in PRESENT and old in GONE:
        store.remember_chat(chat.id, chat.type, chat.title or chat.username)
        if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
            lang = runtime(context).config.lang
            await context.bot.send_message(chat.id, t("group_greeting", lang))


async def private_contact(update: Update, context: Context) -> None:
    """Whoever writes to the bot privately can be written to there (a full text sent
    privately from a group needs that), even if they had blocked it before."""
    chat = update.effective_chat
    if chat is not None:
        runtime(context).store.remember_chat(chat.id, chat.type, chat.username)


async def migrated(update: Update, context: Context) -> None:
    """Telegram's word that a group became a supergroup (said in both): move the chat now,
    with its subscription and settings, not at the next failed send."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    if runtime(context).store.migrate_chat(old, new):
        log.info("chat %s migrated to %s", old, new)
