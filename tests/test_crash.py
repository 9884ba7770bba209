"""The bot process killed (SIGKILL) in the middle of a broadcast and restarted:
every chat gets the notice, at most one duplicate per kill. Also: the token never
reaches the log, even at DEBUG."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import Config
from bot.scanner import Scanner
from bot.store import Chat, Store
from tests.botenv import TOKEN
from tests.emulator import Emulator
from tests.process import BOT_COMMAND, clean_env

CHATS = 200
KILL_AFTER = (40, 100, 160)  # delivered messages at which the process is killed


def _start(tmp_path: Path, emulator: Emulator, log: Path) -> subprocess.Popen[bytes]:
    env = clean_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=emulator.url,
        NOTICEBOT_DB=str(tmp_path / "state" / "noticebot.db"),
        NOTICEBOT_ARTICLES=str(tmp_path / "articles"),
        NOTICEBOT_SCAN_INTERVAL="1",
        NOTICEBOT_LOG_LEVEL="DEBUG",
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [*BOT_COMMAND, "run"], cwd=tmp_path, env=env, stdout=out, stderr=out
        )


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the bot made no progress"
        time.sleep(0.05)


def test_sigkill_mid_broadcast_loses_nothing(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    store = Store(tmp_path / "state" / "noticebot.db")
    Scanner(store, Config(articles=(articles,))).scan()  # the archive was empty at first start
    for chat_id in range(1, CHATS + 1):
        store.subscribe(Chat(chat_id))
    store.close()
    (articles / "notice.md").write_text(
        "\n---\ntitle: '停水通知'\ndate: "
        + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        + "\n---\n\n<p>本周六停水。</p>\n",
        encoding="utf-8",
    )
    log = tmp_path / "bot.log"
    with Emulator() as emulator:
        process = _start(tmp_path, emulator, log)
        for target in KILL_AFTER:
            _wait_for(lambda t=target: len(emulator.delivered()) >= t, 120)
            process.send_signal(signal.SIGKILL)
            process.wait()
            process = _start(tmp_path, emulator, log)
        _wait_for(lambda: len(emulator.cards_per_chat()) == CHATS, 120)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    counts = emulator.cards_per_chat()
    missing = CHATS - len(counts)
    duplicates = sum(n - 1 for n in counts.values())
    assert missing == 0
    assert duplicates <= len(KILL_AFTER)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "sendMessage" in text  # DEBUG logging really ran
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
