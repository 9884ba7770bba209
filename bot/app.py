"""Wiring: python-telegram-bot's Application with the ledger, the scan job and the dispatcher."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot.config import Config
from bot.delivery import Dispatcher, Sender, SendPolicy
from bot.scanner import Scanner, ScanReport
from bot.store import Clock, Store
from bot.transport import PTBTransport

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the jobs and handlers share; kept in ``application.bot_data['runtime']``."""

    config: Config
    store: Store
    scanner: Scanner
    sender: Sender
    dispatcher: Dispatcher
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def build_application(
    config: Config,
    *,
    policy: SendPolicy | None = None,
    rate_limits: bool = True,
    clock: Clock = time.time,
) -> Application:
    """The bot as it runs for real; tests build it the same way against the emulator."""
    if not config.token:
        raise ValueError("build_application needs TELEGRAM_BOT_TOKEN")
    policy = policy or SendPolicy(max_in_flight=config.max_in_flight)
    builder = (
        ApplicationBuilder()
        .token(config.token)
        .base_url(f"{config.api_url}/bot")
        .base_file_url(f"{config.api_url}/file/bot")
        .defaults(Defaults(tzinfo=config.tz))
        .connection_pool_size(policy.concurrency + 8)
        .post_init(_start)
        .post_stop(_stop)
    )
    if rate_limits:
        builder = builder.rate_limiter(smooth_rate_limiter())
    application = builder.build()
    store = Store(config.db, clock)
    sender = Sender(store, PTBTransport(application.bot), config, policy)
    runtime = Runtime(
        config=config,
        store=store,
        scanner=Scanner(store, config),
        sender=sender,
        dispatcher=Dispatcher(store, sender, policy.concurrency),
    )
    application.bot_data["runtime"] = runtime
    assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
    application.job_queue.run_repeating(
        scan_job,
        interval=config.scan_interval,
        first=0,
        name="scan",
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    return application


def smooth_rate_limiter() -> AIORateLimiter:
    """Telegram's 30 messages/s overall as even spacing, 20/min per group as PTB's default.

    AIORateLimiter's default allows a burst of 30 at once (e.g. right after a
    restart); spaced out, flood control stays away. The sender paces each chat
    itself before a request takes its in-flight slot (see :mod:`bot.delivery`).
    """
    return AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 30, max_retries=0)


def runtime_of(application: Application) -> Runtime:
    return application.bot_data["runtime"]


async def scan_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """One scan off the event loop; new deliveries wake the dispatcher at once."""
    runtime = runtime_of(context.application)
    report: ScanReport = await asyncio.to_thread(runtime.scanner.scan)
    if report.new or report.changed or report.withdrawn or report.queued:
        log.info(
            "scan: %d new, %d changed, %d withdrawn, %d invalid, %d deliveries queued",
            len(report.new),
            len(report.changed),
            len(report.withdrawn),
            len(report.invalid),
            report.queued,
        )
    if report.queued:
        runtime.dispatcher.wake()


async def _start(application: Application) -> None:
    runtime = runtime_of(application)
    runtime.tasks.append(asyncio.create_task(runtime.dispatcher.run(), name="dispatcher"))


async def _stop(application: Application) -> None:
    runtime = runtime_of(application)
    runtime.dispatcher.stop()
    await asyncio.gather(*runtime.tasks, return_exceptions=True)
    runtime.store.close()
