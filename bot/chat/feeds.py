"""Feeds managed in the chat by the bot's admins: /feeds lists them with buttons to
pause, resume or remove each; /addfeed reads a feed once, shows its newest entry as
subscribers would get it, and adds it when confirmed.

Only in an admin's private chat: a feed's address may be a private source's, and a
group's members would see it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import BadRequest

from bot.chat.admin import pending_action, preview_chat, refuse, remember_pending
from bot.chat.commands import answer_invalid, button_data, log_ignored
from bot.chat.replies import (
    Context,
    is_admin,
    language,
    language_for_user,
    reply,
    runtime,
    send_text,
)
from bot.formatting.formatter import format_article
from bot.i18n import format_datetime, t
from bot.ledger import FeedSource, FeedState
from bot.logs import shown_url
from bot.reading.articles import article_from_json
from bot.runtime import Runtime
from bot.sources.feeds import feed_name
from bot.sources.managed_feeds import (
    Refused,
    add_feed,
    all_feeds,
    checked_category,
    checked_url,
    find_feed,
    remove_feed,
    set_paused,
    try_feed,
)

log = logging.getLogger(__name__)

EXAMPLE = "https://example.org/feed.xml"
PAGE = 6  # feeds on one page of /feeds: at SHORT_LINE, below 4,096 characters in English
SHORT_LINE = 120  # characters of a title, an address or an error a page shows
SHORT_NAME = 60  # of a feed's name in a press's answer (200 at most) and a question
_DATA = re.compile(r"fd:(?:([prxkw]):([0-9a-f]{8}):(\d{1,4})|l:(\d{1,4})|([an]):([0-9a-f]{12}))")


async def _private_admin(update: Update, context: Context) -> bool:
    """An admin, in private: else refused, or told to come to the private chat."""
    if await refuse(update, context):
        return False
    if update.effective_chat.type != ChatType.PRIVATE:
        await reply(update, context, "feeds_private_only")
        return False
    return True


async def feeds_command(update: Update, context: Context) -> None:
    if not await _private_admin(update, context):
        return
    text, buttons = _page(runtime(context), language(update, context), 0)
    await send_text(update, context, text, reply_markup=buttons)


async def addfeed(update: Update, context: Context) -> None:
    if not await _private_admin(update, context):
        return
    rt = runtime(context)
    lang = language(update, context)
    if not context.args:
        await reply(update, context, "addfeed_usage", example=EXAMPLE)
        return
    try:
        category = checked_category(" ".join(context.args[1:]))
        url = await asyncio.to_thread(checked_url, context.args[0], rt.store, rt.config)
        now = rt.store.clock()
        trial = await asyncio.to_thread(try_feed, url, rt.config, rt.http, category, now)
    except Refused as refused:
        await send_text(update, context, t(refused.key, lang, **refused.values))
        return
    entries = trial.read.state.entries
    name = _short(trial.title or shown_url(url), SHORT_LINE)
    shown = _short(shown_url(url), SHORT_LINE)
    summary = t("addfeed_found", lang, title=name, url=shown, count=entries)
    if category:
        summary += "\n" + t("feed_category", lang, category=category)
    newest = trial.newest
    summary += "\n" + t("addfeed_newest" if newest else "addfeed_empty", lang)
    await send_text(update, context, summary)
    if newest is not None:  # as a subscriber's card in this language (the planner's way)
        here = preview_chat(update, context, lang)
        formatted = format_article(article_from_json(newest.version), lang, rt.config.tz)
        await rt.sender.send_now(here, formatted.for_mode(here.mode), "feed preview")
    action = {"kind": "feed", "url": url, "category": category}
    token = remember_pending(update, context, action)
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t("btn_add_feed", lang), callback_data=f"fd:a:{token}"),
                InlineKeyboardButton(t("btn_cancel", lang), callback_data=f"fd:n:{token}"),
            ]
        ]
    )
    await send_text(
        update, context, t("addfeed_confirm", lang, count=entries), reply_markup=buttons
    )


async def feed_button(update: Update, context: Context) -> None:
    """Pause, resume, remove (asked first: keep or withdraw the feed's notices), a page
    of the list, or the answer to /addfeed's question; only a bot admin's press."""
    query = update.callback_query
    data = button_data(update)
    match = _DATA.fullmatch(data or "")
    if match is None:
        if data is not None:
            log_ignored(update, "not a feed button")
        await answer_invalid(update, context)
        return
    if not is_admin(update, context):
        user = update.effective_user
        log.warning("refused a feed button from user %s", user and user.id)
        await query.answer(t("refused", language_for_user(update, context)), show_alert=True)
        return
    verb, feed, page, listed, answer, token = match.groups()
    if listed is not None:
        await query.answer()
        await _show_page(update, context, int(listed))
    elif answer is not None:
        await _answer_add(update, context, answer, token)
    else:
        await _act(update, context, verb, feed, int(page))


async def _act(update: Update, context: Context, verb: str, feed: str, page: int) -> None:
    rt = runtime(context)
    lang = language(update, context)
    query = update.callback_query
    try:
        source = find_feed(rt.store, rt.config, feed)
    except Refused as refused:
        await query.answer(t(refused.key, lang, **refused.values), show_alert=True)
        await _show_page(update, context, page)
        return
    name = _short(feed_name(source, rt.store.feed_state(source.url)), SHORT_NAME)
    who = update.effective_user.id
    if verb in "pr":
        set_paused(rt.store, source, verb == "p")
        log.info(
            "feed %s %s by %s", shown_url(source.url), "paused" if verb == "p" else "resumed", who
        )
        await query.answer(t("feed_paused" if verb == "p" else "feed_resumed", lang, feed=name))
        await _show_page(update, context, page)
        return
    if verb == "x":
        await query.answer()
        count = len(rt.store.feed_notices(source.url))
        await query.edit_message_text(
            t("feed_remove_ask", lang, feed=name, count=count),
            reply_markup=_remove_buttons(source, lang, page),
        )
        return
    withdraw = verb == "w"
    await query.answer()  # now: a round of reads may hold the lock past Telegram's 15 s
    async with rt.reading_feeds:  # not while a read of it may save its entries
        report = await asyncio.to_thread(remove_feed, rt.store, rt.feed_reader, source, withdraw)
    log.info(
        "feed %s removed by %s (withdrawn: %d)", shown_url(source.url), who, len(report.withdrawn)
    )
    if report.work:
        rt.dispatcher.wake()
    key = "feed_removed_withdrawn" if withdraw else "feed_removed_kept"
    await query.edit_message_text(t(key, lang, feed=name, count=len(report.withdrawn)))


def _remove_buttons(source: FeedSource, lang: str, page: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t("btn_remove_keep", lang), callback_data=f"fd:k:{source.id}:{page}"
                )
            ],
            [
                InlineKeyboardButton(
                    t("btn_remove_withdraw", lang), callback_data=f"fd:w:{source.id}:{page}"
                )
            ],
            [InlineKeyboardButton(t("btn_cancel", lang), callback_data=f"fd:l:{page}")],
        ]
    )


async def _answer_add(update: Update, context: Context, answer: str, token: str) -> None:
    action = await pending_action(update, context, token, "feed")
    if action is None:
        return
    rt = runtime(context)
    lang = language(update, context)
    query = update.callback_query
    del rt.pending[token]
    await query.answer()
    if answer != "a":
        await query.edit_message_text(t("addfeed_cancelled", lang))
        return
    source = FeedSource(
        action["url"],
        category=action["category"],
        added_at=rt.store.clock(),
        added_by=str(update.effective_user.id),
    )
    try:
        async with rt.reading_feeds:
            state = await asyncio.to_thread(
                add_feed, rt.store, rt.config, rt.http, source, rt.feed_reader
            )
    except Refused as refused:
        await query.edit_message_text(t(refused.key, lang, **refused.values))
        return
    log.info("feed %s added by %s", shown_url(source.url), update.effective_user.id)
    name = _short(feed_name(source, state), SHORT_NAME)
    await query.edit_message_text(t("addfeed_added", lang, feed=name, count=state.entries))


async def _show_page(update: Update, context: Context, page: int) -> None:
    text, buttons = _page(runtime(context), language(update, context), page)
    try:
        await update.callback_query.edit_message_text(text, reply_markup=buttons)
    except BadRequest as error:  # pressed twice: the page already shows this
        if "not modified" not in str(error):
            raise


def _page(rt: Runtime, lang: str, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the feeds, with a row of buttons for each added feed and a row to
    turn the page."""
    feeds = all_feeds(rt.store, rt.config)
    if not feeds:
        return t("feeds_none", lang), None
    pages = (len(feeds) + PAGE - 1) // PAGE
    page = min(max(page, 0), pages - 1)
    states = {state.url: state for state in rt.store.feed_states()}
    lines = [t("feeds_title", lang, count=len(feeds), page=page + 1, pages=pages)]
    rows: list[list[InlineKeyboardButton]] = []
    for number, source in enumerate(feeds[page * PAGE : (page + 1) * PAGE], page * PAGE + 1):
        state = states.get(source.url) or FeedState(source.url)
        lines.append(_describe(rt, source, state, number, lang))
        if source.configured:
            continue
        pause = ("r", "btn_feed_resume") if source.paused else ("p", "btn_feed_pause")
        rows.append(
            [
                InlineKeyboardButton(
                    t(pause[1], lang, number=number),
                    callback_data=f"fd:{pause[0]}:{source.id}:{page}",
                ),
                InlineKeyboardButton(
                    t("btn_feed_remove", lang, number=number),
                    callback_data=f"fd:x:{source.id}:{page}",
                ),
            ]
        )
    turn = []
    if page > 0:
        turn.append(
            InlineKeyboardButton(t("btn_page_back", lang), callback_data=f"fd:l:{page - 1}")
        )
    if page < pages - 1:
        turn.append(
            InlineKeyboardButton(t("btn_page_next", lang), callback_data=f"fd:l:{page + 1}")
        )
    if turn:
        rows.append(turn)
    return "\n\n".join(lines), InlineKeyboardMarkup(rows) if rows else None


def _describe(rt: Runtime, source: FeedSource, state: FeedState, number: int, lang: str) -> str:
    """A feed in a few lines: name, address, category and pace, what it last did."""
    now = datetime.fromtimestamp(rt.store.clock(), rt.config.tz)

    def when(moment: float | None) -> str:
        if moment is None:
            return t("feed_never", lang)
        return format_datetime(
            datetime.fromtimestamp(moment, rt.config.tz), lang, rt.config.tz, now
        )

    name = _short(source.title or state.title or t("feed_untitled", lang), SHORT_LINE)
    lines = [f"{number}. {name}", f"   {_short(shown_url(source.url), SHORT_LINE)}"]
    minutes = max(1, round((source.interval or rt.config.feed_interval) / 60))
    facts: list[str] = []
    if source.category:
        facts.append(t("feed_category", lang, category=source.category))
    facts.append(t("feed_every", lang, minutes=minutes))
    if source.configured:
        facts.append(t("feed_from_config", lang))
    if source.paused:
        facts.append(t("feed_is_paused", lang))
    lines.append("   " + " · ".join(facts))
    last_new = rt.store.feed_last_new(source.url, state.baselined_at)
    lines.append(
        "   "
        + t(
            "feed_read_line",
            lang,
            fetched=when(state.fetched_at),
            count=state.entries,
            new=when(last_new),
        )
    )
    if state.failures:
        error = _short(state.error or "", SHORT_LINE)
        lines.append("   " + t("feed_failing_line", lang, count=state.failures, error=error))
    return "\n".join(lines)


def _short(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
