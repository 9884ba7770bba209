"""Sources that cannot be misread: a folder that cannot be seen is not a folder that
is gone, a shell with other settings withdraws nothing, and one notice stays one
notice through renames, reused names and folders that share file names.

End to end: real python-telegram-bot against the emulator, a real ledger, real files;
a folder the system cannot list is made with an OSError from the listing itself
(these tests run as root, whom file permissions do not stop).
"""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ledger import SENT, Store
from bot.sources.scanner import FIRST_SCAN_KEY, Scanner
from bot.sources.scanning import scan_now
from tests.botenv import ADMIN, BotEnv, running_bot
from tests.emulator import Emulator
from tests.process import run_cli

HOLD_FOR = 600  # seconds files stay gone before a held withdrawal applies

GROUP = -1_000_000_000_321


@asynccontextmanager
async def archive(
    tmp_path: Path, emulator: Emulator, names: list[str], **settings: object
) -> AsyncIterator[BotEnv]:
    """Notices ``names`` delivered to a private chat and a group (after an archive
    baseline), with an admin to tell."""
    settings.setdefault("admins", frozenset({ADMIN}))
    async with running_bot(tmp_path, emulator, rate_limits=False, **settings) as env:
        env.write_article("archive/old.md", title="旧通知", date=env.clock.now - 86400 * 400)
        env.scan()
        env.subscribe(101)
        env.subscribe(GROUP, type="supergroup", mode="full")
        for number, name in enumerate(names):
            env.write_article(name, title=f"通知{number}", body=f"<p>第{number}号通知正文。</p>")
        env.scan()
        await env.send()
        yield env


def shown_titles(emulator: Emulator, chat: int) -> list[str]:
    return [m["text"] or m.get("caption") or "" for m in emulator.shown(chat)]


def sends(emulator: Emulator, start: int = 0) -> int:
    return sum(1 for c in emulator.calls[start:] if c.ok and c.method.startswith("send"))


def deletes(emulator: Emulator, start: int = 0) -> int:
    return sum(1 for c in emulator.calls[start:] if c.ok and c.method.startswith("delete"))


def unlistable(monkeypatch: pytest.MonkeyPatch, folder: Path, code: int = errno.ESTALE) -> None:
    """``folder`` cannot be listed, as a stale NFS handle or a share gone away."""
    real = os.scandir

    def scandir(path: str) -> object:
        if os.path.abspath(path) == os.path.abspath(folder):
            raise OSError(code, os.strerror(code), str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


async def test_a_folder_that_cannot_be_listed_keeps_its_notices_everywhere(
    tmp_path: Path, free: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["sub/a.md", "sub/b.md", "sub/c.md", "d.md"]
    async with archive(tmp_path, free, names) as env:
        assert len(free.shown(101)) == 4
        start = len(free.calls)
        unlistable(monkeypatch, env.articles / "sub")
        report = env.scan()
        await env.send()
        assert report.withdrawn == [] and report.retracting == 0
        assert [path for path, _ in report.unseen] == [str(env.articles / "sub")]
        assert "Stale" in report.unseen[0][1]
        monkeypatch.undo()
        report = env.scan()
        await env.send()
        assert report.new == [] and report.queued == 0
        assert deletes(free, start) == 0 and sends(free, start) == 0
        assert {d.status for d in env.runtime.store.deliveries()} == {SENT}


async def test_an_empty_folder_holds_its_withdrawals_and_tells_the_admins(
    tmp_path: Path, free: Emulator
) -> None:
    """A share not mounted yet: the folder is there and empty. Nothing is withdrawn;
    the admins hear of it once; the files come back and nothing was sent again."""
    names = ["a.md", "b.md"]
    async with archive(tmp_path, free, names) as env:
        start = len(free.calls)
        away = tmp_path / "away"
        env.articles.rename(away)
        env.articles.mkdir()
        await scan_now(env.runtime)
        await scan_now(env.runtime)  # told once, not at every scan
        await env.send()
        told = [m["text"] for m in free.shown(ADMIN)]
        assert len(told) == 1 and "3条通知" in told[0] and "noticebot scan --withdraw" in told[0]
        assert deletes(free, start) == 0
        env.articles.rmdir()
        away.rename(env.articles)
        env.clock.advance(HOLD_FOR * 2)
        report = env.scan()
        await env.send()
        assert report.withdrawn == [] and report.held == [] and report.queued == 0
        assert deletes(free, start) == 0 and sends(free, start) == 1  # the admins' note


async def test_files_that_stay_gone_ten_minutes_are_withdrawn(
    tmp_path: Path, free: Emulator
) -> None:
    async with archive(tmp_path, free, ["a.md", "b.md"]) as env:
        for path in env.articles.rglob("*.md"):
            path.unlink()
        assert env.scan().held
        assert {d.status for d in env.runtime.store.deliveries()} == {SENT}
        env.clock.advance(HOLD_FOR / 2)
        report = env.scan()
        assert report.held and report.withdrawn == []
        env.clock.advance(HOLD_FOR / 2)
        report = env.scan()
        await env.send()
        assert report.held == [] and len(report.withdrawn) == 3
        assert free.shown(101) == [] and free.shown(GROUP) == []


async def test_many_files_gone_at_once_are_held_one_file_is_not(
    tmp_path: Path, free: Emulator
) -> None:
    names = [f"n{i:02}.md" for i in range(20)]
    async with archive(tmp_path, free, names) as env:
        (env.articles / "n00.md").unlink()
        report = env.scan()
        assert len(report.withdrawn) == 1 and report.held == []
        for name in names[1:6]:  # 5 of 20: not more than 5
            (env.articles / name).unlink()
        report = env.scan()
        assert len(report.withdrawn) == 5 and report.held == []
        for name in names[6:10]:  # 4 of 15: a quarter of them at most
            (env.articles / name).unlink()
        report = env.scan()
        assert len(report.withdrawn) == 4 and report.held == []
        for name in names[10:16]:  # 6 of 11: more than 5 and more than a quarter
            (env.articles / name).unlink()
        report = env.scan()
        assert report.withdrawn == [] and [h.files for h in report.held] == [6]


def test_scan_withdraw_confirms_a_held_withdrawal(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    env = {"NOTICEBOT_ARTICLES": str(folder), "NOTICEBOT_DB": str(tmp_path / "db.sqlite")}
    for i in range(3):
        (folder / f"{i}.md").write_text(f"---\ntitle: 通知{i}\n---\n正文{i}\n", "utf-8")
    assert run_cli("scan", "--create", cwd=tmp_path, **env).returncode == 0
    for path in folder.glob("*.md"):
        path.unlink()
    held = run_cli("scan", cwd=tmp_path, **env)
    assert "withdrawn 0" in held.stdout and "withdrawal held: 3 notices" in held.stdout
    confirmed = run_cli("scan", "--withdraw", cwd=tmp_path, **env)
    assert "withdrawn 3" in confirmed.stdout, confirmed.stdout + confirmed.stderr
    again = run_cli("scan", cwd=tmp_path, **env)
    assert "withdrawn 0" in again.stdout and "held" not in again.stdout


def test_a_scan_with_other_folders_withdraws_nothing(tmp_path: Path) -> None:
    """The running bot scans ``posts``; a shell whose NOTICEBOT_ARTICLES names another
    folder scans the same ledger: it must not take ``posts`` for emptied."""
    posts, other = tmp_path / "posts", tmp_path / "other"
    posts.mkdir()
    other.mkdir()
    for i in range(3):
        (posts / f"{i}.md").write_text(f"---\ntitle: 通知{i}\n---\n正文{i}\n", "utf-8")
    (other / "x.md").write_text("---\ntitle: 别处\n---\n正文\n", "utf-8")
    db = tmp_path / "db.sqlite"
    from bot.config import Config

    store = Store(db)
    announce = tmp_path / "state" / "announcements"  # where the shell's default puts it
    Scanner(store, Config(articles=(posts,), db=db, announce_dir=announce), owner=True).scan()
    store.close()
    shell = run_cli("scan", cwd=tmp_path, NOTICEBOT_ARTICLES=str(other), NOTICEBOT_DB=str(db))
    assert shell.returncode == 0, shell.stderr
    assert "withdrawn 0" in shell.stdout and "new 0" in shell.stdout
    (foreign,) = [line for line in shell.stdout.splitlines() if "not the running bot's" in line]
    assert "so not scanned" in foreign and str(other) in foreign
    assert "nothing was withdrawn" in shell.stdout
    confirm = run_cli(
        "scan", "--withdraw", cwd=tmp_path, NOTICEBOT_ARTICLES=str(other), NOTICEBOT_DB=str(db)
    )
    assert confirm.returncode == 2 and "running bot's folders" in confirm.stderr
    store = Store(db)
    assert {row["status"] for row in store.db["articles"].rows} == {"active"}


async def test_the_same_name_in_two_folders_is_two_notices(tmp_path: Path, free: Emulator) -> None:
    second = tmp_path / "second"
    second.mkdir()
    folders = (tmp_path / "articles", second)
    async with running_bot(tmp_path, free, rate_limits=False, articles=folders) as env:
        env.scan()
        env.subscribe(101)
        env.write_article("2025/notice.md", title="一号楼停水", body="<p>一号楼停水。</p>")
        (second / "2025").mkdir()
        when = datetime.fromtimestamp(env.clock.now, UTC)
        (second / "2025" / "notice.md").write_text(
            f"---\ntitle: 二号楼停电\ndate: {when:%Y-%m-%dT%H:%M:%SZ}\n---\n\n二号楼停电。\n",
            "utf-8",
        )
        report = env.scan()
        await env.send()
        assert len(report.new) == 2 and report.corrected == []
        texts = " ".join(shown_titles(free, 101))
        assert "一号楼停水" in texts and "二号楼停电" in texts


async def test_a_renamed_file_and_its_reused_name_are_two_notices(
    tmp_path: Path, free: Emulator
) -> None:
    """``a.md`` becomes ``b.md``, and a new notice is written as ``a.md``: the old
    notice's copies stay as they are, and the new one is sent."""
    async with archive(tmp_path, free, ["a.md"]) as env:
        before = shown_titles(free, 101)
        start = len(free.calls)
        (env.articles / "a.md").rename(env.articles / "b.md")
        env.clock.advance(86400)
        env.write_article("a.md", title="新的停电通知", body="<p>周日停电。</p>")
        report = env.scan()
        await env.send()
        assert report.withdrawn == [] and report.corrected == [] and len(report.new) == 1
        assert shown_titles(free, 101)[: len(before)] == before
        assert any("新的停电通知" in text for text in shown_titles(free, 101))
        assert any("新的停电通知" in text for text in shown_titles(free, GROUP))
        assert deletes(free, start) == 0
        assert not [c for c in free.calls[start:] if c.method.startswith("edit")]


async def test_a_corrected_file_stays_its_notice_even_with_a_new_title(
    tmp_path: Path, free: Emulator
) -> None:
    """A new title alone (or a new date alone) is a correction, not a new notice."""
    async with archive(tmp_path, free, ["a.md"]) as env:
        start = len(free.calls)
        env.write_article("a.md", title="更正：停水通知", body="<p>第0号通知正文（更正）。</p>")
        report = env.scan()
        await env.send()
        assert len(report.corrected) == 1 and report.new == [] and sends(free, start) == 0


def test_a_ledger_from_before_each_folder_had_its_baseline(tmp_path: Path) -> None:
    """A ledger written when one key stood for every folder: a folder added later is
    still a new folder, whose archive is recorded, not pushed."""
    posts, added = tmp_path / "posts", tmp_path / "added"
    posts.mkdir()
    added.mkdir()
    (posts / "a.md").write_text("---\ntitle: 旧\n---\n正文\n", "utf-8")
    for i in range(30):
        (added / f"{i}.md").write_text(f"---\ntitle: 存档{i}\n---\n正文{i}\n", "utf-8")
    from bot.config import Config
    from bot.ledger import Chat

    store = Store(tmp_path / "db.sqlite")
    store.subscribe(Chat(101))
    Scanner(store, Config(articles=(posts,)), owner=True).scan()
    store.db.execute("DELETE FROM meta WHERE key LIKE ?", [f"{FIRST_SCAN_KEY}:%"])
    store.set_meta(FIRST_SCAN_KEY, "1")  # as that release left it
    report = Scanner(store, Config(articles=(posts, added)), owner=True).scan()
    assert report.first_scan and len(report.new) == 30 and report.queued == 0
    (posts / "b.md").write_text("---\ntitle: 新\n---\n正文\n", "utf-8")
    assert Scanner(store, Config(articles=(posts, added)), owner=True).scan().queued == 1


async def test_ids_a_ledger_gave_live_on_when_their_folder_is_no_longer_the_first(
    tmp_path: Path, free: Emulator
) -> None:
    """Ids of the first folder are what earlier releases gave every folder; a ledger
    keeps the id each file was given, so a correction after the folders changed
    edits the copies instead of sending a new notice."""
    async with archive(tmp_path, free, ["a.md"]) as env:
        (ids,) = {d.article_id for d in env.runtime.store.deliveries(101)}
    front = tmp_path / "front"
    front.mkdir()
    folders = (front, tmp_path / "articles")
    async with running_bot(tmp_path, free, rate_limits=False, articles=folders) as env:
        env.scan()
        start = len(free.calls)
        env.write_article("a.md", title="通知0", body="<p>第0号通知正文（改）。</p>")
        report = env.scan()
        await env.send()
        assert report.corrected == [ids] and report.new == [] and sends(free, start) == 0
