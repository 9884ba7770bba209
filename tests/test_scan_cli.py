"""The scanner's bookkeeping and the scan/status/list commands, as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlite_utils

from bot.config import Config
from bot.ledger import QUEUED, SCHEMA_VERSION, Store
from bot.ledger.schema import _v1
from bot.scanner import Scanner
from tests.paths import SEED
from tests.process import run_cli


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, NOTICEBOT_ARTICLES="articles", NOTICEBOT_DB="state/bot.db")


def test_unchanged_files_are_not_read_again(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    path = folder / "a.md"
    shutil.copy(SEED, path)
    store = Store(tmp_path / "db.sqlite")
    scanner = Scanner(store, Config(articles=(folder,)))
    assert len(scanner.scan().new) == 1
    stat = path.stat()
    raw = path.read_bytes()
    path.write_bytes(raw.replace("爱申活".encode(), "爱上海".encode()))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    report = scanner.scan()
    assert report.unchanged == 1 and not report.changed  # not re-read
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert len(scanner.scan().changed) == 1


def test_missing_folder_withdraws_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEED, folder / "a.md")
    store = Store(tmp_path / "db.sqlite")
    Scanner(store, Config(articles=(folder,))).scan()
    shutil.rmtree(folder)
    report = Scanner(store, Config(articles=(folder,))).scan()
    assert report.missing_roots == [str(folder)] and report.withdrawn == []


def test_store_opens_older_and_refuses_newer_databases(tmp_path: Path) -> None:
    """A real version-1 ledger, with a notice queued in it, upgrades in place."""
    path = tmp_path / "db.sqlite"
    v1 = sqlite_utils.Database(path)
    _v1(v1)
    v1.execute("PRAGMA user_version=1")
    v1["articles"].insert(
        {"id": "a1", "title": "停水通知", "search_text": "本周六上午停水", "status": "active"}
        | {"date": 1.0, "categories": "[]", "tags": "[]", "content_hash": "h1"}
    )
    v1["chats"].insert({"id": 7, "type": "private", "active": 1, "subscribed": 1})
    v1["deliveries"].insert(
        {"article_id": "a1", "chat_id": 7, "kind": "article", "status": "pending"}
        | {"next_attempt_at": 0.0}
    )
    v1["deliveries"].insert(  # a card, a text and a three-picture album, as version 1 kept them
        {"article_id": "a1", "chat_id": 8, "kind": "article", "status": "sent"}
        | {"next_attempt_at": 0.0, "next_part": 3, "message_ids": "[5, 6, 7, 8, 9]"}
    )
    v1.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    (delivery,) = store.deliveries(7)
    assert delivery.status == QUEUED  # renamed from "pending" in version 3
    assert store.chat(7).subscribed and store.chat(7).quiet_start is None  # version 2
    assert [r["id"] for r in store.search("停水")] == ["a1"]  # search over old rows
    assert [r["id"] for r in store.search("上午停水")] == ["a1"]  # in the index, once
    assert store.index_for_search() == 0  # version 8: rows indexed before it stay indexed
    assert store.work(delivery.id).article_version == "h1"  # no version kept: the file's
    assert store.due(store.clock(), 10) == [delivery.id]  # version 5's partial indexes
    (sent,) = store.deliveries(8)  # version 6: message ids per part, and what the copy shows
    assert sent.message_ids == [[5], [6], [7, 8, 9]] and sent.shown == "h1"
    store.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this noticebot"):
        Store(path)


def _indexed(store: Store, word: str) -> int:
    return store.db.execute(
        "SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH ?", [f'"{word}"']
    ).fetchone()[0]


def test_search_is_right_before_and_after_the_index_catches_up(tmp_path: Path) -> None:
    """The scan leaves the search index to ``index_for_search``; until it runs, search
    reads new and corrected articles directly, so no moment gives a wrong answer."""
    folder = tmp_path / "articles"
    folder.mkdir()
    article = folder / "a.md"
    article.write_text("---\ntitle: 停水通知\n---\n居民委员会：本周六上午停水。\n", "utf-8")
    store = Store(tmp_path / "db.sqlite")
    scanner = Scanner(store, Config(articles=(folder,)))
    scanner.scan()
    assert _indexed(store, "居民委员会") == 0  # not indexed yet
    assert len(store.search("居民委员会")) == 1  # found all the same
    assert store.index_for_search() == 1 and store.index_for_search() == 0
    assert _indexed(store, "居民委员会") == 1 and len(store.search("居民委员会 上午")) == 1

    article.write_text("---\ntitle: 停水通知\n---\n业主大会：本周日上午停水。\n", "utf-8")
    os.utime(article, ns=(0, article.stat().st_mtime_ns + 1_000_000_000))
    assert scanner.scan().changed
    assert _indexed(store, "居民委员会") == 0  # the old words left the index at once
    assert store.search("居民委员会") == [] and len(store.search("业主大会")) == 1
    store.index_all_for_search()
    assert store.search("居民委员会") == [] and len(store.search("业主大会")) == 1
    assert _indexed(store, "上午停水") == 1  # in both versions, indexed once


def test_the_dispatchers_lookups_use_the_open_deliveries_indexes(tmp_path: Path) -> None:
    """Sent rows, a chat's whole history, stay out of the dispatcher's lookups. (SQLite
    uses a partial index only when the query names the status as a literal: a bound
    parameter would silently fall back to walking every row.)"""
    store = Store(tmp_path / "l.db")
    plans = []
    original = store.db.execute

    def explain(sql: str, params: object = None) -> object:
        if sql.startswith(("SELECT", "UPDATE")) and "deliveries" in sql:
            args = list(params or [])  # type: ignore[call-overload]
            plan = original(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()
            plans.append((sql, " ".join(str(step[-1]) for step in plan)))
        return original(sql, params) if params is not None else original(sql)

    store.db.execute = explain  # type: ignore[method-assign]
    store.due(store.clock(), 10)
    store.next_due_time()
    store.requeue_interrupted()
    store.queue_unpins(store.clock())  # every scan: pins of expired notices (version 7)
    store.db.execute = original  # type: ignore[method-assign]
    assert len(plans) == 5
    for sql, plan in plans:
        used = ("deliveries_queued", "deliveries_sending", "deliveries_pinned")
        assert any(index in plan for index in used), (sql, plan)
        assert "idx_deliveries_chat_id" not in plan and "SCAN articles" not in plan, (sql, plan)
    store.close()


def test_scan_status_list_commands(tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    shutil.copy(SEED, tmp_path / "articles" / "seed.md")
    (tmp_path / "articles" / "bad.md").write_bytes(b"\x00\x01binary")
    first = _cli("scan", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "new 1, changed 0, withdrawn 0, invalid 1" in first.stdout
    assert "first scan" in first.stdout
    assert "bad.md: binary file" in first.stdout
    again = json.loads(_cli("scan", "--json", cwd=tmp_path).stdout)
    assert again["new"] == [] and again["unchanged"] == 2 and again["first_scan"] is False
    assert again["invalid"][0]["reason"].startswith("binary file")
    (tmp_path / "articles" / "seed.md").unlink()
    assert len(json.loads(_cli("scan", "--json", cwd=tmp_path).stdout)["withdrawn"]) == 1
    status = json.loads(_cli("status", "--json", cwd=tmp_path).stdout)
    assert status["articles"] == {"withdrawn": 1}
    assert "articles: withdrawn 1" in _cli("status", cwd=tmp_path).stdout
    assert json.loads(_cli("list", "--json", cwd=tmp_path).stdout) == []
    shutil.copy(SEED, tmp_path / "articles" / "seed.md")
    _cli("scan", cwd=tmp_path)
    listed = json.loads(_cli("list", "--json", cwd=tmp_path).stdout)
    assert [r["title"] for r in listed] == ["爱申活暖心春｜社区防疫不放松，新春问候暖心传递"]
    assert listed[0]["date"] == "2022-02-01T16:57:15+08:00"
    assert "1 Feb 2022, 16:57" in _cli("list", cwd=tmp_path).stdout
