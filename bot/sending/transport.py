"""The edge to Telegram: a planned call (:class:`Outgoing`) → python-telegram-bot.

The sender depends only on :class:`Transport` and :class:`SendFailure`, so the
delivery logic reads as policy (retry, deactivate, fall back) and can run
against anything that sends; python-telegram-bot's exceptions are translated
here, in one place.
"""

from __future__ import annotations

import enum
import os
import warnings
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol

from telegram import Bot, InputMediaPhoto
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBUserWarning

from bot.formatting.outgoing import Outgoing
from bot.sending.flood import LEDGER, REPLY_IN_TURN, FloodControl, seconds_of

# Opt in to python-telegram-bot's coming behaviour (durations as timedelta), which
# also silences its deprecation warning on every RetryAfter.
os.environ.setdefault("PTB_TIMEDELTA", "true")
# do_api_request asks for the typed method wherever one exists; that advice is for
# callers who use the parsed answer (see PTBTransport).
warnings.filterwarnings("ignore", r"Please use 'Bot\.", PTBUserWarning)

PHOTO_ERRORS = (
    "wrong file identifier/http url specified",
    "failed to get http url content",
    "wrong type of the web page content",
    "photo_invalid_dimensions",
    "invalid dimensions",
    "image_process_failed",
    "wrong remote file identifier",
)
GONE_ERRORS = (
    "chat not found",
    "message thread not found",  # the chat's forum topic was deleted
    "need administrator rights in the channel chat",
)
# The chat is there but forbids media to the bot: text still goes through.
RESTRICTED_ERRORS = tuple(
    f"not enough rights to send {what}"
    for what in ("photos", "videos", "animations", "documents", "audio", "media")
)
# Nothing can be sent for now (a closed topic, a muted bot); the chat may open again.
HELD_ERRORS = ("topic_closed", "have no rights to send", "not enough rights to send")


class Failure(enum.Enum):
    RETRY_AFTER = "retry_after"  # flood control: wait what Telegram says
    TRANSIENT = "transient"  # timeouts, network, 5xx: back off and retry
    GONE = "gone"  # blocked, kicked, deleted: deactivate the chat
    RESTRICTED = "restricted"  # no media allowed here: send as text
    HELD = "held"  # nothing allowed for now (topic closed, bot muted): wait, tell the admins
    MIGRATED = "migrated"  # group became a supergroup: move to the new id
    BAD_MEDIA = "bad_media"  # Telegram could not use the picture
    BAD_REQUEST = "bad_request"  # anything else Telegram refused


@dataclass
class SendFailure(Exception):
    kind: Failure
    description: str
    retry_after: float = 0.0
    new_chat_id: int | None = None

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.description}"


class Transport(Protocol):
    def turn(self, chat_id: int) -> AbstractAsyncContextManager[object]:
        """Wait until the chat may get a message now; hold its turn until the answer."""
        ...

    def resume_pace(self, chat_id: int, sends: list[tuple[float, int]]) -> None:
        """What the chat got before a restart (seconds ago, messages): its pace goes on."""
        ...

    async def send(
        self,
        chat_id: int,
        message: Outgoing,
        *,
        thread_id: int | None,
        silent: bool,
        reply: bool = False,
    ) -> list[int]:
        """Send one planned call inside the chat's turn; the ids Telegram created.

        A ``reply`` (not a ledger delivery) is retried after network errors too."""
        ...


class PTBTransport:
    """Sends through a python-telegram-bot :class:`Bot` (with its flood control, if any).

    Every call goes out as the Bot API's own parameters through ``do_api_request``,
    with its own retries, timeouts and rate limiter. The sender needs only the ids of
    the messages made; parsing each answer into a :class:`~telegram.Message` (and
    each planned call into typed objects) was a tenth of a broadcast's time."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        limiter = getattr(bot, "rate_limiter", None)
        self.flood = limiter if isinstance(limiter, FloodControl) else None

    async def send(
        self,
        chat_id: int,
        message: Outgoing,
        *,
        thread_id: int | None,
        silent: bool,
        reply: bool = False,
    ) -> list[int]:
        params = {**message.params, "chat_id": chat_id}
        if message.method.startswith("send"):  # edits, deletions and pins take neither
            if thread_id is not None:
                params["message_thread_id"] = thread_id
            if silent:
                params["disable_notification"] = True
        if message.method == "sendMediaGroup":  # ExtBot's Defaults read each item's fields
            params["media"] = [InputMediaPhoto(item["media"]) for item in params["media"]]
        limits = (
            {} if self.flood is None else {"rate_limit_args": REPLY_IN_TURN if reply else LEDGER}
        )
        try:
            result = await self.bot.do_api_request(message.method, api_kwargs=params, **limits)
        except TelegramError as error:
            raise classify(error) from error
        messages = result if isinstance(result, list) else [result]
        return [m["message_id"] for m in messages if isinstance(m, dict)]

    def turn(self, chat_id: int) -> AbstractAsyncContextManager[object]:
        return nullcontext() if self.flood is None else self.flood.chat_turn(chat_id)

    def resume_pace(self, chat_id: int, sends: list[tuple[float, int]]) -> None:
        if self.flood is not None:
            self.flood.resume_pace(chat_id, sends)


def classify(error: TelegramError) -> SendFailure:
    """python-telegram-bot's exception → what the sender should do about it."""
    text = error.message
    lower = text.lower()
    if isinstance(error, RetryAfter):
        return SendFailure(Failure.RETRY_AFTER, text, retry_after=seconds_of(error.retry_after))
    if isinstance(error, ChatMigrated):
        return SendFailure(Failure.MIGRATED, text, new_chat_id=int(error.new_chat_id))
    if isinstance(error, InvalidToken | EndPointNotFound):  # a revoked token, once running
        raise error
    if isinstance(error, Forbidden):
        return SendFailure(Failure.GONE, text)
    if isinstance(error, BadRequest):
        if any(p in lower for p in GONE_ERRORS):
            return SendFailure(Failure.GONE, text)
        if any(p in lower for p in RESTRICTED_ERRORS):
            return SendFailure(Failure.RESTRICTED, text)
        if any(p in lower for p in HELD_ERRORS):
            return SendFailure(Failure.HELD, text)
        if any(p in lower for p in PHOTO_ERRORS):
            return SendFailure(Failure.BAD_MEDIA, text)
        return SendFailure(Failure.BAD_REQUEST, text)
    if isinstance(error, TimedOut | NetworkError):
        return SendFailure(Failure.TRANSIENT, text)
    return SendFailure(Failure.TRANSIENT, text)
