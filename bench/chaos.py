"""The long reliability run: crash, API faults, bad input, fuzzing, the convergence model
and a soak, with a report.

Run: ``make chaos`` (or ``.venv/bin/python -m bench.chaos [--soak-seconds 600] [--only NAME]``).
The fast versions of the same scenarios run in ``make test`` (tests/test_reliability.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.ledger import Chat
from tests.botenv import ADMIN, message_update
from tests.chaos import (
    acks_scenario,
    article_text,
    bad_input_scenario,
    crash_scenario,
    fault_scenario,
    flaky_sources_scenario,
    lifecycle_scenario,
    prepare_ledger,
    start_bot,
    wait_for,
)
from tests.chaos_failover import failover_scenario
from tests.chaos_feeds import feeds_scenario
from tests.emulator import Emulator
from tests.pgcluster import unavailable
from tests.test_convergence_model import model_run

ROOT = Path(__file__).resolve().parents[1]


def crash() -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        return crash_scenario(Path(work), chats=2000, kills=10, seed=2026).lines()


def faults() -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        return asyncio.run(fault_scenario(Path(work), chats=2000, seed=2026)).lines()


def lifecycle() -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        return asyncio.run(lifecycle_scenario(Path(work), chats=2000, seed=2026)).lines()


def flaky_sources() -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        return asyncio.run(flaky_sources_scenario(Path(work), chats=500)).lines()


def acks() -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        return acks_scenario(Path(work), chats=2000, presses=10_000).lines()


def feeds() -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        return feeds_scenario(Path(work), chats=2000, feeds=200).lines()


def failover() -> list[str]:
    """Three processes on one PostgreSQL ledger; the process logs are kept when a target
    is missed."""
    if reason := unavailable():
        return [f"failover: not run, no PostgreSQL server here ({reason})"]
    work = Path(tempfile.mkdtemp(prefix="noticebot-failover-"))
    report = failover_scenario(work, chats=2000, kills=5, freezes=1, seed=2026)
    if report.met:
        shutil.rmtree(work, ignore_errors=True)
        return report.lines()
    return [*report.lines(), f"  a target missed: the processes' logs are in {work}"]


def bad_input() -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        return bad_input_scenario(Path(work), big_bytes=50 * 1024 * 1024).lines()


def _pytest_run(test_file: str, setting: str, examples: int) -> tuple[str, float]:
    """A Hypothesis test file run with ``examples`` examples: its verdict and seconds."""
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", test_file],
        cwd=ROOT,
        env={**os.environ, setting: str(examples)},
        capture_output=True,
        text=True,
    )
    counts = re.findall(r"\d+ (?:passed|failed)", result.stdout)
    verdict = ", ".join(counts) if counts else f"no result (exit {result.returncode})"
    return verdict, time.monotonic() - start


def fuzz(examples: int = 10_000) -> list[str]:
    verdict, seconds = _pytest_run("tests/test_fuzz.py", "NOTICEBOT_FUZZ_EXAMPLES", examples)
    return [
        f"fuzzing the formatter (Hypothesis, {examples:,} random HTML trees + "
        f"{max(examples // 3, 50):,} Markdown texts): {verdict} in {seconds:.0f} s",
        "  invariants: text ≤ 4096 / caption ≤ 1024 UTF-16 units, entities in bounds and nested, "
        "≤ 100 entities, no empty message, every text node delivered",
    ]


def cli_fuzz(examples: int = 5_000) -> list[str]:
    verdict, seconds = _pytest_run(
        "tests/test_cli_fuzz.py", "NOTICEBOT_CLI_FUZZ_EXAMPLES", examples
    )
    return [
        f"fuzzing the command line (Hypothesis, {examples:,} random argument lists + "
        f"{examples:,} random settings, in-process; real processes for the worst): {verdict}"
        f" in {seconds:.0f} s",
        "  invariants: no traceback; bad input exits 2 with one line naming the setting or"
        " argument; the ledger and its folder unchanged",
    ]


def model(examples: int | None = None, seed: int | None = None) -> list[str]:
    """The convergence model (tests/test_convergence_model.py): random sequences of
    corrections, withdrawals, faults, upgrades and kills against the real bot."""
    examples = examples or int(os.environ.get("NOTICEBOT_MODEL_EXAMPLES") or 5000)
    seed = seed if seed is not None else int(os.environ.get("NOTICEBOT_MODEL_SEED") or 2026)
    return model_run(examples, seed)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _open_work(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM deliveries WHERE status IN ('queued', 'sending')"
        ).fetchone()
    return int(row[0])


def soak(seconds: float) -> list[str]:
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        articles = prepare_ledger(work, [Chat(i) for i in range(1, 51)])
        db = work / "state" / "noticebot.db"
        with Emulator() as emulator:
            process = start_bot(
                work,
                emulator,
                work / "bot.log",
                NOTICEBOT_LOG_LEVEL="INFO",
                NOTICEBOT_SCAN_INTERVAL="2",
                NOTICEBOT_ADMINS=str(ADMIN),
            )
            wait_for(lambda: any(c.method == "getUpdates" for c in emulator.calls), 60, "start")
            time.sleep(3)
            rss_start = _rss_kib(process.pid)
            samples: list[tuple[int, int, int]] = []
            start = time.monotonic()
            written = commands = 0
            next_article = next_sample = start
            while time.monotonic() - start < seconds:
                now = time.monotonic()
                if now >= next_article:
                    written += 1
                    (articles / f"n{written:05d}.md").write_text(
                        article_text(f"通知 {written}"), encoding="utf-8"
                    )
                    next_article = now + 3
                if now >= next_sample:
                    samples.append((int(now - start), _rss_kib(process.pid), _open_work(db)))
                    next_sample = now + 60
                user = rng.randint(1000, 1039)  # 40 residents: ~70 subscribers, under 30 msg/s
                text = rng.choice(
                    ["/latest", "/search 通知", "/subscribe", "/unsubscribe", "/help", "/read_x"]
                )
                emulator.push(message_update(user, text))
                commands += 1
                time.sleep(1)
            time.sleep(5)  # let the last notice go out
            rss_end = _rss_kib(process.pid)
            open_end = _open_work(db)
            alive = process.poll() is None
            process.send_signal(signal.SIGTERM)
            clean = process.wait(timeout=30) == 0
            cards = sum(emulator.cards_per_chat().values())
            answered = sum(
                1
                for chat_id, c in emulator.delivered()
                if chat_id >= 1000 and "reply_markup" not in c.params
            )
        log = (work / "bot.log").read_text(encoding="utf-8", errors="replace")
    errors = log.count(" ERROR ") + log.count("Traceback")
    lines = [
        f"soak: {seconds / 60:.0f} min, a notice every 3 s ({written}), a command every 1 s "
        f"({commands}), chats subscribing and leaving",
        f"  RSS at start {rss_start / 1024:.1f} MiB, at end {rss_end / 1024:.1f} MiB "
        f"({(rss_end - rss_start) / 1024:+.1f} MiB)",
        "  minute: RSS MiB / open deliveries  "
        + ", ".join(f"{t // 60}: {r / 1024:.1f}/{w}" for t, r, w in samples),
        f"  open deliveries at the end: {open_end}; notices delivered {cards}, "
        f"command replies {answered}",
        f"  process alive throughout: {alive}; clean exit: {clean}; errors logged: {errors}",
    ]
    return lines


SCENARIOS = {
    "crash": crash,
    "faults": faults,
    "lifecycle": lifecycle,
    "flaky_sources": flaky_sources,
    "bad_input": bad_input,
    "acks": acks,
    "feeds": feeds,
    "failover": failover,
    "fuzz": fuzz,
    "cli_fuzz": cli_fuzz,
    "model": model,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--only", choices=[*SCENARIOS, "soak"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    print(
        f"noticebot reliability report — {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores"
    )
    for name, scenario in SCENARIOS.items():
        if args.only in (None, name):
            started = time.monotonic()
            print(
                "\n".join(scenario()),
                f"  ({time.monotonic() - started:.0f} s)",
                sep="\n",
                flush=True,
            )
    if args.only in (None, "soak"):
        print("\n".join(soak(args.soak_seconds)), flush=True)


if __name__ == "__main__":
    main()
