"""The bot wired for real (python-telegram-bot over HTTP, SQLite file, article folder)
against the local Bot API emulator, with a clock the test moves."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from telegram.ext import Application

from bot.app import Runtime, build_application, runtime_of
from bot.config import Config
from bot.delivery import SendPolicy
from bot.scanner import ScanReport
from bot.store import Chat
from tests.emulator import Emulator

TOKEN = "123456789:TEST-token-abcdefghijklmnopqrstuvwxyz"


class Clock:
    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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
        for chat_id in chat_ids:
            self.runtime.store.subscribe(Chat(chat_id, **fields))  # type: ignore[arg-type]

    def write_article(
        self,
        name: str,
        *,
        title: str = "社区通知",
        date: float | None = None,
        body: str = "<p>请居民注意防疫。</p>",
        extra: str = "",
    ) -> Path:
        when = datetime.fromtimestamp(self.clock.now if date is None else date, UTC)
        path = self.articles / name
        path.write_text(
            f"\n---\ntitle: '{title}'\ndate: {when:%a, %d %b %Y %H:%M:%S} GMT\n"
            f"categories:\n - 社区\n{extra}---\n\n<div>{body}</div>\n",
            encoding="utf-8",
        )
        return path


def bot_config(tmp_path: Path, emulator: Emulator, **overrides: object) -> Config:
    articles = tmp_path / "articles"
    articles.mkdir(exist_ok=True)
    values: dict[str, object] = {
        "token": TOKEN,
        "api_url": emulator.url,
        "articles": (articles,),
        "db": tmp_path / "state" / "noticebot.db",
    }
    return Config(**{**values, **overrides})  # type: ignore[arg-type]


@asynccontextmanager
async def running_bot(
    tmp_path: Path, emulator: Emulator, policy: SendPolicy | None = None
) -> AsyncIterator[BotEnv]:
    config = bot_config(tmp_path, emulator)
    clock = Clock()
    app = build_application(
        config,
        policy=policy or SendPolicy(private_rate=0, group_rate=0),
        rate_limits=False,
        clock=clock,
    )
    async with app:
        yield BotEnv(app, runtime_of(app), emulator, clock, config.articles[0])
    runtime_of(app).store.close()
