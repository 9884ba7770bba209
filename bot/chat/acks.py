"""Confirmations in chat: the ✅ 收到 button, and /acks for the bot's admins.

Anyone who sees a notice that asks may confirm it, once a round, in the chat they
see it in. Residents see only counts (on a group's card); who confirmed is shown
to bot admins alone, and names only in their private chat with the bot.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.constants import ChatType

from bot.chat.admin import refuse
from bot.chat.commands import answer_invalid, button_data, find_article, log_ignored
from bot.chat.replies import Context, language, language_for_user, runtime, send_text
from bot.formatting.acks import ACK_DATA
from bot.formatting.formatter import text_messages
from bot.i18n import format_datetime, t
from bot.ledger import WITHDRAWN, Store
from bot.ledger.visibility import has_expired
from bot.reading.richtext import RichText

log = logging.getLogger(__name__)

LIST_LIMIT = 10  # notices /acks lists
NAMES_LIMIT = 40  # names /acks ID shows (one message); the CSV has everyone
RENEW_WORDS = ("renew", "重新确认", "重新")


async def ack_button(update: Update, context: Context) -> None:
    """A press of ✅ 收到: recorded once per person, chat and round, and answered."""
    query = update.callback_query
    data = button_data(update)
    lang = language_for_user(update, context)
    message = query.message
    user = update.effective_user
    article_id = (data or "")[len(ACK_DATA) :]
    rt = runtime(context)
    row = rt.store.article(article_id) if article_id else None
    if row is None or message is None or user is None:
        if data is not None:
            log_ignored(update, "no such notice")
        await answer_invalid(update, context)
        return
    chat = message.chat
    if row["status"] == WITHDRAWN:
        await query.answer(t("ack_withdrawn", lang))
        return
    if has_expired(row, rt.store.clock()):
        await query.answer(t("ack_expired", lang))
        return
    if chat.type != ChatType.PRIVATE and not rt.store.reached(article_id, chat.id):
        log_ignored(update, "the notice was never shown in this chat")
        await answer_invalid(update, context)
        return
    name = " ".join(filter(None, [user.full_name, f"@{user.username}" if user.username else ""]))
    recorded = rt.store.record_ack(article_id, chat.id, user.id, name, row["content_hash"])
    if recorded is None:
        await query.answer(t("ack_not_asked", lang))
        return
    added, at = recorded
    if added:
        await query.answer(t("ack_thanks", lang))
        return
    when = datetime.fromtimestamp(at, rt.config.tz)
    now = datetime.fromtimestamp(rt.store.clock(), rt.config.tz)
    shown = (
        f"{when:%H:%M}"
        if when.date() == now.date()
        else format_datetime(when, lang, rt.config.tz, now)
    )
    await query.answer(t("ack_already", lang, time=shown))


async def acks_command(update: Update, context: Context) -> None:
    """/acks: the notices that ask; /acks ID: who confirmed; /acks ID renew: ask again."""
    if await refuse(update, context):
        return
    rt = runtime(context)
    lang = language(update, context)
    args = context.args or []
    if not args:
        await send_text(update, context, overview(rt.store, lang))
        return
    row = find_article(context, args[0]) or rt.store.article(args[0].lower())  # or withdrawn
    if len(args) > 2 or (len(args) == 2 and args[1].lower() not in RENEW_WORDS):
        await send_text(update, context, t("acks_usage", lang))
        return
    if row is None or rt.store.ack_round(row["id"]) is None:
        await send_text(update, context, t("not_found" if row is None else "acks_not_asking", lang))
        return
    if len(args) == 2:
        round_ = rt.store.renew_acks(row["id"])
        log.info("confirmations of %s asked again by %s", row["id"], update.effective_user.id)
        rt.dispatcher.wake()
        await send_text(update, context, t("acks_renewed", lang, round=round_))
        return
    private = update.effective_chat.type == ChatType.PRIVATE
    text = detail(rt.store, row["id"], lang, rt.config.tz, names=private)
    for part in in_messages(text):
        await send_text(update, context, part)


def in_messages(text: str) -> list[str]:
    """The text in as few messages as Telegram takes, cut where the splitter cuts."""
    return [message.params["text"] for message in text_messages(RichText(text))]


def overview(store: Store, lang: str) -> str:
    rows = store.ack_overview(LIST_LIMIT)
    if not rows:
        return t("acks_none", lang)
    lines = [t("acks_list_title", lang)]
    lines += [t("acks_list_line", lang, **row) for row in rows]
    return "\n".join(lines)


def detail(store: Store, article_id: str, lang: str, tz: ZoneInfo, *, names: bool) -> str:
    """Per chat, then (``names``: in an admin's private chat) who confirmed."""
    row = store.article(article_id)
    chats = store.ack_chats(article_id)
    people = store.ack_people(article_id)
    private = [c for c in chats if c["type"] == "private"]
    lines = [
        t(
            "acks_detail_title",
            lang,
            title=row["title"],
            round=store.ack_round(article_id),
            confirmed=len({p["user_id"] for p in people}),
            reached=sum(c["reached"] for c in chats),
        )
    ]
    reached = [c for c in private if c["reached"]]
    if reached:
        confirmed = sum(1 for c in reached if c["confirmed"])
        lines.append(t("acks_private_line", lang, confirmed=confirmed, reached=len(reached)))
    for chat in chats:
        if chat["type"] != "private":
            lines.append(
                t("acks_chat_line", lang, chat=chat["title"] or chat["id"], count=chat["confirmed"])
            )
    if names:
        for person in people[:NAMES_LIMIT]:
            where = (
                t("private_chat", lang)
                if person["chat_type"] == "private"
                else person["chat_title"] or person["chat_id"]
            )
            when = format_datetime(datetime.fromtimestamp(person["at"], tz), lang, tz)
            lines.append(
                t(
                    "acks_person",
                    lang,
                    name=person["name"] or person["user_id"],
                    chat=where,
                    time=when,
                    version=person["version_number"] or "?",
                )
            )
        if len(people) > NAMES_LIMIT:
            lines.append(t("acks_more", lang, count=len(people) - NAMES_LIMIT, id=article_id))
    return "\n".join(lines)
