"""Updates of one chat in order, different chats at once.

python-telegram-bot handles updates one after another by default, so one resident
whose replies wait for their chat's pace (a burst, then one a second) would hold
up everybody else; fully concurrent handling would let one chat's replies overtake
each other. Here each chat has a queue of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class OrderPerChat(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}  # chat → (its turn, waiting)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        turn, waiting = self._chats.get(chat.id, (asyncio.Lock(), 0))
        self._chats[chat.id] = (turn, waiting + 1)
        try:
            async with turn:  # asyncio.Lock is fair: first come, first served
                await coroutine
        finally:
            turn, waiting = self._chats[chat.id]
            if waiting == 1:
                del self._chats[chat.id]
            else:
                self._chats[chat.id] = (turn, waiting - 1)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
