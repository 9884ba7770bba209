"""What the feed tests share: `noticebot feeds` run as a user runs it, a ledger made
for it, and what a live bot sent a chat."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.botenv import LiveBot
from tests.emulator import Call
from tests.process import run_cli

PRIVATE_OK = {"NOTICEBOT_FEEDS_ALLOW_PRIVATE": "on"}  # the feed host is on 127.0.0.1


def feeds_cli(where: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`noticebot feeds …` on the ledger of ``where`` (a live bot's there, if any)."""
    db = str(where / "state" / "noticebot.db")
    return run_cli("feeds", *args, "--db", db, cwd=where, **{**PRIVATE_OK, **env})


def new_ledger(where: Path) -> None:
    (where / "articles").mkdir(exist_ok=True)
    done = run_cli("scan", "--create", "--db", str(where / "state" / "noticebot.db"), cwd=where)
    assert done.returncode == 0, done.stderr


def sent_to(bot: LiveBot, chat: int, start: int) -> list[Call]:
    """What was sent to ``chat`` since ``start`` (sends only)."""
    return [
        c
        for c in bot.emulator.calls[start:]
        if c.ok and c.method.startswith("send") and c.params.get("chat_id") == chat
    ]


def text_of(call: Call) -> str:
    return str(call.params.get("text") or call.params.get("caption") or "")
