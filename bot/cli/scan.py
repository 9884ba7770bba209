"""`noticebot scan`: one scan now, and its report."""

from __future__ import annotations

import argparse
import json
import sys

import httpx

from bot.config import Config
from bot.ledger import Store
from bot.reading.articles import one_line
from bot.sources.feeds import TIMEOUT
from bot.sources.scanner import HOLD_FOR, Scanner, ScanReport


def scan(args: argparse.Namespace, config: Config) -> int:
    store = Store(config.db)
    progress = _progress_bar if sys.stderr.isatty() and not args.json else None
    scanner = Scanner(store, config)
    report = scanner.scan(progress=progress, withdraw=args.withdraw)
    if args.withdraw and not report.complete:
        print(
            "noticebot: --withdraw needs the running bot's folders and feeds; this shell's differ",
            file=sys.stderr,
        )
        return 2
    if config.feeds:
        with httpx.Client(follow_redirects=True, timeout=TIMEOUT) as client:
            feeds = scanner.read_feeds(client)
        report = report.merged(feeds)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        _print_report(report)
    return 0


def _progress_bar(done: int, total: int) -> None:
    if total < 50:
        return
    width = 30
    filled = width * done // total
    end = "\n" if done == total else ""
    print(
        f"\rscanning [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
        end=end,
        file=sys.stderr,
        flush=True,
    )


def _print_report(report: ScanReport) -> None:
    first = " (first scan: existing articles are recorded, not pushed)" if report.first_scan else ""
    print(report.summary() + first)
    for label, ids in (
        ("new", report.new),
        ("changed", report.changed),
        ("withdrawn", report.withdrawn),
        ("too old to push", report.too_old),
        ("scheduled", report.scheduled),
    ):
        for article_id in ids:
            print(f"  {label}: {article_id}")
    for path, reason in report.invalid:
        print(f"  invalid: {one_line(path)}: {reason}")
    for root in report.missing_roots:
        print(f"  missing folder (its articles kept): {root}")
    for path, reason in report.unseen:
        print(f"  could not read (its articles kept): {one_line(path)}: {reason}")
    for held in report.held:
        folder = held.folder or "folders no longer configured"
        print(
            f"  withdrawal held: {held.files} notices of {folder} seem gone at once;"
            f" withdrawn if still gone after {HOLD_FOR / 60:.0f} minutes,"
            " or now with `noticebot scan --withdraw`"
        )
    if not report.complete:
        print(
            "  this shell's folders or feeds differ from the running bot's: only those they"
            " share were scanned, and nothing was withdrawn"
        )
    if report.foreign:
        print("  not the running bot's folders, so not scanned: " + ", ".join(report.foreign))
    for feed, error in report.feed_errors:
        print(f"  feed failing (tried again later): {feed}: {error}")
    for feed, entries in report.feeds_cut:
        print(
            f"  feed {feed}: {entries} entries, only the newest read (NOTICEBOT_FEED_MAX_ENTRIES)"
        )
