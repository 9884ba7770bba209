"""/settings: delivery mode, language, quiet hours and keywords, as inline buttons."""

from __future__ import annotations

import logging

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    Update,
)
from telegram.error import BadRequest

from bot.chat.commands import answer_invalid, button_data, log_ignored, may_manage
from bot.chat.replies import (
    Context,
    language,
    language_for_user,
    ledger_chat,
    runtime,
    send_text,
)
from bot.formatting.formatter import DIGEST_TIMES, MODE_CARD, MODE_DIGEST, MODE_FULL
from bot.i18n import quoted_words, t
from bot.ledger import Chat
from bot.ledger.chat_settings import LANGUAGES, QUIET_END, QUIET_START

log = logging.getLogger(__name__)


def describe(chat: Chat, lang: str) -> str:
    if chat.mode == MODE_DIGEST:
        mode = t("mode_digest", lang, time=_clock(chat.digest_time or DIGEST_TIMES[0], lang))
    else:
        mode = t("mode_full" if chat.mode == MODE_FULL else "mode_card", lang)
    if chat.quiet_start and chat.quiet_end:
        quiet = t("quiet_on", lang, **_quiet_hours(chat.quiet_start, chat.quiet_end, lang))
    else:
        quiet = t("quiet_off", lang)
    if chat.filters:
        filters = t("filters_some", lang, words=quoted_words(chat.filters, lang))
    else:
        filters = t("filters_none", lang)
    text = t("settings_title", lang, mode=mode, quiet=quiet, filters=filters)
    if not chat.subscribed:  # the settings keep, but nothing comes until /subscribe
        text = t("settings_unsubscribed", lang) + "\n\n" + text
    if chat.pin_refused_at is not None:  # said here once, not on every urgent notice
        text += "\n\n" + t("pin_refused", lang)
    return text


def _clock(when: str, lang: str) -> str:
    """``7:00`` in Chinese, which writes no leading zero on an hour; ``07:00`` in English."""
    return when if lang == "en" else when.removeprefix("0")


def _quiet_hours(start: str, end: str, lang: str) -> dict[str, str]:
    return {"start": _clock(start, lang), "end": _clock(end, lang)}


def keyboard(chat: Chat, lang: str) -> InlineKeyboardMarkup:
    def button(key: str, data: str, chosen: bool = False, **values: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            ("✓ " if chosen else "") + t(key, lang, **values), callback_data=data
        )

    digest = [
        button(
            "btn_digest",
            f"set:digest:{when}",
            chat.mode == MODE_DIGEST and chat.digest_time == when,
            time=_clock(when, lang),
        )
        for when in DIGEST_TIMES
    ]
    quiet_on = bool(chat.quiet_start)
    rows = [
        [
            button("btn_card", f"set:mode:{MODE_CARD}", chat.mode == MODE_CARD),
            button("btn_full", f"set:mode:{MODE_FULL}", chat.mode == MODE_FULL),
        ],
        digest,
        [
            InlineKeyboardButton(
                ("✓ " if lang == "zh" else "") + "中文", callback_data="set:lang:zh"
            ),
            InlineKeyboardButton(
                ("✓ " if lang == "en" else "") + "English", callback_data="set:lang:en"
            ),
        ],
        [
            button(
                "btn_quiet",
                f"set:quiet:{'off' if quiet_on else 'on'}",
                quiet_on,
                **_quiet_hours(QUIET_START, QUIET_END, lang),
            )
        ],
    ]
    if chat.filters and chat.subscribed:
        rows.append([button("btn_filters_clear", "set:filters:clear")])
    return InlineKeyboardMarkup(rows)


async def settings(update: Update, context: Context) -> None:
    chat = ledger_chat(update, context)
    lang = language(update, context)
    text = describe(chat, lang) + "\n\n" + t("settings_filters_hint", lang)
    await send_text(update, context, text, reply_markup=keyboard(chat, lang))


async def settings_button(update: Update, context: Context) -> None:
    """A press on a settings menu: the data checked first (Telegram does not check it
    against the menu's buttons), then the presser's right to change this chat."""
    query = update.callback_query
    data = button_data(update)
    changes = _changes(data) if data is not None else None
    if changes is None or not _on_a_settings_menu(query.message):
        if data is not None:
            log_ignored(update, "not a setting of a settings menu")
        await answer_invalid(update, context)
        return
    if not await may_manage(update, context):
        log_ignored(update, "the presser may not change this chat's settings")
        await query.answer(
            t("settings_admins_only", language_for_user(update, context)), show_alert=True
        )
        return
    store = runtime(context).store
    chat = ledger_chat(update, context)
    store.update_chat(chat.id, **changes)
    chat = store.chat(chat.id) or chat
    lang = language(update, context)
    await query.answer(t("saved", language_for_user(update, context)))
    text = describe(chat, lang) + "\n\n" + t("settings_filters_hint", lang)
    try:
        await query.edit_message_text(text, reply_markup=keyboard(chat, lang))
    except BadRequest as error:  # "message is not modified" when nothing changed
        if "not modified" not in error.message.lower():
            log.warning("settings menu in chat %s not updated: %s", chat.id, error)


def _on_a_settings_menu(message: MaybeInaccessibleMessage | None) -> bool:
    """The pressed message is a settings menu: one whose buttons are settings. A card's
    buttons are not, and a message without buttons (a reply, a notice's full text) is
    no menu, so a forged setting on either changes nothing."""
    if not isinstance(message, Message):
        return False
    markup = message.reply_markup
    if markup is None:
        return False
    return any(
        button.callback_data.startswith("set:")
        for row in markup.inline_keyboard
        for button in row
        if isinstance(button.callback_data, str)
    )


def _changes(data: str) -> dict[str, object] | None:
    """What a settings button's data changes; None for data no button of ours carries."""
    prefix, _, rest = data.partition(":")
    key, _, value = rest.partition(":")
    if prefix != "set":
        return None
    if key == "mode" and value in (MODE_CARD, MODE_FULL):
        return {"mode": value}
    if key == "digest" and value in DIGEST_TIMES:
        return {"mode": MODE_DIGEST, "digest_time": value}
    if key == "lang" and value in LANGUAGES:
        return {"language": value}
    if key == "quiet" and value in ("on", "off"):
        on = value == "on"
        return {"quiet_start": QUIET_START if on else None, "quiet_end": QUIET_END if on else None}
    if key == "filters" and value == "clear":
        return {"filters": ()}
    return None
