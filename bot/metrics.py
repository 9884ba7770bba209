"""``/metrics`` (Prometheus, prometheus-client) and ``/healthz`` on
``NOTICEBOT_METRICS_LISTEN``, served from a thread beside the bot.

Values are read when scraped, from the ledger and the bot's counters, so nothing
on the sending path pays for them. A feed's label is its address without its
credentials (:func:`bot.logs.shown_url`). ``/healthz`` answers 503 with the reasons when
the dispatcher has stopped, the scan job is gone, or the last scan is older than
three scan intervals.

Each connection is served in its own thread with a socket timeout: one client that
connects and sends nothing (or a slow scraper) must not keep a health check from its
answer, or the container is restarted while the bot is fine.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.ledger import Store
from bot.logs import shown_url
from bot.runtime import Runtime
from bot.sending.delivery import FAILING

log = logging.getLogger(__name__)

ACK_NOTICES_SHOWN = 100  # the newest notices that ask, each with its own series
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class BotCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime, store = self.runtime, self.runtime.store
        counts = store.status()["deliveries"]
        deliveries = GaugeMetricFamily(
            "noticebot_deliveries", "Deliveries in the ledger by status", labels=["status"]
        )
        for status, count in sorted(counts.items()):
            deliveries.add_metric([status], count)
        yield deliveries
        yield GaugeMetricFamily(
            "noticebot_queue_depth",
            "Deliveries waiting or being sent",
            value=counts.get("queued", 0) + counts.get("sending", 0),
        )
        flood = getattr(runtime.sender.transport, "flood", None)  # None: no flood control
        yield CounterMetricFamily(
            "noticebot_messages_sent",
            "Messages Telegram took (sends, edits; an album counts each picture)",
            value=flood.sent if flood else 0,
        )
        yield CounterMetricFamily(
            "noticebot_flood_waits", "429 answers received", value=flood.flood_waits if flood else 0
        )
        yield GaugeMetricFamily(
            "noticebot_scan_duration_seconds",
            "How long the last scan took",
            value=runtime.scan_took,
        )
        yield GaugeMetricFamily(
            "noticebot_last_successful_scan_timestamp_seconds",
            "When the last scan finished without an error (Unix time)",
            value=runtime.scanned_at or 0,
        )
        errors = GaugeMetricFamily(
            "noticebot_source_errors",
            "Per source: failed fetches in a row (feeds), unreadable files (folders)",
            labels=["source"],
        )
        errors.add_metric(["folders"], store.invalid_files())
        feeds: dict[str, int] = {}  # by the address as shown: without its credentials
        for feed in store.feed_states():
            shown = shown_url(feed.url)
            feeds[shown] = max(feeds.get(shown, 0), feed.failures)
        for shown, failures in feeds.items():
            errors.add_metric([shown], failures)
        yield errors
        yield from _acks(store)


def _acks(store: Store) -> Iterator[Metric]:
    """Confirmations: the total, and per notice that asks (by id: titles are free text)
    how many people confirmed this round and how many chats it reached."""
    yield CounterMetricFamily(
        "noticebot_acks", "Confirmations residents gave (✅ 收到)", value=store.acks_total()
    )
    confirmed = GaugeMetricFamily(
        "noticebot_ack_confirmed", "People who confirmed a notice, this round", labels=["notice"]
    )
    reached = GaugeMetricFamily(
        "noticebot_ack_reached",
        "Chats a notice that asks to be confirmed reached",
        labels=["notice"],
    )
    for row in store.ack_overview(limit=ACK_NOTICES_SHOWN):
        confirmed.add_metric([row["id"]], row["confirmed"])
        reached.add_metric([row["id"]], row["reached"])
    yield confirmed
    yield reached


def health(runtime: Runtime, scan_job_alive: Callable[[], bool]) -> list[str]:
    """What is wrong, if anything (an empty list: healthy)."""
    problems = []
    dispatcher = next((t for t in runtime.tasks if t.get_name() == "dispatcher"), None)
    if dispatcher is None or dispatcher.done():
        problems.append("the dispatcher has stopped")
    if runtime.dispatcher.failing >= FAILING:
        problems.append(
            f"{runtime.dispatcher.failing} deliveries in a row failed: "
            f"{runtime.dispatcher.last_failure}"
        )
    if not scan_job_alive():
        problems.append("the scan job has stopped")
    since = runtime.scanned_at or runtime.started_at
    limit = 3 * runtime.config.scan_interval
    if time.time() - since > limit:
        problems.append(f"no successful scan for {time.time() - since:.0f} s (limit {limit:.0f} s)")
    return problems


# Seconds a connection may take to send its request (and to take the answer); read at
# each connection, so a test can shorten it.
TIMEOUT = 10.0


class _Quiet(WSGIRequestHandler):
    def setup(self) -> None:
        self.timeout = TIMEOUT  # StreamRequestHandler sets it on the socket
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics: " + format, *args)

    def get_stderr(self) -> io.StringIO:
        """Where wsgiref prints the traceback of a scrape that failed: the log, through
        the redacting handler, not stderr as it is."""
        return _ErrorsToLog()


class _ErrorsToLog(io.StringIO):
    def flush(self) -> None:
        text = self.getvalue().rstrip()
        if text:
            log.error("metrics: a request failed:\n%s", text)
        self.seek(0)
        self.truncate()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """A thread a connection, so a silent one waits alone; daemon threads, so a stop
    does not wait for a client that went quiet."""

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out or hung up: one DEBUG line, not a traceback on stderr."""
        log.debug("metrics: connection from %s ended: %s", client_address, sys.exc_info()[1])


class PortInUse(OSError):
    """The metrics address cannot be listened on: one line at start, not a traceback."""


def serve(
    runtime: Runtime, listen: tuple[str, int], scan_job_alive: Callable[[], bool]
) -> WSGIServer:
    """Start serving in a daemon thread; ``shutdown()`` the server to stop."""
    registry = CollectorRegistry()
    registry.register(BotCollector(runtime))
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            standby = runtime.standing_by  # alive; it runs nothing yet to be unhealthy
            problems = [] if standby else health(runtime, scan_job_alive)
            status = "503 Service Unavailable" if problems else "200 OK"
            answer = {"healthy": not problems, "standby": standby, "problems": problems}
            body = json.dumps(answer).encode()
            start_response(status, [("Content-Type", "application/json")])
            return [body]
        return metrics(environ, start_response)

    try:
        server = make_server(
            listen[0], listen[1], app, server_class=_ThreadingServer, handler_class=_Quiet
        )
    except OSError as error:
        raise PortInUse(
            f"NOTICEBOT_METRICS_LISTEN {listen[0]}:{listen[1]}: {error.strerror or error}"
            " (another noticebot or another server listens there?)"
        ) from None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics and health on http://%s:%d/metrics, /healthz", *server.server_address[:2])
    return server
