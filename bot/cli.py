"""The ``noticebot`` command line: run, scan, status, list, preview."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.config import LANGUAGES, Config, ConfigError, load_config
from bot.formatting.formatter import format_article
from bot.formatting.preview import render_html, render_json_lines, render_terminal
from bot.i18n import format_counts, format_datetime
from bot.ledger import LedgerBusy, Store
from bot.ledger.moves import (
    MoveError,
    backup,
    export_subscriptions,
    import_subscriptions,
    read_export,
)
from bot.logs import setup_logging, shown_url
from bot.reading.articles import LoadResult, load_folders, one_line
from bot.reading.identity import path_id
from bot.sources.announcements import write_announcement
from bot.sources.feeds import TIMEOUT
from bot.sources.scanner import HOLD_FOR, Scanner, ScanReport
from bot.trigger import follow, send_here


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = load_config()
    except ConfigError as error:
        print(f"noticebot: configuration error: {error}", file=sys.stderr)
        return 2
    if args.command != "run":  # run sets its own level; every log line is redacted
        setup_logging("WARNING", config.token, config.log_format)
    return args.handler(args, config)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noticebot", description="Community notices from article folders to Telegram chats."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    preview = commands.add_parser(
        "preview",
        help="show the messages articles would become (no token, no network)",
        description="Show every message each article becomes, as a chat would. "
        "Without PATH, the configured article folders (NOTICEBOT_ARTICLES).",
    )
    preview.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    preview.add_argument(
        "--json", action="store_true", help="print the Bot API calls as JSON lines"
    )
    preview.add_argument(
        "--html", type=Path, metavar="FILE", help="also write a chat-like HTML page"
    )
    preview.add_argument(
        "--lang", choices=LANGUAGES, help="interface language (default NOTICEBOT_LANG)"
    )
    preview.set_defaults(handler=_preview)

    run = commands.add_parser(
        "run",
        help="run the bot (console mode without TELEGRAM_BOT_TOKEN)",
        description="Run the bot: scan NOTICEBOT_ARTICLES every NOTICEBOT_SCAN_INTERVAL seconds, "
        "deliver new notices and answer commands. With TELEGRAM_BOT_TOKEN it talks to "
        "TELEGRAM_API_URL; without it (or with --console) it runs in console mode: you chat "
        "with the bot in this terminal as a local admin, and nothing is sent to Telegram. "
        "Stop with Ctrl-C or SIGTERM (Ctrl-D in console mode); unfinished deliveries resume "
        "at the next start.",
    )
    run.add_argument("--console", action="store_true", help="console mode even with a token")
    run.add_argument(
        "--articles", type=Path, action="append", metavar="DIR", help="article folder (repeatable)"
    )
    run.add_argument(
        "--db", type=Path, help="SQLite ledger (default NOTICEBOT_DB; console: state/console.db)"
    )
    run.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="default NOTICEBOT_LOG_LEVEL (INFO; WARNING in console mode); the token is "
        "redacted at every level",
    )
    run.set_defaults(handler=_run)

    cast = commands.add_parser(
        "broadcast",
        help="send a published notice to every subscribed chat, from outside the chat",
        description="Record a broadcast of ARTICLE (an id from `noticebot list`) in the "
        "ledger, as an admin's confirmed /broadcast; the running bot sends it. Shows the "
        "recipients and asks first, then follows the progress to the report (Ctrl-C "
        "detaches; the broadcast goes on).",
    )
    cast.add_argument("article", nargs="?", metavar="ARTICLE", help="the article's id")
    cast.add_argument("--cancel", type=int, metavar="N", help="stop what is queued of broadcast N")
    announce = commands.add_parser(
        "announce",
        help="post an announcement to every subscribed chat, from outside the chat",
        description="Write FILE's Markdown (or standard input's, with -) as an announcement "
        "in NOTICEBOT_ANNOUNCE_DIR, as /announce does, and broadcast it.",
    )
    announce.add_argument("file", metavar="FILE", help="Markdown text, or - for stdin")
    announce.add_argument("--title", required=True, help="the announcement's title")
    for command in (cast, announce):
        command.add_argument("--yes", action="store_true", help="do not ask")
        command.add_argument(
            "--send", action="store_true", help="no bot running: send from this process"
        )
    cast.set_defaults(handler=_broadcast)
    announce.set_defaults(handler=_announce)

    backup = commands.add_parser(
        "backup",
        help="copy the ledger consistently, even while the bot runs",
        description="Copy NOTICEBOT_DB with SQLite's online backup API (one consistent "
        "snapshot while the bot goes on writing) and check the copy's integrity.",
    )
    backup.add_argument("file", type=Path, metavar="FILE", help="where the copy goes")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    backup.set_defaults(handler=_backup)
    export = commands.add_parser(
        "export",
        help="the subscriptions and their settings as JSON, for a new token or server",
        description="Every subscribed chat with its settings (language, mode, filters, quiet "
        "hours, digest time, forum topic) as JSON; `noticebot import` reads it.",
    )
    export.add_argument("file", type=Path, nargs="?", metavar="FILE", help="default: stdout")
    export.set_defaults(handler=_export)
    load = commands.add_parser(
        "import",
        help="subscribe the chats of an export, with their settings",
        description="Subscribe every chat of a `noticebot export` (FILE, or - for stdin), "
        "with its settings; chats already in the ledger take the exported settings.",
    )
    load.add_argument("file", metavar="FILE", help="an export, or - for standard input")
    load.set_defaults(handler=_import)

    for name, handler, text in (
        ("scan", _scan, "scan the article folders once now and queue new notices"),
        ("status", _status, "articles, chats, deliveries by status and the last failures"),
        ("list", _list, "recent articles: id, date, title"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "list":
            command.add_argument("-n", type=int, default=20, help="how many (default 20)")
        if name == "scan":
            command.add_argument(
                "--withdraw",
                action="store_true",
                help="withdraw now the notices whose files disappeared all at once (held"
                " as a folder not there yet would be)",
            )
        command.set_defaults(handler=handler)
    return parser


def _run(args: argparse.Namespace, config: Config) -> int:
    config = replace(
        config,
        articles=tuple(args.articles) if args.articles else config.articles,
        db=args.db or config.db,
    )
    if args.console or not config.token:
        from bot.console import run_console  # python-telegram-bot loads only when running

        setup_logging(args.log_level or "WARNING", config.token, config.log_format)
        run_console(config)
        return 0
    from telegram import Update

    from bot.app import build_application

    setup_logging(args.log_level or config.log_level, config.token, config.log_format)
    logging.getLogger(__name__).info(
        "noticebot starting: articles %s, database %s, API %s",
        ", ".join(map(str, config.articles)),
        config.db,
        config.api_url,
    )
    try:
        application = build_application(config)
        if config.webhook_url:
            _run_webhook(application, config, Update.ALL_TYPES)
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    except LedgerBusy as error:
        print(f"noticebot: {error}", file=sys.stderr)
        return 1
    return 0


def _run_webhook(application: Any, config: Config, updates: list[str]) -> None:
    """Telegram POSTs each update to NOTICEBOT_WEBHOOK_URL (a proxy in front of us ends
    TLS); we listen on NOTICEBOT_WEBHOOK_LISTEN at the same path. The secret token is
    new at every start, so a request without this run's token is refused."""
    assert config.webhook_url is not None and config.webhook_listen is not None
    host, port = config.webhook_listen
    logging.getLogger(__name__).info(
        "webhook: Telegram posts to %s, served on %s:%d", config.webhook_url, host, port
    )
    application.run_webhook(
        listen=host,
        port=port,
        url_path=urlsplit(config.webhook_url).path.lstrip("/"),
        webhook_url=config.webhook_url,
        secret_token=secrets.token_urlsafe(32),
        allowed_updates=updates,
    )


def _scan(args: argparse.Namespace, config: Config) -> int:
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


def _status(args: argparse.Namespace, config: Config) -> int:
    status = Store(config.db).status()
    status["feeds"] = [{**feed, "url": shown_url(feed["url"])} for feed in status["feeds"]]
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
        return 0
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
    for feed in status["feeds"]:
        print(f"feed {feed['url']}: {_feed_line(feed, config)}")
    for task, trouble in status["troubles"].items():
        when = format_datetime(datetime.fromtimestamp(trouble["at"], config.tz), "en", config.tz)
        print(f"{task}: failed and started again, last at {when}: {trouble['error']}")
    return 0


def _broadcast(args: argparse.Namespace, config: Config) -> int:
    store = Store(config.db)
    if args.cancel is not None:
        cancelled = store.cancel_broadcast(args.cancel)
        print(f"broadcast {args.cancel}: {cancelled} queued deliveries cancelled")
        return 0
    row = store.published(args.article or "")
    if row is None:
        print(
            f"noticebot broadcast: no published article {args.article!r} (`noticebot list`)",
            file=sys.stderr,
        )
        return 1
    if not _confirmed(f"send “{row['title']}” to {store.recipients(row['id'])} chats?", args.yes):
        return 1
    return _cast(store, config, row["id"], args.send)


def _announce(args: argparse.Namespace, config: Config) -> int:
    try:
        text = _text_of(args.file)
    except (OSError, UnicodeDecodeError) as error:
        print(f"noticebot announce: {error}", file=sys.stderr)
        return 1
    store = Store(config.db)
    if not text.strip():
        print("noticebot announce: the text is empty", file=sys.stderr)
        return 1
    if not _confirmed(f"announce “{args.title}” to {store.recipients(None)} chats?", args.yes):
        return 1
    author = os.environ.get("USER") or "noticebot"
    now = datetime.now(config.tz)
    path = write_announcement(config.announce_dir, args.title, author, text, now)
    # only this file: a full scan with this shell's settings could take folders the
    # bot reads for gone, and withdraw their notices
    Scanner(store, config).scan_file(path, config.announce_dir)
    article_id = path_id(path, config.announce_dir)
    if store.published(article_id) is None:
        print(f"noticebot announce: {path} could not be read as an article", file=sys.stderr)
        return 1
    print(f"announcement written to {path}")
    return _cast(store, config, article_id, args.send)


def _text_of(name: str) -> str:
    """A file's text, or standard input's for ``-``."""
    return sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")


def _confirmed(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        print(f"{question} Not a terminal: add --yes to confirm.", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes", "是")


def _cast(store: Store, config: Config, article_id: str, send: bool) -> int:
    """Record the broadcast; follow it as the running bot sends it, or send it here."""
    running = store.owner.held_elsewhere()
    broadcast_id, queued = store.broadcast(article_id, by_user=None)
    print(f"broadcast {broadcast_id}: {queued} chats queued")
    try:
        if running:
            follow(store, broadcast_id)
        elif send:
            try:
                asyncio.run(send_here(config, broadcast_id))
            except KeyboardInterrupt:
                print(
                    f"\nstopped sending: the rest of broadcast {broadcast_id} waits in the"
                    " ledger for the bot (or `--send` again)",
                    file=sys.stderr,
                )
        else:
            print(
                f"no noticebot is running on {config.db}: the broadcast waits in the ledger"
                " until one starts; `--send` sends it from here now"
            )
    except KeyboardInterrupt:
        return 0  # detached: the broadcast goes on
    return 0


def _backup(args: argparse.Namespace, config: Config) -> int:
    try:
        copy = backup(config.db, args.file, force=args.force)
    except (MoveError, OSError, sqlite3.Error) as error:
        print(f"noticebot backup: {error}", file=sys.stderr)
        return 1
    print(
        f"backed up {config.db} to {copy.path} ({copy.bytes:,} bytes, integrity ok):"
        f" {copy.articles} articles, {copy.chats} subscribed chats,"
        f" {copy.sent} confirmed deliveries"
    )
    return 0


def _export(args: argparse.Namespace, config: Config) -> int:
    chats = Store(config.db).subscribed_chats()
    text = json.dumps(export_subscriptions(chats), ensure_ascii=False, indent=1)
    if args.file is None:
        print(text)
    else:
        args.file.write_text(text + "\n", encoding="utf-8")
        print(f"exported {len(chats)} subscribed chats to {args.file}", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace, config: Config) -> int:
    try:
        chats = read_export(_text_of(args.file))
    except (MoveError, OSError, UnicodeDecodeError) as error:
        print(f"noticebot import: {error}", file=sys.stderr)
        return 1
    new, updated = import_subscriptions(Store(config.db), chats)
    print(f"imported {len(chats)} chats: {new} new, {updated} already known (settings taken)")
    return 0


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


def _list(args: argparse.Namespace, config: Config) -> int:
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


def _preview(args: argparse.Namespace, config: Config) -> int:
    loaded = load_folders(args.paths or config.articles, config)
    lang = args.lang or config.lang
    rendered = [
        (article.title, format_article(article, lang, config.tz).all())
        for article in loaded.articles
    ]
    out = sys.stdout
    if args.json:
        for _, messages in rendered:
            out.write(render_json_lines(messages))
    else:
        color = out.isatty()
        for title, messages in rendered:
            out.write(render_terminal(title, messages, color=color) + "\n")
        _summary(loaded, args.paths or config.articles)
    if args.html:
        page = render_html(rendered, errors=[str(e) for e in loaded.errors])
        args.html.write_text(page, encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    for error in loaded.errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if loaded.errors else 0


def _summary(loaded: LoadResult, roots: Sequence[Path]) -> None:
    folders = ", ".join(str(r) for r in roots)
    print(f"{len(loaded.articles)} article(s), {len(loaded.errors)} error(s) in {folders}")
    for article in loaded.articles:
        for warning in article.warnings:
            print(f"warning: {one_line(str(article.path))}: {warning}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
