"""`noticebot preview` shows what the bot sends: the scanner's ids and buttons, its
refusals as errors, feeds entry by entry. Real processes, real files, a real feed host."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.feedserver import FeedServer
from tests.paths import ROOT
from tests.process import run_cli

SEED_NAME = "2022-02-01-community-new-year-greetings.md"
SEED_ID = "f614b98f"  # the id the scanner gives the seed in its folder (see the README)
SITE = "https://blog.example.org"
FEED = ROOT / "tests" / "feeds" / "rss-guardian-media-content.xml"


def _calls(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _keyboard(calls: list[dict]) -> list[dict]:
    return [
        b
        for c in calls
        for row in c["params"].get("reply_markup", {}).get("inline_keyboard", [])
        for b in row
    ]


def test_a_single_file_gets_the_scanners_id_and_the_original_button(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    result = run_cli(
        "preview", "--json", f"seeds/{SEED_NAME}", cwd=tmp_path, NOTICEBOT_SITE_URL=SITE
    )
    assert result.returncode == 0, result.stderr
    buttons = _keyboard(_calls(result.stdout))
    assert {"text": "阅读全文", "callback_data": f"read:{SEED_ID}"} in buttons
    assert any(b.get("text") == "🔗 网页版" and b["url"].startswith(SITE + "/") for b in buttons)


def test_a_file_in_a_subfolder_of_the_configured_folder_keeps_its_id(tmp_path: Path) -> None:
    """The folder named on the command line is not the root: the configured one is."""
    (tmp_path / "posts" / "2026").mkdir(parents=True)
    shutil.copy(ROOT / "seeds" / SEED_NAME, tmp_path / "posts" / "2026" / SEED_NAME)
    scan = run_cli("scan", "--json", "--create", cwd=tmp_path, NOTICEBOT_ARTICLES="posts")
    assert scan.returncode == 0, scan.stderr
    scanned = run_cli("list", "--json", cwd=tmp_path, NOTICEBOT_ARTICLES="posts")
    scanner_id = json.loads(scanned.stdout)[0]["id"]
    for target in ("posts/2026", f"posts/2026/{SEED_NAME}"):
        result = run_cli("preview", "--json", target, cwd=tmp_path, NOTICEBOT_ARTICLES="posts")
        assert result.returncode == 0, result.stderr
        buttons = _keyboard(_calls(result.stdout))
        assert {"text": "阅读全文", "callback_data": f"read:{scanner_id}"} in buttons, target


def test_a_missing_file_is_an_error_and_a_failure(tmp_path: Path) -> None:
    result = run_cli("preview", "nope.md", cwd=tmp_path)
    assert result.returncode == 1
    assert "nope.md: cannot read file: No such file or directory" in result.stderr
    assert "0 article(s), 1 error(s)" in result.stdout


def test_what_the_scanner_refuses_preview_refuses(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("---\ntitle: 笔记\n---\n正文\n", encoding="utf-8")
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    result = run_cli("preview", "notes.txt", "empty.md", cwd=tmp_path)
    assert result.returncode == 1
    assert "notes.txt: not an article" in result.stderr
    assert "empty.md: empty file" in result.stderr
    assert "0 article(s), 2 error(s)" in result.stdout


def test_a_feed_file_is_previewed_entry_by_entry(tmp_path: Path) -> None:
    result = run_cli("preview", "--json", str(FEED), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    calls = _calls(result.stdout)
    reads = [b["callback_data"] for b in _keyboard(calls) if "callback_data" in b]
    assert len(reads) > 1 and all(r.startswith("read:f") for r in reads)  # feed entry ids
    assert not any("<?xml" in json.dumps(c, ensure_ascii=False) for c in calls)
    assert any(b.get("text") == "🔗 网页版" for b in _keyboard(calls))  # each entry's link


def test_a_feed_address_is_previewed_entry_by_entry(tmp_path: Path) -> None:
    server = FeedServer()
    server.body = FEED.read_bytes()
    try:
        by_address = run_cli("preview", "--json", server.url, cwd=tmp_path)
    finally:
        server.close()
    by_file = run_cli("preview", "--json", str(FEED), cwd=tmp_path)
    assert by_address.returncode == 0, by_address.stderr
    assert by_address.stdout == by_file.stdout  # the same entries, the same calls
    assert len(_calls(by_address.stdout)) > 1
    assert server.answers == [200]


def test_an_unreachable_feed_address_is_an_error(tmp_path: Path) -> None:
    server = FeedServer()
    server.mode = "500"
    try:
        result = run_cli("preview", server.url, cwd=tmp_path)
    finally:
        server.close()
    assert result.returncode == 1
    assert "error: http://127.0.0.1:" in result.stderr and "500" in result.stderr


def test_a_page_never_replaces_the_ledger_or_a_file_that_is_no_page(tmp_path: Path) -> None:
    """`preview --html FILE` with FILE mistyped as the ledger, or as a file of the
    operator's, loses nothing; a page written before is replaced."""
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    assert run_cli("scan", "--create", cwd=tmp_path, NOTICEBOT_ARTICLES="seeds").returncode == 0
    ledger = tmp_path / "state" / "noticebot.db"
    before = ledger.read_bytes()
    notes = tmp_path / "notes.txt"
    notes.write_text("the operator's notes", encoding="utf-8")
    for target, said in ((ledger, "is the live ledger"), (notes, "exists")):
        result = run_cli("preview", "seeds", "--html", str(target), cwd=tmp_path)
        assert result.returncode == 2 and said in result.stderr, result.stderr
    assert ledger.read_bytes() == before and notes.read_text("utf-8") == "the operator's notes"
    page = tmp_path / "page.html"
    for _ in range(2):  # written, then replaced
        result = run_cli("preview", "seeds", "--html", str(page), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert page.read_text("utf-8").lower().startswith("<!doctype html")
