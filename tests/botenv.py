"""The bot wired for real (python-telegram-bot over HTTP, SQLite file, article folder)
against the local Bot API emulator, with a clock the test moves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from telegram.ext import Application

from bot.app import Runtime, build_application, runtime_of
from bot.config import Config
from bot.ledger import Chat
from bot.sending.delivery import SendPolicy
from bot.sources.scanner import ScanReport
from tests import ledgers
from tests.emulator import Call, Emulator

TOKEN = "123456789:TEST-token-abcdefghijklmnopqrstuvwxyz"
# How long a test waits for what it expects: only a failing test waits this long, and a
# CI machine running six test workers on two cores may be several times slower than idle.
WAIT_AT_MOST = 30.0


class Clock:
    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# A notice longer than a card holds: it goes out as card (with its read button) and
# text, as most tests want. A short one would be its card alone (one tap, one copy).
NOTICE_BODY = "<p>请居民注意防疫。</p>" * 40


@dataclass
class BotEnv:
    app: Application
    runtime: Runtime
    emulator: Emulator
    clock: Clock
    articles: Path

    def scan(self) -> ScanReport:
        return self.runtime.scanner.scan()

    async def send(self) -> None:
        await self.runtime.dispatcher.run_until_idle()

    def subscribe(self, *chat_ids: int, **fields: object) -> None:
        """Subscribe as /subscribe does, then set the quiet hours asked for, as /settings
        does: a subscription leaves a chat's quiet hours as they were."""
        quiet = {k: v for k, v in fields.items() if k in ("quiet_start", "quiet_end")}
        for chat_id in chat_ids:
            self.runtime.store.subscribe(Chat(chat_id, **fields))  # type: ignore[arg-type]
            if quiet:
                self.runtime.store.update_chat(chat_id, **quiet)

    def write_article(
        self,
        name: str,
        *,
        title: str = "社区通知",
        date: float | None = None,
        body: str = NOTICE_BODY,
        extra: str = "",
    ) -> Path:
        when = datetime.fromtimestamp(self.clock.now if date is None else date, UTC)
        path = self.articles / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"\n---\ntitle: '{title}'\ndate: {when:%a, %d %b %Y %H:%M:%S} GMT\n"
            f"categories:\n - 社区\n{extra}---\n\n<div>{body}</div>\n",
            encoding="utf-8",
        )
        return path

    def write_standing(self) -> Path:
        """A long-standing notice in the folder, so that deleting a test's notice does
        not leave the folder empty (an emptied folder's withdrawals are held)."""
        return self.write_article(
            "archive/standing.md", title="长期通知", date=self.clock.now - 400 * 86400
        )


def bot_config(tmp_path: Path, emulator: Emulator, **overrides: object) -> Config:
    articles = tmp_path / "articles"
    articles.mkdir(exist_ok=True)
    values: dict[str, object] = {
        "token": TOKEN,
        "api_url": emulator.url,
        "articles": (articles,),
        "db": ledgers.current(tmp_path),
        "announce_dir": tmp_path / "state" / "announcements",
    }
    return Config(**{**values, **overrides})  # type: ignore[arg-type]


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    emulator: Emulator,
    policy: SendPolicy | None = None,
    timeout: float | None = None,
    rate_limits: bool = True,
    **settings: object,
) -> AsyncIterator[BotEnv]:
    """The bot with its flood control, as in production, unless ``rate_limits`` is off
    (then the emulator should run without limits too: ``Emulator(limits=None)``);
    ``settings`` are Config fields."""
    config = bot_config(tmp_path, emulator, **settings)
    clock = Clock()
    app = build_application(
        config,
        policy=policy or SendPolicy(),
        rate_limits=rate_limits,
        clock=clock,
        timeout=timeout,
    )
    async with app:
        yield BotEnv(app, runtime_of(app), emulator, clock, config.articles[0])
    runtime_of(app).store.close()


ADMIN = 900


def message_update(
    chat_id: int,
    text: str,
    *,
    user_id: int | None = None,
    chat_type: str = "private",
    language: str = "zh-hans",
    thread_id: int | None = None,
    topic: bool = True,
    kind: str = "message",
    forward: bool = False,
    entities: list[dict] | None = None,
) -> dict:
    """An update as Telegram sends it: a message (or edited message, or channel post);
    ``entities`` (offsets in UTF-16 units) follow the command's own. ``thread_id`` is a
    forum topic's, unless ``topic`` is off: then a reply thread in an ordinary group
    (Telegram sends its message_thread_id without is_topic_message)."""
    message: dict = {
        "message_id": int(time.time() * 1000) % 1_000_000_000,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": chat_type, "title": f"chat {chat_id}"},
        "text": text,
    }
    if chat_type != "channel":
        uid = user_id if user_id is not None else chat_id
        message["from"] = {
            "id": uid,
            "is_bot": False,
            "first_name": f"user{uid}",
            "language_code": language,
        }
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    if entities:
        message["entities"] = [*message.get("entities", []), *entities]
    if thread_id is not None:
        message["message_thread_id"] = thread_id
        if topic:
            message["is_topic_message"] = True
            message["chat"]["is_forum"] = True
    if forward:
        message["forward_origin"] = {
            "type": "user",
            "date": int(time.time()),
            "sender_user": {"id": ADMIN, "is_bot": False, "first_name": "admin"},
        }
    if kind == "edited_message":
        message["edit_date"] = int(time.time())
    return {kind: message}


def callback_update(chat_id: int, user_id: int, data: str, message_id: int = 1) -> dict:
    chat_type = "private" if chat_id > 0 else "supergroup"
    return {
        "callback_query": {
            "id": str(time.time_ns()),
            "from": {"id": user_id, "is_bot": False, "first_name": "u", "language_code": "zh"},
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": chat_type},
                "text": "…",
            },
        }
    }


def member_update(chat_id: int, chat_type: str, old: str, new: str) -> dict:
    def member(status: str) -> dict:
        return {"status": status, "user": {"id": 4242, "is_bot": True, "first_name": "bot"}}

    new_member = {**member(new), "until_date": 0} if new == "kicked" else member(new)
    return {
        "my_chat_member": {
            "chat": {"id": chat_id, "type": chat_type, "title": "group"},
            "from": {"id": 1, "is_bot": False, "first_name": "u"},
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": new_member,
        }
    }


@dataclass
class LiveBot:
    """The bot polling the emulator, as in production, with its dispatcher running."""

    app: Application
    runtime: Runtime
    emulator: Emulator
    articles: Path

    def mark(self) -> int:
        return len(self.emulator.calls)

    async def answer(self, start: int) -> Call:
        """The first answer to a button press since ``start`` (a press is always answered)."""
        deadline = time.monotonic() + WAIT_AT_MOST
        while time.monotonic() < deadline:
            answers = [c for c in self.emulator.calls[start:] if c.method == "answerCallbackQuery"]
            if answers:
                return answers[0]
            await asyncio.sleep(0.03)
        raise AssertionError("the press was not answered")

    def changed(self, start: int) -> list[Call]:
        """What the bot sent, edited, deleted or pinned since ``start``."""
        kinds = ("send", "edit", "delete", "pin")
        return [c for c in self.emulator.calls[start:] if c.ok and c.method.startswith(kinds)]

    async def say(self, update: dict, *, replies: int = 1, since: int | None = None) -> list:
        """Push an update; wait for ``replies`` calls that send or edit messages."""
        start = self.mark() if since is None else since
        self.emulator.push(update)
        return await self.wait_calls(start, replies)

    async def wait_calls(self, start: int, count: int, timeout: float = WAIT_AT_MOST) -> list:
        wanted = {"sendMessage", "sendPhoto", "sendAnimation", "sendMediaGroup", "editMessageText"}
        deadline = time.monotonic() + timeout
        while True:
            calls = [c for c in self.emulator.calls[start:] if c.method in wanted and c.ok]
            if len(calls) >= count or time.monotonic() > deadline:
                if count:
                    assert len(calls) >= count, f"expected {count} replies, got {calls}"
                return calls
            await asyncio.sleep(0.02)

    async def quiet(self, seconds: float = 0.6) -> list:
        """What the bot sent in the next moments (to show it sent nothing)."""
        start = self.mark()
        await asyncio.sleep(seconds)
        return await self.wait_calls(start, 0, timeout=0)


async def until(condition: Callable[[], object], what: str, timeout: float = WAIT_AT_MOST) -> None:
    """Wait for ``condition`` (polled), instead of sleeping for a guess; fail naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def live_bot(
    tmp_path: Path,
    emulator: Emulator,
    *,
    admins: frozenset[int] = frozenset({ADMIN}),
    policy: SendPolicy | None = None,
    **settings: object,
) -> AsyncIterator[LiveBot]:
    """``settings`` are Config fields (by default a scan every 0.5 s)."""
    config = bot_config(tmp_path, emulator, **{"admins": admins, "scan_interval": 0.5, **settings})
    app = build_application(config, policy=policy)
    async with app:
        await app.post_init(app)  # type: ignore[misc]
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=1)  # type: ignore[union-attr]
        try:
            yield LiveBot(app, runtime_of(app), emulator, config.articles[0])
        finally:
            await app.updater.stop()  # type: ignore[union-attr]
            await app.stop()
            await app.post_stop(app)  # type: ignore[misc]
