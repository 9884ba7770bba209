"""Standby and active: which of several ``noticebot run`` processes on one PostgreSQL
ledger sends (:mod:`bot.ledger.lease`), and what the others do meanwhile.

A standby waits before anything of the bot starts (no polling: Telegram allows one
``getUpdates`` per token; no scans, no feeds, no sends). With a webhook it answers
``503 Service Unavailable`` on the webhook's port, so that a load balancer in front of
several machines retries each update on the active one, and Telegram retries what
none took. Forwarding updates through the ledger instead would make every standby a
second, unfenced writer of chat settings and commands, for nothing a retry does not
already give.

The active process beats the lease every second. If another process took over (it
found this one frozen), or the ledger cannot be reached for as long as a standby
waits before taking over, it stops at once, without another send: its exit status
is :data:`EXIT_FENCED`, and a supervisor restarts it as a standby.
"""

from __future__ import annotations

import asyncio
import http.server
import logging
import os
import threading
import time
from typing import Any

from bot.ledger.lease import STALE_AFTER, Fenced, Lease

log = logging.getLogger(__name__)

EXIT_FENCED = 75  # EX_TEMPFAIL: try again (as a standby)
LOOK_EVERY = 1.0  # seconds between a standby's tries, and between heartbeats


class _Unavailable(http.server.BaseHTTPRequestHandler):
    def _refuse(self) -> None:
        self.send_response(503, "standby")
        self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a balancer's health checks every second would fill the log


def _serve_unavailable(listen: tuple[str, int] | None) -> http.server.HTTPServer | None:
    if listen is None:
        return None
    try:
        server = http.server.ThreadingHTTPServer(listen, _Unavailable)
    except OSError as error:
        log.warning("standby: cannot answer 503 on %s:%d (%s)", *listen, error)
        return None
    threading.Thread(target=server.serve_forever, name="standby-503", daemon=True).start()
    return server


async def become_active(lease: Lease, webhook_listen: tuple[str, int] | None) -> None:
    """Return once this process holds the lease; until then, stand by."""
    if lease.try_take():
        _took(lease)
        return
    holding = lease.holding()
    log.info(
        "standby: %s is active on %s; this process takes over when it stops",
        holding.holder,
        lease.backend.where,
    )
    server = _serve_unavailable(webhook_listen)
    try:
        while True:
            await asyncio.sleep(LOOK_EVERY)
            try:
                if lease.try_take():
                    break
            except Exception as error:  # the server away for a moment: look again
                log.warning("standby: the ledger did not answer (%r); looking again", error)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    _took(lease)


def _took(lease: Lease) -> None:
    if lease.took_over_from:
        (last,) = lease.failovers(1) or [{}]
        log.warning(
            "active: took over from %s (generation %d), %.1f s after its last heartbeat",
            lease.took_over_from,
            lease.generation,
            last.get("silent") or 0.0,
        )
    else:
        log.info("active on %s (generation %d)", lease.backend.where, lease.generation)


async def keep_active(lease: Lease, stopping: asyncio.Event) -> None:
    """Beat the lease every second; stop the process at once when it is lost."""
    last_beat = time.monotonic()
    while not stopping.is_set():
        try:
            await asyncio.wait_for(stopping.wait(), LOOK_EVERY)
            return
        except TimeoutError:
            pass
        try:
            lease.beat()
            last_beat = time.monotonic()
        except Fenced as error:
            _fenced(str(error))
        except Exception as error:
            if time.monotonic() - last_beat > STALE_AFTER:  # a standby may take over now
                _fenced(f"no heartbeat for {STALE_AFTER:.0f} s ({error!r})")
            log.warning("heartbeat failed (%r); trying again", error)


def _fenced(why: str) -> None:
    log.critical("lost the lease: %s; stopping at once, nothing more is sent", why)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_FENCED)
