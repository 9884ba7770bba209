from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.logs import RedactingFormatter
from tests.botenv import TOKEN
from tests.emulator import Emulator

SECRETS = (TOKEN, TOKEN.split(":", 1)[1])
DEBUG_LOG = Path(__file__).resolve().parents[1] / ".pytest_cache" / "noticebot-debug.log"


def pytest_configure(config: pytest.Config) -> None:
    """The whole suite logs at DEBUG through the bot's own formatter, into one file."""
    DEBUG_LOG.parent.mkdir(exist_ok=True)
    handler = logging.FileHandler(DEBUG_LOG, mode="w", encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s", TOKEN))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the token reached any log line (httpx logs URLs at INFO, PTB at DEBUG)."""
    if not DEBUG_LOG.exists():
        return
    text = DEBUG_LOG.read_text(encoding="utf-8", errors="replace")
    leaked = [s for s in SECRETS if s in text]
    requests = text.count("HTTP Request:")
    if leaked or (session.testscollected > 50 and requests == 0):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reason = "the bot token is in the DEBUG log" if leaked else "no request was logged"
        print(f"\nFAILED token check: {reason} ({DEBUG_LOG})")
    else:
        print(f"\ntoken check: {requests} logged requests at DEBUG, token never shown")


@pytest.fixture
def config() -> Config:
    return Config()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A local Bot API emulator; afterwards, no message to anyone may contain the token."""
    with Emulator() as emu:
        yield emu
    for call in emu.calls:
        shown = json.dumps(call.params, ensure_ascii=False)
        assert not any(s in shown for s in SECRETS), f"token shown to a user in {call.method}"
