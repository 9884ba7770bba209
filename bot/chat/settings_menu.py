"""/settings: delivery mode, language, quiet hours and keywords, as inline buttons."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot.chat.commands import may_manage
from bot.chat.replies import Context, language, ledger_chat, runtime, send_text
from bot.formatting.formatter import DIGEST_TIMES, MODE_CARD, MODE_DIGEST, MODE_FULL
from bot.i18n import t
from bot.ledger import Chat
from bot.ledger.chat_settings import LANGUAGES, QUIET_END, QUIET_START


def describe(chat: Chat, lang: str) -> str:
    if chat.mode == MODE_DIGEST:
        mode = t("mode_digest", lang, time=chat.digest_time or DIGEST_TIMES[0])
    else:
        mode = t("mode_full" if chat.mode == MODE_FULL else "mode_card", lang)
    quiet = f"{chat.quiet_start}–{chat.quiet_end}" if chat.quiet_start else t("quiet_off", lang)
    filters = "、".join(chat.filters) or t("filters_none", lang)
    text = t("settings_title", lang, mode=mode, quiet=quiet, filters=filters)
    if chat.pin_refused_at is not None:  # said here once, not on every urgent notice
        text += "\n\n" + t("pin_refused", lang)
    return text


def keyboard(chat: Chat, lang: str) -> InlineKeyboardMarkup:
    def button(key: str, data: str, chosen: bool = False, **values: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            ("✓ " if chosen else "") + t(key, lang, **values), callback_data=data
        )

    digest = [
        InlineKeyboardButton(
            ("✓ " if chat.mode == MODE_DIGEST and chat.digest_time == when else "")
            + f"{t('btn_digest', lang)} {when}",
            callback_data=f"set:digest:{when}",
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
                "btn_quiet_off" if quiet_on else "btn_quiet",
                f"set:quiet:{'off' if quiet_on else 'on'}",
            )
        ],
    ]
    if chat.filters:
        rows.append([button("btn_filters_clear", "set:filters:clear")])
    return InlineKeyboardMarkup(rows)


async def settings(update: Update, context: Context) -> None:
    chat = ledger_chat(update, context)
    lang = language(update, context)
    text = describe(chat, lang) + "\n\n" + t("settings_filters_hint", lang)
    await send_text(update, context, text, reply_markup=keyboard(chat, lang))


async def settings_button(update: Update, context: Context) -> None:
    query = update.callback_query
    if not await may_manage(update, context):
        await query.answer(t("admins_only", language(update, context)), show_alert=True)
        return
    _, key, value = (query.data or "::").split(":", 2)
    store = runtime(context).store
    chat = ledger_chat(update, context)
    changes = _changes(key, value)
    if changes:
        store.update_chat(chat.id, **changes)
    chat = store.chat(chat.id) or chat
    lang = language(update, context)
    await query.answer(t("saved", lang))
    text = describe(chat, lang) + "\n\n" + t("settings_filters_hint", lang)
    try:
        await query.edit_message_text(text, reply_markup=keyboard(chat, lang))
    except BadRequest as error:  # "message is not modified" when nothing changed
        if "not modified" not in error.message.lower():
            raise


def _changes(key: str, value: str) -> dict[str, object]:
    if key == "mode" and value in (MODE_CARD, MODE_FULL):
        return {"mode": value}
    if key == "digest" and value in DIGEST_TIMES:
        return {"mode": MODE_DIGEST, "digest_time": value}
    if key == "lang" and value in LANGUAGES:
        return {"language": value}
    if key == "quiet":
        on = value == "on"
        return {"quiet_start": QUIET_START if on else None, "quiet_end": QUIET_END if on else None}
    if key == "filters" and value == "clear":
        return {"filters": ()}
    return {}
