"""Standby and active: which of several ``noticebot run`` processes on one PostgreSQL
ledger sends (:mod:`bot.ledger.lease`), and what the others do meanwhile.

A standby waits before anything of the bot starts (no polling: Telegram allows one
``getUpdates`` per token; no scans, no feeds, no sends). With a webhook it answers
``503 Service Unavailable`` on the webhook's port, so that a load balancer in front of
several machines retries each update on the active one, and Telegram retries what
none took. Forwarding updates through the ledger instead would make every standby a
second, unfenced writer of chat settings and commands, for nothing a retry does not
already give.

The active process beats the lease every second, from a thread of its own. If
another process took over (it found this one frozen), or the ledger cannot be reached
for as long as a standby waits before taking over, it stops at once, without another
send: its exit status is :data:`EXIT_FENCED`, and a supervisor restarts it as a
standby. A standby whose connection breaks (the server restarted) opens a new one.
"""

from __future__ import annotations

import asyncio
import http.server
import logging
import os
import threading
from typing import Any

from bot.ledger.lease import BEAT_EVERY, Holding, Lease
from bot.sending.flood import FloodControl

log = logging.getLogger(__name__)

EXIT_FENCED = 75  # EX_TEMPFAIL: try again (as a standby)


class _Unavailable(http.server.BaseHTTPRequestHandler):
    timeout = 10  # a connection that says nothing is cut: no thread held for good

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


async def become_active(
    lease: Lease, webhook_listen: tuple[str, int] | None, flood: FloodControl | None = None
) -> None:
    """Return once this process holds the lease, beating it and gating ``flood``'s
    requests on it; until then, stand by."""
    if not _tried(lease):
        holding = _holding(lease)
        log.info(
            "standby: %s is active on %s; this process takes over when it stops",
            holding.holder if holding else "another noticebot",
            lease.backend.where,
        )
        server = _serve_unavailable(webhook_listen)
        try:
            while not _tried(lease):
                await asyncio.sleep(BEAT_EVERY)
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
    _took(lease)
    lease.keep(fenced)
    gate(lease, flood)


def gate(lease: Lease, flood: FloodControl | None) -> None:
    """Every request waits while the lease is not fresh (see :meth:`Lease.fresh`)."""
    if flood is not None:
        flood.holding = lease.fresh


def take_or_refuse(lease: Lease, flood: FloodControl | None = None) -> None:
    """Active now, beating the lease (and gating ``flood``), or LedgerBusy: for what must
    not wait its turn (a broadcast sent from the command line, the console on a real
    ledger)."""
    lease.take()
    lease.keep(fenced)
    gate(lease, flood)


def _tried(lease: Lease) -> bool:
    try:
        return lease.try_take()
    except Exception as error:  # the server away for a moment: look again
        log.warning("standby: the ledger did not answer (%r); looking again", error)
        return False


def _holding(lease: Lease) -> Holding | None:
    try:
        return lease.holding()
    except Exception:  # said by the next look, if it lasts
        return None


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


def fenced(why: str) -> None:
    """The lease is lost: stop at once, before another send (exit :data:`EXIT_FENCED`)."""
    log.critical("lost the lease: %s; stopping at once, nothing more is sent", why)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_FENCED)
