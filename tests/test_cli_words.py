"""`noticebot broadcast` and `noticebot announce` as a shell user meets them: each
message names the thing, its counts agree in number, and the exit code says what
happened (2 bad input, 1 a failure, 0 done or nothing to do)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Config
from bot.ledger import Chat, Store
from bot.sources.scanner import Scanner
from tests.botenv import TOKEN
from tests.chaos import article_text, prepare_ledger
from tests.emulator import Emulator
from tests.in_process import command_state_kept
from tests.process import run_cli

DB = {"NOTICEBOT_DB": "state/noticebot.db"}


def _published(work: Path, chats: list[Chat]) -> tuple[str, str]:
    """A notice in the archive (taken in by the first scan, not pushed) and these
    chats subscribed: its id and title."""
    (work / "articles").mkdir(parents=True, exist_ok=True)
    (work / "articles" / "n.md").write_text(article_text("停水通知"), encoding="utf-8")
    prepare_ledger(work, chats)
    row = Store(work / "state" / "noticebot.db").recent_articles(1)[0]
    return row["id"], row["title"]


def test_broadcast_without_an_article_says_what_to_do(tmp_path: Path) -> None:
    _published(tmp_path, [Chat(1)])
    done = run_cli("broadcast", "--yes", cwd=tmp_path, **DB)
    assert done.returncode == 2
    assert done.stderr == "noticebot broadcast: name an article — see noticebot list\n"
    assert done.stdout == ""


def test_an_unknown_article_is_named(tmp_path: Path) -> None:
    _published(tmp_path, [Chat(1)])
    done = run_cli("broadcast", "nope", "--yes", cwd=tmp_path, **DB)
    assert done.returncode == 1
    assert done.stderr == "noticebot broadcast: no article “nope” — see noticebot list\n"


def test_cancelling_a_broadcast_that_is_not_there_fails_in_one_line(tmp_path: Path) -> None:
    _published(tmp_path, [Chat(1)])
    done = run_cli("broadcast", "--cancel", "999", cwd=tmp_path, **DB)
    assert done.returncode == 1
    assert done.stderr == "noticebot broadcast: no broadcast 999 to cancel\n"
    assert done.stdout == ""


def test_counts_agree_in_number_and_a_cancelled_chat_is_counted_again(tmp_path: Path) -> None:
    article_id, title = _published(tmp_path, [Chat(1)])
    asked = run_cli("broadcast", article_id, cwd=tmp_path, **DB)  # no terminal, no --yes
    assert asked.returncode == 1
    assert asked.stderr == f"send “{title}” to 1 chat? Not a terminal: add --yes to confirm.\n"
    queued = run_cli("broadcast", article_id, "--yes", cwd=tmp_path, **DB)
    assert queued.returncode == 0
    assert queued.stdout.startswith("broadcast 1: 1 chat queued\n")
    cancelled = run_cli("broadcast", "--cancel", "1", cwd=tmp_path, **DB)
    assert (cancelled.returncode, cancelled.stdout) == (
        0,
        "broadcast 1: 1 queued delivery cancelled\n",
    )
    again = run_cli("broadcast", "--cancel", "1", cwd=tmp_path, **DB)
    assert (again.returncode, again.stdout) == (
        0,
        "broadcast 1: nothing was left queued to cancel\n",
    )
    # the cancelled chat never got it: a new broadcast would reach it
    asked = run_cli("broadcast", article_id, cwd=tmp_path, **DB)
    assert asked.stderr.startswith(f"send “{title}” to 1 chat?")


def test_a_broadcast_everyone_has_says_so_and_sends_nothing(tmp_path: Path) -> None:
    chats = [Chat(1), Chat(2)]
    article_id, title = _published(tmp_path, chats)
    with Emulator() as emulator:
        env = {**DB, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": emulator.url}
        sent = run_cli("broadcast", article_id, "--yes", "--send", cwd=tmp_path, **env)
        assert sent.returncode == 0, sent.stderr
        assert emulator.cards_per_chat() == {1: 1, 2: 1}
        again = run_cli("broadcast", article_id, "--yes", "--send", cwd=tmp_path, **env)
        assert emulator.cards_per_chat() == {1: 1, 2: 1}
    assert again.returncode == 0, again.stderr
    assert again.stdout == (
        f"nothing to send: every subscribed chat has “{title}” already, or has it queued"
        " (2 chats)\n"
    )
    store = Store(tmp_path / "state" / "noticebot.db")
    assert store.broadcast_row(2) is None  # nothing recorded


def test_with_no_chat_subscribed_there_is_nothing_to_send(tmp_path: Path) -> None:
    article_id, _ = _published(tmp_path, [])
    done = run_cli("broadcast", article_id, "--yes", cwd=tmp_path, **DB)
    assert (done.returncode, done.stdout) == (0, "nothing to send: no chat is subscribed\n")


def test_announce_of_a_missing_or_empty_file_is_bad_input(tmp_path: Path) -> None:
    _published(tmp_path, [Chat(1)])
    missing = run_cli("announce", "--title", "停电", "gone.md", "--yes", cwd=tmp_path, **DB)
    assert missing.returncode == 2
    assert len(missing.stderr.splitlines()) == 1 and "gone.md" in missing.stderr
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    empty = run_cli("announce", "--title", "停电", "empty.md", "--yes", cwd=tmp_path, **DB)
    assert (empty.returncode, empty.stderr) == (
        2,
        "noticebot announce: the text of empty.md is empty\n",
    )


def test_broadcast_refuses_a_notice_not_published_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """README: ``noticebot broadcast ID`` sends only what is published now. A notice the
    ledger knows but nobody may read (made a draft again, its file deleted, dated
    tomorrow) is exit 1, named with its state, and no broadcast is added. In-process
    (``bot.cli.main``, as the command-line fuzz runs it): three starts of Python would
    take a second."""
    articles = prepare_ledger(tmp_path, [Chat(1)])
    store = Store(tmp_path / "state" / "noticebot.db")
    scanner = Scanner(store, Config(articles=(articles,)), owner=True)  # as the bot scans
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 86_400))
    for name, title in (("standing", "长期通知"), ("draft", "停水通知"), ("gone", "停电通知")):
        (articles / f"{name}.md").write_text(article_text(title), encoding="utf-8")
    (articles / "later.md").write_text(
        f"---\ntitle: 停气通知\ndate: {later}\n---\n\n明天停气。\n", encoding="utf-8"
    )
    scanner.scan()
    (articles / "draft.md").write_text(article_text("停水通知", extra="draft: true\n"), "utf-8")
    (articles / "gone.md").unlink()
    scanner.scan(withdraw=True)  # gone for good, not a folder still being mounted
    rows = store.db.execute("SELECT id, title, status FROM articles").fetchall()
    states = {title: (article_id, status) for article_id, title, status in rows}
    assert {states[t][1] for t in ("停水通知", "停电通知")} == {"withdrawn"}
    assert states["停气通知"][1] == "active"  # but not before tomorrow
    for name in [n for n in os.environ if n.startswith(("NOTICEBOT_", "TELEGRAM"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NOTICEBOT_DB", str(tmp_path / "state" / "noticebot.db"))
    for title in ("停水通知", "停电通知", "停气通知"):
        article_id, status = states[title]
        with command_state_kept():
            code = main(["broadcast", article_id, "--yes"])
        out, err = capsys.readouterr()
        assert (code, out) == (1, ""), title
        assert f"({article_id}) is {status}, not published now" in err
    assert store.broadcast_row(1) is None
