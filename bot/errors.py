"""What the log says when a handler or a job fails.

A Telegram error (flood control, the network, a blocked user, a refused request)
is something that happens to a running bot: one line with the request and the
chat. Anything else is a bug in our code and gets its traceback.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.sending.flood import request_of

log = logging.getLogger(__name__)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    where = request_of(error) if error else None
    where = where or (f"chat {chat.id}" if chat else "no chat")
    if isinstance(error, TelegramError):
        level = logging.ERROR if isinstance(error, BadRequest) else logging.WARNING
        kind = "refused" if isinstance(error, Forbidden | BadRequest) else "failed"
        log.log(level, "Telegram %s %s: %s (%s)", kind, where, error.message, type(error).__name__)
        return
    log.error("bug while handling an update (%s)", where, exc_info=error)
