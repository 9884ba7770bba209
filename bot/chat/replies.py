"""What every handler needs: the runtime, the chat's language, replying in it."""

from __future__ import annotations

from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.i18n import language_for, t
from bot.ledger import Chat
from bot.runtime import Runtime

Context = ContextTypes.DEFAULT_TYPE
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def runtime(context: Context) -> Runtime:
    return context.application.bot_data["runtime"]


def ledger_chat(update: Update, context: Context) -> Chat:
    """This chat as the ledger knows it (remembered on first contact)."""
    tg = update.effective_chat
    assert tg is not None
    return runtime(context).store.remember_chat(tg.id, tg.type, tg.title or tg.username)


def language(update: Update, context: Context) -> str:
    """The chat's chosen language; in a private chat the user's Telegram language."""
    rt = runtime(context)
    tg = update.effective_chat
    chat = rt.store.chat(tg.id) if tg else None
    if chat and chat.language:
        return chat.language
    if tg and tg.type == ChatType.PRIVATE:
        return language_for_user(update, context)
    return rt.config.lang


def language_for_user(update: Update, context: Context) -> str:
    """The user's own language: their private chat's setting, else their Telegram language."""
    rt = runtime(context)
    user = update.effective_user
    if user is None:
        return rt.config.lang
    own = rt.store.chat(user.id)
    if own and own.language:
        return own.language
    return language_for(user.language_code, rt.config.lang)


async def reply(update: Update, context: Context, key: str, **values: Any) -> None:
    """A text reply in the chat's language (and topic), without link previews."""
    await send_text(update, context, t(key, language(update, context), **values))


async def send_text(update: Update, context: Context, text: str, **kwargs: Any) -> None:
    message = update.effective_message
    chat = update.effective_chat
    assert chat is not None
    thread = message.message_thread_id if message and message.is_topic_message else None
    await context.bot.send_message(
        chat.id,
        text,
        message_thread_id=thread,
        link_preview_options=NO_PREVIEW,
        **kwargs,
    )


def is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in runtime(context).config.admins
