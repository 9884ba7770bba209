"""Where notices come from, one module a kind: article folders (:mod:`.folders`),
feeds (:mod:`.feeds`) and the announcements admins post from the chat
(:mod:`.announcements`, a folder the bot writes).

Every source gives the scanner the same thing for each notice it found new or
changed: a :class:`ReadFile`, ready for the ledger, or the :class:`ArticleError`
saying why it could not be read. What is gone is the source's to say: a file that
disappeared withdraws its notice, an entry that fell off a feed does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.reading.articles import Article, article_to_json


@dataclass(frozen=True)
class ReadFile:
    """A notice as its source read it (a file, a feed's entry), ready to save: plain
    values, which pass between processes at a fraction of an Article's cost."""

    row: dict[str, Any]  # the articles row, less its path and status
    version: str  # article_to_json(article): what the ledger keeps of this version
    draft: bool
    names: tuple[str, ...]  # categories and tags, which chats' filters match
    named_by_path: bool  # a file whose id is its path's (no id in its front matter)
    warnings: tuple[str, ...] = ()  # what the loader left out or guessed, to be logged
    ack: str = ""  # asks residents to confirm: "yes", or "renew" (ask again)
    ack_by: float | None = None  # when who has not confirmed is reminded


def read_file(article: Article, named_by_path: bool) -> ReadFile:
    names = (*article.categories, *article.tags)
    return ReadFile(
        _row(article),
        article_to_json(article),
        article.draft,
        names,
        named_by_path,
        article.warnings,
        article.ack,
        article.ack_by.timestamp() if article.ack_by else None,
    )


def _row(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "date": article.date.timestamp(),
        "categories": json.dumps(list(article.categories), ensure_ascii=False),
        "tags": json.dumps(list(article.tags), ensure_ascii=False),
        "search_text": article.body.text,
        "content_hash": article.content_hash,
        "error": None,
        "urgent": int(article.urgent),
        "expires": article.expires.timestamp() if article.expires else None,
    }
