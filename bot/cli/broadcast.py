"""`noticebot broadcast` and `noticebot announce`: what an admin's /broadcast and
/announce do, from a shell."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime

from bot.cli.inputs import text_of
from bot.config import Config
from bot.ledger import Store
from bot.reading.identity import path_id
from bot.sources.announcements import write_announcement
from bot.sources.scanner import Scanner
from bot.trigger import follow, send_here


def broadcast(args: argparse.Namespace, config: Config) -> int:
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


def announce(args: argparse.Namespace, config: Config) -> int:
    try:
        text = text_of(args.file)
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
