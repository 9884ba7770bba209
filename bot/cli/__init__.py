"""The ``noticebot`` command line: the parser, and each command in its own module,
imported when it runs (a command loads what it uses, not what every command uses)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import LANGUAGES, ConfigError, load_config
from bot.logs import setup_logging


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
    module, name = args.handler.split(":")
    handler = getattr(importlib.import_module(f"bot.cli.{module}"), name)
    return handler(args, config)


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
    run.set_defaults(handler="run:run")

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
    cast.set_defaults(handler="broadcast:broadcast")
    announce.set_defaults(handler="broadcast:announce")

    backup = commands.add_parser(
        "backup",
        help="copy the ledger consistently, even while the bot runs",
        description="Copy NOTICEBOT_DB with SQLite's online backup API (one consistent "
        "snapshot while the bot goes on writing) and check the copy's integrity.",
    )
    backup.add_argument("file", type=Path, metavar="FILE", help="where the copy goes")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    backup.set_defaults(handler="moves:backup")
    export = commands.add_parser(
        "export",
        help="the subscriptions and their settings as JSON, for a new token or server",
        description="Every subscribed chat with its settings (language, mode, filters, quiet "
        "hours, digest time, forum topic) as JSON; `noticebot import` reads it.",
    )
    export.add_argument("file", type=Path, nargs="?", metavar="FILE", help="default: stdout")
    export.set_defaults(handler="moves:export")
    load = commands.add_parser(
        "import",
        help="subscribe the chats of an export, with their settings",
        description="Subscribe every chat of a `noticebot export` (FILE, or - for stdin), "
        "with its settings; chats already in the ledger take the exported settings.",
    )
    load.add_argument("file", metavar="FILE", help="an export, or - for standard input")
    load.set_defaults(handler="moves:import_chats")

    for name, handler, text in (
        ("scan", "scan:scan", "scan the article folders once now and queue new notices"),
        ("status", "status:status", "articles, chats, deliveries by status and the last failures"),
        ("list", "status:list_articles", "recent articles: id, date, title"),
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


if __name__ == "__main__":
    sys.exit(main())
