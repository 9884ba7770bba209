"""Feeds as a source of notices: RSS 2.0, Atom and JSON Feed, from a URL or a file.

Fetched with httpx: timeouts, conditional GET (ETag / Last-Modified; a 304 costs
no parse), at most ``MAX_BYTES``, each feed every ``NOTICEBOT_FEED_INTERVAL`` and
less often while it fails. Parsed with feedparser. Each entry is written as the
article file it would be (front matter and an HTML body) and read by the same
parser as a file, so its pictures, excerpt, dates and limits follow the same rules.
An entry that falls off the end of its feed is not withdrawn: feeds only keep
their latest entries.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from time import struct_time
from typing import Any

import feedparser
import frontmatter
import httpx

from bot.config import Config
from bot.ledger import FeedState
from bot.reading.articles import ArticleError, parse_article
from bot.sources import ReadFile, read_file

MAX_BYTES = 10 * 1024 * 1024
TIMEOUT = httpx.Timeout(20.0, connect=10.0)  # the bot's client; a test's may be shorter
BACKOFF_CAP = 6 * 3600.0  # a failing feed is tried at least every six hours
USER_AGENT = "noticebot (+https://github.com/) feed reader"
Fetched = tuple[bytes | None, str | None, str | None]  # body (None: unchanged), ETag, time


def failed_read(state: FeedState, reason: str, config: Config, now: float) -> FeedRead:
    """The error recorded; the next try after 2, 4, 8… intervals, at most BACKOFF_CAP."""
    failures = state.failures + 1
    wait = min(config.feed_interval * 2 ** min(failures, 12), BACKOFF_CAP)
    failed = replace(state, error=reason, error_at=now, failures=failures, next_at=now + wait)
    return FeedRead(failed, [], False)


_PICTURE = re.compile(r"\.(jpe?g|png|gif|webp)$", re.IGNORECASE)


class FeedError(Exception):
    """Why a fetch gave nothing to read; the message is what `noticebot status` shows."""


@dataclass(frozen=True)
class FeedRead:
    state: FeedState  # what the ledger keeps after this fetch
    entries: list[ReadFile | ArticleError]  # empty when nothing changed or it failed
    changed: bool


def is_due(state: FeedState, now: float) -> bool:
    return state.next_at is None or state.next_at <= now


def read_feed(
    url: str,
    state: FeedState,
    config: Config,
    client: httpx.Client,
    now: float,
    date_of: Callable[[str], float | None] = lambda _: None,
) -> FeedRead:
    """One fetch: the entries as articles if the feed changed; the state either way.
    ``date_of``: the date a notice already has (an undated entry keeps it)."""
    try:
        body, etag, last_modified = _fetch(url, state, client)
    except FeedError as error:
        return failed_read(state, str(error), config, now)
    fetched = replace(state, fetched_at=now, next_at=now + config.feed_interval)
    if body is None:  # 304, or a file as it was
        return FeedRead(replace(fetched, error=None, failures=0), [], False)
    parsed = _json_feed(body) or feedparser.parse(body)
    if parsed.bozo and not parsed.entries:
        reason = f"not a feed: {parsed.get('bozo_exception') or 'nothing readable'}"
        return failed_read(fetched, reason[:300], config, now)
    entries = [_entry(url, entry, config, now, date_of) for entry in parsed.entries]
    done = replace(
        fetched,
        etag=etag,
        last_modified=last_modified,
        changed_at=now,
        entries=len(entries),
        error=None,
        failures=0,
    )
    return FeedRead(done, entries, True)


def _fetch(url: str, state: FeedState, client: httpx.Client) -> Fetched:
    """The feed's bytes (None: unchanged since the last fetch), its ETag and Last-Modified."""
    if not url.startswith(("http://", "https://")):
        return _read_file(Path(url), state)
    headers = {"User-Agent": USER_AGENT}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return None, state.etag, state.last_modified
            if response.status_code != 200:
                raise FeedError(f"HTTP {response.status_code} {response.reason_phrase}".strip())
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise FeedError(f"larger than {MAX_BYTES // (1024 * 1024)} MB: not read")
                chunks.append(chunk)
            return (
                b"".join(chunks),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
            )
    except httpx.TimeoutException:
        raise FeedError("no answer in time") from None
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise FeedError(f"cannot fetch: {error}") from None


def _read_file(path: Path, state: FeedState) -> Fetched:
    """A feed in a file: read again only when its size or time changed."""
    try:
        stat = path.stat()
        seen = f"{stat.st_mtime_ns}:{stat.st_size}"
        if seen == state.last_modified:
            return None, None, seen
        if stat.st_size > MAX_BYTES:
            raise FeedError(f"larger than {MAX_BYTES // (1024 * 1024)} MB: not read")
        return path.read_bytes(), None, seen
    except OSError as error:
        raise FeedError(f"cannot read: {error.strerror or error}") from None


def _json_feed(body: bytes) -> feedparser.FeedParserDict | None:
    """A JSON Feed (jsonfeed.org, version 1 and 1.1), which feedparser 6 does not
    read, as feedparser would give it; None for anything else."""
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        data = json.loads(body)
    except ValueError as error:
        return feedparser.FeedParserDict(bozo=1, bozo_exception=error, entries=[])
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return feedparser.FeedParserDict(bozo=1, bozo_exception="JSON without items", entries=[])
    entries = [_json_item(item) for item in data["items"] if isinstance(item, dict)]
    return feedparser.FeedParserDict(bozo=0, entries=entries)


def _json_item(item: dict[str, Any]) -> feedparser.FeedParserDict:
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    content = []
    if item.get("content_html"):
        content.append({"value": str(item["content_html"]), "type": "text/html"})
    elif item.get("content_text"):
        content.append({"value": str(item["content_text"]), "type": "text/plain"})
    pictures = [item.get("image"), item.get("banner_image")]
    pictures += [
        a.get("url")
        for a in item.get("attachments") or []
        if isinstance(a, dict) and str(a.get("mime_type", "")).startswith("image/")
    ]
    return feedparser.FeedParserDict(
        id=str(item.get("id") or item.get("url") or ""),
        link=item.get("url"),
        title=str(item.get("title") or ""),
        content=content,
        summary=str(item.get("summary") or ""),
        published_parsed=_iso_time(item.get("date_published")),
        updated_parsed=_iso_time(item.get("date_modified")),
        tags=[{"term": str(tag)} for tag in item.get("tags") or []],
        author=next((a.get("name") for a in authors if isinstance(a, dict)), None),
        media_content=[{"url": url, "medium": "image"} for url in pictures if url],
    )


def _iso_time(value: object) -> struct_time | None:
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC).timetuple() if value else None
    except ValueError:
        return None


def _entry(
    feed: str,
    entry: Any,
    config: Config,
    now: float,
    date_of: Callable[[str], float | None],
) -> ReadFile | ArticleError:
    """An entry as the article file it would be, read like one."""
    guid = entry.get("id") or entry.get("link") or entry.get("title") or ""
    article_id = "f" + hashlib.sha1(f"{feed}\n{guid}".encode()).hexdigest()[:11]
    where = Path(f"{feed}#{guid}")
    meta: dict[str, Any] = {"id": article_id, "title": entry.get("title") or ""}
    # dict.get: feedparser's own get maps a missing "updated" to "published", with a warning
    published, updated = dict.get(entry, "published_parsed"), dict.get(entry, "updated_parsed")
    if published or updated:
        meta["date"] = _date(published or updated)
    if published and updated:
        meta["updated"] = _date(updated)
    names = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
    if names:
        meta["categories"] = names
    if entry.get("author"):
        meta["author"] = entry["author"]
    if entry.get("link"):
        meta["link"] = entry["link"]
    images = _images(entry)
    if images:
        meta["image"] = images
    text = frontmatter.dumps(frontmatter.Post(_body(entry), **meta), allow_unicode=True)
    try:
        first = date_of(article_id) or now  # an entry without a date keeps its first one
        article = parse_article(text.encode(), where, where.parent, config, mtime=first)
    except ArticleError as error:
        return error
    return read_file(article, named_by_path=False)


def _body(entry: Any) -> str:
    """content:encoded / Atom content, else the summary; plain text made HTML."""
    for content in entry.get("content") or []:
        if content.get("value"):
            return _html(content["value"], content.get("type", "text/html"))
    detail = entry.get("summary_detail") or {}
    summary = entry.get("summary") or ""
    if summary.strip():
        return _html(summary, detail.get("type", "text/html"))
    return _html(entry.get("title") or "", "text/plain")  # a title is all some entries say


def _html(value: str, kind: str) -> str:
    if "html" in kind:
        return f"<div>{value}</div>"  # starts with a tag: read as HTML, not Markdown
    paragraphs = [p for p in value.split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) or "<p></p>"


def _images(entry: Any) -> list[str]:
    """Enclosed pictures, then media:content and media:thumbnail."""
    found: list[str] = []
    for link in entry.get("enclosures") or []:
        if str(link.get("type", "")).startswith("image/") and link.get("href"):
            found.append(link["href"])
    for media in entry.get("media_content") or []:
        kind = f"{media.get('medium', '')} {media.get('type', '')}".strip()
        url = media.get("url") or ""
        if "image" in kind or (not kind and _PICTURE.search(url.split("?", 1)[0])):
            found.append(url)
    for thumbnail in entry.get("media_thumbnail") or []:
        if thumbnail.get("url"):
            found.append(thumbnail["url"])
    return list(dict.fromkeys(found))


def _date(value: struct_time | None) -> str | None:
    if value is None:
        return None
    return datetime(*value[:6], tzinfo=UTC).isoformat()
