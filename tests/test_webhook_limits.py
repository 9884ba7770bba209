"""The webhook's port is reachable by anyone who can reach the proxy: a big body without
the secret token is refused on its Content-Length, before the bot reads it into memory
(python-telegram-bot checks the secret only once the whole body is read)."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from bot.ledger import Chat
from tests.botenv import message_update
from tests.chaos import prepare_ledger, start_bot, wait_for
from tests.emulator import Emulator
from tests.process import free_port

PUBLIC = "https://bot.example.org/telegram/hook"
BIG = 5 * 1024 * 1024


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes: a body read whole
    raises it even if the memory is given back at once."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _listening(port: int) -> bool:
    """Whether the webhook's server accepts connections: python-telegram-bot calls
    setWebhook first and listens after."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return False
    return True


def _post(port: int, body: bytes, length: int | None = None) -> str:
    """A POST to the webhook without the secret token, on a raw socket; the status line
    answered, or how the connection ended."""
    head = (
        "POST /telegram/hook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        try:
            connection.sendall(head + body)
        except OSError as error:  # cut off while sending: the body was not wanted
            sent = f"cut while sending ({type(error).__name__})"
        else:
            sent = ""
        try:
            answer = connection.recv(200).decode("latin-1")
        except OSError as error:
            return sent or f"cut ({type(error).__name__})"
    return answer.split("\r\n", 1)[0] if answer else sent or "closed"


def test_a_big_body_without_the_secret_is_refused_unread(tmp_path: Path) -> None:
    prepare_ledger(tmp_path, [Chat(601)])
    port = free_port()
    with Emulator() as emulator:
        emulator.webhook_routes[PUBLIC] = f"http://127.0.0.1:{port}/telegram/hook"
        process = start_bot(
            tmp_path,
            emulator,
            tmp_path / "bot.log",
            NOTICEBOT_LOG_LEVEL="INFO",
            NOTICEBOT_WEBHOOK_URL=PUBLIC,
            NOTICEBOT_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        )
        try:
            wait_for(lambda: emulator.webhook is not None, 60, "setWebhook")
            wait_for(lambda: _listening(port), 60, "the webhook's server listening")
            small = _post(port, b"{}")
            before = _peak_rss(process.pid)
            big = [_post(port, b"{" + b" " * (BIG - 2) + b"}") for _ in range(3)]
            grown = _peak_rss(process.pid) - before
            emulator.push(message_update(701, "/help"))  # Telegram's own still taken
            wait_for(
                lambda: any(c.params.get("chat_id") == 701 for c in emulator.calls), 30, "reply"
            )
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
    assert small.startswith("HTTP/1.1 403")  # no secret: refused, as before
    assert all(not answer.startswith(("HTTP/1.1 2", "HTTP/1.1 403")) for answer in big), big
    assert grown < 3 * 1024 * 1024, f"peak memory grew by {grown / 2**20:.1f} MiB"
    assert emulator.webhook_answers == [200]
