"""Admin commands: /broadcast, /announce (preview, confirm, live progress), /stats.

Only user ids in ``NOTICEBOT_ADMINS`` may use them; anyone else is refused,
nothing is sent anywhere, and the attempt is logged with the user id.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.chat.commands import answer_invalid, button_data, find_article, log_ignored
from bot.chat.replies import (
    Context,
    is_admin,
    language,
    language_for_user,
    ledger_chat,
    reply,
    runtime,
    send_text,
)
from bot.formatting.formatter import MODE_CARD, format_article
from bot.i18n import format_statuses, t
from bot.ledger import Chat
from bot.ledger.visibility import has_expired
from bot.reading.articles import ArticleError, parse_article
from bot.reading.identity import path_id
from bot.sources.announcements import (
    announcement_file,
    split_title,
    to_markdown,
    write_announcement,
)
from bot.sources.scanning import scan_now

log = logging.getLogger(__name__)

_COMMAND = re.compile(r"^\s*/announce(@\w+)?\s*")
_CONFIRM_DATA = re.compile(r"bc:(yes|no|ack):([0-9a-f]{12})")
CONFIRM_FOR = 15 * 60.0  # seconds a confirmation question may be answered

# Seconds between looks at a broadcast's progress: a group or channel may get only
# 20 messages a minute, edits included, and the notice itself may be one of them.
PROGRESS_EVERY = 2.0
PROGRESS_EVERY_IN_GROUPS = 6.0


@dataclass
class Progress:
    """One broadcast's progress message, and the text it shows now."""

    chat_id: int
    message_id: int
    broadcast_id: int
    lang: str
    every: float
    shown: str = ""


async def refuse(update: Update, context: Context) -> bool:
    """True (and a refusal) when the sender is not an admin."""
    if is_admin(update, context):
        return False
    user = update.effective_user
    command = update.effective_message.text.split()[0]  # only commands are refused
    log.warning(
        "refused %s from user %s in chat %s", command, user and user.id, update.effective_chat.id
    )
    await reply(update, context, "refused")
    return True


async def broadcast(update: Update, context: Context) -> None:
    if await refuse(update, context):
        return
    if not context.args:
        await reply(update, context, "broadcast_usage")
        return
    rt = runtime(context)
    row = find_article(context, context.args[0])
    if row is None:
        await reply(update, context, "not_found")
        return
    if has_expired(row, rt.store.clock()):  # its sends would be skipped: say so, ask nothing
        await reply(update, context, "broadcast_of_expired")
        return
    article_id = row["id"]
    lang = language(update, context)
    here = preview_chat(update, context, lang)
    messages = rt.sender.messages_for(article_id, row["version"], here)
    await rt.sender.send_now(here, (messages or [])[:1], article_id)
    asks = rt.store.ack_round(article_id) is not None  # already: the choice is made
    action = {"kind": "article", "article_id": article_id, "ack": asks, "asks_already": asks}
    await _ask(update, context, action)


async def announce(update: Update, context: Context) -> None:
    """The admin's text with its formatting, as the article file it will become: the
    preview is the first message of its full text, then the usual confirmation."""
    if await refuse(update, context):
        return
    message = update.effective_message
    html = _COMMAND.sub("", message.text_html or "", count=1)
    if not context.args or not html.strip():
        await reply(update, context, "announce_usage")
        return
    rt = runtime(context)
    lang = language(update, context)
    heading, html = split_title(html)
    title = heading or t("announcement", rt.config.lang)
    author = rt.config.org_name or ""  # residents see who it is from, not an admin's name
    markdown = to_markdown(html)
    now = datetime.now(rt.config.tz)
    text = announcement_file(title, author, markdown, now)
    try:
        article = parse_article(text.encode(), Path("announcement.md"), Path("."), rt.config)
    except ArticleError as error:
        log.info("announcement by %s not readable: %s", update.effective_user.id, error.reason)
        await reply(update, context, "announce_unreadable")
        return
    preview = format_article(article, lang, rt.config.tz).text[:1]
    await rt.sender.send_now(preview_chat(update, context, lang), preview, "announce")
    action = {"kind": "announcement", "title": title, "author": author, "markdown": markdown}
    await _ask(update, context, {**action, "when": now})


async def _publish(context: Context, action: dict[str, Any]) -> str | None:
    """The announcement's file written and scanned in: its article id, or None (the
    file is removed then, and why is logged: an announcement nobody got must not stay
    a notice)."""
    rt = runtime(context)
    folder = rt.config.announce_dir
    path = await asyncio.to_thread(
        write_announcement,
        folder,
        action["title"],
        action["author"],
        action["markdown"],
        action["when"],
        ack=action.get("ack", False),
    )
    log.info("announcement written to %s", path)
    await scan_now(rt)
    article_id = path_id(path, folder)
    if rt.store.published(article_id):
        return article_id
    state = rt.store.file_states().get(str(path))
    path.unlink(missing_ok=True)
    log.warning("announcement %s not read: %s", path, state.error if state else "not scanned")
    return None


def preview_chat(update: Update, context: Context, lang: str) -> Chat:
    here = ledger_chat(update, context)
    return Chat(here.id, type=here.type, language=lang, mode=MODE_CARD)


async def _ask(update: Update, context: Context, action: dict[str, Any]) -> None:
    """The confirmation question. Its buttons carry a fresh token, the only copy of which
    is on this question; the pending action remembers who asked and where, so only that
    admin's press there, once and while fresh, sends."""
    rt = runtime(context)
    lang = language(update, context)
    recipients = rt.store.recipients(action.get("article_id"))
    if recipients == 0 and action.get("article_id"):
        nobody = "broadcast_nobody" if rt.store.recipients(None) else "broadcast_no_subscribers"
        await send_text(update, context, t(nobody, lang))
        return
    token = remember_pending(update, context, action)
    question = t("broadcast_confirm", lang, count=recipients)
    buttons = _buttons(token, lang, ack=action.get("ack", False))
    await send_text(update, context, question, reply_markup=buttons)


def remember_pending(update: Update, context: Context, action: dict[str, Any]) -> str:
    """An action waiting for its admin's press: the token its buttons carry."""
    pending = runtime(context).pending
    _forget_stale(pending)
    token = secrets.token_hex(6)
    pending[token] = {
        **action,
        "user": update.effective_user.id,
        "chat": update.effective_chat.id,
        "asked_at": time.monotonic(),
    }
    return token


async def pending_action(
    update: Update, context: Context, token: str, kind: str | None = None
) -> dict[str, Any] | None:
    """The action waiting under ``token``, if this press may act on it: of this
    ``kind`` (None: a broadcast or an announcement), by the admin who asked, in the chat
    they asked in, while fresh. Else the press is answered why not."""
    query = update.callback_query
    presser = update.effective_user
    own_lang = language_for_user(update, context)
    pending = runtime(context).pending
    _forget_stale(pending)
    action = pending.get(token)
    message = query.message
    if action is not None and (action.get("kind") == "feed") != (kind == "feed"):
        action = None  # another question's token: no such confirmation here
    if action is None or message is None or action["chat"] != message.chat.id:
        log_ignored(update, "no such confirmation waits in this chat (used, stale or forged)")
        await query.answer(t("broadcast_expired", own_lang), show_alert=True)
        return None
    if action["user"] != presser.id:
        log.warning(
            "refused confirmation by user %s of what user %s asked", presser.id, action["user"]
        )
        await query.answer(t("confirm_not_yours", own_lang), show_alert=True)
        return None
    return action


def _buttons(token: str, lang: str, *, ack: bool) -> InlineKeyboardMarkup:
    """Confirm, cancel, and whether residents are asked to confirm they read it."""
    asks = t("btn_ask_ack_on" if ack else "btn_ask_ack", lang)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t("btn_confirm", lang), callback_data=f"bc:yes:{token}"),
                InlineKeyboardButton(t("btn_cancel", lang), callback_data=f"bc:no:{token}"),
            ],
            [InlineKeyboardButton(asks, callback_data=f"bc:ack:{token}")],
        ]
    )


def _forget_stale(pending: dict[str, dict[str, Any]]) -> None:
    """Confirmations older than ``CONFIRM_FOR`` cannot be pressed any more."""
    now = time.monotonic()
    for token in [k for k, v in pending.items() if now - v["asked_at"] >= CONFIRM_FOR]:
        del pending[token]


async def confirm_button(update: Update, context: Context) -> None:
    """Confirm or cancel: only a bot admin, only the one who asked, only in the chat the
    question was asked in, only once and while fresh. Anything else changes nothing
    and is answered in the presser's language."""
    query = update.callback_query
    presser = update.effective_user
    own_lang = language_for_user(update, context)
    data = button_data(update)
    match = _CONFIRM_DATA.fullmatch(data or "")
    if match is None:
        if data is not None:
            log_ignored(update, "not a confirmation")
        await answer_invalid(update, context)
        return
    if not is_admin(update, context):
        log.warning("refused broadcast confirmation from user %s", presser and presser.id)
        await query.answer(t("refused", own_lang), show_alert=True)
        return
    answer, token = match.groups()
    action = await pending_action(update, context, token)
    if action is None:
        return
    pending = runtime(context).pending
    message = query.message
    lang = language(update, context)
    if answer == "ack" and action.get("asks_already"):
        await query.answer(t("ack_asks_already", own_lang), show_alert=True)
        return
    if answer == "ack":  # the question stays; only the choice changes
        action["ack"] = not action.get("ack", False)
        await query.answer()
        await query.edit_message_reply_markup(_buttons(token, lang, ack=action["ack"]))
        return
    del pending[token]
    await query.answer()
    if answer != "yes":
        await query.edit_message_text(t("broadcast_cancelled", lang))
        return
    store = runtime(context).store
    article_id = action.get("article_id")
    if article_id is None:
        article_id = await _publish(context, action)
        if article_id is None:
            await query.edit_message_text(t("announce_not_read", lang))
            return
    remind = runtime(context).config.ack_remind
    if action.get("ack") and store.ack_round(article_id) is None:
        when = store.clock() + remind if remind else None
        store.ask_to_confirm(article_id, remind_at=when, remind_after=remind)
    broadcast_id, _ = store.broadcast(article_id, by_user=presser.id)
    log.info("broadcast %s of %s by %s", broadcast_id, article_id, presser.id)
    runtime(context).dispatcher.wake()
    private = message.chat.type == ChatType.PRIVATE
    every = PROGRESS_EVERY if private else PROGRESS_EVERY_IN_GROUPS
    await _follow(context, Progress(message.chat.id, message.message_id, broadcast_id, lang, every))


async def _progress_job(context: Context) -> None:
    await _follow(context, context.job.data)


async def _follow(context: Context, progress: Progress) -> None:
    """Show the progress if it changed, and look again until nothing remains.

    One look at a time (each schedules the next), and no edit that changes
    nothing: Telegram refuses those with "message is not modified".
    """
    counts = runtime(context).store.broadcast_progress(progress.broadcast_id)
    done = counts["remaining"] == 0
    text = t("broadcast_done" if done else "broadcast_progress", progress.lang, **counts)
    if text != progress.shown:
        try:
            await context.bot.edit_message_text(
                text, chat_id=progress.chat_id, message_id=progress.message_id
            )
            progress.shown = text
        except TelegramError as error:
            log.warning("progress message of broadcast %s: %s", progress.broadcast_id, error)
    if done:
        log.info("broadcast %s finished: %s", progress.broadcast_id, counts)
        return
    context.job_queue.run_once(
        _progress_job, progress.every, data=progress, name=f"broadcast-{progress.broadcast_id}"
    )


async def stats(update: Update, context: Context) -> None:
    if await refuse(update, context):
        return
    store = runtime(context).store
    status = store.status()
    lang = language(update, context)
    await reply(
        update,
        context,
        "stats",
        articles=format_statuses(status["articles"], lang),
        active=status["chats"]["active"],
        inactive=len(status["chats"]["inactive"]),
        deliveries=format_statuses(status["deliveries"], lang),
        failures=store.failures_since(store.clock() - 86400),
        **status["upkeep"],
    )
