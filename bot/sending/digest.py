"""The daily digest: one list a day to chats in digest mode, at the time they chose.

A digest lists the notices that became readable since the chat's last digest (or
since it entered digest mode; :mod:`bot.ledger.visibility`), and none that are too
old to be pushed or have expired. A long list is split like any text. A digest that
Telegram refuses is tried again with backoff, from the part that failed, with what
became readable meanwhile added, and after a few tries it is reported in the log and
given up for the day: never retried in a loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.formatting.formatter import DIGEST_TIMES, text_messages
from bot.formatting.lists import notice_list
from bot.formatting.outgoing import Outgoing
from bot.i18n import t
from bot.ledger import Chat, Store
from bot.sending.sender import Sender
from bot.sending.transport import Failure, SendFailure

log = logging.getLogger(__name__)

TRIES = 5
BACKOFF = 60.0  # seconds before the second try, doubled for each further one


def digest_messages(rows: list[dict], lang: str, tz: ZoneInfo, now: float) -> list[Outgoing]:
    return text_messages(notice_list(t("digest_title", lang, count=len(rows)), rows, lang, tz, now))


@dataclass
class Unfinished:
    """A digest under way: the notices it lists became readable before ``until``. A
    retry sends the rest of the same list, neither repeating a part nor changing what a
    part sent says, and lists what became readable since after it (in one list, while
    nothing has gone out yet)."""

    due_at: float
    until: float
    rows: list[dict[str, Any]]
    parts: list[Outgoing]
    sent: int = 0
    failures: int = 0
    retry_at: float = 0.0


class Digests:
    def __init__(self, store: Store, sender: Sender, config: Config) -> None:
        self.store = store
        self.sender = sender
        self.config = config
        self._unfinished: dict[int, Unfinished] = {}
        self._running = asyncio.Lock()

    async def send_due(self) -> None:
        """Every chat whose digest time has come today and that has not had it yet.
        One run at a time: a run that overlaps a slow one (a flood wait) would read the
        chat as not served yet and send its digest twice."""
        async with self._running:
            await self._send_due()

    async def _send_due(self) -> None:
        clock = self.store.clock()
        now = datetime.fromtimestamp(clock, self.config.tz)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        for chat in self.store.digest_chats():
            when = chat.digest_time or DIGEST_TIMES[0]
            due_at = today.replace(hour=int(when[:2]), minute=int(when[3:]))
            if now < due_at or (chat.last_digest_at or 0) >= due_at.timestamp():
                continue
            work = self._unfinished.get(chat.id)
            if work is None or work.due_at != due_at.timestamp():
                work = Unfinished(due_at.timestamp(), _since(chat, clock), [], [])
                self._unfinished[chat.id] = work
            if work.retry_at > clock:
                continue
            self._add_newer(chat, work, clock)
            if await self._send(chat, work):
                del self._unfinished[chat.id]
                # the next digest starts where this list ended: nothing read while it
                # was being sent is left out
                self.store.update_chat(chat.id, last_digest_at=work.until)

    def _add_newer(self, chat: Chat, work: Unfinished, now: float) -> None:
        """What became readable since the list was made, for this chat: the whole list
        again while none of it has gone out, else a list of its own after it."""
        dated_from = now - self.config.max_age_days * 86400
        newer = [
            r
            for r in self.store.articles_between(work.until, now, dated_from=dated_from)
            if chat.wants(
                [*json.loads(r["categories"] or "[]"), *json.loads(r["tags"] or "[]")],
                f"{r['title']}\n{r['search_text']}",
            )
        ]
        work.until = now
        if not newer:
            return
        lang = chat.language or self.config.lang
        if work.sent == 0:
            work.rows = sorted([*work.rows, *newer], key=lambda r: r["date"])
            work.parts = digest_messages(work.rows, lang, self.config.tz, now)
        else:  # what went out stays as it went; the newer ones follow
            work.parts += digest_messages(newer, lang, self.config.tz, now)

    async def _send(self, chat: Chat, work: Unfinished) -> bool:
        """True when the digest is done with for today: sent, given up, or the chat gone."""
        while work.sent < len(work.parts):
            try:
                await self.sender.send_now(chat, work.parts[work.sent : work.sent + 1], "digest")
            except SendFailure as failure:
                if failure.kind is Failure.GONE:  # deactivated by the sender
                    return True
                return self._failed(chat, work, failure)
            work.sent += 1
        return True

    def _failed(self, chat: Chat, work: Unfinished, failure: SendFailure) -> bool:
        work.failures += 1
        if work.failures >= TRIES:
            log.error(
                "digest for chat %s given up for today after %d tries (%d of %d parts sent): %s",
                chat.id,
                work.failures,
                work.sent,
                len(work.parts),
                failure.description,
            )
            return True
        wait = BACKOFF * 2 ** (work.failures - 1)
        work.retry_at = self.store.clock() + wait
        log.warning("digest for chat %s failed, next try in %.0f s: %s", chat.id, wait, failure)
        return False


def _since(chat: Chat, now: float) -> float:
    """Where a chat's next digest starts: its last digest, or when it entered digest
    mode if that is later (a chat back in digest mode gets nothing it missed). A chat
    with neither on record starts now, rather than with the whole archive."""
    marks = [m for m in (chat.last_digest_at, chat.digest_since) if m is not None]
    return max(marks) if marks else now
