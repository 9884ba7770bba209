from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.logs import RedactingFormatter
from tests import ledgers
from tests.botenv import TOKEN
from tests.emulator import Emulator
from tests.feedserver import FeedHost

SECRETS = (TOKEN, TOKEN.split(":", 1)[1])
LOG_DIR = Path(__file__).resolve().parents[1] / ".pytest_cache"
# One DEBUG log per process: with pytest-xdist (make test runs two workers) each
# worker writes its own, and the run that started them checks them all.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
DEBUG_LOG = LOG_DIR / f"noticebot-debug-{WORKER or 'main'}.log"


def pytest_configure(config: pytest.Config) -> None:
    """The whole suite logs at DEBUG through the bot's own formatter, into one file a
    process."""
    LOG_DIR.mkdir(exist_ok=True)
    if WORKER is None:
        for old in LOG_DIR.glob("noticebot-debug*.log"):
            old.unlink()
    handler = logging.FileHandler(DEBUG_LOG, mode="w", encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s", TOKEN))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the token reached any log line (httpx logs URLs at INFO, PTB at DEBUG)."""
    if WORKER is not None:
        return  # the run that started the workers checks their logs
    logs = sorted(LOG_DIR.glob("noticebot-debug*.log"))
    text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)
    leaked = [s for s in SECRETS if s in text]
    requests = text.count("HTTP Request:")
    # The bot made requests (the emulator served some) that no log line shows. A few tests
    # alone may serve only bots in other processes, which log elsewhere: those are let be.
    served = sum(int(n) for n in re.findall(r"emulator served (\d+) calls", text))
    if leaked or (served and requests == 0 and session.testscollected > 50):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reason = "the bot token is in the DEBUG log" if leaked else "no request was logged"
        print(f"\nFAILED token check: {reason} ({', '.join(p.name for p in logs)})")
    else:
        print(f"\ntoken check: {requests} logged requests at DEBUG, token never shown")


@pytest.fixture
def config() -> Config:
    return Config()


@pytest.fixture
def host() -> Iterator[FeedHost]:
    """A local host of many feeds (and their proxy)."""
    feed_host = FeedHost()
    yield feed_host
    feed_host.close()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A local Bot API emulator; afterwards, no message to anyone may contain the token."""
    yield from _checked(Emulator())


@pytest.fixture
def free() -> Iterator[Emulator]:
    """The emulator without flood limits, for tests about what a chat shows."""
    yield from _checked(Emulator(limits=None))


def _checked(emulator: Emulator) -> Iterator[Emulator]:
    with emulator as emu:
        yield emu
    for call in emu.calls:
        shown = json.dumps(call.params, ensure_ascii=False)
        assert not any(s in shown for s in SECRETS), f"token shown to a user in {call.method}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL half of a test marked ``sqlite_only`` is left out (not skipped)."""
    kept = [
        i for i in items if not (i.get_closest_marker("sqlite_only") and "[postgresql" in i.name)
    ]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


@pytest.fixture(autouse=True)
def _drop_databases() -> Iterator[None]:
    yield
    ledgers.drop_made()


@pytest.fixture(params=ledgers.BACKENDS)
def ledger_at(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """The test's ledger, on each backend in turn (:mod:`tests.ledgers`)."""
    where = ledgers.ledger_for(request.param, tmp_path)
    ledgers.set_current(where)
    yield where
    ledgers.set_current(None)
