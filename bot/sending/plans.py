"""A version of a notice as one chat gets it: formatted once, from the ledger.

What a version says is read from the ledger, as the scan kept it, never from the
file (which may have changed since, or be half-written).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot.config import Config
from bot.formatting.acks import reminder, with_ack_button
from bot.formatting.formatter import announcement, format_article
from bot.formatting.outgoing import Outgoing
from bot.i18n import t
from bot.ledger import ANNOUNCEMENT, REMINDER, Chat, Store
from bot.reading.articles import Article, ArticleError, article_from_json, load_article

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """One version of a notice as one chat gets it."""

    messages: list[Outgoing]
    title: str
    urgent: bool = False
    expires: float | None = None
    asks: bool = False  # its card carries the confirm button (a group's shows its count)

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires


class Planner:
    """Plans per (article, version, language, mode, edited, expired, asking to confirm),
    the last 256 kept."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._plans: OrderedDict[tuple[str, str, str, str, bool, bool, bool], Plan] = OrderedDict()

    def messages_for(
        self, article_id: str, version: str, chat: Chat, *, expired: bool = False
    ) -> list[Outgoing] | None:
        """The parts for this chat's language and mode (``/read``, previews); ``expired``:
        the card says the notice has expired."""
        plan = self.plan_for(article_id, version, chat, expired=expired)
        return plan.messages if plan is not None else None

    def plan_for(
        self,
        article_id: str,
        version: str,
        chat: Chat,
        *,
        edited: bool = False,
        expired: bool = False,
        asks: bool | None = None,
    ) -> Plan | None:
        """A version of a notice for this chat's language and mode, formatted once.

        What a version says is read from the ledger, as the scan kept it, never from the
        file (which may have changed since, or be half-written). ``edited``: the card
        says when the correction came; ``expired``: that the notice has expired;
        ``asks``: whether it asks to be confirmed, as the caller read it (None: read now)."""
        lang = chat.language or self.config.lang
        if asks is None:
            asks = self.store.ack_round(article_id) is not None
        key = (article_id, version, lang, chat.mode, edited, expired, asks)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        row = self.store.article(article_id)
        if row is None:
            return None
        if row["status"] == REMINDER:  # not kept: a group's line has its count so far
            return self._reminder(article_id, row, chat, lang)
        if row["status"] == ANNOUNCEMENT:
            title = row["title"] or t("announcement", lang)
            plan = Plan(announcement(title, row["text"] or ""), title)
        else:
            article = self._version(article_id, version, row["path"])
            if article is None:
                return None
            created = self.store.version_created(article_id, version) if edited else None
            updated = datetime.fromtimestamp(created, self.config.tz) if created else None
            formatted = format_article(article, lang, self.config.tz, updated, expired=expired)
            expires = article.expires.timestamp() if article.expires else None
            plan = Plan(formatted.for_mode(chat.mode), article.title, article.urgent, expires)
        if asks:
            buttoned = with_ack_button(plan.messages, article_id, lang)
            plan = replace(plan, messages=buttoned, asks=True)
        self._plans[key] = plan
        if len(self._plans) > 256:
            self._plans.popitem(last=False)
        return plan

    def _reminder(self, reminder_id: str, row: dict, chat: Chat, lang: str) -> Plan | None:
        """A round's reminder to confirm a notice; a group's says how many did there."""
        of = self.store.reminder_of(reminder_id)
        if of is None:
            return None
        article_id = of[0]
        count = self.store.ack_count(article_id, chat.id) if chat.type != "private" else None
        title = row["title"] or article_id
        expires = (self.store.article(article_id) or {}).get("expires")  # then none is sent
        return Plan(reminder(title, article_id, lang, count), title, expires=expires)

    def _version(self, article_id: str, version: str, path: str) -> Article | None:
        content = self.store.version_content(article_id, version)
        if content is not None:
            return article_from_json(content)
        try:  # a notice queued before the ledger kept versions (schema 3 and older)
            article = load_article(Path(path), Path(path).parent, self.config)
        except ArticleError as error:
            log.error("article %s cannot be read at send time: %s", article_id, error)
            return None
        return replace(article, id=article_id)
