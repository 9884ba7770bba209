"""The ``noticebot`` command line: the parser, and each command in its own module,
imported when it runs (a command loads what it uses, not what every command uses).

Every command reads one configuration, in this order (a later one wins): the
defaults, ``noticebot.toml`` in the working folder, the environment, the flags
(``--db``). Errors are one line on standard error: exit status 2 for what a user
typed or configured (a setting, an argument, a ledger path), 1 for a failure while
running; the token and any credential in an address are redacted.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from bot.cli.transfer import add_commands as add_transfer_commands
from bot.config import (
    DEFAULT_DB,
    LANGUAGES,
    Config,
    ConfigError,
    ledger_place,
    load_config,
    unknown_settings,
)
from bot.logs import redact, setup_logging, shown_url

# The commands that may create a ledger where none is, when told to with --create: a
# scan (which records what the folders hold) and an import (subscriptions moved to a new
# server). `run` creates one unasked: starting the bot is making its ledger.
MAY_CREATE = frozenset({"scan", "import", "import-ledger"})
NO_LEDGER = frozenset({"preview"})


class UsageError(Exception):
    """Something the user typed that cannot be done: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that says a mistake in one line (its usage block is one ``--help`` away)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {_shown(message)} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a reader that goes away (``noticebot status | head -2``) ends it
    quietly, as the Python documentation advises for SIGPIPE, and Ctrl-C in one line
    with the shell's status for it (128 + SIGINT)."""
    # The ledger, its lock, backups, exports and announcements hold every private
    # user's id and name: whatever this process makes is its user's alone.
    os.umask(0o077)
    for stream in (sys.stdout, sys.stderr):  # a path's undecodable bytes, shown escaped
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        code = _main(argv)
        sys.stdout.flush()
    except KeyboardInterrupt:  # what was written is whole: every write is a transaction
        print("noticebot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush goes nowhere
        return 1
    return code


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a mistake already said
        return done.code if isinstance(done.code, int) else 0
    try:
        config = load_config()
    except ConfigError as error:
        _say(f"configuration error: {error}", os.environ.get("TELEGRAM_BOT_TOKEN"))
        return 2
    for warning in unknown_settings(config):
        _say(f"WARNING: {warning}", config.token)
    if args.db is not None:
        config = replace(config, db=args.db)
    if args.command != "run":  # run sets its own level; every log line is redacted
        setup_logging("WARNING", config.token, config.log_format)
    module, name = args.handler.split(":")
    try:
        if _opens_ledger(args, config):
            _check_ledger(config, args)
        handler = getattr(importlib.import_module(f"bot.cli.{module}"), name)
        return handler(args, config)
    except (UsageError, ConfigError) as error:
        _say(str(error), config.token)
        return 2
    except BrokenPipeError:
        raise
    except (OSError, sqlite3.Error, UnicodeError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and type(error).__name__ != "LedgerBusy":
            raise  # a bug: its traceback is what a report needs
        _say(f"{args.command}: {error}", config.token)
        return 1
    except Exception as error:
        if not type(error).__module__.startswith("psycopg"):
            raise
        # the database server: gone for a moment, a permission, a conflict; in one line
        first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        _say(f"{args.command}: the ledger's server: {first}", config.token)
        return 1


def _opens_ledger(args: argparse.Namespace, config: Config) -> bool:
    """Whether the command opens the configured ledger (console mode has its own,
    temporary, unless one is given with --db)."""
    if args.command in NO_LEDGER:
        return False
    console = args.command == "run" and (args.console or not config.token)
    return not console or args.db is not None


def _check_ledger(config: Config, args: argparse.Namespace) -> None:
    """Refuse to make a ledger where none is (nothing, an empty file, a database without
    tables) unless the command is `run` or was given --create, and a path that names no
    ledger (another program's database among them); then say which ledger it is when not the
    default. What is wrong with a path is the ledger's own opening to find and to word."""
    path = config.db
    if isinstance(path, str):
        from bot.ledger.postgres import probe_server

        found = probe_server(path)
    elif _present(path):
        from bot.ledger.sqlite import probe

        found = probe(path)  # what is wrong with it, worded as every command's opening does
    else:
        found = False
    if not found and args.command != "run" and not getattr(args, "create", False):
        way_out = (
            ", or add --create to make a new one here"
            if args.command in MAY_CREATE
            else " (`noticebot run` creates one)"
        )
        raise UsageError(
            f"no ledger at {shown_url(str(path))}: nothing created; give the bot's with --db"
            " or NOTICEBOT_DB" + way_out
        )
    if path != DEFAULT_DB and args.command != "run":  # run logs it, in its log format
        source = "--db" if args.db is not None else "NOTICEBOT_DB"
        _say(f"ledger {shown_url(str(path))} ({source})", config.token)


def _present(path: Path) -> bool:
    """Whether something is at ``path``: anything but a plain absence (a file where a
    folder should be, a folder that cannot be read) is for the ledger to judge."""
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True
    return True


def _say(text: str, token: str | None) -> None:
    """One line on standard error, with no secret, whatever bytes it holds."""
    line = " ".join(redact(text, token).splitlines())
    print(f"noticebot: {_shown(line)}", file=sys.stderr)


def _shown(text: str) -> str:
    """Text that stays one line on any terminal: control characters, line separators and
    undecodable bytes (a path's) as Python escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class _Version(argparse.Action):
    """``--version``, looked up only when asked (the package metadata costs every other
    command 15 ms of start-up)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("noticebot")
        except PackageNotFoundError:
            number = "unknown (not installed)"
        print(f"noticebot {number}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="noticebot", description="Community notices from article folders to Telegram chats."
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    preview = commands.add_parser(
        "preview",
        help="show the messages articles would become (no token, no network)",
        description="Show every message each article becomes, as a chat would. "
        "Without PATH, the configured article folders (NOTICEBOT_ARTICLES).",
    )
    preview.add_argument("paths", nargs="*", type=_path, metavar="PATH", help="files or folders")
    preview.add_argument(
        "--json", action="store_true", help="print the Bot API calls as JSON lines"
    )
    preview.add_argument(
        "--html", type=_path, metavar="FILE", help="also write a chat-like HTML page"
    )
    preview.add_argument(
        "--lang", choices=LANGUAGES, help="interface language (default NOTICEBOT_LANG)"
    )
    preview.set_defaults(handler="preview:preview")

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
        "--articles", type=_path, action="append", metavar="DIR", help="article folder (repeatable)"
    )
    run.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="default NOTICEBOT_LOG_LEVEL (INFO; WARNING in console mode); the token is "
        "redacted at every level",
    )
    run.set_defaults(handler="run:run")

    cast = commands.add_parser(
        "broadcast",
        help="send a published notice to every subscribed chat, from outside the chat",
        description="Record a broadcast of ARTICLE (an id from `noticebot list`) in the "
        "ledger, as an admin's confirmed /broadcast; the running bot sends it. Shows the "
        "recipients and asks first, then follows the progress to the report (Ctrl-C "
        "detaches; the broadcast goes on).",
    )
    cast.add_argument("article", nargs="?", type=_text, metavar="ARTICLE", help="the article's id")
    cast.add_argument(
        "--cancel", type=_count, metavar="N", help="stop what is queued of broadcast N"
    )
    announce = commands.add_parser(
        "announce",
        help="post an announcement to every subscribed chat, from outside the chat",
        description="Write FILE's Markdown (or standard input's, with -) as an announcement "
        "in NOTICEBOT_ANNOUNCE_DIR, as /announce does, and broadcast it.",
    )
    announce.add_argument("file", type=_name, metavar="FILE", help="Markdown text, or - for stdin")
    announce.add_argument("--title", type=_text, required=True, help="the announcement's title")
    for command in (cast, announce):
        command.add_argument("--yes", action="store_true", help="do not ask")
        command.add_argument(
            "--send", action="store_true", help="no bot running: send from this process"
        )
    cast.set_defaults(handler="broadcast:broadcast")
    announce.set_defaults(handler="broadcast:announce")

    backup = commands.add_parser(
        "backup",
        help="copy the ledger consistently, even while the bot runs",
        description="Copy NOTICEBOT_DB with SQLite's online backup API (one consistent "
        "snapshot while the bot goes on writing) and check the copy's integrity.",
    )
    backup.add_argument("file", type=_path, metavar="FILE", help="where the copy goes")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    backup.set_defaults(handler="moves:backup")
    export = commands.add_parser(
        "export",
        help="the subscriptions and their settings as JSON, for a new token or server",
        description="Every subscribed chat with its settings (language, mode, filters, quiet "
        "hours, digest time, forum topic) as JSON; `noticebot import` reads it.",
    )
    export.add_argument(
        "file",
        type=_path,
        nargs="?",
        metavar="FILE",
        help="readable by its owner only; - or none: standard output",
    )
    export.add_argument("--force", action="store_true", help="replace FILE if it exists")
    export.set_defaults(handler="moves:export")
    load = commands.add_parser(
        "import",
        help="subscribe the chats of an export, with their settings",
        description="Subscribe every chat of a `noticebot export` (FILE, or - for stdin), "
        "with its settings; chats already in the ledger take the exported settings.",
    )
    load.add_argument("file", type=_name, metavar="FILE", help="an export, or - for standard input")
    load.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid chats of a file with invalid ones (listed), not nothing",
    )
    _create_flag(load)
    load.set_defaults(handler="moves:import_chats")

    confirmations = commands.add_parser(
        "acks",
        help="who confirmed the notices that ask residents to (✅ 收到)",
        description="Without ID: the notices that ask to be confirmed, with how many did. "
        "With ID: per chat, then each person (name, user id, chat, time, round and the "
        "version they confirmed); --csv writes that as CSV for a spreadsheet.",
    )
    confirmations.add_argument(
        "article", nargs="?", type=_text, metavar="ID", help="the notice's id"
    )
    confirmations.add_argument("--csv", action="store_true", help="CSV on standard output")
    confirmations.add_argument(
        "--all-rounds", action="store_true", help="also those of rounds before the last renew"
    )
    confirmations.add_argument("-n", type=_count, default=20, help="notices listed (default 20)")
    confirmations.set_defaults(handler="acks:acks")

    _feeds_parser(commands)
    add_transfer_commands(commands)
    for name, handler, text in (
        ("scan", "scan:scan", "scan the article folders once now and queue new notices"),
        ("status", "status:status", "articles, chats, deliveries by status and the last failures"),
        ("list", "status:list_articles", "recent articles: id, date, title"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "list":
            command.add_argument("-n", type=_count, default=20, help="how many (default 20)")
        if name == "scan":
            _create_flag(command)
            command.add_argument(
                "--withdraw",
                action="store_true",
                help="withdraw now the notices whose files disappeared all at once (held"
                " as a folder not there yet would be)",
            )
        command.set_defaults(handler=handler)
    for command in commands.choices.values():
        if command is run:
            text = (
                "SQLite file or postgresql:// URL (default NOTICEBOT_DB; console: a temporary one)"
            )
        elif command is preview:
            text = "the bot's ledger, read only: the ids it gave moved files (default NOTICEBOT_DB)"
        else:
            text = "the bot's ledger: a SQLite file or a postgresql:// URL (default NOTICEBOT_DB)"
        command.add_argument("--db", type=ledger_arg("--db"), metavar="FILE|URL", help=text)
    return parser


def _feeds_parser(commands: argparse._SubParsersAction) -> None:
    feeds = commands.add_parser(
        "feeds",
        help="the feeds the bot reads: list, add, remove, pause, resume; OPML in and out",
        description="Manage the feeds the bot reads, as admins do with /feeds and /addfeed: "
        "the running bot picks up each change within a second or so. A feed is named by its "
        "id (in `noticebot feeds list`) or its address; those in NOTICEBOT_FEEDS are listed "
        "but changed only there.",
    )
    actions = feeds.add_subparsers(dest="action", required=True, metavar="ACTION")
    listed = actions.add_parser("list", help="every feed with its state")
    listed.add_argument("--json", action="store_true", help="machine-readable output")
    add = actions.add_parser(
        "add", help="read a feed once and add it: its current entries are not sent, new ones are"
    )
    add.add_argument("url", type=_text, metavar="URL", help="the feed's http(s) address")
    add.add_argument("--category", type=_text, help="given to its notices (/subscribe filters)")
    add.add_argument(
        "--interval",
        type=_text,
        metavar="DURATION",
        help="e.g. 10m (NOTICEBOT_FEED_INTERVAL)",
    )
    remove = actions.add_parser("remove", help="stop reading a feed")
    remove.add_argument("feed", type=_text, metavar="FEED", help="its id or address")
    remove.add_argument(
        "--withdraw",
        action="store_true",
        help="also withdraw its notices from every chat (default: they stay)",
    )
    for verb, text in (("pause", "stop reading a feed for now"), ("resume", "read it again")):
        action = actions.add_parser(verb, help=text)
        action.add_argument("feed", type=_text, metavar="FEED", help="its id or address")
    load = actions.add_parser(
        "import",
        help="add the feeds of an OPML file (a feed reader's export): each read once, its "
        "current entries taken in as its baseline; duplicates and unreachable ones reported",
    )
    load.add_argument("file", type=_name, metavar="FILE.opml", help="an OPML file, or - for stdin")
    save = actions.add_parser("export", help="every feed as OPML 2.0, with its category")
    save.add_argument(
        "file",
        type=_path,
        nargs="?",
        metavar="FILE.opml",
        help="readable by its owner only (an address may hold a password); none or -: stdout",
    )
    save.add_argument("--force", action="store_true", help="replace FILE if it exists")
    for action in actions.choices.values():  # after the action too: `feeds list --db FILE`
        action.add_argument(
            "--db", type=ledger_arg("--db"), metavar="FILE|URL", default=argparse.SUPPRESS
        )
    feeds.set_defaults(handler="feeds:feeds")


def _create_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--create", action="store_true", help="make a new ledger here if there is none"
    )


def _name(text: str) -> str:
    """A file's name as typed: any bytes (not UTF-8 ones included) but control characters
    and line breaks: NUL no name holds, and the others are a paste gone wrong that would
    break every line naming the file."""
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in text):
        raise argparse.ArgumentTypeError(f"a control character in a file name: {text!r}")
    return text


def _path(text: str) -> Path:
    return Path(_name(text))


def ledger_arg(option: str) -> Callable[[str], Path | str]:
    """The type of an option naming a ledger (``--db``, ``--to``, ``--from``): a SQLite
    file or a PostgreSQL URL, checked as ``NOTICEBOT_DB`` is."""

    def place(text: str) -> Path | str:
        try:
            return ledger_place(option, _name(text))
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return place


def _text(text: str) -> str:
    """Words a user typed: bytes that are not UTF-8 (a terminal's other encoding) are
    refused here rather than met by the ledger."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"not UTF-8 text: {text!r}") from None
    return text


def _count(text: str) -> int:
    """A count or an id as a user types it: a whole number from 1, small enough to be one."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= number <= 2**31:
        raise argparse.ArgumentTypeError(f"must be from 1 to {2**31}, got {text}")
    return number


if __name__ == "__main__":
    sys.exit(main())
