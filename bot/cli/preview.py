"""`noticebot preview`: the messages articles become, without a token.

What it shows is what the bot would send: each file is read from the configured
folder it lies in (so it gets the scanner's id, and under NOTICEBOT_SITE_URL its
原文 button), files the scanner would not take are errors with the scanner's reason,
and a feed (an address, or a file ending .xml, .rss, .atom or .json) is read as the
bot reads feeds, entry by entry. Only a feed loads the feed reader and HTTP client.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sqlite3
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from bot.config import Config
from bot.formatting.acks import with_ack_button
from bot.formatting.formatter import format_article, state_cards
from bot.formatting.outgoing import Outgoing
from bot.formatting.preview import State, render_html, render_json_lines, render_terminal
from bot.reading.articles import Article, ArticleError, load_article, one_line
from bot.reading.identity import short_hash
from bot.reading.walk import (
    ARTICLE_SUFFIXES,
    HTML_SUFFIXES,
    has_front_matter,
    read_head,
    walk_file,
    walk_folder,
)

FEED_SUFFIXES = (".xml", ".rss", ".atom", ".json")
NOT_AN_ARTICLE = (
    "not an article: the bot reads *.md and *.markdown files, .html files that open "
    "with front matter, and feeds (an address, or a .xml, .rss, .atom or .json file)"
)


@dataclass(frozen=True)
class Shown:
    """An article as the preview shows it (made in a worker process for big folders)."""

    id: str
    path: str
    title: str
    warnings: tuple[str, ...]
    messages: list[Outgoing]
    states: tuple[State, ...] = ()  # the card urgent, corrected, ...: for the page only


@dataclass
class Loaded:
    """What the paths held, as the bot would read them; ``errors`` one line each.

    The articles themselves are streamed (:func:`load`): a preview of thousands holds
    a few at a time."""

    count: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # id → where, as the loader keeps
    ids: dict[str, str] = field(default_factory=dict)  # file (absolute) → the ledger's notice
    states: bool = False  # each card's states too (the HTML page shows them)

    def taken(self, article_id: str, where: str) -> bool:
        return self.seen.get(article_id, where) != where

    def add(self, shown: Shown) -> Shown:
        self.seen[shown.id] = shown.path
        self.count += 1
        self.warnings += [f"{one_line(shown.path)}: {w}" for w in shown.warnings]
        return shown


def preview(args: argparse.Namespace, config: Config) -> int:
    if args.html and not _writable_page(args.html, config.db):
        return 2
    try:
        ids = ledger_ids(config.db, given=args.db is not None)
    except LedgerUnread as error:
        print(f"noticebot preview: {error}", file=sys.stderr)
        return 2
    sources: list[str | Path] = list(_sources(args)) or list(config.articles)
    config = replace(config, lang=args.lang or config.lang)
    out = sys.stdout
    color = out.isatty()
    loaded = Loaded(ids=ids, states=bool(args.html))
    rendered = []  # for the page
    for shown in load(sources, config, loaded):
        if args.json:
            out.write(render_json_lines(shown.messages))
        else:
            out.write(render_terminal(shown.title, shown.messages, color=color) + "\n")
        if args.html:
            rendered.append((shown.title, shown.messages, shown.states))
    if not args.json:
        _summary(loaded, sources, config.token)
    if args.html:
        page = render_html(rendered, errors=loaded.errors)
        args.html.write_text(page, encoding="utf-8", errors="backslashreplace")
        print(f"wrote {args.html}", file=sys.stderr)
    for error in loaded.errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if loaded.errors else 0


def _sources(args: argparse.Namespace) -> list[str | Path]:
    """Paths as given; an address as a string again (the parser's Path folded its ``//``)."""
    return [_address(p) or p for p in args.paths]


def load(sources: list[str | Path], config: Config, loaded: Loaded) -> Iterator[Shown]:
    """Every article the sources hold, in order, as shown; bad ones become errors,
    never exceptions."""
    for source in sources:
        if isinstance(source, str) or _kind(source) == "feed":
            yield from _load_feed(str(source), config, loaded)
        elif source.is_dir():
            yield from _load_folder(source, config, loaded)
        elif not os.path.lexists(source):
            loaded.errors.append(f"{one_line(str(source))}: {_MISSING}")
        else:
            yield from _load_file(source, config, loaded)


_MISSING = f"cannot read file: {os.strerror(errno.ENOENT)}"  # what the loader says
CHUNK = 50  # files a worker process reads and formats at a time


def _load_file(path: Path, config: Config, loaded: Loaded) -> Iterator[Shown]:
    """A file named alone, judged by the rules a scan's walk judges each file by (a
    link, a pipe, a name that is not UTF-8 refused in its words), then read as it reads."""
    walk = walk_file(path)
    for shown, reason in [*walk.invalid, *walk.unseen]:
        loaded.errors.append(f"{one_line(shown)}: {reason}")
    files = [(name, _folder_of(path, config) or path.parent) for name, _ in walk.files]
    if files:
        made = show_files(files, config, states=loaded.states)
        yield from _taken_in(made, files, config, loaded)
    elif not walk.invalid and not walk.unseen:
        loaded.errors.append(f"{one_line(str(path))}: {NOT_AN_ARTICLE}")


def _load_folder(folder: Path, config: Config, loaded: Loaded) -> Iterator[Shown]:
    """A big folder is read and formatted by worker processes, as a scan reads it."""
    from bot.sources.folders import read_files

    root = _folder_of(folder, config) or folder
    walk = walk_folder(folder)
    for shown, reason in [*walk.invalid, *walk.unseen]:
        loaded.errors.append(f"{one_line(shown)}: {reason}")
    todo = [(path, root, status) for path, status in sorted(walk.files)]
    chunks = [todo[start : start + CHUNK] for start in range(0, len(todo), CHUNK)]
    read = partial(show_files, states=loaded.states)
    for chunk, made in zip(chunks, read_files(chunks, config, read), strict=True):
        yield from _taken_in(made, [(path, root) for path, root, _ in chunk], config, loaded)


def _taken_in(
    made: list[Shown | ArticleError],
    files: list[tuple[str, Path]],
    config: Config,
    loaded: Loaded,
) -> Iterator[Shown]:
    """Each article of a chunk, taken in; one whose id another file has is told apart
    as the loader does (the second keeps a hash of where it lies)."""
    for item, (path, root) in zip(made, files, strict=True):
        if isinstance(item, ArticleError):
            loaded.errors.append(str(item))
            continue
        kept = loaded.ids.get(os.path.abspath(path))
        if kept and kept != item.id:  # moved or renamed: the scanner kept its notice's id
            article = replace(load_article(Path(path), root, config), id=kept)
            item = _show(article, config, states=loaded.states)
        if loaded.taken(item.id, item.path):
            article = load_article(Path(path), root, config)
            item = _show(replace(article, id=short_hash(item.path)), config, states=loaded.states)
        yield loaded.add(item)


def show_files(
    files: list[tuple[str, Path]], config: Config, *, states: bool = False
) -> list[Shown | ArticleError]:
    """Files read and formatted as the bot would send them (in a worker process, or
    here); what is no article, with the scanner's reason. ``states``: each card's
    states too."""
    shown: list[Shown | ArticleError] = []
    for path, root in files:
        try:
            shown.append(_show(load_article(Path(path), root, config), config, states=states))
        except ArticleError as error:
            shown.append(error)
        except Exception as exc:  # a bug on one file must not stop the rest
            shown.append(ArticleError(Path(path), f"unexpected error: {exc!r}"))
    return shown


GROUP_COUNT = 37  # the count a group's card shows on the page, as an example


def _show(article: Article, config: Config, *, states: bool = False) -> Shown:
    messages = format_article(article, config.lang, config.tz).all()
    cards = tuple(state_cards(article, config.lang, config.tz)) if states else ()
    if article.ack or (article.urgent and config.ack_urgent):  # residents asked to confirm
        messages = with_ack_button(messages, article.id, config.lang)
        if states:
            counted = with_ack_button(messages[:1], article.id, config.lang, GROUP_COUNT)
            cards = (*cards, ("confirmed in a group", counted[0]))
    return Shown(article.id, str(article.path), article.title, article.warnings, messages, cards)


def _load_feed(url: str, config: Config, loaded: Loaded) -> Iterator[Shown]:
    """The feed's entries as the bot reads them (the newest NOTICEBOT_FEED_MAX_ENTRIES)."""
    import httpx

    from bot.ledger.feeds import FeedState
    from bot.logs import shown_url
    from bot.reading.articles import article_from_json
    from bot.sources.feeds import TIMEOUT, read_feed

    with httpx.Client(follow_redirects=True, timeout=TIMEOUT) as client:
        read = read_feed(url, FeedState(url), config, client, time.time())
    if read.state.error:
        loaded.errors.append(f"{one_line(shown_url(url))}: {read.state.error}")
    for entry in read.entries:
        if isinstance(entry, ArticleError):
            loaded.errors.append(str(entry))
            continue
        article = article_from_json(entry.version)
        if loaded.taken(article.id, str(article.path)):
            article = replace(article, id=short_hash(str(article.path)))
        yield loaded.add(_show(article, config, states=loaded.states))


def _kind(path: Path) -> str:
    """What the scanner makes of a file by its name (and an HTML file by its start)."""
    name = path.name.lower()
    if name.endswith(ARTICLE_SUFFIXES):
        return "article"
    if name.endswith(HTML_SUFFIXES):
        return "article" if has_front_matter(str(path)) else "other"
    return "feed" if name.endswith(FEED_SUFFIXES) else "other"


def _folder_of(path: Path, config: Config) -> Path | None:
    """The configured folder (articles or announcements) ``path`` lies in, the innermost
    one; its ids are the scanner's."""
    where = Path(os.path.realpath(path.parent), path.name)  # the file itself not followed
    inside = [f for f in config.folders if where.is_relative_to(os.path.realpath(f))]
    return max(inside, key=lambda f: len(Path(os.path.realpath(f)).parts), default=None)


def _address(path: Path) -> str | None:
    scheme = re.match(r"(https?):/+", str(path))
    return f"{scheme[1]}://{str(path)[scheme.end() :]}" if scheme else None


def _summary(loaded: Loaded, sources: list[str | Path], token: str | None) -> None:
    shown = ", ".join(_shown_source(s, token) for s in sources)
    print(f"{loaded.count} article(s), {len(loaded.errors)} error(s) in {shown}")
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _shown_source(source: str | Path, token: str | None) -> str:
    """A source as printed: an address without its credentials, nothing with the token."""
    from bot.logs import redact, shown_url

    text = shown_url(source) if isinstance(source, str) else str(source)
    return one_line(redact(text, token))


class LedgerUnread(Exception):
    """The ledger named with --db cannot be read: one line, exit status 2."""


def ledger_ids(db: Path | str, *, given: bool) -> dict[str, str]:
    """Which notice each file carries (by absolute path), as the ledger's last scan
    recorded: a moved or renamed file keeps its notice's id, and preview shows that
    one. Read only: no ledger is made, migrated or locked for writing. No ledger at
    the configured place is an empty answer; one named with --db must be there."""
    if isinstance(db, str):
        return _server_ids(db, given=given)
    if not os.path.lexists(db):
        if not given:
            return {}
        raise LedgerUnread(f"no ledger at {db}; give the bot's with --db or NOTICEBOT_DB")
    # With no write-ahead log beside it no bot has it open; reading it as it stands
    # then makes no -wal or -shm file (a read-only open of a WAL ledger would).
    wal = os.path.lexists(f"{db}-wal")
    mode = "mode=ro" if wal else "mode=ro&immutable=1"
    try:
        if not db.is_file():
            raise ValueError("not a file")
        conn = sqlite3.connect(f"{db.absolute().as_uri()}?{mode}", uri=True, timeout=5)
        try:
            rows = conn.execute(
                "SELECT path, article_id FROM files WHERE article_id IS NOT NULL"
            ).fetchall()
        finally:
            conn.close()
    except (sqlite3.Error, ValueError, OSError) as error:
        if given:
            raise LedgerUnread(f"ledger {db}: not read ({error})") from None
        said = f"ledger {db} not read ({error}): ids by where files lie"
        print(f"noticebot preview: {said}", file=sys.stderr)
        return {}
    return dict(rows)


def _server_ids(url: str, *, given: bool) -> dict[str, str]:
    """:func:`ledger_ids` of a PostgreSQL ledger, read in a read-only transaction."""
    from bot.ledger.errors import LedgerUnusable
    from bot.ledger.postgres import connect, hold_secrets
    from bot.logs import shown_url

    hold_secrets(url)
    try:
        with connect(url) as conn, conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            rows = conn.execute(
                "SELECT path, article_id FROM files WHERE article_id IS NOT NULL"
            ).fetchall()
    except Exception as error:  # unreachable, no ledger there: ids by place, or said
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        if isinstance(error, LedgerUnusable):
            reason = reason.split(": ", 1)[-1]
        if given:
            raise LedgerUnread(f"ledger {shown_url(url)}: not read ({reason})") from None
        said = f"ledger {shown_url(url)} not read ({reason}): ids by where files lie"
        print(f"noticebot preview: {said}", file=sys.stderr)
        return {}
    return {path: article_id for path, article_id in rows}


def _writable_page(page: Path, db: Path | str) -> bool:
    """Whether ``--html`` may write there: never the ledger (or its WAL), a folder, a
    named pipe or device (writing would wait for a reader), or a file that is not an
    HTML page already (a mistyped path would lose it)."""
    from bot.ledger.moves import MoveError, check_target

    try:
        check_target(db, page, force=True, what="page")
    except MoveError as error:
        print(f"noticebot preview: {error}", file=sys.stderr)
        return False
    try:
        mode = page.stat().st_mode
    except OSError:
        return True  # nothing there yet (a link leading nowhere is the write's to report)
    if not stat.S_ISREG(mode):
        said = f"{page} is not a regular file (a named pipe or a device)"
        print(f"noticebot preview: {said}; give a file name for the page", file=sys.stderr)
        return False
    if not _an_html_page(page):
        said = f"{page} exists and is not an HTML page: nothing written"
        print(f"noticebot preview: {said}; give another file name for the page", file=sys.stderr)
        return False
    return True


def _an_html_page(path: Path) -> bool:
    """Whether a regular file opens as an HTML page (a page preview wrote before)."""
    head = read_head(path, 64, follow=True)
    return head.lstrip().lower().startswith((b"<!doctype html", b"<html"))
