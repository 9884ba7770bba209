"""What residents use: /start, /help, /subscribe, /unsubscribe, /latest, /read, /search."""

from __future__ import annotations

import asyncio
import logging
import re
import time

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

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
from bot.formatting.acks import without_ack_button
from bot.formatting.formatter import MODE_FULL, text_messages
from bot.formatting.lists import notice_list
from bot.i18n import quoted_words, t
from bot.keywords import keywords
from bot.ledger import Chat, Store
from bot.ledger.catalogue import SearchTooSlow
from bot.ledger.visibility import has_expired
from bot.reading.identity import slug_id
from bot.sending.transport import SendFailure

log = logging.getLogger(__name__)

LATEST_DEFAULT = 5
LATEST_MAX = 20
SEARCH_LIMIT = 10
ADMIN_STATUSES = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
# Telegram's stand-in for an anonymous group administrator.
GROUP_ANONYMOUS_BOT = 1087968824
MEMBER_CACHE_SECONDS = 60.0
MEMBER_CACHE_SIZE = 10_000  # entries before the stale ones are dropped
MAX_BUTTON_DATA = 64  # bytes: Telegram's limit on a button's callback data
_READ_LINK = re.compile(r"^/read_(\S{0,40}?)(?:@\w+)?$", re.IGNORECASE)
MAX_KEYWORDS = 20  # more would not fit the confirmation, and would match nearly anything


async def start(update: Update, context: Context) -> None:
    if context.args and context.args[0] == "subscribe":
        await subscribe(update, context)
        return
    if context.args and context.args[0].startswith("read_"):
        await _send_article(update, context, context.args[0].removeprefix("read_"))
        return
    await reply(update, context, "welcome")


async def help_command(update: Update, context: Context) -> None:
    lang = language(update, context)
    text = t("help", lang) + (t("help_admin", lang) if is_admin(update, context) else "")
    await send_text(update, context, text)


async def subscribe(update: Update, context: Context) -> None:
    args = [a for a in (context.args or []) if a != "subscribe"]
    if args and args[0].startswith("@") and update.effective_chat.type == ChatType.PRIVATE:
        await _subscribe_channel(update, context, args[0])
        return
    if not await may_manage(update, context):
        await reply(update, context, "admins_only")
        return
    message = update.effective_message
    tg = update.effective_chat
    thread = message.message_thread_id if message and message.is_topic_message else None
    words = keywords(" ".join(args))
    dropped = len(words) > MAX_KEYWORDS
    words = words[:MAX_KEYWORDS]
    current = ledger_chat(update, context)
    runtime(context).store.subscribe(
        Chat(
            tg.id,
            type=tg.type,
            title=tg.title or tg.username,
            filters=words,
            thread_id=thread,
            language=current.language,
            mode=current.mode,
        )
    )
    lang = language(update, context)
    if words:
        text = t("subscribed_words", lang, words=quoted_words(words, lang))
        if dropped:
            text += t("too_many_keywords", lang, count=MAX_KEYWORDS)
        await send_text(update, context, text)
    else:
        await reply(update, context, "subscribed" if thread is None else "subscribed_topic")


async def _subscribe_channel(update: Update, context: Context, name: str) -> None:
    """``/subscribe @channel`` in private: the user and the bot must both administer it."""
    try:
        channel = await context.bot.get_chat(name)
        member = await context.bot.get_chat_member(channel.id, update.effective_user.id)
        me = await context.bot.get_chat_member(channel.id, context.bot.id)
    except TelegramError as error:
        log.info("cannot check %s for %s: %s", name, update.effective_user.id, error)
        await reply(update, context, "channel_not_admin", channel=name)
        return
    if member.status not in ADMIN_STATUSES or me.status not in ADMIN_STATUSES:
        await reply(update, context, "channel_not_admin", channel=name)
        return
    runtime(context).store.subscribe(Chat(channel.id, type=ChatType.CHANNEL, title=channel.title))
    await reply(update, context, "subscribed_channel", channel=name)


async def unsubscribe(update: Update, context: Context) -> None:
    if not await may_manage(update, context):
        await reply(update, context, "admins_only")
        return
    done = runtime(context).store.unsubscribe(update.effective_chat.id)
    await reply(update, context, "unsubscribed" if done else "not_subscribed")


async def may_manage(update: Update, context: Context) -> bool:
    """Who may change this chat's subscription and settings.

    A button press is judged by who pressed it, every time: Telegram lets anyone who
    sees a message press any data on it, and in a channel the presser is a subscriber,
    never "the channel". A private chat's presses come from its owner; in a group or
    channel the presser must administer it. A message: a private chat's owner, a channel
    post (only admins post), an anonymous administrator speaking as the group, or a
    group member getChatMember calls an administrator.
    """
    tg = update.effective_chat
    user = update.effective_user
    if tg is None:
        return False
    if update.callback_query is not None:
        if user is None:
            return False
        if tg.type == ChatType.PRIVATE:
            return user.id == tg.id
        return user.id != GROUP_ANONYMOUS_BOT and await _administers(context, tg.id, user.id)
    if tg.type in (ChatType.PRIVATE, ChatType.CHANNEL):
        return True
    message = update.effective_message
    if message and message.sender_chat and message.sender_chat.id == tg.id:
        return True  # an anonymous administrator speaking as the group
    if user is None or user.id == GROUP_ANONYMOUS_BOT:
        return False
    return await _administers(context, tg.id, user.id)


async def _administers(context: Context, chat_id: int, user_id: int) -> bool:
    """getChatMember of the user, remembered for ``MEMBER_CACHE_SECONDS`` per (chat, user):
    a user hammering buttons costs one lookup a minute, a demotion counts within one."""
    cache: dict[tuple[int, int], tuple[float, bool]] = context.bot_data.setdefault(
        "administers", {}
    )
    now = time.monotonic()
    known = cache.get((chat_id, user_id))
    if known is not None and now - known[0] < MEMBER_CACHE_SECONDS:
        return known[1]
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError as error:
        log.warning("getChatMember %s/%s failed: %s", chat_id, user_id, error)
        return False
    if len(cache) > MEMBER_CACHE_SIZE:
        for key in [k for k, (at, _) in cache.items() if now - at >= MEMBER_CACHE_SECONDS]:
            del cache[key]
    admin = member.status in ADMIN_STATUSES
    cache[(chat_id, user_id)] = (now, admin)
    return admin


def button_data(update: Update) -> str | None:
    """The pressed data, or None (logged) when it cannot be a button of ours: missing or
    over Telegram's 64 bytes. Telegram does not check it, so every handler must."""
    query = update.callback_query
    data = query.data if query is not None else None
    if data and len(data.encode()) <= MAX_BUTTON_DATA:
        return data
    log_ignored(update, "over-long or empty data")
    return None


def log_ignored(update: Update, why: str) -> None:
    """One INFO line for a press the bot ignores: forged or stale, not the bot's error."""
    query = update.callback_query
    data = (query.data or "") if query is not None else ""
    user = update.effective_user
    chat = update.effective_chat
    log.info(
        "ignored button %r from user %s in chat %s: %s",
        data[:MAX_BUTTON_DATA],
        user and user.id,
        chat and chat.id,
        why,
    )


async def answer_invalid(update: Update, context: Context) -> None:
    """A short answer, in the presser's language, to a press that means nothing."""
    await update.callback_query.answer(t("button_invalid", language_for_user(update, context)))


async def unknown_button(update: Update, context: Context) -> None:
    """Any press no other handler took (a forged prefix): answered, so the spinner stops,
    and otherwise ignored."""
    if update.callback_query is None:
        return
    log_ignored(update, "unknown button")
    await answer_invalid(update, context)


async def latest(update: Update, context: Context) -> None:
    count = LATEST_DEFAULT
    if context.args and context.args[0].isdecimal() and context.args[0].isascii():
        count = max(1, min(LATEST_MAX, int(context.args[0])))
    rows = runtime(context).store.recent_articles(count)
    if not rows:
        await reply(update, context, "latest_empty")
        return
    await _send_list(update, context, rows, t("latest_title", language(update, context)))


async def search(update: Update, context: Context) -> None:
    """Words as /subscribe takes them (quotes dropped, apart at Chinese commas); notices
    with all of them, else with any, so ``/search 停水 停电`` is not a dead end."""
    words = keywords(" ".join(context.args or [])[:200])
    query = " ".join(words)
    if not query:
        await reply(update, context, "search_usage")
        return
    try:  # off the event loop: other chats' updates go on meanwhile
        rows, any_word = await asyncio.to_thread(_search, runtime(context).store, words)
    except SearchTooSlow:
        await reply(update, context, "search_too_slow")
        return
    if not rows:
        await reply(update, context, "search_empty", query=query)
        return
    lang = language(update, context)
    if any_word:
        title = t("search_title_any", lang, words=quoted_words(words, lang), count=len(rows))
    else:
        key = "search_title_more" if len(rows) == SEARCH_LIMIT else "search_title"
        title = t(key, lang, query=query, count=len(rows))
    await _send_list(update, context, rows, title)


def _search(store: Store, words: tuple[str, ...]) -> tuple[list[dict], bool]:
    """Notices with every word; else (True) those with any of the first few."""
    rows = store.search(" ".join(words), SEARCH_LIMIT)
    if rows or len(words) < 2:
        return rows, False
    found = {row["id"]: row for word in words[:5] for row in store.search(word, SEARCH_LIMIT)}
    newest = sorted(found.values(), key=lambda row: row["date"], reverse=True)
    return newest[:SEARCH_LIMIT], True


async def _send_list(update: Update, context: Context, rows: list[dict], title: str) -> None:
    rt = runtime(context)
    rich = notice_list(title, rows, language(update, context), rt.config.tz, rt.store.clock())
    for part in text_messages(rich):
        entities = [MessageEntity(**entity) for entity in part.params["entities"]]
        await send_text(update, context, part.params["text"], entities=entities)


async def read(update: Update, context: Context) -> None:
    if not context.args:
        await reply(update, context, "read_usage")
        return
    await _send_article(update, context, context.args[0])


async def read_link(update: Update, context: Context) -> None:
    """``/read_<id>``, the tappable form in lists."""
    match = _READ_LINK.match((update.effective_message.text or "").split()[0])
    if match:
        await _send_article(update, context, match.group(1))
    else:
        await reply(update, context, "not_found")


def find_article(context: Context, wanted: str) -> dict | None:
    """The published notice ``wanted`` names: its id in any case, the ``/read_`` link
    copied whole, or the slug as its editor wrote it (``tingshui-1208``)."""
    store = runtime(context).store
    name = wanted.strip().removeprefix("/")
    name = name[5:] if name.lower().startswith("read_") else name
    for candidate in dict.fromkeys((name.lower(), slug_id(name))):
        if candidate and (row := store.published(candidate[:40])) is not None:
            return row
    return None


async def read_button(update: Update, context: Context) -> None:
    """The card's "read full text" button, answered at once so the spinner stops. In a
    private chat the card is right above, so only the rest follows it. In a group or
    channel the text goes to the reader's private chat, so one reader's tap does not
    post it for everyone; a reader the bot cannot write to yet is taken there."""
    query = update.callback_query
    data = button_data(update)
    if data is None:
        await answer_invalid(update, context)
        return
    article_id = data.removeprefix("read:")
    lang = language_for_user(update, context)
    row = runtime(context).store.published(article_id)
    if row is None:
        await query.answer(t("not_found", lang), show_alert=True)
    elif update.effective_chat is None or update.effective_chat.type == ChatType.PRIVATE:
        await query.answer()
        here = ledger_chat(update, context)
        reader = Chat(here.id, type=here.type, language=language(update, context), mode=MODE_FULL)
        await _deliver_article(context, reader, row, card=False)
    elif _can_write_to(context, update.effective_user.id):
        await query.answer(t("sent_privately", lang))
        await _read_privately(update, context, row)
    else:
        await query.answer(url=_read_link(context, article_id))


async def _send_article(update: Update, context: Context, wanted: str) -> None:
    """Card, full text and albums of one article in this chat, in the chat's language.

    In a group, only its administrators post a whole notice there; anyone else gets
    it privately (or a button that opens the private chat), and the group a short line.
    """
    here = ledger_chat(update, context)
    row = find_article(context, wanted)
    if row is None:
        await reply(update, context, "not_found")
        return
    if here.type in (ChatType.GROUP, ChatType.SUPERGROUP) and not await may_manage(update, context):
        await _read_in_private_instead(update, context, row)
        return
    message = update.effective_message
    thread = message.message_thread_id if message and message.is_topic_message else None
    lang = language(update, context)
    chat = Chat(here.id, type=here.type, language=lang, mode=MODE_FULL, thread_id=thread)
    if not await _deliver_article(context, chat, row):
        await reply(update, context, "not_found")


async def _read_in_private_instead(update: Update, context: Context, row: dict) -> None:
    """The group gets one line, as a reply to the member who asked."""
    lang = language(update, context)
    message = update.effective_message
    asked = ReplyParameters(message.message_id, allow_sending_without_reply=True)
    if _can_write_to(context, update.effective_user.id) and await _read_privately(
        update, context, row
    ):
        await send_text(update, context, t("sent_privately", lang), reply_parameters=asked)
        return
    link = InlineKeyboardButton(t("btn_read_privately", lang), url=_read_link(context, row["id"]))
    await send_text(
        update,
        context,
        t("read_in_private", lang),
        reply_markup=InlineKeyboardMarkup([[link]]),
        reply_parameters=asked,
    )


async def _read_privately(update: Update, context: Context, row: dict) -> bool:
    """The full text in the user's private chat; False (and the chat marked) if refused."""
    user = update.effective_user
    reader = Chat(
        user.id, type=ChatType.PRIVATE, language=language_for_user(update, context), mode=MODE_FULL
    )
    try:
        await _deliver_article(context, reader, row)
    except SendFailure as failure:
        log.info("full text for %s not sent privately: %s", reader.id, failure)
        return False  # a chat that is gone was deactivated by the sender
    return True


def _can_write_to(context: Context, user_id: int) -> bool:
    """The user has a private chat with the bot that has not refused it."""
    own = runtime(context).store.chat(user_id)
    return own is not None and own.active


def _read_link(context: Context, article_id: str) -> str:
    """Opens the private chat with the bot, where Start sends the full text."""
    return f"https://t.me/{context.bot.username}?start=read_{article_id}"


async def _deliver_article(context: Context, chat: Chat, row: dict, *, card: bool = True) -> bool:
    """Send a published article (``Store.published``) to ``chat`` now; False when its
    text cannot be had. ``card=False``: the chat has the card already, right above."""
    rt = runtime(context)
    expired = has_expired(row, rt.store.clock())
    messages = rt.sender.messages_for(row["id"], row["version"], chat, expired=expired)
    if messages is None:
        return False
    if not card:
        messages = [m for m in messages if m.part != "card"]
    if chat.type != "private" and not rt.store.reached(row["id"], chat.id):
        messages = without_ack_button(messages)  # a press here could not count
    if messages:
        await rt.sender.send_now(chat, messages, row["id"])
    return True


async def private_text(update: Update, context: Context) -> None:
    """Anything else in a private chat: a command the bot does not know is told so; a
    message (a resident's question) is told the bot cannot answer, and where to turn."""
    message = update.effective_message
    if message is not None and (message.text or "").startswith("/"):
        await reply(update, context, "unknown_command")
        return
    contact = runtime(context).config.contact
    if contact:
        await reply(update, context, "free_text_contact", contact=contact)
    else:
        await reply(update, context, "free_text")
