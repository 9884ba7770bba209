"""The daily digest: one message a day to chats in digest mode, at the time they chose."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from telegram.error import Forbidden, TelegramError

from bot.i18n import format_datetime, t
from bot.replies import NO_PREVIEW, Context, runtime
from bot.store import Chat

log = logging.getLogger(__name__)


def digest_text(chat: Chat, rows: list[dict], lang: str, tz: object) -> str:
    lines = [t("digest_title", lang, count=len(rows))]
    for row in rows:
        when = format_datetime(datetime.fromtimestamp(row["date"], tz), lang, tz)  # type: ignore[arg-type]
        lines.append(f"\n{when}\n{row['title']}\n/read_{row['id']}")
    return "\n".join(lines)


async def digest_job(context: Context) -> None:
    """Every minute: chats whose digest time has come and who had none today."""
    rt = runtime(context)
    now = datetime.fromtimestamp(rt.store.clock(), rt.config.tz)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for chat in rt.store.digest_chats():
        due_at = today.replace(hour=int(chat.digest_time[:2]), minute=int(chat.digest_time[3:]))
        if now < due_at or (chat.last_digest_at or 0) >= due_at.timestamp():
            continue
        since = chat.last_digest_at or (due_at - timedelta(days=1)).timestamp()
        rows = [
            r
            for r in rt.store.articles_between(since, now.timestamp())
            if chat.wants(
                [*json.loads(r["categories"] or "[]"), *json.loads(r["tags"] or "[]")],
                f"{r['title']}\n{r['search_text']}",
            )
        ]
        if rows:
            lang = chat.language or rt.config.lang
            try:
                await context.bot.send_message(
                    chat.id,
                    digest_text(chat, rows, lang, rt.config.tz),
                    message_thread_id=chat.thread_id,
                    link_preview_options=NO_PREVIEW,
                )
            except Forbidden as error:
                rt.store.deactivate_chat(chat.id, error.message)
                continue
            except TelegramError as error:
                log.warning("digest for %s failed, will retry: %s", chat.id, error)
                continue
        rt.store.update_chat(chat.id, last_digest_at=now.timestamp())
