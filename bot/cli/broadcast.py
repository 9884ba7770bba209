"""`noticebot broadcast` and `noticebot announce`: what an admin's /broadcast and
/announce do, from a shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from bot.cli.inputs import text_of
from bot.config import Config
from bot.ledger import Store
from bot.reading.identity import path_id
from bot.sources.announcements import write_announcement
from bot.sources.scanner import Scanner
from bot.trigger import follow, plural, send_here


def broadcast(args: argparse.Namespace, config: Config) -> int:
    """Exit 2 for what was typed wrong, 1 for what the ledger does not hold, 0 when done
    (or when there is nothing to do)."""
    if args.cancel is not None:
        return _cancel(Store(config.db), args.cancel)
    if not (args.article or "").strip():
        print("noticebot broadcast: name an article — see noticebot list", file=sys.stderr)
        return 2
    store = Store(config.db)
    row = store.published(args.article)
    if row is None:
        print(_unknown(store, args.article), file=sys.stderr)
        return 1
    recipients = store.recipients(row["id"])
    if recipients == 0:
        subscribed = store.recipients(None)
        print(
            f"nothing to send: every subscribed chat has “{row['title']}” already, or has it"
            f" queued ({plural(subscribed, 'chat')})"
            if subscribed
            else "nothing to send: no chat is subscribed"
        )
        return 0
    if not _confirmed(f"send “{row['title']}” to {plural(recipients, 'chat')}?", args.yes):
        return 1
    return _cast(store, config, row["id"], args.send)


def _cancel(store: Store, broadcast_id: int) -> int:
    if store.broadcast_row(broadcast_id) is None:
        print(f"noticebot broadcast: no broadcast {broadcast_id} to cancel", file=sys.stderr)
        return 1
    cancelled = store.cancel_broadcast(broadcast_id)
    if cancelled:
        queued = plural(cancelled, "queued delivery", "queued deliveries")
        print(f"broadcast {broadcast_id}: {queued} cancelled")
    else:
        print(f"broadcast {broadcast_id}: nothing was left queued to cancel")
    return 0


def _unknown(store: Store, article_id: str) -> str:
    """Why ``article_id`` cannot be broadcast, naming it."""
    row = store.article(article_id) if len(article_id) <= 40 else None
    if row is None:
        return f"noticebot broadcast: no article “{article_id}” — see noticebot list"
    return (
        f"noticebot broadcast: “{row['title']}” ({article_id}) is {row['status']},"
        " not published now — see noticebot list"
    )


def announce(args: argparse.Namespace, config: Config) -> int:
    try:
        text = text_of(args.file)
    except (OSError, UnicodeDecodeError) as error:
        print(f"noticebot announce: {error}", file=sys.stderr)
        return 2
    store = Store(config.db)
    if not text.strip():
        print(f"noticebot announce: the text of {args.file} is empty", file=sys.stderr)
        return 2
    recipients = store.recipients(None)
    reach = plural(recipients, "chat") if recipients else "no chat yet (none is subscribed)"
    if not _confirmed(f"announce “{args.title}” to {reach}?", args.yes):
        return 1
    author = config.org_name or ""  # residents see who it is from, not a login name
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
    print(f"broadcast {broadcast_id}: {plural(queued, 'chat')} queued")
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
                f"no noticebot is running on {store.where}: the broadcast waits in the ledger"
                " until one starts; `--send` sends it from here now"
            )
    except KeyboardInterrupt:
        return 0  # detached: the broadcast goes on
    return 0
