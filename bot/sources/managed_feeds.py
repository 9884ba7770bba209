"""Feeds the admins manage: the checks before one is added, its trial read, adding it
with its current entries as its baseline, pausing and removing. The chat and the
command line both come here; each says a refusal in its own language (``Refused``
carries the message's key, not its words)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, replace
from typing import Any

import httpx

from bot.config import Config
from bot.ledger import FeedSource, FeedState, Store
from bot.logs import shown_url
from bot.reading.articles import ArticleError, one_line
from bot.sources import ReadFile
from bot.sources.feeds import FeedRead, normal_url, private_host, read_feed, spelling
from bot.sources.scanner import Scanner, ScanReport

MAX_URL = 2000  # longer is no feed's address, and no message shows it whole
MAX_CATEGORY = 40


class Refused(Exception):
    """Why a feed cannot be added or changed: an i18n key and its values."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def all_feeds(store: Store, config: Config) -> list[FeedSource]:
    """Every feed: the configured ones, then those the admins added (paused ones too)."""
    configured = [FeedSource(url) for url in config.feeds]
    taken = {spelling(url) for url in config.feeds}
    return configured + [s for s in store.feed_sources() if spelling(s.url) not in taken]


def find_feed(store: Store, config: Config, key: str) -> FeedSource:
    """A feed the admins added, by its short id or its address."""
    spelled = spelling(key)
    for source in all_feeds(store, config):
        if key == source.id or spelled == spelling(source.url):
            if source.configured:
                raise Refused(
                    "feed_configured", feed=shown_url(source.url), setting="NOTICEBOT_FEEDS"
                )
            return source
    raise Refused("feed_unknown", feed=shown_url(key)[:100])


def checked_url(text: str, store: Store, config: Config) -> str:
    """The address of a feed that may be added, as it is kept (see :func:`normal_url`):
    http(s), with a host, neither read already (however spelled) nor (unless
    NOTICEBOT_FEEDS_ALLOW_PRIVATE) on a private address. Resolves the host name: call
    it off the event loop. Every connection is checked again when it is made (a name
    may resolve elsewhere by then)."""
    typed = text.strip()
    try:
        parts = urllib.parse.urlsplit(typed)
        host, port, url = parts.hostname, parts.port, normal_url(typed)
    except ValueError:  # a port that is no number, a host that is no name
        host = None
    if (
        not host
        or len(typed) > MAX_URL
        or parts.scheme.lower() not in ("http", "https")
        or any(not c.isprintable() or c.isspace() for c in typed)
    ):
        raise Refused("feed_not_url", url=shown_url(one_line(typed))[:100], scheme="http(s)://")
    read = [*config.feeds, *(source.url for source in store.feed_sources())]
    if url in {spelling(known) for known in read}:
        raise Refused("feed_duplicate", url=shown_url(url))
    if not config.feeds_allow_private and private_host(host, port):
        raise Refused("feed_private", host=host)
    return url


def checked_category(text: str | None) -> str | None:
    """A category on one line, without the comma that separates categories (each of its
    words is a name a resident can give /subscribe, see :func:`read_feed`)."""
    category = one_line(text or "")
    if len(category) > MAX_CATEGORY or "," in category:
        raise Refused("feed_bad_category", most=MAX_CATEGORY)
    return category or None


@dataclass(frozen=True)
class Trial:
    """A feed read once, as it would be read: nothing recorded."""

    read: FeedRead

    @property
    def title(self) -> str | None:
        return self.read.state.title

    @property
    def newest(self) -> ReadFile | None:
        """The entry a preview shows: the first that reads as a notice, if any."""
        return next((e for e in self.read.entries if not isinstance(e, ArticleError)), None)


def try_feed(
    url: str, config: Config, client: httpx.Client, category: str | None, now: float
) -> Trial:
    """One read of a feed not added yet; refused when it is not a readable feed."""
    read = read_feed(
        url,
        FeedState(url),
        config,
        client,
        now,
        category=category,
        private_ok=config.feeds_allow_private,
    )
    if read.state.error:
        raise Refused("feed_unreadable", url=shown_url(url), error=read.state.error)
    return Trial(read)


def add_feed(
    store: Store,
    config: Config,
    client: httpx.Client,
    source: FeedSource,
    scanner: Scanner | None = None,
) -> FeedState:
    """The feed added and read at once: its current entries are its baseline (taken in,
    not pushed). A feed that cannot be read is not added."""
    checked_url(source.url, store, config)
    store.add_feed_source(replace(source, paused=False))  # read once, even to be paused
    scanner = scanner or Scanner(store, config)
    scanner.read_feeds(client, only=source.url)
    state = store.feed_state(source.url)
    if state.baselined_at is None:
        store.remove_feed_source(source.url)
        error = state.error or "not read"
        raise Refused("feed_unreadable", url=shown_url(source.url), error=error)
    if source.paused:
        store.pause_feed_source(source.url, True)
    return state


def set_paused(store: Store, source: FeedSource, paused: bool) -> bool:
    """Whether that changed anything. A resumed feed is due at once."""
    changed = store.pause_feed_source(source.url, paused)
    if changed and not paused:  # failing before the pause is no failing since
        state = store.feed_state(source.url)
        store.save_feed_state(replace(state, next_at=None, failing_since=None))
    return changed


def remove_feed(store: Store, scanner: Scanner, source: FeedSource, withdraw: bool) -> ScanReport:
    """The feed forgotten; its published notices kept, or withdrawn (retracted from every
    chat that has them)."""
    with store.transaction():
        report = scanner.withdraw_notices(store.feed_notices(source.url)) if withdraw else None
        store.remove_feed_source(source.url)
    return report or ScanReport()
