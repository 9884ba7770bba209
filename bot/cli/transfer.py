"""`noticebot export-ledger` and `import-ledger`: the whole ledger moved between a SQLite
file and a PostgreSQL database, either way, and checked table by table after.

Two commands for one copy, so the configured ledger is always one side: `export-ledger`
copies it out (``--to``), `import-ledger` fills it, empty, from another (``--from``).
Exit status 1, with one line, when the copy cannot be made or is not the source;
nothing is then left half-copied (and a SQLite file this command made is removed).
Addresses are shown without their password.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config
from bot.logs import redact, shown_url

if TYPE_CHECKING:
    from bot.ledger.transfer import Report

FAILED = 1


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Both commands, for the parser to add beside the others (it adds ``--db``)."""
    from bot.cli import ledger_arg  # the package's, being loaded when it calls this

    export = commands.add_parser(
        "export-ledger",
        help="copy the whole ledger into a new SQLite file or an empty PostgreSQL database",
        description="Copy every row of NOTICEBOT_DB (articles, chats, deliveries with their "
        "ids, broadcasts, confirmations, feeds) into TARGET: a new SQLite file or the "
        "postgresql:// URL of an empty database. Then count and checksum each table on both "
        "sides. Stop the bot first: the copy is of a ledger at rest.",
    )
    export.add_argument(
        "--to",
        dest="target",
        type=ledger_arg("--to"),
        required=True,
        metavar="FILE|URL",
        help="a new SQLite file, or an empty database's postgresql:// URL",
    )
    export.set_defaults(handler="transfer:export_ledger")
    load = commands.add_parser(
        "import-ledger",
        help="fill an empty ledger with every row of another (SQLite or PostgreSQL)",
        description="Copy every row of SOURCE, a SQLite ledger or a postgresql:// URL, into "
        "NOTICEBOT_DB, which must be empty: never merged into a ledger in use. Then count "
        "and checksum each table on both sides. Stop the bot first: the copy is of a ledger "
        "at rest.",
    )
    load.add_argument(
        "--from",
        dest="source",
        type=ledger_arg("--from"),
        required=True,
        metavar="FILE|URL",
        help="the ledger copied: a SQLite file, or a postgresql:// URL",
    )
    load.add_argument(
        "--create", action="store_true", help="make the new ledger here if there is none"
    )
    load.set_defaults(handler="transfer:import_ledger")


def export_ledger(args: argparse.Namespace, config: Config) -> int:
    return _transfer("export-ledger", config.db, args.target, config.token)


def import_ledger(args: argparse.Namespace, config: Config) -> int:
    return _transfer("import-ledger", args.source, config.db, config.token)


def _transfer(command: str, source_at: Path | str, target_at: Path | str, token: str | None) -> int:
    from bot.ledger.base import is_server
    from bot.ledger.errors import LedgerUnusable
    from bot.ledger.transfer import TransferError

    made = None if is_server(target_at) or Path(target_at).exists() else Path(target_at)
    try:
        report = _copy(source_at, target_at)
    except (TransferError, LedgerUnusable) as error:
        if made is not None:
            _remove(made)
        line = " ".join(redact(str(error), token).splitlines())
        print(f"noticebot {command}: {line}", file=sys.stderr)
        return FAILED
    for table, (rows, checksum) in report.tables.items():
        print(f"{table}: {rows:,} {'row' if rows == 1 else 'rows'}, checksum {checksum[:12]}…")
    indexed = f"; search index filled ({report.indexed:,} articles)" if report.indexed else ""
    print(
        f"copied {shown_url(str(source_at))} to {shown_url(str(target_at))}:"
        f" {len(report.tables)} tables, {report.rows:,} rows, each with the same count and"
        f" checksum on both sides ({report.seconds:.1f} s){indexed}"
    )
    return 0


def _copy(source_at: Path | str, target_at: Path | str) -> Report:
    from bot.ledger import Store
    from bot.ledger.transfer import copy_ledger_rows, require_ledger

    require_ledger(source_at)  # opening one where none is would make it
    with closing(Store(source_at)) as source, closing(Store(target_at)) as target:
        return copy_ledger_rows(source, target)


def _remove(path: Path) -> None:
    """A SQLite ledger this command made for a copy that failed: nothing left behind."""
    for name in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm", ".lock"))):
        name.unlink(missing_ok=True)
