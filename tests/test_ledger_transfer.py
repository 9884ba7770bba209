"""A whole ledger moved between SQLite and PostgreSQL and back: every row, its ids, the
same answers from the copy, and a target in use never merged into. Real files, the
real scanner, a real PostgreSQL server, and the commands as a user runs them."""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.cli.transfer import add_commands, export_ledger, import_ledger
from bot.config import Config
from bot.formatting.formatter import MODE_DIGEST
from bot.ledger import FAILED, SENT, Chat, FeedSource, FeedState, Store
from bot.ledger.copies import Part
from bot.ledger.transfer import TransferError, checksums, copy_ledger_rows, ledger_tables
from bot.sources.scanner import Scanner
from tests import ledgers
from tests.process import run_cli

CHATS = 40  # private chats beside the two groups: deliveries over several pages
TABLE_LINE = re.compile(r"^(\w+): ([\d,]+) rows?, checksum [0-9a-f]{12}…$")


class Ticking:
    """Real time, a millisecond further at every call: no two events at one instant,
    so lists ordered by time are in one order on either backend."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def _notice(folder: Path, name: str, title: str, date: str, body: str) -> None:
    text = f"---\ntitle: {title}\ndate: {date}\ncategories: [物业]\n---\n{body}\n"
    (folder / f"{name}.md").write_text(text, "utf-8")


def _fill(store: Store, folder: Path) -> None:
    """A ledger as a bot leaves it after a while, made through its own API."""
    folder.mkdir()
    for n in range(12):
        _notice(folder, f"n{n}", f"第{n}号楼停水通知", f"2024-05-{n + 1:02d}", f"第{n}号楼停水。")
    _notice(folder, "later", "明年的通知", "2099-01-01", "还没到日子。")  # scheduled
    (folder / "broken.md").write_bytes(b"\xff\xfe not text")  # an invalid file, recorded
    scanner = Scanner(store, Config(articles=(folder,)))
    scanner.scan()  # the first: recorded, not pushed
    group = Chat(-1001234567890, "supergroup", "幸福小区 3 栋 'A' 100%", "zh", thread_id=7)
    digest = Chat(-42, "group", "停水提醒", mode=MODE_DIGEST, filters=("停水", "电梯"))
    for chat in (group, digest, *(Chat(1000 + n) for n in range(CHATS))):
        store.subscribe(chat)
    store.update_chat(group.id, quiet_start="22:00", quiet_end="07:00")
    hours_ago = [(datetime.now() - timedelta(hours=h)).strftime("%Y-%m-%d %H:%M") for h in (2, 1)]
    _notice(folder, "new1", "新的停水通知", hours_ago[0], "周六上午停水，请提前储水。")
    _notice(folder, "new2", "电梯检修", hours_ago[1], "电梯周日检修。")
    scanner.scan()  # both new notices queued for every chat that wants them
    new1 = next(a["id"] for a in store.recent_articles(50) if a["title"] == "新的停水通知")
    rows = sorted(d.id for d in store.deliveries())
    claimed = store.claim(rows[:10])
    for n, delivery_id in enumerate(claimed[:6]):
        card = Part(0, 1000 + n, (500 + n,), "sendMessage", f"h{n}", store.clock(), pinned=n == 0)
        asyncio.run(store.settle(delivery_id, SENT, None, copy=(card,)))
    store.retry_later(claimed[6], store.clock() + 60, "Too Many Requests: retry after 60")
    store.finish(claimed[7], FAILED, "Forbidden: bot was blocked by the user")
    store.broadcast(new1, by_user=42)
    store.ask_to_confirm(new1, remind_after=3600.0)
    delivered = next(d for d in store.deliveries(group.id) if d.article_id == new1)
    store.record_ack(new1, group.id, 777, "张三", delivered.shown)
    store.unsubscribe(1000 + CHATS - 1)
    store.deactivate_chat(1000 + CHATS - 2, "Forbidden: bot was kicked")
    store.save_feed_state(
        FeedState("https://example.org/rss.xml", etag='"v1"', fetched_at=store.clock(), entries=3)
    )
    store.add_feed_source(
        FeedSource(
            "https://example.org/other.xml",
            title="区公告",
            category="公告",
            interval=600.0,
            added_at=store.clock(),
            added_by="cli",
        )
    )
    store.set_meta("transfer:check", "值 'quoted' 100% ? :name")
    store.record_trouble("feeds", "ConnectError: [Errno 111] Connection refused")
    store.index_all_for_search()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One SQLite ledger for the module, only read by its tests."""
    folder = tmp_path_factory.mktemp("source")
    store = Store(folder / "state" / "noticebot.db", Ticking())
    _fill(store, folder / "articles")
    yield store
    store.close()


@pytest.fixture
def opened() -> Iterator[ExitStack]:
    """Every store a test opens, closed after it."""
    with ExitStack() as stack:
        yield stack


def _open(opened: ExitStack, where: Path | str) -> Store:
    store = Store(where)
    opened.callback(store.close)
    return store


def _by_id(store: Store) -> list[Any]:
    return sorted(store.deliveries(), key=lambda d: d.id)


def _answers(store: Store) -> dict[str, Any]:
    """What the bot and its commands read from a ledger."""
    return {
        "status": store.status(),
        "deliveries": _by_id(store),
        "search": store.search("停水", limit=50),
        "search_long": store.search("停水通知", limit=50),
        "recent": store.recent_articles(50),
        "scheduled": store.recent_articles(50, scheduled=True),
        "chats": sorted(store.subscribed_chats(), key=lambda c: c.id),
        "feeds": (store.feed_states(), store.feed_sources()),
        "acks": store.ack_overview(),
        "meta": store.metas("transfer:"),
    }


def test_a_ledger_goes_to_postgresql_and_back_the_same(
    source: Store, tmp_path: Path, opened: ExitStack
) -> None:
    postgres = _open(opened, ledgers.postgres_database())
    report = copy_ledger_rows(source, postgres, batch=7)  # pages of 7: most tables in several

    assert set(report.tables) == set(ledger_tables()) and len(report.tables) >= 12
    assert report.tables == checksums(source) == checksums(postgres)
    for table, (rows, _) in report.tables.items():
        assert rows == source._tuples(f"SELECT COUNT(*) FROM {table}")[0][0], table
    assert report.tables["deliveries"].rows > 2 * CHATS and report.tables["acks"].rows == 1
    assert all(report.tables[t].rows for t in ("articles", "files", "chats", "broadcasts"))
    want = _answers(source)
    assert len(want["search"]) == 13 and want["status"]["invalid_files"]
    assert _answers(postgres) == want

    beside = _open(opened, ledgers.postgres_database())  # server to server too
    assert copy_ledger_rows(postgres, beside).tables == report.tables

    back = _open(opened, tmp_path / "back.db")
    again = copy_ledger_rows(postgres, back)
    assert again.tables == report.tables  # the round trip changed no row
    assert again.indexed == report.tables["articles"].rows  # its search index refilled
    assert back._tuples("SELECT COUNT(*) FROM articles_fts")[0][0] == again.indexed
    assert _answers(back) == want

    # New rows take ids after the copied ones, on the server as in the file.
    for store in (postgres, back):
        last = max(d.id for d in store.deliveries())
        store.subscribe(Chat(9999))
        article = want["recent"][0]["id"]
        assert store.enqueue(article, [9999]) == 1
        assert max(d.id for d in store.deliveries()) == last + 1
        broadcasts = store._tuples("SELECT MAX(id) FROM broadcasts")[0][0]
        assert store.broadcast(article, by_user=1)[0] == broadcasts + 1


def test_a_ledger_in_use_is_never_merged_into(
    source: Store, tmp_path: Path, opened: ExitStack
) -> None:
    postgres = _open(opened, ledgers.postgres_database())
    postgres.subscribe(Chat(5))
    with pytest.raises(TransferError, match=r"is not empty \(it holds chats\).*never merged"):
        copy_ledger_rows(source, postgres)
    assert [c.id for c in postgres.subscribed_chats()] == [5]
    assert checksums(postgres)["articles"].rows == 0

    used = _open(opened, tmp_path / "used.db")
    used.set_meta("k", "v")
    with pytest.raises(TransferError, match=r"not empty \(it holds meta\)"):
        copy_ledger_rows(source, used)
    with pytest.raises(TransferError, match="is the ledger copied"):
        copy_ledger_rows(source, _open(opened, source.path))
    empty = ledgers.postgres_database()  # empty, into itself: it would wait for ever
    itself = _open(opened, empty.replace("postgresql://", "postgres://", 1))
    with pytest.raises(TransferError, match="is the ledger copied"):
        copy_ledger_rows(_open(opened, empty), itself)


def test_a_row_the_target_cannot_keep_as_it_is_stops_the_copy(
    tmp_path: Path, opened: ExitStack
) -> None:
    """SQLite keeps any value in any column; a server keeps its column's type, and text
    without NUL (the ledger writes U+FFFD there). What the server would change is found
    by the checksums: the table is named, and the target stays empty, ready for
    another try."""
    store = _open(opened, tmp_path / "loose.db")
    folder = tmp_path / "articles"
    folder.mkdir()
    _notice(folder, "a", "停水", "2024-05-01", "停水。")
    Scanner(store, Config(articles=(folder,))).scan()
    store.subscribe(Chat(1, title="ok"))
    raw = sqlite3.connect(store.path, isolation_level=None)
    opened.callback(raw.close)
    raw.execute("UPDATE articles SET urgent = 0.5")  # BIGINT on the server: rounded
    postgres = _open(opened, ledgers.postgres_database())
    with pytest.raises(TransferError, match=r"^articles: the copy differs.*nothing copied"):
        copy_ledger_rows(store, postgres)
    assert all(rows == 0 for rows, _ in checksums(postgres).values())

    raw.execute("UPDATE articles SET urgent = NULL")
    raw.execute("UPDATE chats SET title = 'a' || char(0) || 'b'")  # the server's: U+FFFD
    with pytest.raises(TransferError, match=r"^chats: the copy differs.*nothing copied"):
        copy_ledger_rows(store, postgres)
    assert all(rows == 0 for rows, _ in checksums(postgres).values())

    raw.execute("UPDATE chats SET title = 'ab'")
    assert copy_ledger_rows(store, postgres).tables == checksums(store)


def test_the_handlers_through_their_own_parser(
    source: Store, tmp_path: Path, opened: ExitStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """The commands as the parser builds them, run in this process."""
    parser = argparse.ArgumentParser(prog="noticebot")
    add_commands(parser.add_subparsers(dest="command", required=True))
    copy = tmp_path / "copy.db"
    args = parser.parse_args(["export-ledger", "--to", str(copy)])
    assert args.handler == "transfer:export_ledger"
    assert export_ledger(args, Config(db=source.path)) == 0
    out = capsys.readouterr().out.splitlines()
    assert {TABLE_LINE.match(line)[1] for line in out[:-1]} == set(ledger_tables())
    assert out[-1].startswith(f"copied {source.path} to {copy}: {len(ledger_tables())} tables")
    assert checksums(_open(opened, copy)) == checksums(source)

    again = tmp_path / "again.db"
    args = parser.parse_args(["import-ledger", "--from", str(copy), "--create"])
    assert args.handler == "transfer:import_ledger" and args.create
    assert import_ledger(args, Config(db=again)) == 0
    assert checksums(_open(opened, again)) == checksums(source)
    assert import_ledger(args, Config(db=again)) == 1  # now it is in use
    err = capsys.readouterr().err
    assert err.startswith("noticebot import-ledger: ") and "not empty" in err
    assert err.count("\n") == 1

    with pytest.raises(SystemExit):
        parser.parse_args(["export-ledger", "--to", "https://example.org/ledger"])
    assert "must be a file or a postgresql:// URL" in capsys.readouterr().err


def _with_password(url: str, password: str) -> str:
    """The throwaway server trusts every local connection: a password is accepted and
    unchecked, so a command can be shown one and must not show it back."""
    parts = urlsplit(url)
    return urlunsplit(
        parts._replace(netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}")
    )


def test_the_commands_as_a_user_runs_them(source: Store, tmp_path: Path, opened: ExitStack) -> None:
    """Needs `add_commands` wired into the parser (bot/cli/__init__.py)."""
    server = _with_password(ledgers.postgres_database(), "s3cret-pw")
    ledger = str(source.path)
    done = run_cli("export-ledger", "--to", server, cwd=tmp_path, NOTICEBOT_DB=ledger)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    counted = {m[1]: int(m[2].replace(",", "")) for m in map(TABLE_LINE.match, lines[:-1]) if m}
    assert counted == {table: rows for table, (rows, _) in checksums(source).items()}
    assert lines[-1].startswith(f"copied {ledger} to postgresql://***@127.0.0.1:")
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert checksums(_open(opened, server)) == checksums(source)

    imported = tmp_path / "state" / "imported.db"
    load = ("import-ledger", "--from", server, "--create")
    done = run_cli(*load, cwd=tmp_path, NOTICEBOT_DB=str(imported))
    assert done.returncode == 0, done.stderr
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert checksums(_open(opened, imported)) == checksums(source)

    done = run_cli(*load, cwd=tmp_path, NOTICEBOT_DB=str(imported))
    assert done.returncode == 1 and not done.stdout
    said = done.stderr.splitlines()[-1]  # after the parser's "ledger … (NOTICEBOT_DB)"
    assert said.startswith("noticebot import-ledger: ") and "not empty" in said

    bot = _open(opened, imported)
    bot.owner.take()  # a bot sends from it
    elsewhere = tmp_path / "elsewhere.db"
    done = run_cli(
        "export-ledger", "--to", str(elsewhere), cwd=tmp_path, NOTICEBOT_DB=str(imported)
    )
    assert done.returncode == 1 and "a noticebot is running on" in done.stderr
    assert not elsewhere.exists()  # the file it made for the copy, removed

    nowhere = tmp_path / "nowhere.db"
    load = ("import-ledger", "--from", str(nowhere), "--create")
    done = run_cli(*load, cwd=tmp_path, NOTICEBOT_DB=str(elsewhere))
    assert done.returncode == 1 and "no ledger at" in done.stderr
    assert not nowhere.exists() and not elsewhere.exists()  # neither made
