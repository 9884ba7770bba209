"""Wiring: python-telegram-bot's Application with the ledger, the jobs, the dispatcher
and the handlers people talk to."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
from telegram import BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.chat import acks, admin, commands, feeds, membership, settings_menu
from bot.chat.throttle import Throttle
from bot.chat.update_order import OrderPerChat
from bot.config import Config
from bot.errors import on_error
from bot.i18n import t
from bot.ledger import Clock, Store
from bot.ledger.lease import Lease
from bot.metrics import serve
from bot.runtime import Runtime
from bot.sending.delivery import Dispatcher, SendPolicy
from bot.sending.digest import Digests
from bot.sending.flood import FloodControl
from bot.sending.reconciler import Reconciler
from bot.sending.reminders import Confirmations
from bot.sending.sender import Sender
from bot.sending.transport import PTBTransport
from bot.sources.feeds import TIMEOUT
from bot.sources.scanner import Scanner
from bot.sources.scanning import read_feeds_now, scan_now
from bot.sources.watcher import watch_folders
from bot.standby import become_active, take_or_refuse

log = logging.getLogger(__name__)

ANY_DELAY = {"misfire_grace_time": None}  # run even if the job queue started late


def build_application(
    config: Config,
    *,
    policy: SendPolicy | None = None,
    rate_limits: bool = True,
    clock: Clock = time.time,
    request: BaseRequest | None = None,
    timeout: float | None = None,
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
        .post_init(_start)
        .post_stop(_stop)
        .concurrent_updates(OrderPerChat(exempt=config.admins))
    )
    if request is None:
        builder = builder.connection_pool_size(policy.concurrency + 8)
        if timeout is not None:  # PTB's default: 5 s to read an answer
            builder = builder.read_timeout(timeout).write_timeout(timeout)
    else:  # console mode: the same application over another transport
        builder = builder.request(request).get_updates_request(request)
    if rate_limits:
        builder = builder.rate_limiter(FloodControl())
    application = builder.build()
    config.announce_dir.mkdir(parents=True, exist_ok=True)  # taken in empty by the first scan
    store = Store(config.db, clock)
    sender = Sender(store, PTBTransport(application.bot), config, policy.max_in_flight)
    runtime = Runtime(
        config=config,
        store=store,
        scanner=Scanner(store, config, owner=True),
        sender=sender,
        dispatcher=Dispatcher(store, Reconciler(store, sender, config, policy), policy.concurrency),
        digests=Digests(store, sender, config),
        confirmations=Confirmations(store, config),
        feed_reader=Scanner(store, config, owner=True),
        http=httpx.Client(follow_redirects=True, timeout=TIMEOUT),
        may_stand_by=request is None,  # the console's transport: it takes the lease or stops
    )
    application.bot_data["runtime"] = runtime
    assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
    # The first scan at start (the archive's baseline, before anyone writes a new notice),
    # then every interval. (PTB: run_repeating(first=0) would wait one interval.)
    application.job_queue.run_once(scan_job, 0, name="first scan", job_kwargs=ANY_DELAY)
    application.job_queue.run_repeating(
        scan_job,
        interval=config.scan_interval,
        first=config.scan_interval,
        name="scan",
        job_kwargs={"max_instances": 1, "coalesce": True, **ANY_DELAY},
    )
    application.job_queue.run_repeating(digest_job, interval=60, first=5, name="digest")
    application.job_queue.run_repeating(
        acks_job, interval=ACKS_EVERY, first=1, name="acks", job_kwargs={"max_instances": 1}
    )
    # Each feed is fetched when due (all of them at start), the configured ones and those
    # the admins added from the chat or the command line; this looks every second or
    # so, which is one query. (first=0 would wait one interval, as above.)
    application.job_queue.run_repeating(
        feeds_job,
        interval=min(FEEDS_EVERY, config.feed_interval),
        first=0.5,
        name="feeds",
        # a look during a long round returns at once (one round at a time), rather than
        # be skipped by the scheduler with a WARNING every second
        job_kwargs={"max_instances": 2},
    )
    add_handlers(application)
    application.add_error_handler(on_error)
    return application


USER_COMMANDS = (
    "start",
    "help",
    "subscribe",
    "unsubscribe",
    "latest",
    "search",
    "settings",
)
ADMIN_COMMANDS = ("broadcast", "announce", "stats", "acks", "feeds", "addfeed")
# Seconds between looks for groups whose card shows an old count, and reminders due:
# the presses of these seconds make one edit.
ACKS_EVERY = 3.0
FEEDS_EVERY = 1.0  # seconds between looks for feeds that are due


def add_handlers(application: Application) -> None:
    throttle = Throttle()
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE, membership.private_contact), group=-2
    )
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, membership.migrated))
    application.add_handler(MessageHandler(filters.COMMAND, throttle), group=-1)
    application.add_handler(CallbackQueryHandler(throttle), group=-1)
    anywhere = filters.UpdateType.MESSAGES | filters.UpdateType.CHANNEL_POSTS
    for name, callback in (
        ("start", commands.start),
        ("help", commands.help_command),
        ("latest", commands.latest),
        ("read", commands.read),
        ("search", commands.search),
        ("settings", settings_menu.settings),
        ("broadcast", admin.broadcast),
        ("announce", admin.announce),
        ("stats", admin.stats),
        ("acks", acks.acks_command),
        ("feeds", feeds.feeds_command),
        ("addfeed", feeds.addfeed),
    ):
        application.add_handler(CommandHandler(name, callback))
    application.add_handler(CommandHandler("subscribe", commands.subscribe, filters=anywhere))
    application.add_handler(CommandHandler("unsubscribe", commands.unsubscribe, filters=anywhere))
    application.add_handler(MessageHandler(filters.Regex(r"(?i)^/read_\S*$"), commands.read_link))
    application.add_handler(CallbackQueryHandler(commands.read_button, pattern=r"^read:"))
    application.add_handler(CallbackQueryHandler(settings_menu.settings_button, pattern=r"^set:"))
    application.add_handler(CallbackQueryHandler(admin.confirm_button, pattern=r"^bc:"))
    application.add_handler(CallbackQueryHandler(acks.ack_button, pattern=r"^ack:"))
    application.add_handler(CallbackQueryHandler(feeds.feed_button, pattern=r"^fd:"))
    application.add_handler(CallbackQueryHandler(commands.unknown_button))  # any other data
    application.add_handler(
        ChatMemberHandler(membership.my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE, commands.private_text)
    )


async def set_commands(application: Application) -> None:
    """Command menus in Chinese (default) and English; admin commands only for admins."""
    bot = application.bot
    admins = runtime_of(application).config.admins
    for lang, code in (("zh", None), ("en", "en")):
        menu = [BotCommand(name, t(f"cmd_{name}", lang)) for name in USER_COMMANDS]
        extra = [BotCommand(name, t(f"cmd_{name}", lang)) for name in ADMIN_COMMANDS]
        await bot.set_my_commands(menu, language_code=code)
        for admin_id in admins:
            try:
                await bot.set_my_commands(
                    menu + extra, scope=BotCommandScopeChat(admin_id), language_code=code
                )
            except TelegramError as error:  # an admin who never opened the bot
                log.warning("admin menu for %s not set: %s", admin_id, error)


def runtime_of(application: Application) -> Runtime:
    return application.bot_data["runtime"]


async def scan_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await scan_now(runtime_of(context.application))


async def feeds_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await read_feeds_now(runtime_of(context.application))


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await runtime_of(context.application).digests.send_due()


async def acks_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context.application)
    if runtime.confirmations.tick():
        runtime.dispatcher.wake()


async def _start(application: Application) -> None:
    runtime = runtime_of(application)
    owner = runtime.store.owner
    if not isinstance(owner, Lease):
        owner.take()  # before anything is sent: LedgerBusy if another bot runs
    if runtime.config.metrics_listen:  # first: a port in use stops the start, nothing begun
        jobs = application.job_queue
        runtime.metrics_server = serve(
            runtime,
            runtime.config.metrics_listen,
            lambda: bool(jobs and jobs.get_jobs_by_name("scan")),
        )
    if isinstance(owner, Lease) and runtime.may_stand_by:  # stand by until this one is active
        listen = runtime.config.webhook_url and runtime.config.webhook_listen
        runtime.standing_by = True  # /healthz: alive, waiting to take over
        await become_active(owner, listen, getattr(runtime.sender.transport, "flood", None))
        runtime.standing_by = False
    elif isinstance(owner, Lease):  # the console on a real ledger: never a standby
        take_or_refuse(owner)
    await set_commands(application)
    runtime.tasks.append(asyncio.create_task(runtime.dispatcher.run(), name="dispatcher"))
    if runtime.config.watch:
        watching = watch_folders(
            runtime.config.folders, lambda: scan_now(runtime), runtime.stopping
        )
        runtime.tasks.append(asyncio.create_task(watching, name="watcher"))
    chats = runtime.store.recipients(None)
    log.info("noticebot started as @%s: %d subscribed chats", application.bot.username, chats)


async def _stop(application: Application) -> None:
    runtime = runtime_of(application)
    runtime.stopping.set()
    runtime.dispatcher.stop()
    indexer = [runtime.indexer] if runtime.indexer else []
    await asyncio.gather(*runtime.tasks, *indexer, return_exceptions=True)
    if runtime.metrics_server:
        runtime.metrics_server.shutdown()
        runtime.metrics_server.server_close()
    if runtime.http:
        runtime.http.close()
    runtime.store.close()
    log.info("noticebot stopped")
