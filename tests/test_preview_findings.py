"""Preview is the bot on the odd cases too: a moved file keeps the id the ledger gave
its notice, a file the folder walk refuses is refused alike, a page that is no feed is
an error, an address's credentials are never printed, and ``--html`` never waits on a
pipe. Real processes, real files, a real feed host."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.paths import ROOT
from tests.process import BOT_COMMAND, clean_env, run_cli

SEED = ROOT / "seeds" / "2022-02-01-community-new-year-greetings.md"
PAGE = b"<!DOCTYPE html>\n<html><head><title>Home</title></head><body><p>Hi</p></body></html>\n"
NOT_UTF8 = os.fsdecode(b"caf\xe9.md")  # a Latin-1 name, as an old zip leaves


def _run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A command that must not wait on a pipe: ended after 20 s, and then a failure."""
    return subprocess.run(
        [*BOT_COMMAND, *args], cwd=cwd, env=clean_env(**env), capture_output=True, text=True,
        timeout=20,
    )  # fmt: skip


def _read_ids(stdout: str) -> set[str]:
    calls = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return {
        b["callback_data"]
        for c in calls
        for row in c["params"].get("reply_markup", {}).get("inline_keyboard", [])
        for b in row
        if b.get("callback_data", "").startswith("read:")
    }


def _scanned(tmp_path: Path) -> str:
    """The id `noticebot list` shows for the one notice."""
    listed = run_cli("list", "--json", cwd=tmp_path, NOTICEBOT_ARTICLES="posts")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    return row["id"]


def test_a_moved_file_keeps_the_id_the_scanner_kept(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    shutil.copy(SEED, tmp_path / "posts" / "a.md")
    assert run_cli("scan", "--create", cwd=tmp_path, NOTICEBOT_ARTICLES="posts").returncode == 0
    (tmp_path / "posts" / "sub").mkdir()
    os.rename(tmp_path / "posts" / "a.md", tmp_path / "posts" / "sub" / "renamed.md")
    assert run_cli("scan", cwd=tmp_path, NOTICEBOT_ARTICLES="posts").returncode == 0
    kept = _scanned(tmp_path)
    ledger = tmp_path / "state" / "noticebot.db"
    before = {p.name: p.read_bytes() for p in ledger.parent.iterdir()}
    for target in ("posts/sub/renamed.md", "posts"):
        shown = run_cli("preview", "--json", target, cwd=tmp_path, NOTICEBOT_ARTICLES="posts")
        assert shown.returncode == 0, shown.stderr
        assert _read_ids(shown.stdout) == {f"read:{kept}"}, target
    # the ledger read, never written: nothing made, nothing migrated
    assert {p.name: p.read_bytes() for p in ledger.parent.iterdir()} == before


def test_preview_db_is_a_real_documented_option(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    shutil.copy(SEED, tmp_path / "posts" / "a.md")
    assert run_cli("scan", "--create", cwd=tmp_path, NOTICEBOT_ARTICLES="posts").returncode == 0
    os.rename(tmp_path / "posts" / "a.md", tmp_path / "posts" / "b.md")
    assert run_cli("scan", cwd=tmp_path, NOTICEBOT_ARTICLES="posts").returncode == 0
    kept = _scanned(tmp_path)
    os.rename(tmp_path / "state", tmp_path / "elsewhere")
    by_flag = run_cli(
        "preview", "--json", "--db", "elsewhere/noticebot.db", "posts/b.md",
        cwd=tmp_path, NOTICEBOT_ARTICLES="posts",
    )  # fmt: skip
    assert by_flag.returncode == 0, by_flag.stderr
    assert _read_ids(by_flag.stdout) == {f"read:{kept}"}
    assert not (tmp_path / "state").exists()  # the default ledger not made
    helped = run_cli("preview", "--help", cwd=tmp_path)
    assert "--db" in helped.stdout
    missing = run_cli("preview", "--db", "nope.db", "posts/b.md", cwd=tmp_path)
    assert missing.returncode == 2 and "no ledger at nope.db" in missing.stderr
    assert not (tmp_path / "nope.db").exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()  # an empty file: no ledger, and not made one
    empty = run_cli("preview", "--db", str(other), "posts/b.md", cwd=tmp_path)
    assert empty.returncode == 2 and "Traceback" not in empty.stderr, empty.stderr
    assert other.stat().st_size == 0


def test_no_ledger_previews_as_before(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    shutil.copy(SEED, tmp_path / "posts" / "a.md")
    shown = run_cli("preview", "--json", "posts/a.md", cwd=tmp_path, NOTICEBOT_ARTICLES="posts")
    assert shown.returncode == 0, shown.stderr
    assert len(_read_ids(shown.stdout)) == 1
    assert not (tmp_path / "state").exists()


def _odd_folder(tmp_path: Path) -> Path:
    posts = tmp_path / "posts"
    posts.mkdir()
    shutil.copy(SEED, posts / "good.md")
    os.symlink("loop1.md", posts / "loop2.md")
    os.symlink("loop2.md", posts / "loop1.md")
    (posts / NOT_UTF8).write_text("---\ntitle: Café\n---\n\nbody\n", encoding="utf-8")
    os.mkfifo(posts / "pipe.md")
    return posts


@pytest.mark.parametrize("name", ["loop1.md", NOT_UTF8, "pipe.md"])
def test_a_single_odd_file_is_judged_as_the_folder_walk_judges_it(
    tmp_path: Path, name: str
) -> None:
    _odd_folder(tmp_path)
    whole = run_cli("preview", "posts", cwd=tmp_path, NOTICEBOT_ARTICLES="posts")
    alone = run_cli("preview", f"posts/{name}", cwd=tmp_path, NOTICEBOT_ARTICLES="posts")
    assert alone.returncode == 1, alone.stderr
    assert "Traceback" not in alone.stderr and "unexpected error" not in alone.stderr
    (said,) = [line for line in alone.stderr.splitlines() if line.startswith("error: ")]
    assert said in whole.stderr.splitlines(), (said, whole.stderr)


def test_scan_status_and_preview_all_list_a_pipe_and_a_name_not_utf8(tmp_path: Path) -> None:
    _odd_folder(tmp_path)
    env = {"NOTICEBOT_ARTICLES": "posts"}
    scan = _run("scan", "--create", cwd=tmp_path, **env)
    assert scan.returncode == 0, scan.stderr
    status = run_cli("status", cwd=tmp_path, **env)
    as_json = json.loads(run_cli("status", "--json", cwd=tmp_path, **env).stdout)
    preview = run_cli("preview", "posts", cwd=tmp_path, **env)
    reasons = {r["reason"] for r in as_json["invalid_files"]}
    assert "its name is not UTF-8 text: rename it to be read" in reasons
    pipe = [r for r in as_json["invalid_files"] if r["path"].endswith("pipe.md")]
    assert len(pipe) == 1 and "named pipe" in pipe[0]["reason"]
    for said in (scan.stdout, status.stdout, preview.stderr):
        assert "pipe.md: " + pipe[0]["reason"] in said, said
        assert "caf\\udce9.md: its name is not UTF-8 text" in said or (
            "caf\ufffd.md: its name is not UTF-8 text" in said
        ), said


def test_an_html_page_is_no_feed(tmp_path: Path) -> None:
    server = FeedServer()
    server.body = PAGE
    (tmp_path / "page.xml").write_bytes(PAGE)
    try:
        for source in (server.url, "page.xml"):
            shown = run_cli("preview", source, cwd=tmp_path)
            assert shown.returncode == 1, shown.stderr
            assert "not a feed (an HTML page)" in shown.stderr, shown.stderr
        env = {"NOTICEBOT_FEEDS": server.url, "NOTICEBOT_ARTICLES": "posts"}
        (tmp_path / "posts").mkdir()
        run_cli("scan", "--create", cwd=tmp_path, **env)
        status = run_cli("status", cwd=tmp_path, **env)
    finally:
        server.close()
    assert "not a feed (an HTML page)" in status.stdout, status.stdout


def test_credentials_in_an_address_are_never_printed(tmp_path: Path) -> None:
    server = FeedServer()
    server.body = (ROOT / "tests" / "feeds" / "rss-guardian-media-content.xml").read_bytes()
    port = server.url.split(":")[2].split("/")[0]
    token = "123456789:AAFakeTokenForTestsOnly_abcdefghijkl"
    try:
        for url in (
            f"http://u:secretpw@127.0.0.1:{port}/nope.xml",
            f"http://127.0.0.1:{port}/feed?token=secretpw",
            f"http://127.0.0.1:{port}/{token}/feed",
        ):
            shown = run_cli("preview", url, cwd=tmp_path, TELEGRAM_BOT_TOKEN=token)
            for stream in (shown.stdout, shown.stderr):
                assert "secretpw" not in stream and token not in stream, stream
                assert "Traceback" not in stream
    finally:
        server.close()


def test_html_page_refusals_fit_preview_and_a_pipe_is_never_waited_on(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    notes = tmp_path / "notes.txt"
    notes.write_text("the operator's notes", encoding="utf-8")
    refused = run_cli("preview", "seeds", "--html", "notes.txt", cwd=tmp_path)
    assert refused.returncode == 2 and "--force" not in refused.stderr, refused.stderr
    assert "notes.txt" in refused.stderr and len(refused.stderr.splitlines()) == 1
    os.mkfifo(tmp_path / "pipe.html")
    piped = _run("preview", "seeds", "--html", "pipe.html", cwd=tmp_path)
    assert piped.returncode == 2, piped.stderr
    assert "pipe.html" in piped.stderr and len(piped.stderr.splitlines()) == 1
    assert piped.stdout == ""
