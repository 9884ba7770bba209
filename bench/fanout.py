"""Fan-out benchmark against the local Bot API emulator (run in its own process).

1. 900 chats with the default settings against the emulator enforcing Telegram's
   limits (30 in any sliding second, counted on arrival, with up to 20 ms of network
   jitter), five runs: messages/s, 429s received, requests inside a flood wait, and
   the most sends the emulator saw in one second (targets ≥ 29 msg/s, 0 × 429).
2. 5,000 chats with the limits off: deliveries/s including the ledger writes,
   beside bare python-telegram-bot ``send_message`` calls of the same request by
   the same kind of bot, to the same emulator with the same number of requests in
   flight, five runs each (target ≥ 0.9×); and, for scale, beside a plain ``Bot``
   sending text and entities only.
3. The same with the ledger on PostgreSQL, a throwaway server on this machine
   (``tests/pgcluster.py``) reached through its unix socket (target ≥ 0.8×).
Run: ``make bench`` (or ``.venv/bin/python -m bench.fanout``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from telegram import Bot, LinkPreviewOptions, MessageEntity
from telegram.ext import Defaults, ExtBot
from telegram.request import HTTPXRequest

from bot.app import build_application, runtime_of
from bot.config import Config
from bot.formatting.formatter import announcement
from bot.ledger import Chat, Store
from bot.sending.delivery import SendPolicy

TOKEN = "123456789:BENCH-token-abcdefghijklmnopqrstuvwxyz"
TITLE = "通知"
TEXT = "本周六上午停水，请提前储水。"
ROOT = Path(__file__).resolve().parents[1]


def start_emulator(*, limits: bool, jitter: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "tests.emulator", "--port", "0", "--jitter", str(jitter)]
    if not limits:
        args.append("--no-limits")
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    return process, line.rsplit(" ", 1)[-1].strip()


def stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/stats") as response:
        return json.load(response)


async def noticebot_rate(
    url: str, chats: int, work: Path, policy: SendPolicy | None, db: str | None = None
) -> float:
    """Messages per second for one broadcast to ``chats`` private chats, ledger included
    (``db``: a PostgreSQL ledger's URL; a SQLite file in ``work`` otherwise)."""
    ledger = db or work / f"{chats}.db"
    config = Config(token=TOKEN, api_url=url, articles=(work / "none",), db=ledger)
    store = Store(config.db)
    for chat_id in range(1, chats + 1):
        store.subscribe(Chat(chat_id))
    store.broadcast(store.add_announcement(TEXT, TITLE), by_user=None)
    store.close()
    app = build_application(config, policy=policy, rate_limits=policy is None)
    async with app:
        runtime = runtime_of(app)
        runtime.store.owner.take()  # as a running bot holds it: claims and records are fenced
        start = time.perf_counter()
        await runtime.dispatcher.run_until_idle()
        elapsed = time.perf_counter() - start
        sent = runtime.store.status()["deliveries"].get("sent", 0)
        runtime.store.close()
    assert sent == chats, f"only {sent} of {chats} delivered"
    return chats / elapsed


async def bare_rate(url: str, count: int, in_flight: int, *, same_bot: bool) -> float:
    """The same message sent by bare python-telegram-bot calls: no ledger, no dispatcher.

    ``same_bot``: through the bot noticebot builds (an ExtBot with its Defaults) and with
    the same request (text, bold title, link previews off), through the typed method
    a bot written with python-telegram-bot alone would call (noticebot sends the same
    parameters through ``do_api_request`` and reads only the message ids). Otherwise
    a plain ``Bot`` sending text and entities only, the cheapest call
    python-telegram-bot makes.
    """
    (message,) = announcement(TITLE, TEXT)
    request = HTTPXRequest(connection_pool_size=in_flight + 4)
    params = dict(message.params)
    params["entities"] = [MessageEntity.de_json(e, None) for e in params["entities"]]
    if same_bot:
        params["link_preview_options"] = LinkPreviewOptions(**params["link_preview_options"])
        defaults = Defaults(tzinfo=Config().tz)  # as build_application sets them
        bot: Bot = ExtBot(TOKEN, base_url=f"{url}/bot", request=request, defaults=defaults)
    else:
        del params["link_preview_options"]
        bot = Bot(TOKEN, base_url=f"{url}/bot", request=request)
    slots = asyncio.Semaphore(in_flight)

    async def one(chat_id: int) -> None:
        async with slots:
            await bot.send_message(chat_id, **params)

    async with bot:
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(1, count + 1)))
        return count / (time.perf_counter() - start)


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="noticebot-fanout-"))
    free, free_url = start_emulator(limits=False)
    try:
        print("900 chats, default settings, emulator enforcing Telegram's limits, 20 ms jitter:")
        for run in range(1, 6):
            limited, limited_url = start_emulator(limits=True, jitter=0.02)
            try:
                rate = await noticebot_rate(limited_url, 900, work / f"limited{run}", None)
                seen = stats(limited_url)
            finally:
                limited.terminate()
                limited.wait()
            print(
                f"  run {run}: {rate:.1f} msg/s (target ≥ 29), 429s: {seen['too_many']}, "
                f"inside a flood wait: {seen['inside_retry_after']}, "
                f"most in one second: {seen['max_per_second']}"
            )
        print("5,000 chats, limits off: deliveries/s with the ledger's writes, against bare")
        print("python-telegram-bot sends of the same request by the same bot (target ≥ 0.9),")
        print("and against a plain Bot sending text and entities only:")
        for in_flight in (1, 8):
            same, plain = [], []
            for run in range(1, 6):
                policy = SendPolicy(max_in_flight=in_flight)
                ours = await noticebot_rate(free_url, 5000, work / f"f{in_flight}-{run}", policy)
                bare = await bare_rate(free_url, 5000, in_flight, same_bot=True)
                cheapest = await bare_rate(free_url, 5000, in_flight, same_bot=False)
                same.append(ours / bare)
                plain.append(ours / cheapest)
                print(
                    f"  {in_flight} in flight, run {run}: noticebot {ours:.0f}/s, bare PTB "
                    f"{bare:.0f}/s (ratio {ours / bare:.2f}), plain Bot {cheapest:.0f}/s "
                    f"(ratio {ours / cheapest:.2f})"
                )
            print(
                f"  {in_flight} in flight: median ratio {statistics.median(same):.2f} "
                f"(target ≥ 0.9); against a plain Bot {statistics.median(plain):.2f}"
            )
        await postgres_ratio(free_url, work)
    finally:
        free.terminate()
        free.wait()
        shutil.rmtree(work, ignore_errors=True)


async def postgres_ratio(url: str, work: Path) -> None:
    """The same 5,000-chat run with the ledger on a PostgreSQL server on this machine
    (its unix socket), against the same bare python-telegram-bot sends (target ≥ 0.8)."""
    from tests.pgcluster import PgCluster, unavailable

    if reason := unavailable():
        print(f"PostgreSQL: not measured ({reason})")
        return
    cluster = PgCluster()
    try:
        print("5,000 chats, limits off, the ledger on PostgreSQL (same machine), against")
        print("bare python-telegram-bot sends of the same request (target ≥ 0.8):")
        for in_flight in (1, 8):
            ratios = []
            for run in range(1, 6):
                policy = SendPolicy(max_in_flight=in_flight)
                ledger = cluster.new_database(local=True)
                folder = work / f"pg{in_flight}-{run}"
                ours = await noticebot_rate(url, 5000, folder, policy, ledger)
                bare = await bare_rate(url, 5000, in_flight, same_bot=True)
                ratios.append(ours / bare)
                print(
                    f"  {in_flight} in flight, run {run}: noticebot on PostgreSQL {ours:.0f}/s,"
                    f" bare PTB {bare:.0f}/s (ratio {ours / bare:.2f})"
                )
            print(f"  {in_flight} in flight: median ratio {statistics.median(ratios):.2f}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    asyncio.run(main())
