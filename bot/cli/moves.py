"""`noticebot backup`, `export` and `import`: the ledger and its subscriptions moved.
Exit codes: 2 for what the user gave (a path, a file), 1 for a failure while doing it."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from bot.cli.inputs import text_of
from bot.config import Config
from bot.ledger import Store
from bot.ledger.moves import (
    MoveError,
    check_target,
    export_subscriptions,
    import_subscriptions,
    read_export,
    write_private,
)
from bot.ledger.moves import (
    backup as copy_ledger,
)
from bot.trigger import plural

BAD_INPUT, FAILED = 2, 1


def backup(args: argparse.Namespace, config: Config) -> int:
    if isinstance(config.db, str):
        return _fail(
            "backup",
            MoveError(
                "the ledger is on PostgreSQL: back it up with the server's own backups"
                " (pg_dump), or copy it into a file with `noticebot export-ledger --to FILE`"
            ),
            BAD_INPUT,
        )
    try:
        copy = copy_ledger(config.db, args.file, force=args.force)
    except MoveError as error:
        return _fail("backup", error, BAD_INPUT)
    except (OSError, sqlite3.Error) as error:
        return _fail("backup", error, FAILED)
    print(
        f"backed up {config.db} to {copy.path} ({copy.bytes:,} bytes, integrity ok):"
        f" {copy.articles} articles, {copy.chats} subscribed chats,"
        f" {copy.sent} confirmed deliveries"
    )
    return 0


def export(args: argparse.Namespace, config: Config) -> int:
    target: Path | None = None if args.file in (None, Path("-")) else args.file
    if target is not None:
        try:
            check_target(config.db, target, force=args.force, what="export")
        except MoveError as error:
            return _fail("export", error, BAD_INPUT)
    chats = Store(config.db).subscribed_chats()
    text = json.dumps(export_subscriptions(chats), ensure_ascii=False, indent=1)
    if target is None:  # `-` too, as `import -` reads standard input
        print(text)
        return 0
    try:
        write_private(target, text + "\n")
    except OSError as error:
        return _fail("export", error, FAILED)
    print(f"exported {plural(len(chats), 'subscribed chat')} to {target}", file=sys.stderr)
    return 0


def import_chats(args: argparse.Namespace, config: Config) -> int:
    try:
        found = read_export(text_of(args.file))
    except MoveError as error:
        return _fail("import", error, BAD_INPUT)
    except UnicodeDecodeError as error:
        name = "standard input" if args.file == "-" else args.file
        byte = error.object[error.start : error.start + 1].hex()
        return _fail(
            "import", f"{name}: not UTF-8 text (byte 0x{byte} at {error.start})", BAD_INPUT
        )
    except OSError as error:
        return _fail("import", f"{args.file}: {error.strerror or error}", BAD_INPUT)
    for line in found.invalid:
        print(f"noticebot import: {line}", file=sys.stderr)
    if found.invalid and not args.skip_invalid:
        bad, good = len(found.invalid), len(found.chats)
        return _fail(
            "import",
            f"nothing imported: {plural(bad, 'chat')} invalid (use --skip-invalid to import"
            f" the {plural(good, 'valid one')})",
            BAD_INPUT,
        )
    new, updated = import_subscriptions(Store(config.db), found.chats)
    skipped = f", {len(found.invalid)} invalid skipped" if found.invalid else ""
    print(
        f"imported {plural(len(found.chats), 'chat')}: {new} new,"
        f" {updated} already known (settings taken){skipped}"
    )
    return 0


def _fail(command: str, error: object, code: int) -> int:
    print(f"noticebot {command}: {error}", file=sys.stderr)
    return code
