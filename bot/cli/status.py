"""`noticebot status` and `noticebot list`: what the ledger holds."""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.i18n import format_counts, format_datetime
from bot.ledger import Store
from bot.ledger.lease import Lease
from bot.logs import shown_url
from bot.reading.articles import one_line
from bot.reading.walk import walk_folder


def status(args: argparse.Namespace, config: Config) -> int:
    store = Store(config.db)
    status = store.status()
    if isinstance(store.owner, Lease):
        status["processes"] = store.owner.processes()
        status["failovers"] = store.owner.failovers()
    status["feeds"] = [{**feed, "url": shown_url(feed["url"])} for feed in status["feeds"]]
    status["missing_folders"] = [str(f) for f in config.articles if not f.exists()]
    status["invalid_files"] = _invalid_files(status["invalid_files"], config)
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
        return 0
    if "processes" in status:
        _print_processes(status["processes"], status["failovers"], config)
    chats = status["chats"]
    print(f"articles: {format_counts(status['articles'], 'none')}")
    print(
        f"chats: active {chats['active']}, unsubscribed {chats['unsubscribed']}, "
        f"inactive {len(chats['inactive'])}"
    )
    for chat in chats["inactive"]:
        print(f"  inactive {chat['id']} ({chat['type']}): {chat['reason']}")
    print(f"deliveries: {format_counts(status['deliveries'], 'none')}")
    upkeep = status["upkeep"]
    print(
        f"copies kept current: {upkeep['edits']} edits, {upkeep['retracted']} retracted,"
        f" {upkeep['pinned']} pinned now"
    )
    for failure in status["last_failures"]:
        print(
            f"  {failure['status']} {failure['article_id']} → {failure['chat_id']} "
            f"after {failure['attempts']} attempt(s): {failure['last_error']}"
        )
    for folder in status["missing_folders"]:
        print(f"articles folder {one_line(folder)}: missing, nothing is read from it")
    for invalid in status["invalid_files"]:
        print(f"invalid {one_line(invalid['path'])}: {one_line(invalid['reason'])}")
    for feed in status["feeds"]:
        print(f"feed {feed['url']}: {_feed_line(feed, config)}")
    for task, trouble in status["troubles"].items():
        when = _when(trouble["at"], config)
        print(f"{task}: failed and started again, last at {when}: {trouble['error']}")
    return 0


def _print_processes(
    processes: list[dict[str, Any]], failovers: list[dict[str, Any]], config: Config
) -> None:
    """Which process on the PostgreSQL ledger sends, which stand by, the last failover."""
    if not processes:
        print("processes: none running (no heartbeat in the last minute)")
    for process in processes:
        role = "active" if process["active"] else "standby"
        since = _when(process["started_at"], config)
        print(
            f"process {process['id']}: {role}, started {since},"
            f" last seen {process['seen_ago']:.1f} s ago"
        )
    if failovers:
        last = failovers[0]
        print(
            f"last failover: {_when(last['at'], config)}, {last['previous']} → {last['holder']}"
            f", {last['silent']:.1f} s after its last heartbeat"
        )
    else:
        print("last failover: none")


def _when(at: float, config: Config) -> str:
    return format_datetime(datetime.fromtimestamp(at, config.tz), "en", config.tz)


def _invalid_files(recorded: list[dict[str, str]], config: Config) -> list[dict[str, str]]:
    """The ledger's invalid files, and those it keeps no row for, found by walking the
    folders as a scan does: a name that is not UTF-8 cannot be stored, and a named pipe
    is never read, yet a post saved as either is believed sent until someone is told."""
    listed = {row["path"] for row in recorded}
    found = []
    for root in dict.fromkeys(Path(os.path.abspath(folder)) for folder in config.folders):
        for path, reason in walk_folder(root).invalid:
            if path not in listed:
                listed.add(path)
                found.append({"path": path, "reason": reason})
    return sorted([*recorded, *found], key=lambda row: row["path"])


def _feed_line(feed: dict[str, Any], config: Config) -> str:
    """Last fetch, last change, last error: what a volunteer checks first."""

    def when(at: float | None) -> str:
        if at is None:
            return "never"
        return format_datetime(datetime.fromtimestamp(at, config.tz), "en", config.tz)

    line = f"fetched {when(feed['fetched_at'])}, changed {when(feed['changed_at'])}"
    line += f" ({feed['entries']} entries)"
    if feed["error"]:
        line += f"; failing ({feed['failures']} in a row) since {when(feed['error_at'])}:"
        line += f" {feed['error']}; next try {when(feed['next_at'])}"
    return line


def list_articles(args: argparse.Namespace, config: Config) -> int:
    rows = Store(config.db).recent_articles(max(1, args.n), scheduled=True)
    if args.json:
        print(
            json.dumps(
                [
                    {**r, "date": datetime.fromtimestamp(r["date"], config.tz).isoformat()}
                    for r in rows
                ],
                ensure_ascii=False,
            )
        )
        return 0
    for row in rows:
        when = format_datetime(datetime.fromtimestamp(row["date"], config.tz), "en", config.tz)
        print(f"{row['id']:<10} {when:<20} {row['title']}")
    if not rows:
        print("no articles yet: run `noticebot scan`")
    return 0
