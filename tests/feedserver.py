"""A feed host for tests: serves a feed with an ETag, as hosts do, and can misbehave
(500, slowly, a byte at a time, garbage, 50 MB), over HTTP or TLS."""

from __future__ import annotations

import email.utils
import hashlib
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DRIP_EVERY = 0.5  # seconds between two bytes of a dripping answer: no read ever times out
DRIP_BYTES = 30  # then the server gives up (15 s: far past the deadline of the tests)
# A self-signed certificate for 127.0.0.1 (until 2126) and its key, for feeds over TLS;
# made with: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes
#   -days 36500 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1
LOCAL_CERT = """\
-----BEGIN CERTIFICATE-----
MIIBkDCCATagAwIBAgIUIrjKaP+LXyVEvbLCaJtVg9NYCFQwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTIwNTE4NDUyMVoYDzIxMjYxMTEx
MTg0NTIxWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARUwSUcpxE5QyWRE2qzcNrri57gWx/OuPE5SZtnBoTl40/1jGDqgq3a
Fskaxzbk0cbj5+QS93xq+AF1LTwC9TBJo2QwYjAdBgNVHQ4EFgQUJyjCrN0JDTYB
0w/1JAd3bKbJ38IwHwYDVR0jBBgwFoAUJyjCrN0JDTYB0w/1JAd3bKbJ38IwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0gAMEUC
IDmfkwhomRxsSOmSgMBGHDR9an2CLjEcHt1DrDx6U5UTAiEAjAQVQbHmKyE5u7VT
hrttUJH53MqYwo9AUPJRfN9D7uk=
-----END CERTIFICATE-----
"""
LOCAL_KEY = """\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcppQcvxU2CqwuJ7m
XEIfmKu3sZn9Pvf2wJCjnY9enzGhRANCAARUwSUcpxE5QyWRE2qzcNrri57gWx/O
uPE5SZtnBoTl40/1jGDqgq3aFskaxzbk0cbj5+QS93xq+AF1LTwC9TBJ
-----END PRIVATE KEY-----
"""


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 128  # the bot opens several connections at once

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a reader that hung up mid-answer, as readers past their deadline do


class FeedServer:
    """Serves ``body`` at /feed with an ETag, as a feed host does; ``mode`` misbehaves."""

    def __init__(self, tls: bool = False) -> None:
        self.body = b""
        self.mode = "ok"  # ok, 500, slow, garbage, huge, drip-headers, drip-body
        self.answers: list[int] = []
        self.dripped = threading.Event()  # a dripping answer went out to its end
        self.hung_up = threading.Event()  # the reader closed the connection mid-drip
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls:
            with tempfile.TemporaryDirectory() as folder:
                pem = Path(folder) / "local.pem"
                pem.write_text(LOCAL_CERT + LOCAL_KEY, encoding="ascii")
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(pem)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_port}/feed"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        etag = '"' + hashlib.sha1(self.body).hexdigest() + '"'
        status, body = 200, self.body
        if self.mode == "500":
            status, body = 500, b"Internal Server Error"
        elif self.mode == "garbage":
            body = b"<html><body>\xff\xfe Service temporarily unavailable</body></html>"
        elif self.mode == "slow":
            time.sleep(1.0)
        elif request.headers.get("If-None-Match") == etag:
            status, body = 304, b""
        self.answers.append(status)
        if self.mode.startswith("drip"):
            self._drip(request, body)
            return
        request.send_response(status)
        request.send_header("ETag", etag)
        request.send_header("Content-Type", "application/rss+xml")
        if self.mode == "huge":
            request.send_header("Content-Length", str(50 * 1024 * 1024))
            request.end_headers()
            chunk = b"<!-- padding -->" * 4096
            try:
                for _ in range(50 * 1024 * 1024 // len(chunk)):
                    request.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the reader stopped at its limit
            return
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _drip(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        """A byte every DRIP_EVERY seconds, from the status line (drip-headers) or from
        the body (drip-body), until DRIP_BYTES or the reader hangs up."""
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        request.close_connection = True
        slow = head + body
        try:
            if self.mode == "drip-body":
                request.wfile.write(head)
                slow = body
            for at in range(DRIP_BYTES):
                request.wfile.write(slow[at : at + 1])
                time.sleep(DRIP_EVERY)
        except OSError:  # a broken pipe, a reset, a TLS connection gone
            self.hung_up.set()
            return
        self.dripped.set()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# One date for every item of every feed rss_of makes: an item read twice reads the same
# (dated at each call, two reads a second apart made the item a correction).
TODAY = email.utils.formatdate(usegmt=True)


def rss_of(items: list[tuple[str, str, str]]) -> bytes:
    """An RSS feed of (guid, link, title) items, dated today."""
    now = TODAY
    body = "".join(
        f"<item><title>{title}</title><description>&lt;p&gt;{title}。&lt;/p&gt;</description>"
        + (f"<link>{link}</link>" if link else "")
        + (f"<guid isPermaLink='false'>{guid}</guid>" if guid else "")
        + f"<pubDate>{now}</pubDate></item>"
        for guid, link, title in items
    )
    channel = f"<channel><title>居委会</title>{body}</channel>"
    return f"<?xml version='1.0'?><rss version='2.0'>{channel}</rss>".encode()


class FeedHost:
    """Many feeds on one local server, by path (``/f/1``) or, as an HTTP proxy is asked,
    by whole address (``http://example.org/rss``): what ``feeds`` holds is served with an
    ETag, a 304 when unchanged; a key in ``failing`` answers 500, one in ``slow`` waits
    that many seconds first. Every request is logged with its time."""

    def __init__(self) -> None:
        self.feeds: dict[str, bytes] = {}
        self.failing: set[str] = set()
        self.slow: dict[str, float] = {}
        self.requests: list[tuple[float, str, int]] = []  # (monotonic time, key, status)
        self.arrived: list[str] = []  # keys asked for, as each request arrives
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                host.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, key: str) -> str:
        return f"{self.base}{key}"

    def asked(self, key: str) -> int:
        return sum(1 for _, k, _ in self.requests if k == key)

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        key = request.path  # a path, or a whole address when asked as a proxy
        self.arrived.append(key)
        if key in self.slow:
            time.sleep(self.slow[key])
        body = self.feeds.get(key)
        etag = '"' + hashlib.sha1(body or b"").hexdigest() + '"'
        if body is None:
            status, body = 404, b"Not Found"
        elif key in self.failing:
            status, body = 500, b"Internal Server Error"
        elif request.headers.get("If-None-Match") == etag:
            status, body = 304, b""
        else:
            status = 200
        self.requests.append((time.monotonic(), key, status))
        try:
            request.send_response(status)
            request.send_header("ETag", etag)
            request.send_header("Content-Type", "application/rss+xml")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except OSError:  # the reader hung up (past its deadline)
            pass

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def feed_of(title: str, items: list[tuple[str, str]], when: str = TODAY) -> bytes:
    """An RSS feed called ``title`` of (guid, title) items, each with a paragraph."""
    body = "".join(
        f"<item><title>{name}</title><description>&lt;p&gt;{name}，详见通知全文。&lt;/p&gt;"
        f"</description><guid isPermaLink='false'>{guid}</guid><pubDate>{when}</pubDate></item>"
        for guid, name in items
    )
    channel = f"<channel><title>{title}</title><link>https://example.org/</link>{body}</channel>"
    return f"<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'>{channel}</rss>".encode()
