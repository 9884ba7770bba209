"""The scanner's bookkeeping and the scan/status/list commands, as a user runs them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from unittest.mock import patch

import pytest
import sqlite_utils

from bot.config import Config, ConfigError, load_config
from bot.ledger import QUEUED, SCHEMA_VERSION, Chat, Store
from bot.ledger.schema import _v1
from bot.reading.identity import path_id
from bot.sources.scanner import Scanner
from tests.paths import ROOT, SEED
from tests.process import clean_env, run_cli


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


def test_path_ids_are_what_earlier_releases_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An id from a path must never change: a ledger would take every notice for new.
    The first articles folder's ids are what every release gave; another folder's
    include the folder, however it is named."""
    real = tmp_path / "real"
    (real / "2022").mkdir(parents=True)
    article = real / "2022" / "a.md"
    article.write_text("x", "utf-8")
    (tmp_path / "linked").symlink_to(real)
    (real / "alias.md").symlink_to(article)
    monkeypatch.chdir(tmp_path)
    earlier = hashlib.sha1(b"2022/a.md").hexdigest()[:8]  # the resolved path under the root
    forms = [
        (article, real),
        (Path("real/2022/a.md"), Path("real")),
        (Path("linked/2022/a.md"), Path("linked")),
        (tmp_path / "linked" / "2022" / "a.md", tmp_path / "linked"),
        (real / "alias.md", real),  # a linked file is the file it names
    ]
    assert {path_id(path, root, root) for path, root in forms} == {earlier}
    assert {path_id(path, root, real) for path, root in forms} == {earlier}
    elsewhere = {path_id(path, root, tmp_path / "posts") for path, root in forms}
    assert len(elsewhere) == 1 and elsewhere != {earlier}


REAL_POSTS = ROOT / "tests" / "real_posts"


def _archive(folder: Path) -> None:
    """The real posts, an empty file, a draft and one with its own id."""
    for post in REAL_POSTS.glob("*.md"):
        (folder / post.name).write_bytes(post.read_bytes())
    (folder / "empty.md").write_text("", "utf-8")
    (folder / "draft.md").write_text("---\ntitle: 草稿\ndraft: true\n---\n未发布\n", "utf-8")
    (folder / "named.md").write_text("---\ntitle: 有编号\nid: notice-7\n---\n正文\n", "utf-8")


def _ledger(store: Store) -> dict[str, list[tuple]]:
    queries = {
        "articles": "SELECT id, path, title, date, categories, tags, search_text, content_hash,"
        " status, urgent, expires FROM articles ORDER BY id",
        "versions": "SELECT article_id, version, content FROM versions ORDER BY article_id",
        "files": "SELECT * FROM files ORDER BY path",
    }
    return {name: store.db.execute(sql).fetchall() for name, sql in queries.items()}


def test_worker_processes_read_what_one_process_reads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A large scan is parsed in worker processes: the ledger ends the same, row by row."""
    folder = tmp_path / "articles"
    folder.mkdir()
    _archive(folder)
    config = Config(articles=(folder,))
    alone = Scanner(Store(tmp_path / "alone.db"), config)
    alone.parallel_from = 10**9
    helped = Scanner(Store(tmp_path / "helped.db"), config)
    helped.parallel_from = 1
    spawned = []
    with patch(
        "bot.sources.folders.ProcessPoolExecutor",
        side_effect=lambda *a, **k: spawned.append(1) or ProcessPoolExecutor(*a, **k),
    ):
        assert helped.scan().as_dict() == alone.scan().as_dict()
    assert spawned == [1]
    assert not [r.getMessage() for r in caplog.records if r.name == "bot.sources.folders"]
    assert _ledger(helped.store) == _ledger(alone.store)
    assert len(_ledger(alone.store)["files"]) == len(list(REAL_POSTS.glob("*.md"))) + 3


def test_a_script_without_a_main_guard_still_scans(tmp_path: Path) -> None:
    """Worker processes re-import an unguarded script and fail; the scan reads the rest
    itself, and says why it was slower."""
    folder = tmp_path / "articles"
    folder.mkdir()
    _archive(folder)
    script = tmp_path / "scan.py"
    script.write_text(
        "from pathlib import Path\n"
        "from bot.config import Config\n"
        "from bot.ledger import Store\n"
        "from bot.sources.scanner import Scanner\n"
        f"config = Config(articles=(Path({str(folder)!r}),))\n"
        f"scanner = Scanner(Store({str(tmp_path / 'db.sqlite')!r}), config)\n"
        "scanner.parallel_from = 1\n"
        "report = scanner.scan()\n"
        "print(len(report.new), len(report.invalid))\n",
        "utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    alone = Store(tmp_path / "alone.db")
    report = Scanner(alone, Config(articles=(folder,))).scan()
    assert done.stdout.split("\n")[-2] == f"{len(report.new)} {len(report.invalid)}"
    assert _ledger(Store(tmp_path / "db.sqlite")) == _ledger(alone)
    assert "needs `if __name__ == '__main__':`" in done.stderr


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
    os.utime(article, ns=(0, article.stat().st_mtime_ns - 1_000_000_000))
    assert scanner.scan().changed
    assert _indexed(store, "居民委员会") == 0  # the old words left the index at once
    assert store.search("居民委员会") == [] and len(store.search("业主大会")) == 1
    store.index_all_for_search()
    assert store.search("居民委员会") == [] and len(store.search("业主大会")) == 1
    assert _indexed(store, "上午停水") == 1  # in both versions, indexed once
    article.write_text(
        "---\ntitle: 停水通知\ndate: 2020-01-01\n---\n业主大会：本周日上午停水。\n", "utf-8"
    )
    os.utime(article, ns=(0, article.stat().st_mtime_ns - 2_000_000_000))
    assert scanner.scan().changed  # the date alone: its words stay in the index
    assert _indexed(store, "业主大会") == 1 and store.index_for_search() == 0


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
    first = _cli("scan", "--create", cwd=tmp_path)
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


def test_announcements_inside_the_posts_folder_are_announcements_once(tmp_path: Path) -> None:
    """NOTICEBOT_ANNOUNCE_DIR inside a Hexo source/_posts (so the site publishes them):
    each file is read once, as an announcement, and not queued by filters."""
    posts = tmp_path / "_posts"
    announcements = posts / "announcements"
    announcements.mkdir(parents=True)
    config = Config(articles=(posts,), announce_dir=announcements)
    store = Store(tmp_path / "db.sqlite")
    scanner = Scanner(store, config)
    scanner.scan()
    store.subscribe(Chat(5))
    (posts / "a.md").write_text("---\ntitle: 停水\n---\n本周六停水。\n", "utf-8")
    (announcements / "b.md").write_text("---\ntitle: 公告\n---\n今晚开会。\n", "utf-8")
    report = scanner.scan()
    assert len(report.new) == 2 and report.queued == 1  # the post; the announcement waits
    assert scanner.scan().unchanged == 2  # each file once
    with pytest.raises(ConfigError, match="NOTICEBOT_ANNOUNCE_DIR must not be one of"):
        load_config({"NOTICEBOT_ARTICLES": "posts", "NOTICEBOT_ANNOUNCE_DIR": "posts"})
