"""Pickup benchmark: a notice file written while the bot runs → its first message.

The bot runs with default settings (folders watched, the periodic scan every
NOTICEBOT_SCAN_INTERVAL = 300 s) against the local Bot API emulator. Prints how
long the first scan of the seed folder took from the start, then the latency of
five files written one after another. Target: within 2 s of the write; the
baseline of a small folder within 5 s of the start.
Run: ``make bench`` (or ``.venv/bin/python -m bench.pickup``).
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Config
from bot.ledger import Chat
from bot.sending.delivery import RESUME_PAUSE
from tests.botenv import live_bot
from tests.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
WRITES = 5


async def measure(work: Path, emulator: Emulator) -> tuple[float, list[float]]:
    articles = work / "articles"
    shutil.copytree(ROOT / "seeds", articles)
    start = time.time()
    async with live_bot(work, emulator, scan_interval=Config().scan_interval) as bot:
        key = f"first_scan_done:{articles}"
        while not bot.runtime.store.get_meta(key):
            await asyncio.sleep(0.01)
        baseline = time.time() - start
        bot.runtime.store.subscribe(Chat(101))
        await asyncio.sleep(RESUME_PAUSE)
        latencies = []
        for number in range(WRITES):
            calls = len(emulator.calls)
            written = time.monotonic()  # the emulator stamps calls on this clock
            now = datetime.now(UTC)
            (articles / f"notice-{number}.md").write_text(
                f"---\ntitle: 停水通知 {number}\ndate: {now:%Y-%m-%d %H:%M:%S} +0000\n---\n\n"
                "本周六上午停水，请提前储水。\n",
                "utf-8",
            )
            while not any(c.method == "sendMessage" for c in emulator.calls[calls:]):
                await asyncio.sleep(0.005)
            sent = next(c for c in emulator.calls[calls:] if c.method == "sendMessage")
            latencies.append(sent.at - written)
            await asyncio.sleep(1.0)
    return baseline, latencies


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="noticebot-pickup-"))
    try:
        with Emulator(limits=None) as emulator:
            baseline, latencies = asyncio.run(measure(work, emulator))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("pickup with default settings (folders watched, full scan every 300 s):")
    print(f"  first scan of the seed folder done {baseline:.2f} s after start (target ≤ 5 s)")
    figures = ", ".join(f"{s:.2f}" for s in latencies)
    print(
        f"  file written → first message: {figures} s; median {statistics.median(latencies):.2f} s"
        " (target ≤ 2 s)"
    )


if __name__ == "__main__":
    main()
