"""`noticebot broadcast` and `noticebot announce` as a shell user meets them: each
message names the thing, its counts agree in number, and the exit code says what
happened (2 bad input, 1 a failure, 0 done or nothing to do)."""

from __future__ import annotations

from pathlib import Path

from bot.ledger import Chat, Store
from tests.botenv import TOKEN
from tests.chaos import article_text, prepare_ledger
from tests.emulator import Emulator
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
