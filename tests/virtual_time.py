"""A virtual clock for tests of pacing: an event loop whose waits take no real time.

A test of "one every 4 s" on a real clock would take minutes; on this loop the clock
jumps to the next timer whenever the loop would only wait for it, while a request of
the bot's in flight (:class:`CountedRequest`) or a worker thread keeps it real.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable
from typing import Any, TypeVar

from telegram.request import HTTPXRequest

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    """The loop's selector: asked to wait for the next timer while the loop is idle,
    it moves the loop's clock to that timer instead."""

    loop: VirtualLoop | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        loop = self.loop
        if timeout is None or timeout <= 0 or loop is None or not loop.idle():
            return super().select(timeout)
        ready = super().select(0)
        if not ready:
            loop.ahead += timeout
        return ready


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to its next timer whenever it would only wait
    for it: no request of the bot's in flight (:class:`CountedRequest`), no worker
    thread running. Waits take no real time; requests still take their round trip,
    so each is answered after it arrived, on this clock as at Telegram."""

    def __init__(self) -> None:
        self.ahead = 0.0  # seconds this clock is ahead of the monotonic one
        self.requests = 0
        self.threads = 0
        selector = _JumpingSelector()
        super().__init__(selector)
        selector.loop = self

    def time(self) -> float:
        return super().time() + self.ahead

    def idle(self) -> bool:
        return self.requests == 0 and self.threads == 0

    def run_in_executor(self, executor: Any, func: Callable[..., T], *args: Any) -> Any:
        self.threads += 1
        future = super().run_in_executor(executor, func, *args)
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _: object) -> None:
        self.threads -= 1


class CountedRequest(HTTPXRequest):
    """The bot's HTTP requests, counted while in flight (the clock waits for them)."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__(
            connection_pool_size=16,
            read_timeout=30.0,
            write_timeout=30.0,
            connect_timeout=30.0,
            pool_timeout=30.0,
        )
        self.loop = loop

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        self.loop.requests += 1
        try:
            return await super().do_request(*args, **kwargs)
        finally:
            self.loop.requests -= 1
