"""Several ``noticebot run`` processes on one PostgreSQL ledger: one sends, a standby
takes over when it dies or freezes, and a frozen one that wakes sends nothing more."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx

from bot.config import Config
from bot.ledger import Chat, Store
from bot.ledger.lease import STALE_AFTER
from bot.sending.flood import FloodControl
from bot.sources.scanner import Scanner
from bot.standby import EXIT_FENCED, gate
from tests import ledgers
from tests.botenv import TOKEN
from tests.chaos import article_text, start_bot, wait_for
from tests.emulator import Emulator
from tests.process import BOT_COMMAND, clean_env, free_port, run_cli

CHATS = 60


def _prepare(work: Path, chats: int = CHATS) -> str:
    url = ledgers.postgres_database()
    articles = work / "articles"
    articles.mkdir(parents=True)
    store = Store(url)
    Scanner(store, Config(articles=(articles,))).scan()  # the empty archive: nothing old
    for n in range(chats):
        store.subscribe(Chat(5000 + n))
    store.close()
    return url


def _holder(url: str) -> str | None:
    store = Store(url)
    try:
        holding = store.owner.holding()
        fresh = holding.heartbeat_age is not None and holding.heartbeat_age < 3
        return holding.holder if fresh else None
    finally:
        store.close()


def _process_ids(url: str) -> list[str]:
    store = Store(url)
    try:
        return [p["id"] for p in store.owner.processes()]
    finally:
        store.close()


def _start(work: Path, emulator: Emulator, url: str, name: str) -> subprocess.Popen[bytes]:
    return start_bot(work, emulator, work / f"{name}.log", NOTICEBOT_DB=url)


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def _sending(work: Path, emulator: Emulator) -> Iterator[tuple[str, subprocess.Popen[bytes], str]]:
    """An active process and a standby on one ledger, the notice going out to every chat:
    the ledger, the active process and its name in the lease, once ten cards went."""
    url = _prepare(work)
    first = _start(work, emulator, url, "first")
    second = None
    try:
        wait_for(lambda: _holder(url) is not None, 30, "a first active process")
        active = _holder(url)
        assert active is not None
        second = _start(work, emulator, url, "second")
        wait_for(lambda: len(_process_ids(url)) == 2, 30, "a standby beside it")
        assert _holder(url) == active  # the standby waits: it neither polls nor sends
        (work / "articles" / "water.md").write_text(article_text("停水通知"), "utf-8")
        wait_for(lambda: len(emulator.cards_per_chat()) >= 10, 30, "the first cards")
        yield url, first, active
    finally:
        _stop(first, *([second] if second else []))


def test_a_standby_takes_over_when_the_active_process_is_killed(
    tmp_path: Path, emulator: Emulator
) -> None:
    with _sending(tmp_path, emulator) as (url, first, active):
        first.kill()
        wait_for(lambda: _holder(url) not in (None, active), 30, "the standby taking over")
        wait_for(lambda: len(emulator.cards_per_chat()) == CHATS, 60, "every chat's card")
        time.sleep(1.5)  # anything sent twice would have arrived by now
        cards = emulator.cards_per_chat()
        status = run_cli("status", cwd=tmp_path, NOTICEBOT_DB=url)
    assert set(cards) == {5000 + n for n in range(CHATS)}
    assert sum(cards.values()) - CHATS <= 1  # at most the part in flight, once
    assert emulator.too_many == 0
    assert "active" in status.stdout and "last failover:" in status.stdout
    assert "last failover: none" not in status.stdout


def test_a_standby_answers_healthz_as_a_standby_then_as_the_active_process(
    tmp_path: Path, emulator: Emulator
) -> None:
    """A monitor watching every machine sees the standby alive (200, ``standby``), not
    down, and the same process healthy and active once it took over."""
    url = _prepare(tmp_path)
    port = free_port()
    first = _start(tmp_path, emulator, url, "first")
    second = None
    try:
        wait_for(lambda: _holder(url) is not None, 30, "a first active process")
        second = start_bot(
            tmp_path,
            emulator,
            tmp_path / "second.log",
            NOTICEBOT_DB=url,
            NOTICEBOT_METRICS_LISTEN=f"127.0.0.1:{port}",
        )
        wait_for(lambda: _healthz(port) is not None, 30, "the standby's /healthz")
        standing = _healthz(port)
        first.kill()
        wait_for(lambda: (_healthz(port) or (0, {}))[1].get("standby") is False, 30, "takeover")
        wait_for(lambda: (_healthz(port) or (0, {}))[0] == 200, 30, "a healthy active process")
        active = _healthz(port)
    finally:
        _stop(first, *([second] if second else []))
    assert standing == (200, {"healthy": True, "standby": True, "problems": []})
    assert active is not None and active[1]["standby"] is False and active[1]["healthy"]


def _healthz(port: int) -> tuple[int, dict[str, object]] | None:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except httpx.HTTPError:
        return None
    return answer.status_code, answer.json()


def test_a_frozen_active_process_is_fenced_and_sends_nothing_when_it_wakes(
    tmp_path: Path, emulator: Emulator
) -> None:
    with _sending(tmp_path, emulator) as (url, first, active):
        first.send_signal(signal.SIGSTOP)  # a frozen machine: its connection stays open
        wait_for(lambda: _holder(url) not in (None, active), 30, "the standby taking over")
        wait_for(lambda: len(emulator.cards_per_chat()) == CHATS, 60, "every chat's card")
        sent_before_waking = len(emulator.delivered())
        first.send_signal(signal.SIGCONT)
        code = first.wait(timeout=20)
        time.sleep(1.0)
        cards = emulator.cards_per_chat()
        sent_after = len(emulator.delivered()) - sent_before_waking
    assert code == EXIT_FENCED
    assert sent_after <= 1  # what was in flight when it froze, at most
    assert set(cards) == {5000 + n for n in range(CHATS)}
    assert sum(cards.values()) - CHATS <= 1
    assert emulator.too_many == 0


def test_a_broadcast_sent_from_the_command_line_holds_the_lease_as_a_bot_does(
    tmp_path: Path, emulator: Emulator
) -> None:
    """`noticebot broadcast --send` with no bot running sends from its own process, active
    as a bot is: a bot started meanwhile stands by instead of finding its lease stale
    (no heartbeat) and ending its session mid-broadcast."""
    url = _prepare(tmp_path, chats=240)  # eight seconds at thirty a second: past STALE_AFTER
    store = Store(url)
    article_id = store.add_announcement("周六上午九点到十二点停水。", "停水通知")
    store.close()
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": emulator.url,
        "NOTICEBOT_DB": url,
        "NOTICEBOT_ARTICLES": str(tmp_path / "articles"),
    }
    with (tmp_path / "cli.log").open("wb") as log:
        sending = subprocess.Popen(
            [*BOT_COMMAND, "broadcast", article_id, "--yes", "--send"],
            cwd=tmp_path,
            env=clean_env(**env),
            stdout=log,
            stderr=log,
        )
    bot = None
    try:
        wait_for(lambda: len(emulator.delivered()) >= 10, 30, "the first messages")
        bot = _start(tmp_path, emulator, url, "bot")
        code = sending.wait(timeout=60)
        time.sleep(1.5)  # the bot, active once the command line is done, sends nothing more
        got = Counter(chat for chat, _ in emulator.delivered())
    finally:
        _stop(sending, *([bot] if bot else []))
    assert code == 0, (tmp_path / "cli.log").read_text()
    assert len(got) == 240 and set(got.values()) == {1}
    assert emulator.too_many == 0


async def test_no_request_goes_out_while_the_lease_is_not_fresh() -> None:
    """A process woken from a freeze finds its last heartbeat old (the monotonic clock
    ran on while it was stopped): a send that was waiting for its turn waits on until
    the heartbeat says whether the lease is still this process's, instead of going out
    beside the new active process's."""
    url = ledgers.postgres_database()
    store = Store(url)
    try:
        lease = store.owner
        assert lease.try_take() and lease.fresh()
        lease.last_beat -= STALE_AFTER  # as after a freeze
        assert not lease.fresh()
        flood = FloodControl()
        gate(lease, flood)
        sent: list[int] = []

        async def request(*args: object, **kwargs: object) -> bool:
            sent.append(1)
            return True

        sending = asyncio.create_task(
            flood.process_request(request, (), {}, "sendMessage", {"chat_id": 1}, None)
        )
        await asyncio.sleep(0.3)
        assert sent == []
        lease.beat()  # the lease is still its own: the send goes
        await asyncio.wait_for(sending, 2)
        assert sent == [1]
    finally:
        store.close()
