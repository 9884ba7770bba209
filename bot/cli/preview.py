"""`noticebot preview`: the messages articles become, without a token."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import Config
from bot.formatting.formatter import format_article
from bot.formatting.preview import render_html, render_json_lines, render_terminal
from bot.reading.articles import LoadResult, load_folders, one_line


def preview(args: argparse.Namespace, config: Config) -> int:
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
