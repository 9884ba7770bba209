"""Failover under load: three ``noticebot run`` processes on one PostgreSQL ledger while
a notice goes to thousands of chats (``bench/chaos``, ``--only failover``; the small
version is tests/test_failover.py).

One process is active, two stand by (bot/ledger/lease.py, bot/standby.py). While the
notice is being sent, the active process is killed (SIGKILL) or frozen (SIGSTOP) at
random moments; a killed process is started again at once, as a supervisor would, and a
frozen one is woken once another took over, must stop with ``EXIT_FENCED`` without
sending more, and is started again too. Each takeover is timed from the signal until
another process holds the lease with a fresh heartbeat. At the end every chat must have
its card once (a failover may repeat the part in flight), and Telegram's limits kept.

Every process reaches the emulator through a port of its own, so each request the
emulator records is known to come from one process: what a frozen process sends after
it wakes is counted exactly, even while the new active one sends.
"""

from __future__ import annotations

import contextlib
import math
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg

from bot.config import Config
from bot.ledger import Chat, Store
from bot.ledger.lease import NOW
from bot.sources.scanner import Scanner
from bot.standby import EXIT_FENCED
from tests import ledgers
from tests.chaos import article_text, start_bot, wait_for
from tests.emulator import SEND_METHODS, Call, Emulator, counted

KILL, FREEZE = "SIGKILL", "SIGSTOP"
TITLES = ("停水通知", "停电通知")  # the notice, and the second one written halfway through
FRESH = 3.0  # seconds: a heartbeat this recent is a process that holds the lease now
SEEN = 2.5  # seconds: a process seen this recently is up (standby or active)
TAKEOVER_TARGET = 10.0
LOG_LINES = {  # what the processes' logs say, counted for the report
    "took over": "active: took over from",
    "stood by": "standby: ",
    "lost the lease": "lost the lease",
    "tracebacks": "Traceback",
}

_CALLER = threading.local()  # the process whose request a server thread is answering


class _Calls(list[Call]):
    """The emulator's record of calls, each noted with the process that made it."""

    def __init__(self) -> None:
        super().__init__()
        self.by: dict[int, str] = {}  # id(call) → the process's label

    def append(self, call: Call) -> None:
        self.by[id(call)] = getattr(_CALLER, "label", "")
        super().append(call)

    def of(self, label: str) -> list[Call]:
        return [c for c in list(self) if self.by.get(id(c)) == label]


@dataclass
class Takeover:
    kind: str  # KILL or FREEZE
    at_messages: int  # messages the emulator had delivered when the signal went
    seconds: float  # signal → another process holds the lease (fresh heartbeat)
    before: int  # the pid that held the lease
    after: int  # the pid that took it
    label: str = ""  # the signalled process's (slot.start: its log is bot<slot>.log)
    signalled: float = 0.0  # monotonic
    woke: float = 0.0  # monotonic, when a frozen one was woken


@dataclass
class FailoverReport:
    chats: int
    notices: int
    kills: int
    freezes: int
    takeovers: list[Takeover] = field(default_factory=list)
    missing: int = 0  # chats without a notice's card, summed over the notices
    duplicates: int = 0  # cards beyond one per chat and notice
    too_many: int = 0  # 429s the emulator answered
    inside_retry_after: int = 0  # requests that came while a 429's wait ran (lengthening it)
    first_429: str = ""  # the first one: who, what, and who sent in the second before it
    fenced_exits: list[int | None] = field(default_factory=list)  # each frozen one's status
    sent_after_waking: list[int] = field(default_factory=list)  # each frozen one's sends
    requests_after_waking: list[str] = field(default_factory=list)  # its requests, any kind
    failovers_recorded: int = 0  # rows of the ledger's failovers table
    messages: int = 0  # every message delivered (cards and the parts after them)
    seconds: float = 0.0  # the first notice written → the last chat's last card
    rate: float = 0.0  # messages a second over that time
    logged: dict[str, int] = field(default_factory=dict)  # LOG_LINES counted in the logs
    exits: list[int | None] = field(default_factory=list)  # the three at the end, on SIGTERM
    crashes: list[str] = field(default_factory=list)  # processes that stopped unasked
    stalls: list[str] = field(default_factory=list)  # waits for the fleet that ran out
    # each card sent more than once: the chat, the notice, who sent each copy and when
    # (seconds since the first notice was written), and which failover cost it
    twice: list[str] = field(default_factory=list)
    by_failover: list[int] = field(default_factory=list)  # duplicates each failover cost
    unexplained: int = 0  # duplicates whose first sender was never killed nor frozen

    @property
    def failovers(self) -> int:
        return self.kills + self.freezes

    @property
    def met(self) -> bool:
        """Every target of the report met."""
        return (
            len(self.takeovers) == self.failovers
            and all(t.seconds <= TAKEOVER_TARGET for t in self.takeovers)
            and self.missing == 0
            and self.duplicates <= self.failovers
            and not self.unexplained
            and self.too_many == 0
            and all(code == EXIT_FENCED for code in self.fenced_exits)
            and all(sent <= 1 for sent in self.sent_after_waking)
            and not self.crashes
            and not self.stalls
        )

    def lines(self) -> list[str]:
        took = [t.seconds for t in self.takeovers]
        each = ", ".join(
            f"{t.seconds:.1f}" + ("*" if t.kind == FREEZE else "") for t in self.takeovers
        )
        exits = ", ".join(str(code) for code in self.fenced_exits) or "none"
        sent = ", ".join(str(n) for n in self.sent_after_waking) or "none"
        asked = ", ".join(self.requests_after_waking) or "none"
        return [
            f"failover: 3 processes on one PostgreSQL ledger, {self.notices} notice(s) to"
            f" {self.chats:,} chats; the active one killed (SIGKILL) {self.kills} times and"
            f" frozen (SIGSTOP) {self.freezes} time(s) at random moments",
            f"  takeovers: {len(self.takeovers)}/{self.failovers}, seconds {each}"
            f" (* frozen); max {max(took, default=0):.1f} s (target ≤ {TAKEOVER_TARGET:g} s);"
            f" failovers the ledger recorded: {self.failovers_recorded}",
            f"  chats missing a card: {self.missing} (target 0); duplicate cards:"
            f" {self.duplicates} (target ≤ {self.failovers}, one per failover; by failover"
            f" {', '.join(map(str, self.by_failover)) or 'none'}, unexplained"
            f" {self.unexplained});"
            f" 429s: {self.too_many} (target 0), requests inside their waits"
            f" {self.inside_retry_after}",
            f"  frozen process on waking: exit {exits} (target {EXIT_FENCED}); messages it sent"
            f" after waking {sent} (target ≤ 1 each); its requests then: {asked}",
            f"  {self.messages:,} messages in {self.seconds:.1f} s = {self.rate:.1f} msg/s;"
            f" logs: {', '.join(f'{k} {v}' for k, v in self.logged.items())};"
            f" exits on SIGTERM at the end: {', '.join(str(c) for c in self.exits)}",
            *([f"  first 429: {self.first_429}"] if self.first_429 else []),
            *(f"  stopped unasked: {line}" for line in self.crashes),
            *(f"  stalled: {line}" for line in self.stalls),
            *(f"  twice: {line}" for line in self.twice),
        ]


class _Fleet:
    """The bot processes, each in a slot a supervisor keeps filled, and the ledger's
    lease as a monitor reads it."""

    def __init__(self, work: Path, emulator: Emulator, url: str, size: int) -> None:
        self.work = work
        self.emulator = emulator
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True)
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * size
        self.labels: list[str] = [""] * size
        self.servers: list[ThreadingHTTPServer] = []
        self.crashes: list[str] = []
        self.starts = 0
        for slot in range(size):
            self.start(slot)

    def start(self, slot: int) -> None:
        """A process in the slot, reaching the emulator through a port of its own."""
        self.starts += 1
        label = f"{slot}.{self.starts}"
        server = self._front(label)
        host, port = server.server_address[:2]
        self.labels[slot] = label
        self.processes[slot] = start_bot(
            self.work,
            self.emulator,
            self.work / f"bot{slot}.log",
            NOTICEBOT_DB=self.url,
            NOTICEBOT_LOG_LEVEL="INFO",
            TELEGRAM_API_URL=f"http://{host!s}:{port}",
        )

    def _front(self, label: str) -> ThreadingHTTPServer:
        base = self.emulator.server.RequestHandlerClass

        class Traced(base):  # type: ignore[misc, valid-type]
            def handle(self) -> None:
                _CALLER.label = label
                super().handle()

        server = type(self.emulator.server)(("127.0.0.1", 0), Traced)
        server.daemon_threads = True
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.servers.append(server)
        return server

    def slot_of(self, pid: int) -> int:
        for slot, process in enumerate(self.processes):
            if process is not None and process.pid == pid:
                return slot
        raise AssertionError(f"the lease is held by pid {pid}, none of this fleet's")

    def _one(self, sql: str) -> tuple[Any, ...] | None:
        return self.conn.execute(sql).fetchone()

    def holder(self) -> str | None:
        """The holder with a fresh heartbeat, or None (as test_failover's ``_holder``)."""
        row = self._one(f"SELECT holder, {NOW} - heartbeat_at FROM lease WHERE name = 'active'")
        if not row or row[0] is None or row[1] is None or row[1] >= FRESH:
            return None
        return str(row[0])

    def up(self) -> set[int]:
        """Pids seen lately: standbys look, the active one beats, every second."""
        rows = self.conn.execute(f"SELECT pid FROM processes WHERE seen_at > {NOW} - {SEEN}")
        return {int(pid) for (pid,) in rows.fetchall()}

    def supervise(self) -> None:
        """What a supervisor does: a process that stopped on its own is started again
        (its status and last log line are noted)."""
        for slot, process in enumerate(self.processes):
            if process is not None and process.poll() is not None:
                lines = (self.work / f"bot{slot}.log").read_text("utf-8", "replace").splitlines()
                last = next((line for line in reversed(lines) if line[:1].isdigit()), "")
                self.crashes.append(
                    f"{self.labels[slot]} (pid {process.pid}) exited {process.returncode}:"
                    f" {last[:200]}"
                )
                self.start(slot)

    def ready(self) -> bool:
        """Every slot's process is up and one of them is active."""
        self.supervise()
        pids = {p.pid for p in self.processes if p is not None and p.poll() is None}
        return len(pids) == len(self.processes) and pids <= self.up() and self.holder() is not None

    def failovers(self) -> int:
        row = self._one("SELECT count(*) FROM failovers")
        return int(row[0]) if row else 0

    def stop(self) -> list[int | None]:
        """Wake, then end every process: SIGTERM, SIGKILL after 20 s. Exit statuses."""
        running = [p for p in self.processes if p is not None]
        for process in running:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGCONT)
                    process.terminate()
        codes: list[int | None] = []
        for process in running:
            try:
                codes.append(process.wait(timeout=20))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                codes.append(None)
        return codes

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        self.conn.close()


def pid_of(holder: str) -> int:
    """``host/pid/nonce``, as :class:`bot.ledger.lease.Lease` names a process."""
    return int(holder.rsplit("/", 2)[1])


def _prepare(work: Path, chats: int) -> str:
    """As test_failover's: the empty archive scanned, the chats subscribed."""
    url = ledgers.postgres_database()
    articles = work / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    store = Store(url)
    try:
        Scanner(store, Config(articles=(articles,))).scan()
        for n in range(1, chats + 1):
            store.subscribe(Chat(n))
    finally:
        store.close()
    return url


def _card_of(call: Call) -> str | None:
    """The notice whose card this is (a card has the read button), or None."""
    markup = call.params.get("reply_markup") or {}
    buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
    if not any(str(b.get("callback_data", "")).startswith("read:") for b in buttons):
        return None
    text = str(call.params.get("text") or call.params.get("caption") or "")
    return next((t for t in TITLES if text.startswith(t)), None)


def _cards(emulator: Emulator) -> dict[str, Counter[int]]:
    """Cards per notice and chat."""
    cards = {title: Counter[int]() for title in TITLES}
    for chat, call in emulator.delivered():
        title = _card_of(call)
        if title is not None:
            cards[title][chat] += 1
    return cards


def _until(condition: Callable[[], bool], timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def failover_scenario(
    work: Path,
    chats: int = 2000,
    kills: int = 5,
    freezes: int = 1,
    seed: int = 1,
    *,
    notices: int = 2,
    say: Callable[[str], None] = print,
) -> FailoverReport:
    """A notice to ``chats`` chats (and, with ``notices=2``, a second one written when
    half of the first is out) from three processes on one PostgreSQL ledger; the
    active one killed ``kills`` times and frozen ``freezes`` times meanwhile."""
    rng = random.Random(seed)
    report = FailoverReport(chats=chats, notices=notices, kills=kills, freezes=freezes)
    url = _prepare(work, chats)
    articles = work / "articles"
    total = chats * notices  # a card per chat and notice (it holds the whole notice)
    events = kills + freezes
    step = max(1, total * 8 // 10 // max(1, 4 * events))
    moments = sorted(rng.sample(range(total // 20, total * 17 // 20, step), events))
    kinds = [KILL] * kills + [FREEZE] * freezes
    rng.shuffle(kinds)
    plan: list[tuple[int, str]] = list(zip(moments, kinds, strict=True))
    if notices > 1:
        plan.append((chats // 2, "second notice"))  # half the first notice is out
    plan.sort(key=lambda e: e[0])
    calls = _Calls()
    with Emulator() as emulator:
        emulator.calls = calls
        fleet = _Fleet(work, emulator, url, 3)
        try:
            wait_for(fleet.ready, 60, "three processes, one of them active")
            start = time.monotonic()
            (articles / "first.md").write_text(article_text(TITLES[0]), "utf-8")
            for moment, kind in plan:
                wait_for(lambda m=moment: len(emulator.delivered()) >= m, 600, f"{moment} sends")
                if kind == "second notice":
                    (articles / "second.md").write_text(article_text(TITLES[1]), "utf-8")
                    continue
                if not _until(fleet.ready, 120, 0.05):
                    report.stalls.append(
                        f"no three processes up and one active for 120 s before the"
                        f" {kind} at {moment} messages ({time.monotonic() - start:.0f} s in);"
                        " the failover is left out"
                    )
                    continue
                holder = fleet.holder()
                assert holder is not None
                report.takeovers.append(_fail_over(fleet, calls, holder, kind, report))
                say(_said(report, events))

            def complete() -> bool:
                cards = _cards(emulator)
                return all(len(cards[t]) == chats for t in TITLES[:notices])

            def complete_and_supervised() -> bool:
                fleet.supervise()
                return complete()

            if not _until(complete_and_supervised, 900):
                report.stalls.append("not every chat had its card 900 s after the last failover")
            report.seconds = time.monotonic() - start
            time.sleep(3)  # anything sent twice would have arrived by now
            report.failovers_recorded = fleet.failovers()
            report.exits = fleet.stop()
        finally:
            fleet.stop()
            fleet.close()
        cards = _cards(emulator)
        report.missing = sum(chats - len(cards[t]) for t in TITLES[:notices])
        report.duplicates = sum(n - 1 for t in TITLES[:notices] for n in cards[t].values())
        report.too_many = emulator.too_many
        report.inside_retry_after = emulator.inside_retry_after
        report.first_429 = _first_429(calls, start)
        report.crashes = fleet.crashes
        report.messages = len(emulator.delivered())
        report.twice = _twice(emulator, calls, cards, report, start)
    report.rate = report.messages / report.seconds if report.seconds else 0.0
    logs = "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in sorted(work.glob("bot*.log"))
    )
    report.logged = {name: logs.count(text) for name, text in LOG_LINES.items()}
    return report


def _fail_over(
    fleet: _Fleet, calls: _Calls, holder: str, kind: str, report: FailoverReport
) -> Takeover:
    """Kill or freeze the active process; time the takeover; restart it (a frozen one
    once it woke and stopped)."""
    before = pid_of(holder)
    slot = fleet.slot_of(before)
    process = fleet.processes[slot]
    assert process is not None
    at = len(fleet.emulator.delivered())
    label = fleet.labels[slot]
    if kind == KILL:
        process.send_signal(signal.SIGKILL)
        signalled = time.monotonic()
        process.wait()
        fleet.start(slot)  # the supervisor
    else:
        process.send_signal(signal.SIGSTOP)  # a frozen machine: its connections stay open
        signalled = time.monotonic()
    taken = _until(lambda: fleet.holder() not in (None, holder), 60, 0.05)
    took = time.monotonic() - signalled if taken else math.inf  # none within a minute
    now = fleet.holder()
    woke = 0.0
    if kind == FREEZE:
        woke = time.monotonic()
        process.send_signal(signal.SIGCONT)
        try:
            code: int | None = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = None
            process.kill()
            process.wait()
        after = [c for c in calls.of(label) if c.at >= woke]
        report.fenced_exits.append(code)
        report.sent_after_waking.append(sum(1 for c in after if c.ok and c.method in SEND_METHODS))
        report.requests_after_waking += [
            f"{c.method} to {c.params.get('chat_id', '-')} ({'ok' if c.ok else c.error})"
            for c in after
        ]
        fleet.start(slot)  # exit 75: the supervisor starts it again, as a standby
    return Takeover(kind, at, took, before, pid_of(now) if now else 0, label, signalled, woke)


def _twice(
    emulator: Emulator,
    calls: _Calls,
    cards: dict[str, Counter[int]],
    report: FailoverReport,
    start: float,
) -> list[str]:
    """Each card sent more than once, and whose failover it cost: the process that sent
    the copy before it was killed or frozen before it could record that copy (or sent
    it once woken), so the next active process sent it again. Counts them by failover
    in ``report.by_failover``; a copy no failover explains, in ``report.unexplained``."""
    sends: dict[tuple[str, int], list[Call]] = {}
    for chat, call in emulator.delivered():
        title = _card_of(call)
        if title is not None and cards[title][chat] > 1:
            sends.setdefault((title, chat), []).append(call)
    report.by_failover = [0] * len(report.takeovers)
    number = {t.label: n for n, t in enumerate(report.takeovers)}
    lines = []
    for (title, chat), copies in sorted(sends.items()):
        causes = []
        for earlier in copies[:-1]:
            n = number.get(calls.by.get(id(earlier), "?"))
            if n is None:
                report.unexplained += 1
                causes.append("no failover of its sender")
                continue
            report.by_failover[n] += 1
            takeover = report.takeovers[n]
            woken = takeover.kind == FREEZE and earlier.at >= takeover.woke
            causes.append(f"failover {n + 1}, {'sent once woken' if woken else 'in flight'}")
        who = ", ".join(f"{calls.by.get(id(c), '?')} at {c.at - start:.2f} s" for c in copies)
        lines.append(f"chat {chat} {title}: {who} ({'; '.join(causes)})")
    return lines


def _first_429(calls: _Calls, start: float) -> str:
    """The first 429: who got it for what, and the counted requests the emulator let
    through its flood control in the second before it (whatever their answer), by
    process; and that chat's messages in the 5 s before it."""
    every = list(calls)
    first = next((c for c in every if (c.error or "").startswith("Too Many")), None)
    if first is None:
        return ""
    chat = first.params.get("chat_id")
    before = [
        c
        for c in every
        if counted(c.method)
        and not (c.error or "").startswith("Too Many")
        and 0 <= first.at - c.at < 1.0
    ]
    by = Counter(f"{calls.by.get(id(c), '?')}{'' if c.ok else f' ({c.error})'}" for c in before)
    chat_before = [
        f"{calls.by.get(id(c), '?')} at {c.at - start:.2f} s"
        for c in every
        if c.ok and c.params.get("chat_id") == chat and 0 <= first.at - c.at < 5.0
    ]
    return (
        f"{first.method} to {chat} by {calls.by.get(id(first), '?')} at"
        f" {first.at - start:.2f} s ({first.error}); in the second before it the emulator"
        f" counted {len(before)} ({', '.join(f'{k}: {v}' for k, v in by.items())});"
        f" that chat's in the 5 s before: {', '.join(chat_before) or 'none'}"
    )


def _said(report: FailoverReport, of: int) -> str:
    takeover = report.takeovers[-1]
    said = (
        f"  takeover {len(report.takeovers)}/{of}: {takeover.kind} of pid {takeover.before} at"
        f" {takeover.at_messages} messages → pid {takeover.after} active after"
        f" {takeover.seconds:.1f} s"
    )
    if takeover.kind == FREEZE:
        said += (
            f"; woken, it exited {report.fenced_exits[-1]} having sent"
            f" {report.sent_after_waking[-1]} more message(s)"
        )
    return said
