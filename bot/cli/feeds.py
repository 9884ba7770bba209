"""``noticebot feeds``: the feeds the bot reads, managed from the command line as the
admins manage them from the chat; OPML in and out. Each change is the ledger's: the
running bot reads an added feed, and stops reading a paused or removed one, at its
next look (every second or so), without a restart."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from bot.cli import UsageError
from bot.config import Config
from bot.durations import parse_duration
from bot.i18n import t
from bot.ledger import FeedSource, FeedState, Store
from bot.ledger.moves import MoveError, check_target, write_private
from bot.logs import shown_url
from bot.sources.feeds import TIMEOUT
from bot.sources.managed_feeds import (
    MAX_CATEGORY,
    Refused,
    add_feed,
    all_feeds,
    checked_category,
    checked_url,
    find_feed,
    remove_feed,
    set_paused,
)
from bot.sources.opml import OpmlError, OpmlFeed, read_opml, write_opml
from bot.sources.scanner import Scanner
from bot.trigger import plural

MIN_INTERVAL = 60.0  # seconds: a feed read more often burdens its host for nothing


def feeds(args: argparse.Namespace, config: Config) -> int:
    store = Store(config.db)
    try:
        return ACTIONS[args.action](args, config, store)
    except Refused as refused:
        raise UsageError(t(refused.key, "en", **refused.values)) from None
    finally:
        store.close()


def _list(args: argparse.Namespace, config: Config, store: Store) -> int:
    states = {state.url: state for state in store.feed_states()}
    rows = [
        _row(s, states.get(s.url) or FeedState(s.url), config, store)
        for s in all_feeds(store, config)
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if not rows:
        print("no feeds: add one with `noticebot feeds add URL` or /addfeed in the chat")
        return 0
    for row in rows:
        print(f"{row['id']}  {row['state']:<10} {row['title'] or '(untitled)'}")
        print(f"          {row['url']}")
        facts = [f"every {_duration(row['interval'])}"]
        if row["category"]:
            facts.append(f"category {row['category']}")
        facts.append(f"last read {_when(row['fetched_at'])}, {_entries(row['entries'])}")
        facts.append(f"last new notice {_when(row['last_new_at'])}")
        print("          " + "; ".join(facts))
        if row["failures"]:
            print(f"          failing ({row['failures']} in a row): {row['error']}")
    return 0


def _row(source: FeedSource, state: FeedState, config: Config, store: Store) -> dict:
    state_word = "configured" if source.configured else "paused" if source.paused else "active"
    return {
        "id": source.id,
        "url": shown_url(source.url),
        "title": source.title or state.title,
        "state": state_word,
        "category": source.category,
        "interval": source.interval or config.feed_interval,
        "added_at": source.added_at,
        "added_by": source.added_by,
        "fetched_at": state.fetched_at,
        "entries": state.entries,
        "last_new_at": store.feed_last_new(source.url, state.baselined_at),
        "failures": state.failures,
        "error": state.error,
    }


def _entries(count: int) -> str:
    return plural(count, "entry", "entries")


def _when(moment: float | None) -> str:
    return datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M") if moment else "never"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _add(args: argparse.Namespace, config: Config, store: Store) -> int:
    interval = _interval(args.interval)
    source = FeedSource(
        checked_url(args.url, store, config),
        category=checked_category(args.category),
        interval=interval,
        added_at=store.clock(),
        added_by="cli",
    )
    with httpx.Client(follow_redirects=True, timeout=TIMEOUT) as client:
        state = add_feed(store, config, client, source, Scanner(store, config))
    print(
        f"added {source.id} {state.title or '(untitled)'}: {_entries(state.entries)}"
        f" taken in as its baseline (not sent); new entries are sent from now on"
        f" (read every {_duration(interval or config.feed_interval)})"
    )
    return 0


def _interval(text: str | None) -> float | None:
    if text is None:
        return None
    seconds = parse_duration(text if text[-1:].isalpha() else f"{text}s")
    if seconds is None or seconds < MIN_INTERVAL:
        raise UsageError(f"--interval: {text!r} is not a duration of at least 1m (e.g. 10m, 1h)")
    return seconds


def _remove(args: argparse.Namespace, config: Config, store: Store) -> int:
    source = find_feed(store, config, args.feed)
    report = remove_feed(store, Scanner(store, config), source, args.withdraw)
    kept = "its notices withdrawn from every chat" if args.withdraw else "its notices kept"
    print(f"removed {source.id} {shown_url(source.url)}: {kept} ({len(report.withdrawn)})")
    return 0


def _pause(args: argparse.Namespace, config: Config, store: Store) -> int:
    source = find_feed(store, config, args.feed)
    paused = args.action == "pause"
    changed = set_paused(store, source, paused)
    word = "paused" if paused else "resumed"
    print(f"{word} {source.id} {shown_url(source.url)}" + ("" if changed else f" (was {word})"))
    return 0


def _import(args: argparse.Namespace, config: Config, store: Store) -> int:
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        found = read_opml(data)
    except OpmlError as error:
        raise UsageError(f"feeds import: {args.file}: {error}") from None
    except OSError as error:
        raise UsageError(f"feeds import: {args.file}: {error.strerror or error}") from None
    added, duplicates, unreachable, invalid = [], [], [], []
    scanner = Scanner(store, config)
    with httpx.Client(follow_redirects=True, timeout=TIMEOUT) as client:
        for feed in found.feeds:
            try:
                url = checked_url(feed.url, store, config)
                source = FeedSource(
                    url,
                    title=feed.title,
                    category=checked_category(_as_category(feed.category)),
                    interval=feed.interval if (feed.interval or 0) >= MIN_INTERVAL else None,
                    paused=feed.paused,
                    added_at=store.clock(),
                    added_by="cli",
                )
                add_feed(store, config, client, source, scanner)
                added.append(source)
            except Refused as refused:
                shown = shown_url(feed.url)
                said = refused.values.get("error") or t(refused.key, "en", **refused.values)
                line = f"{shown}: {said}"
                kind = {"feed_duplicate": duplicates, "feed_unreadable": unreachable}
                kind.get(refused.key, invalid).append(line)
    print(f"imported {len(added)} of {len(found.feeds)} feeds from {args.file}")
    for source in added:
        print(f"  added {source.id} {source.title or shown_url(source.url)}")
    for title, lines in (
        ("already read (not added again)", duplicates),
        ("unreachable or not a feed (not added)", unreachable),
        ("refused (not added)", invalid),
    ):
        if lines:
            print(f"{len(lines)} {title}:")
            for line in lines:
                print(f"  {line}")
    if found.repeated:
        print(f"{len(found.repeated)} listed twice in the file (read once)")
    return 1 if unreachable or invalid else 0


def _as_category(folder: str | None) -> str | None:
    """A feed reader's folder as a category: without commas, cut to MAX_CATEGORY."""
    return " ".join((folder or "").replace(",", " ").split())[:MAX_CATEGORY] or None


def _export(args: argparse.Namespace, config: Config, store: Store) -> int:
    states = {state.url: state for state in store.feed_states()}
    exported = [
        OpmlFeed(
            s.url,
            title=s.title or (states.get(s.url) or FeedState(s.url)).title,
            category=s.category,
            interval=s.interval,
            paused=s.paused,
        )
        for s in all_feeds(store, config)
    ]
    data = write_opml(exported, "noticebot feeds", time.time())
    if args.file in (None, Path("-")):
        sys.stdout.buffer.write(data)
        return 0
    try:
        check_target(config.db, args.file, force=args.force, what="export")
    except MoveError as error:
        raise UsageError(f"feeds export: {error}") from None
    write_private(args.file, data.decode("utf-8"))
    print(f"exported {len(exported)} feeds to {args.file}", file=sys.stderr)
    return 0


ACTIONS = {
    "list": _list,
    "add": _add,
    "remove": _remove,
    "pause": _pause,
    "resume": _pause,
    "import": _import,
    "export": _export,
}
