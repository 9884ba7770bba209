"""Broadcasts from outside the chat, as a cron job or a deploy step runs them:
`noticebot broadcast` and `noticebot announce` beside a running bot, or sending
themselves when none runs; `--cancel`."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path

from bot.ledger import Chat, Store
from tests.botenv import TOKEN
from tests.chaos import article_text, prepare_ledger, start_bot, wait_for
from tests.emulator import Emulator
from tests.process import BOT_COMMAND, clean_env, run_cli

CHATS = [Chat(chat) for chat in range(901, 961)]  # two seconds at 30 messages a second


def _published(work: Path) -> str:
    """A notice in the archive (taken in by the first scan, not pushed), and the chats:
    what to broadcast, and to whom."""
    (work / "articles").mkdir(parents=True, exist_ok=True)
    (work / "articles" / "n.md").write_text(article_text("停水通知"), encoding="utf-8")
    prepare_ledger(work, CHATS)
    return Store(work / "state" / "noticebot.db").recent_articles(1)[0]["id"]


def test_a_broadcast_from_the_command_line_beside_a_running_bot(tmp_path: Path) -> None:
    article_id = _published(tmp_path)
    with Emulator() as emulator:
        log = tmp_path / "bot.log"
        process = start_bot(tmp_path, emulator, log, NOTICEBOT_LOG_LEVEL="INFO")
        try:
            wait_for(lambda: any(c.method == "getUpdates" for c in emulator.calls), 60, "start")
            done = run_cli(
                "broadcast", article_id, "--yes", cwd=tmp_path, NOTICEBOT_DB="state/noticebot.db"
            )
            # the bot logs it as it logs an admin's broadcast: its start, and its end
            finished = "broadcast 1 finished: {'sent': 60, 'failed': 0, 'deactivated': 0,"
            wait_for(lambda: finished in log.read_text(encoding="utf-8"), 30, "the log's end line")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"broadcast 1: {len(CHATS)} chats queued")
    progress = done.stderr.splitlines()
    assert len(progress) > 2 and "remaining" in progress[0]  # a bar that moved
    assert progress[-1] == f"broadcast 1 done: sent {len(CHATS)}, failed 0, chats gone 0, skipped 0"
    assert emulator.cards_per_chat() == {chat.id: 1 for chat in CHATS}
    lines = log.read_text(encoding="utf-8").splitlines()
    started = f"broadcast 1 of {article_id} from the command line: {len(CHATS)} chats"
    assert sum(started in line for line in lines) == 1
    assert sum("broadcast 1 finished" in line for line in lines) == 1


def test_without_a_bot_it_says_so_sends_itself_with_send_and_cancels(tmp_path: Path) -> None:
    article_id = _published(tmp_path)
    db = {"NOTICEBOT_DB": "state/noticebot.db"}
    waiting = run_cli("broadcast", article_id, "--yes", cwd=tmp_path, **db)
    assert "no noticebot is running" in waiting.stdout and "--send" in waiting.stdout
    cancelled = run_cli("broadcast", "--cancel", "1", cwd=tmp_path, **db)
    assert cancelled.stdout == f"broadcast 1: {len(CHATS)} queued deliveries cancelled\n"
    refused = run_cli("broadcast", article_id, cwd=tmp_path, **db)  # no terminal, no --yes
    assert refused.returncode == 1 and "add --yes" in refused.stderr
    with Emulator() as emulator:
        env = {**db, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": emulator.url}
        env["NOTICEBOT_ARTICLES"] = "elsewhere"  # a cron job without the bot's settings
        announced = subprocess.run(
            [*BOT_COMMAND, "announce", "--title", "停电通知", "-", "--yes", "--send"],
            input="本周日**上午**停电。\n",
            cwd=tmp_path,
            env=clean_env(**env),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert announced.returncode == 0, announced.stderr
    assert announced.stderr.splitlines()[-1].startswith(f"broadcast 2 done: sent {len(CHATS)},")
    cards = [c for _, c in emulator.delivered()]
    assert len(cards) == len(CHATS) and all(c.params["text"].startswith("停电通知") for c in cards)
    # one message each, the announcement's card (short: it holds the whole text, so it has
    # no read button); the cancelled broadcast: none
    assert Counter(chat for chat, _ in emulator.delivered()) == {chat.id: 1 for chat in CHATS}
    store = Store(tmp_path / "state" / "noticebot.db")
    assert store.article(article_id)["status"] == "active"  # not taken for gone


def test_a_broadcast_waiting_in_the_ledger_is_logged_by_the_bot_that_sends_it(
    tmp_path: Path,
) -> None:
    article_id = _published(tmp_path)
    waiting = run_cli(
        "broadcast", article_id, "--yes", cwd=tmp_path, NOTICEBOT_DB="state/noticebot.db"
    )
    assert waiting.returncode == 0, waiting.stderr
    log = tmp_path / "bot.log"
    with Emulator() as emulator:
        process = start_bot(tmp_path, emulator, log, NOTICEBOT_LOG_LEVEL="INFO")
        try:
            wait_for(lambda: "broadcast 1 finished" in log.read_text(encoding="utf-8"), 60, "end")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
    assert emulator.cards_per_chat() == {chat.id: 1 for chat in CHATS}
    text = log.read_text(encoding="utf-8")
    assert f"broadcast 1 of {article_id} from the command line: {len(CHATS)} chats" in text
    assert "broadcast 1 finished: {'sent': 60, 'failed': 0, 'deactivated': 0," in text
