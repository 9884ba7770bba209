"""`noticebot acks [ID] [--csv]`: who confirmed the notices that ask, for the operator.

The CSV is for a spreadsheet: UTF-8 with a byte-order mark (so Excel reads Chinese),
and a name that begins like a formula is written as text, since names are whatever
residents typed."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import datetime

from bot.cli import UsageError
from bot.config import Config
from bot.i18n import format_datetime
from bot.ledger import Store
from bot.reading.articles import one_line

COLUMNS = (
    "name",
    "user_id",
    "chat_id",
    "chat",
    "confirmed_at",
    "round",
    "version",
    "version_hash",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def acks(args: argparse.Namespace, config: Config) -> int:
    store = Store(config.db)
    if args.article is None:
        if args.csv:
            raise UsageError("--csv needs a notice: noticebot acks ID --csv")
        rows = store.ack_overview(limit=args.n)
        if not rows:
            print("no notice asks to be confirmed")
        for row in rows:
            print(
                f"{row['id']}  {one_line(row['title'] or '')}  round {row['round']}:"
                f" confirmed by {row['confirmed']}, reached {row['reached']} chats"
            )
        return 0
    if store.ack_round(args.article) is None:
        known = store.article(args.article) is not None
        raise UsageError(
            f"notice {args.article!r} does not ask to be confirmed"
            if known
            else f"no notice {args.article!r}: `noticebot acks` lists those that ask"
        )
    people = store.ack_people(args.article, every_round=args.all_rounds)
    if args.csv:
        _write_csv(people, config)
        return 0
    title = (store.article(args.article) or {}).get("title") or ""
    print(f"{args.article}  {one_line(title)}  round {store.ack_round(args.article)}")
    for chat in store.ack_chats(args.article):
        name = "private" if chat["type"] == "private" else one_line(str(chat["title"] or ""))
        reached = "reached" if chat["reached"] else "not reached"
        print(f"  chat {chat['id']} ({name}, {reached}): {chat['confirmed']} confirmed")
    for person in people:
        when = format_datetime(datetime.fromtimestamp(person["at"], config.tz), "en", config.tz)
        print(
            f"  {one_line(person['name'] or '')} (user {person['user_id']}) in chat"
            f" {person['chat_id']} at {when}, round {person['round']},"
            f" version {person['version_number'] or '?'}"
        )
    return 0


def _write_csv(people: list[dict], config: Config) -> None:
    out = sys.stdout
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for person in people:
        chat = "private" if person["chat_type"] == "private" else person["chat_title"] or ""
        writer.writerow(
            [
                _as_text(person["name"] or ""),
                person["user_id"],
                person["chat_id"],
                _as_text(chat),
                datetime.fromtimestamp(person["at"], config.tz).isoformat(timespec="seconds"),
                person["round"],
                person["version_number"] or "",
                person["version"] or "",
            ]
        )


def _as_text(value: str) -> str:
    """A cell a spreadsheet would run as a formula, kept as text."""
    return f"'{value}" if value.lstrip(" ").startswith(_FORMULA) else value
