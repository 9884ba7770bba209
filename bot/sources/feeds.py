"""Feeds as a source of notices: RSS 2.0, Atom and JSON Feed, from a URL or a file.

Fetched with httpx: timeouts, conditional GET (ETag / Last-Modified; a 304 costs
no parse), at most ``MAX_BYTES``, each feed every ``NOTICEBOT_FEED_INTERVAL`` and
less often while it fails. A fetch has ``NOTICEBOT_FEED_DEADLINE`` seconds in all:
httpx's timeouts count per read, so a server dripping a byte at a time would hold
every other feed for as long as it liked. Parsed with feedparser, of which only the
newest ``NOTICEBOT_FEED_MAX_ENTRIES`` entries are read: a larger XML feed is cut
to them with lxml before feedparser sees it (feedparser alone took 6 s and 100 MiB
for 60,000 entries; the cut and the rest of the read take 0.6 s and 12 MiB).

Each entry is written as the article file it would be (front matter and an HTML
body) and read by the same parser as a file, so its pictures, excerpt, dates and
limits follow the same rules. An entry that falls off the end of its feed is not
withdrawn: feeds only keep their latest entries. A feed's address is shown
(errors, logs, paths) as :func:`bot.logs.shown_url` shows it, without its
credentials.
"""

from __future__ import annotations

import calendar
import contextlib
import heapq
import html
import io
import ipaddress
import json
import logging
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import mktime_tz, parsedate_tz
from pathlib import Path
from time import struct_time
from typing import Any, TypeVar

import feedparser
import frontmatter
import httpx
from feedparser.datetimes import _parse_date as feedparser_date
from lxml import etree

from bot.config import Config
from bot.keywords import keywords
from bot.ledger import FeedSource, FeedState
from bot.logs import hold_url_secrets, redact_urls, shown_url
from bot.reading.articles import ArticleError, one_line, parse_article
from bot.reading.identity import earlier_feed_entry_id, feed_entry_id
from bot.sources import ReadFile, read_file

MAX_BYTES = 10 * 1024 * 1024
PRIVATE_SETTING = "NOTICEBOT_FEEDS_ALLOW_PRIVATE"
MAX_REDIRECTS = 10
TIMEOUT = httpx.Timeout(20.0, connect=10.0)  # the bot's client; a test's may be shorter
BACKOFF_CAP = 6 * 3600.0  # a failing feed is tried at least every six hours
USER_AGENT = "noticebot (+https://github.com/) feed reader"
Fetched = tuple[bytes | None, str | None, str | None]  # body (None: unchanged), ETag, time

log = logging.getLogger(__name__)
T = TypeVar("T")


def failed_read(state: FeedState, reason: str, config: Config, now: float) -> FeedRead:
    """The error recorded; the next try after 2, 4, 8… intervals, at most BACKOFF_CAP."""
    failures = state.failures + 1
    wait = min(config.feed_interval * 2 ** min(failures, 12), BACKOFF_CAP)
    error = redact_urls(reason)  # an error may quote the address, credentials and all
    since = state.failing_since or now
    failed = replace(
        state, error=error, error_at=now, failures=failures, next_at=now + wait, failing_since=since
    )
    return FeedRead(failed, [], False)


_PICTURE = re.compile(r"\.(jpe?g|png|gif|webp)$", re.IGNORECASE)


class FeedError(Exception):
    """Why a fetch gave nothing to read; the message is what `noticebot status` shows."""


def is_private(host: str) -> bool:
    """Whether an address is this machine's or its network's (or no public one at all):
    a feed an admin adds from the chat must not make the bot read what only the machine
    can (a router's page, a cloud's metadata service, a local database's port)."""
    try:
        address = ipaddress.ip_address(host)  # a zone (fe80::1%eth0) included
    except ValueError:
        return False  # a name: judged by the addresses it resolves to
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def private_host(host: str, port: int | None = None) -> bool:
    """Whether a host is, or resolves to, a private address. A name that does not
    resolve is left to the fetch, which says so."""
    if is_private(host):
        return True
    try:
        found = socket.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return any(is_private(str(info[4][0])) for info in found)


def _refuse_private(host: str) -> FeedError:
    return FeedError(f"refused: {host} is a private address ({PRIVATE_SETTING} is off)")


def _judge_host(url: httpx.URL) -> None:
    """An address reached through a proxy (the connection is the proxy's): its host is
    judged by what it resolves to here."""
    host = url.host
    if not host or private_host(host, url.port):
        raise _refuse_private(host or str(url))


def _through_proxy(client: httpx.Client, url: httpx.URL) -> bool:
    """Whether the client sends this request through a proxy (HTTP_PROXY, HTTPS_PROXY,
    ALL_PROXY, unless NO_PROXY names it), as httpx itself decides."""
    try:
        return client._transport_for_url(url) is not client._transport
    except AttributeError:  # another httpx: the environment's word, as urllib reads it
        proxies = urllib.request.getproxies()
        if not (proxies.get(url.scheme) or proxies.get("all")):
            return False
        return not urllib.request.proxy_bypass(url.host)


def is_web_address(url: str) -> bool:
    return url[:8].lower().startswith(("http://", "https://"))


_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normal_url(url: str) -> str:
    """One spelling of an address, as it goes on the wire: the scheme and host in lower
    case (a Chinese host in punycode), no default port, no fragment, the path and query
    percent-encoded with upper-case escapes and unreserved characters plain
    (``Http://Example.org:80/停水#new`` is ``http://example.org/%E5%81%9C%E6%B0%B4``).
    Raises ValueError for what is no address."""
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeError) as error:
        raise ValueError(str(error)) from None
    scheme = parsed.scheme.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if parsed.port not in (None, {"http": 80, "https": 443}.get(scheme)):
        host += f":{parsed.port}"
    user = parsed.userinfo.decode("ascii")
    rest = f"{user}@{host}" if user else host
    rest += parsed.raw_path.decode("ascii")

    def escape(match: re.Match[str]) -> str:
        char = chr(int(match.group()[1:], 16))
        return char if char in _UNRESERVED else match.group().upper()

    return f"{scheme}://" + _ESCAPE.sub(escape, rest)


def spelling(url: str) -> str:
    """An address's one spelling (:func:`normal_url`); anything else as it is."""
    try:
        return normal_url(url) if is_web_address(url) else url
    except ValueError:
        return url


@dataclass(frozen=True)
class FeedRead:
    state: FeedState  # what the ledger keeps after this fetch
    entries: list[ReadFile | ArticleError]  # empty when nothing changed or it failed
    changed: bool
    left_out: int = 0  # entries beyond the newest NOTICEBOT_FEED_MAX_ENTRIES: not read


def feed_name(source: FeedSource, state: FeedState) -> str:
    """A feed as the admins know it: its title, else its address without credentials."""
    return source.title or state.title or shown_url(source.url)


def is_due(state: FeedState, now: float) -> bool:
    return state.next_at is None or state.next_at <= now


def read_feed(
    url: str,
    state: FeedState,
    config: Config,
    client: httpx.Client,
    now: float,
    dates_of: Callable[[Iterable[str]], dict[str, float]] = lambda _: {},
    linked: dict[str, str] | None = None,
    *,
    category: str | None = None,
    private_ok: bool = True,
) -> FeedRead:
    """One fetch: the entries as articles if the feed changed; the state either way.
    ``dates_of``: the dates of the notices the ledger has among some ids (an undated
    entry keeps its date; an entry keeps the id a ledger gave it);
    ``linked``: which guid each id taken from a link belongs to (updated here);
    ``category``: given to every entry; ``private_ok``: whether the feed may be read
    from a private address (checked on every connection: redirects and DNS included)."""
    hold_url_secrets(url)  # whatever command reads it: its credentials hidden in every log line
    try:
        body, etag, last_modified = _fetch(url, state, client, config.feed_deadline, private_ok)
    except FeedError as error:
        return failed_read(state, str(error), config, now)
    fetched = replace(state, fetched_at=now, next_at=now + config.feed_interval)
    if body is None:  # 304, or a file as it was
        return FeedRead(replace(fetched, error=None, failures=0, failing_since=None), [], False)
    parsed, total = _parsed(body, config.feed_max_entries)
    reason = _not_a_feed(body, parsed)
    if reason:
        return failed_read(fetched, reason[:300], config, now)
    kept = newest(parsed.entries, config.feed_max_entries, _entry_date)  # what lxml could not cut
    if total > len(kept):
        log.info(
            "feed %s: %d entries, only the newest %d read (NOTICEBOT_FEED_MAX_ENTRIES)",
            shown_url(url),
            total,
            len(kept),
        )
    names = _Names(url, config, dates_of, {} if linked is None else linked, kept)
    entries = [_entry(url, entry, config, now, names, category) for entry in kept]
    title = one_line(str((parsed.get("feed") or {}).get("title") or ""))[:200] or None
    done = replace(
        fetched,
        etag=etag,
        last_modified=last_modified,
        changed_at=now,
        entries=len(entries),
        error=None,
        failures=0,
        failing_since=None,
        title=title,
    )
    return FeedRead(done, entries, True, left_out=total - len(kept))


_HTML_START = re.compile(  # a page, after an XML declaration or comments if any
    rb"\s*(?:<\?xml[^>]*>\s*|<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.I | re.S
)


def _not_a_feed(body: bytes, parsed: feedparser.FeedParserDict) -> str | None:
    """Why a document is no feed, or None: it must be RSS, Atom or JSON Feed (feedparser
    names which in ``version``), else a web page given as a feed's address reads as a
    healthy feed that never has an entry, and nobody looks at it again."""
    if parsed.entries or (parsed.get("version") and not parsed.bozo):
        return None
    if _HTML_START.match(body.removeprefix(b"\xef\xbb\xbf")[:4096]):
        return "not a feed (an HTML page)"
    if parsed.bozo:
        return f"not a feed: {parsed.get('bozo_exception') or 'nothing readable'}"
    return "not a feed (neither RSS, Atom nor JSON Feed)"


def _parsed(body: bytes, limit: int) -> tuple[feedparser.FeedParserDict, int]:
    """The feed as feedparser gives it, cut to its newest ``limit`` entries before it is
    parsed where it can be, and how many entries it has."""
    json_feed = _json_feed(body, limit)
    if json_feed is not None:
        return json_feed
    cut, counted = _cut(body, limit)
    parsed = feedparser.parse(cut)
    return parsed, max(counted, len(parsed.entries))


def _fetch(
    url: str, state: FeedState, client: httpx.Client, deadline: float, private_ok: bool
) -> Fetched:
    """The feed's bytes (None: unchanged since the last fetch), its ETag and Last-Modified;
    an address within ``deadline`` seconds, however slowly its server answers."""
    if not is_web_address(url):
        if not private_ok:  # a file is the machine's own: only the configuration names one
            raise FeedError("not an http(s) address")
        return _read_file(Path(url), state)
    until = time.monotonic() + deadline
    line = _Line(private_ok)
    outcome: list[Fetched | BaseException] = []
    done = threading.Event()

    def fetch() -> None:
        try:
            outcome.append(_download(url, state, client, line, until, deadline))
        except BaseException as error:  # handed to the caller, which raises it
            outcome.append(error)
        finally:
            done.set()

    # A thread of its own: a read that blocks cannot keep the caller past the deadline,
    # and the connection cut at the deadline ends the thread's read too.
    threading.Thread(target=fetch, name="feed fetch", daemon=True).start()
    if not done.wait(max(0.0, until - time.monotonic())):
        line.cut()
        raise FeedError(_too_slow(deadline))
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


class _Line:
    """The sockets of one fetch (httpcore's trace tells them as they connect), to be cut
    when the fetch is out of time."""

    def __init__(self, private_ok: bool = True) -> None:
        self.streams: list[Any] = []
        self.private_ok = private_ok
        self.checking = not private_ok  # off for a connection to a proxy

    def trace(self, event: str, info: dict[str, Any]) -> None:
        # TLS wraps the TCP socket in a new one: both are kept (the first, detached, is
        # skipped when cut)
        connected = event.endswith(("connect_tcp.complete", "start_tls.complete"))
        if connected and info.get("return_value") is not None:
            self.streams.append(info["return_value"])
            if self.checking and event.endswith("connect_tcp.complete"):
                self._refuse_private(info["return_value"])

    def _refuse_private(self, stream: Any) -> None:
        """The address actually connected to, after DNS and any redirect: a name that
        resolves to a private address is refused as the address itself would be."""
        peer = stream.get_extra_info("server_addr") or (None,)
        if peer[0] is None or is_private(str(peer[0])):
            self.cut()
            raise _refuse_private(str(peer[0]))

    def cut(self) -> None:
        """Shut each socket down: a read blocked on it returns at once."""
        for stream in self.streams:
            with contextlib.suppress(OSError, AttributeError):
                stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)


def _download(
    url: str,
    state: FeedState,
    client: httpx.Client,
    line: _Line,
    until: float,
    deadline: float,
) -> Fetched:
    """With private addresses refused, redirects are followed here, one address at a
    time: one reached directly has its connection checked (``line``), one reached
    through a proxy its host judged first."""
    # Connection: close, so that every fetch opens its own connection, which it can cut
    headers = {"User-Agent": USER_AGENT, "Connection": "close"}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    timeout = _capped(client.timeout, max(0.001, until - time.monotonic()))
    try:
        address = httpx.URL(url)
        by_hand = not line.private_ok
        for _ in range(MAX_REDIRECTS + 1):
            if by_hand:
                proxied = _through_proxy(client, address)
                line.checking = not proxied
                if proxied:
                    _judge_host(address)
            with client.stream(
                "GET",
                address,
                headers=headers,
                timeout=timeout,
                extensions={"trace": line.trace},
                follow_redirects=not by_hand and client.follow_redirects,
            ) as response:
                if by_hand and response.is_redirect and "location" in response.headers:
                    address = response.url.join(response.headers["location"])
                    continue
                return _response_body(response, state, until, deadline)
        raise FeedError(f"more than {MAX_REDIRECTS} redirects")
    except FeedError:
        raise
    except httpx.TimeoutException:
        raise FeedError("no answer in time") from None
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:  # a port past 65535
        raise FeedError(f"cannot fetch: {error}") from None


def _response_body(
    response: httpx.Response, state: FeedState, until: float, deadline: float
) -> Fetched:
    if response.status_code == 304:
        return None, state.etag, state.last_modified
    if response.status_code != 200:
        raise FeedError(f"HTTP {response.status_code} {response.reason_phrase}".strip())
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BYTES:
            raise FeedError(f"larger than {MAX_BYTES // (1024 * 1024)} MB: not read")
        if time.monotonic() > until:
            raise FeedError(_too_slow(deadline))
        chunks.append(chunk)
    return b"".join(chunks), response.headers.get("ETag"), response.headers.get("Last-Modified")


def _too_slow(deadline: float) -> str:
    return f"no answer within {deadline:g} s"


def _capped(timeout: httpx.Timeout, seconds: float) -> httpx.Timeout:
    """The client's timeouts, none longer than what is left of the deadline."""

    def cap(value: float | None) -> float:
        return seconds if value is None else min(value, seconds)

    return httpx.Timeout(
        connect=cap(timeout.connect),
        read=cap(timeout.read),
        write=cap(timeout.write),
        pool=cap(timeout.pool),
    )


def newest(items: Sequence[T], limit: int, date: Callable[[T], float | None]) -> list[T]:
    """The ``limit`` newest items, in feed order. Newest by date; an item without one
    ranks after those with one, and among equals the earlier in the feed wins (feeds
    list their newest first)."""
    if len(items) <= limit:
        return list(items)

    def rank(index: int) -> tuple[bool, float, int]:
        when = date(items[index])
        return when is not None, when or 0.0, -index

    chosen = sorted(heapq.nlargest(limit, range(len(items)), key=rank))
    return [items[index] for index in chosen]


def _entry_date(entry: Any) -> float | None:
    """The date an entry's notice takes (see :func:`_entry`), as a Unix time."""
    value = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    return calendar.timegm(value) if value else None


ENTRY_TAGS = ("{*}item", "{*}entry")  # RSS 0.9x, 1.0 and 2.0 items; Atom entries
PUBLISHED_NAMES = ("pubDate", "published", "issued")  # what feedparser takes as published
UPDATED_NAMES = ("updated", "modified", "date")  # dc:date is "updated" to feedparser


def _cut(body: bytes, limit: int) -> tuple[bytes, int]:
    """An XML feed of more than ``limit`` entries cut to its newest ``limit`` (as
    :func:`newest` chooses), and how many it had; a feed of fewer, or one lxml cannot
    read, as it was (with 0: feedparser counts its entries). Two streaming passes, so
    that a large feed is never held as a whole tree (60,000 entries: 54 MiB)."""
    tags = body.count(b"<item") + body.count(b"<entry") + body.count(b":item")
    if tags + body.count(b":entry") <= limit:  # every entry opens with one: no parse needed
        return body, 0
    try:
        dates = []
        for entry in _entries(_events(body)):
            dates.append(_xml_date(entry))
            entry.clear()
            while entry.getprevious() is not None:  # what was read is let go
                del entry.getparent()[0]
        if len(dates) <= limit:
            return body, 0
        kept = set(newest(range(len(dates)), limit, dates.__getitem__))
        events = _events(body)
        for index, entry in enumerate(_entries(events)):
            if index not in kept:
                entry.getparent().remove(entry)
        cut = etree.tostring(events.root.getroottree(), encoding="utf-8", xml_declaration=True)
    except (etree.XMLSyntaxError, ValueError):
        return body, 0
    return cut, len(dates)


def _events(body: bytes) -> Any:
    """The end of each item or entry as lxml reads it: no DTD, no network, no entity
    expanded, only the document's own elements."""
    return etree.iterparse(
        io.BytesIO(body),
        events=("end",),
        tag=ENTRY_TAGS,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        recover=True,
    )


def _entries(events: Any) -> Iterator[Any]:
    """The feed's entries: items and entries in the root or in a child of it (RSS 2.0's
    channel), not any nested deeper."""
    for _, element in events:
        parent = element.getparent()
        above = parent.getparent() if parent is not None else None
        if parent is not None and (above is None or above.getparent() is None):
            yield element


def _xml_date(entry: Any) -> float | None:
    """An XML entry's date as feedparser reads it: published, else updated."""
    dates: dict[str, str] = {}
    for child in entry:
        if isinstance(child.tag, str) and child.text:
            dates.setdefault(_local(child.tag), child.text)
    for name in (*PUBLISHED_NAMES, *UPDATED_NAMES):
        if name in dates and (when := _unix_time(dates[name].strip())) is not None:
            return when
    return None


def _unix_time(text: str) -> float | None:
    """A feed's date: RFC 822 and ISO 8601 the quick way, anything else as feedparser
    reads it (60,000 entries: 0.2 s instead of 1.2 s)."""
    try:
        if text[:1].isdigit():
            when = datetime.fromisoformat(text.replace("Z", "+00:00", 1))
            return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
        if (parts := parsedate_tz(text)) is not None and parts[9] is not None:
            return float(mktime_tz(parts))
    except (ValueError, OverflowError):
        pass
    parsed = feedparser_date(text)
    return calendar.timegm(parsed) if parsed else None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


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


def _json_feed(body: bytes, limit: int) -> tuple[feedparser.FeedParserDict, int] | None:
    """A JSON Feed (jsonfeed.org, version 1 and 1.1), which feedparser 6 does not
    read, as feedparser would give it, with its newest ``limit`` items, and how many it
    had; None for anything else."""
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        data = json.loads(body)
    except ValueError as error:
        return feedparser.FeedParserDict(bozo=1, bozo_exception=error, entries=[]), 0
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return feedparser.FeedParserDict(bozo=1, bozo_exception="JSON without items", entries=[]), 0
    items = [item for item in data["items"] if isinstance(item, dict)]
    entries = [_json_item(item) for item in newest(items, limit, _json_date)]
    feed = {"title": str(data.get("title") or "")}
    return feedparser.FeedParserDict(bozo=0, version="json1", feed=feed, entries=entries), len(
        items
    )


def _json_date(item: dict[str, Any]) -> float | None:
    """A JSON Feed item's date, as its entry will have it: published, else modified."""
    for key in ("date_published", "date_modified"):
        if (when := _iso_time(item.get(key))) is not None:
            return calendar.timegm(when)
    return None


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
    names: _Names,
    category: str | None = None,
) -> ReadFile | ArticleError:
    """An entry as the article file it would be, read like one; ``category`` (the feed's,
    as an admin gave it) and its words first among its categories."""
    guid, link, title = entry.get("id"), entry.get("link"), entry.get("title")
    article_id = names.id_of(guid, link, title)
    # in reports: without the feed's credentials
    where = Path(f"{shown_url(feed)}#{guid or link or title or ''}")
    meta: dict[str, Any] = {"id": article_id, "title": entry.get("title") or ""}
    # dict.get: feedparser's own get maps a missing "updated" to "published", with a warning
    published, updated = dict.get(entry, "published_parsed"), dict.get(entry, "updated_parsed")
    if published or updated:
        meta["date"] = _date(published or updated)
    if published and updated:
        meta["updated"] = _date(updated)
    terms = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
    # the feed's category first, and each of its words: what /subscribe can name
    given = [category, *keywords(category)] if category else []
    terms = list(dict.fromkeys([*given, *terms]))
    if terms:
        meta["categories"] = terms
    if entry.get("author"):
        meta["author"] = entry["author"]
    if entry.get("link"):
        meta["link"] = entry["link"]
    images = _images(entry)
    if images:
        meta["image"] = images
    text = frontmatter.dumps(frontmatter.Post(_body(entry), **meta), allow_unicode=True)
    try:
        first = names.known.get(article_id) or now  # an entry without a date keeps its first one
        article = parse_article(text.encode(), where, where.parent, config, mtime=first)
    except ArticleError as error:
        return error
    return read_file(article, named_by_path=False)


@dataclass
class _Names:
    """Which notice each entry of one read is (see :func:`feed_entry_id`)."""

    feed: str
    config: Config
    dates_of: Callable[[Iterable[str]], dict[str, float]]  # the ledger's, in one lookup
    linked: dict[str, str]  # an id taken from a link → the guid of the entry it names
    entries: list[Any]

    def __post_init__(self) -> None:
        self.guids_by_link: dict[str, set[str]] = {}
        for entry in self.entries:
            if entry.get("link") and entry.get("id"):
                self.guids_by_link.setdefault(entry["link"], set()).add(entry["id"])
        self.sources = tuple(dict.fromkeys((self.feed, *self.config.feeds)))
        self.known = self.dates_of(
            candidate
            for entry in self.entries
            for candidate in self._candidates(*(entry.get(k) for k in ("id", "link", "title")))
        )

    def _candidates(self, guid: str | None, link: str | None, title: str | None) -> list[str]:
        """Every id the entry may have in the ledger: its own, and the earlier ones."""
        own = feed_entry_id(self.feed, guid, link, title)
        return [own, *(earlier_feed_entry_id(s, guid, link, title) for s in self.sources)]

    def id_of(self, guid: str | None, link: str | None, title: str | None) -> str:
        """The ledger's id for the entry where it has one (earlier releases named an
        entry by its feed and guid, in this feed or another configured one); else
        its own. A link names one entry: the first that took it, while that entry is
        still in the feed (a notice board's page is every entry's link); a renumbered
        guid keeps it."""
        for source in self.sources:
            earlier = earlier_feed_entry_id(source, guid, link, title)
            if earlier in self.known:
                return earlier
        article_id = feed_entry_id(self.feed, guid, link, title)
        if not guid or not link or article_id != feed_entry_id("", None, link, None):
            return article_id  # not named by its link
        owner = self.linked.get(article_id)
        if owner not in (None, guid) and owner in self.guids_by_link.get(link, set()):
            return earlier_feed_entry_id(self.feed, guid, link, title)
        self.linked[article_id] = guid
        return article_id


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
