"""`noticebot backup`, `export` and `import`: the ledger and its subscriptions moved."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from bot.cli.inputs import text_of
from bot.config import Config
from bot.ledger import Store
from bot.ledger.moves import (
    MoveError,
    export_subscriptions,
    import_subscriptions,
    read_export,
)
from bot.ledger.moves import (
    backup as copy_ledger,
)


def backup(args: argparse.Namespace, config: Config) -> int:
    try:
        copy = copy_ledger(config.db, args.file, force=args.force)
    except (MoveError, OSError, sqlite3.Error) as error:
        print(f"noticebot backup: {error}", file=sys.stderr)
        return 1
    print(
        f"backed up {config.db} to {copy.path} ({copy.bytes:,} bytes, integrity ok):"
        f" {copy.articles} articles, {copy.chats} subscribed chats,"
        f" {copy.sent} confirmed deliveries"
    )
    return 0


def export(args: argparse.Namespace, config: Config) -> int:
    chats = Store(config.db).subscribed_chats()
    text = json.dumps(export_subscriptions(chats), ensure_ascii=False, indent=1)
    if args.file is None:
        print(text)
    else:
        args.file.write_text(text + "\n", encoding="utf-8")
        print(f"exported {len(chats)} subscribed chats to {args.file}", file=sys.stderr)
    return 0


def import_chats(args: argparse.Namespace, config: Config) -> int:
    try:
        chats = read_export(text_of(args.file))
    except (MoveError, OSError, UnicodeDecodeError) as error:
        print(f"noticebot import: {error}", file=sys.stderr)
        return 1
    new, updated = import_subscriptions(Store(config.db), chats)
    print(f"imported {len(chats)} chats: {new} new, {updated} already known (settings taken)")
    return 0
