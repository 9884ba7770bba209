"""Fairness: one chat's backlog must not hold up every other chat.

1,000 chats get one notice each, alone; then the same 1,000 beside one chat that
has 5,000 notices queued before theirs. The time until all 1,000 have theirs is
compared (target: beside the backlog ≤ 2× alone). The emulator runs without
limits, so the figure is the dispatcher's scheduling, not Telegram's pace.
Run: ``make bench`` (or ``.venv/bin/python -m bench.fairness``).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from bench.fanout import TEXT, TITLE, TOKEN, start_emulator
from bot.app import build_application, runtime_of
from bot.config import Config
from bot.ledger import SENT, Chat, Store
from bot.sending.delivery import SendPolicy

CHATS = 1000
BACKLOG = 5000
BUSY_CHAT = 10_000_000


async def time_for_the_many(url: str, work: Path, backlog: int) -> float:
    """Seconds until every one of the ``CHATS`` chats has its notice."""
    config = Config(token=TOKEN, api_url=url, articles=(work / "none",), db=work / "f.db")
    store = Store(config.db)
    store.subscribe(Chat(BUSY_CHAT))
    for n in range(backlog):
        store.enqueue(store.add_announcement(f"{TEXT} {n}", TITLE), [BUSY_CHAT])
    many = list(range(1, CHATS + 1))
    for chat_id in many:
        store.subscribe(Chat(chat_id))
    notice = store.add_announcement(TEXT, TITLE)
    store.enqueue(notice, many)
    store.close()
    app = build_application(config, policy=SendPolicy(), rate_limits=False)
    async with app:
        runtime = runtime_of(app)
        sending = asyncio.create_task(runtime.dispatcher.run_until_idle())
        start = time.perf_counter()
        while True:
            done = runtime.store._rows(
                "SELECT COUNT(*) AS n FROM deliveries WHERE article_id = ? AND status = ?",
                [notice, SENT],
            )[0]["n"]
            if done == CHATS:
                elapsed = time.perf_counter() - start
                break
            await asyncio.sleep(0.01)
        runtime.dispatcher.stop()  # workers finish the row in hand, then end
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await runtime.dispatcher._drain()
        runtime.store.close()
    return elapsed


async def main() -> None:
    emulator, url = start_emulator(limits=False)
    try:
        with tempfile.TemporaryDirectory() as work:
            alone = await time_for_the_many(url, Path(work) / "alone", 0)
            beside = await time_for_the_many(url, Path(work) / "beside", BACKLOG)
    finally:
        emulator.terminate()
        emulator.wait()
    print(f"{CHATS} chats with one notice each, alone: {alone:.2f} s")
    print(f"the same beside one chat with {BACKLOG} queued first: {beside:.2f} s")
    print(f"  ratio {beside / alone:.2f} (target ≤ 2)")


if __name__ == "__main__":
    asyncio.run(main())
