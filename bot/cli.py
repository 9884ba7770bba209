"""The ``noticebot`` command line: ``preview`` now; the bot's own commands join later."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.articles import LoadResult, load_folders
from bot.config import LANGUAGES, Config, ConfigError, load_config
from bot.formatter import format_article
from bot.preview import render_html, render_json_lines, render_terminal


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = load_config()
    except ConfigError as error:
        print(f"noticebot: configuration error: {error}", file=sys.stderr)
        return 2
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
    return parser


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
            print(f"warning: {article.path}: {warning}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
