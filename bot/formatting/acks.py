"""The confirm button on a notice's card, its count, and the reminder. Pure: no I/O.

The button's data names the notice (``ack:ID``): a press on the card, on the full
text or on a reminder confirms the same notice.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.formatting.formatter import text_messages
from bot.formatting.outgoing import Outgoing
from bot.i18n import t
from bot.reading.richtext import RichText

ACK_DATA = "ack:"


def ack_button(article_id: str, lang: str, count: int = 0) -> dict[str, str]:
    """ "✅ 收到", and in a group or channel how many confirmed there ("✅ 收到 · 37")."""
    text = t("ack_button_count", lang, count=count) if count else t("ack_button", lang)
    return {"text": text, "callback_data": f"{ACK_DATA}{article_id}"}


def with_ack_button(
    messages: list[Outgoing], article_id: str, lang: str, count: int = 0
) -> list[Outgoing]:
    """The messages with the confirm button first beside the card's other buttons (the
    card: the first message)."""
    if not messages:
        return messages
    card = messages[0]
    rows: list[list[dict[str, Any]]] = [
        [b for b in row if not _is_ack(b)]
        for row in (card.params.get("reply_markup") or {}).get("inline_keyboard") or []
    ]
    first = [ack_button(article_id, lang, count), *(rows[0] if rows else [])]
    keyboard = {"inline_keyboard": [first, *rows[1:]]}
    return [replace(card, params={**card.params, "reply_markup": keyboard}), *messages[1:]]


def without_ack_button(messages: list[Outgoing]) -> list[Outgoing]:
    """The messages without the confirm button: a card posted outside the ledger in a
    chat the notice never went to, where a press could not count."""
    out = []
    for message in messages:
        rows = (message.params.get("reply_markup") or {}).get("inline_keyboard")
        if not rows:
            out.append(message)
            continue
        kept = [row for row in ([b for b in row if not _is_ack(b)] for row in rows) if row]
        params = {k: v for k, v in message.params.items() if k != "reply_markup"}
        if kept:
            params["reply_markup"] = {"inline_keyboard": kept}
        out.append(replace(message, params=params))
    return out


def _is_ack(button: dict[str, Any]) -> bool:
    return str(button.get("callback_data", "")).startswith(ACK_DATA)


def reminder(title: str, article_id: str, lang: str, count: int | None = None) -> list[Outgoing]:
    """One message: "请确认已阅读：…" with the button; for a group (``count``: how many
    confirmed there so far) the count in the line, the button without one."""
    if count is None:
        text = t("ack_reminder", lang, title=title)
    else:
        text = t("ack_reminder_group", lang, title=title, count=count)
    (message,) = text_messages(RichText(text))[:1]
    return with_ack_button([message], article_id, lang)
