"""The log at its default level holds what a person running the bot needs, one line each:
start and stop, scans that found something, Telegram's refusals and flood waits; no
per-job or per-request chatter, and no traceback for a known Telegram error."""

from __future__ import annotations

import json
import logging
import re
import signal
from pathlib import Path

import httpx
import pytest

from bot.json_logs import JsonLineFormatter
from bot.ledger import Chat
from bot.logs import RedactingFormatter, redact, shown_url
from tests.botenv import TOKEN, message_update
from tests.chaos import article_text, prepare_ledger, start_bot, wait_for
from tests.emulator import Emulator, Fault
from tests.process import free_port


def test_the_default_log_is_for_people(tmp_path: Path) -> None:
    articles = prepare_ledger(tmp_path, [Chat(601)])
    log = tmp_path / "bot.log"
    port = free_port()
    with Emulator() as emulator, httpx.Client(timeout=5) as client:
        # The scan job waits behind the scan a file's write started; an interval it could
        # outlast (on a busy machine) makes APScheduler skip a run with a WARNING.
        process = start_bot(
            tmp_path,
            emulator,
            log,
            NOTICEBOT_LOG_LEVEL="INFO",
            NOTICEBOT_SCAN_INTERVAL="2",
            NOTICEBOT_METRICS_LISTEN=f"127.0.0.1:{port}",
        )
        try:
            wait_for(lambda: any(c.method == "getUpdates" for c in emulator.calls), 60, "start")
            emulator.once[612].append(Fault.flood(1))
            emulator.push(message_update(612, "/help"))
            wait_for(lambda: emulator.too_many == 1, 30, "the flood wait")
            emulator.always[611] = Fault.blocked()
            emulator.push(message_update(611, "/latest"))
            # moved in whole: one change for the watcher, never a half-written file
            (tmp_path / "n.md").write_text(article_text("停水通知"), encoding="utf-8")
            (tmp_path / "n.md").rename(articles / "n.md")
            wait_for(lambda: emulator.cards_per_chat().get(601) == 1, 30, "the notice")
            wait_for(
                lambda: any(c.ok and c.params.get("chat_id") == 612 for c in emulator.calls),
                30,
                "the reply after the flood wait",
            )
            # Scans that find nothing say nothing: two more, seen to end in /metrics
            ends = [_last_scan(client, port)]

            def two_more_scans() -> bool:
                end = _last_scan(client, port)
                if end != ends[-1]:
                    ends.append(end)
                return len(ends) > 2

            wait_for(two_more_scans, 60, "two scans after the notice")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    text = "\n".join(lines)
    assert "noticebot started as @noticebot_test_bot: 1 subscribed chats" in text
    assert lines[-1].endswith("noticebot stopped")
    assert sum("scan: " in line for line in lines) == 1  # only the scan that found something
    refused = [line for line in lines if "sendMessage to chat 611" in line]
    assert len(refused) == 1 and "blocked" in refused[0]
    assert sum("flood control" in line for line in lines) == 1
    assert emulator.inside_retry_after == 0
    for noise in ("apscheduler", "HTTP Request", "Traceback", "No error handlers", "watchfiles"):
        assert noise not in text, f"{noise!r} in the log:\n{text}"
    assert len(lines) <= 10, text


def _last_scan(client: httpx.Client, port: int) -> str:
    """When the bot's last scan ended, as its /metrics says (a new value: a new scan)."""
    metrics = client.get(f"http://127.0.0.1:{port}/metrics").text
    (value,) = re.findall(
        r"^noticebot_last_successful_scan_timestamp_seconds (\S+)$", metrics, re.M
    )
    return value


def test_json_logs_parse_line_by_line_without_the_token(tmp_path: Path) -> None:
    """NOTICEBOT_LOG_FORMAT=json at DEBUG, where httpx and python-telegram-bot log the
    API URLs with the token in them: every line one JSON object, the token nowhere."""
    articles = prepare_ledger(tmp_path, [Chat(601)])
    log = tmp_path / "bot.log"
    with Emulator() as emulator:
        process = start_bot(tmp_path, emulator, log, NOTICEBOT_LOG_FORMAT="json")
        try:
            wait_for(lambda: any(c.method == "getUpdates" for c in emulator.calls), 60, "start")
            emulator.push(message_update(612, "/help"))
            (articles / "n.md").write_text(article_text("停水通知"), encoding="utf-8")
            wait_for(lambda: emulator.cards_per_chat().get(601) == 1, 30, "the notice")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
    text = log.read_text(encoding="utf-8")
    assert TOKEN not in text and TOKEN.split(":", 1)[1] not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert len(records) > 20  # DEBUG: every request, every job
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    messages = [r["message"] for r in records]
    assert any(m.startswith("noticebot started as @") for m in messages)
    assert any("HTTP Request: POST" in m and "bot<token>/" in m for m in messages)
    assert "noticebot stopped" in messages


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://rss.example.org/feed.xml", "https://rss.example.org/feed.xml"),
        ("https://reader:hunter2@rss.example.org/f", "https://***@rss.example.org/f"),
        ("https://ghp_abc123@rss.example.org/f", "https://***@rss.example.org/f"),
        ("http://a:p@ss@h:8080/f?x=1", "http://***@h:8080/f?x=1"),
        (
            "https://h/f?access_key=AK1&tags=a,b&token=T2",
            "https://h/f?access_key=***&tags=a,b&token=***",
        ),
        (
            "https://h/f?key=1;password=2;secret=3;apiKey=4;X-Amz-Signature=5;sig=6",
            "https://h/f?key=***;password=***;secret=***;apiKey=***;X-Amz-Signature=***;sig=***",
        ),
        ("https://h/f?keyword=防疫&page=2&key=", "https://h/f?keyword=防疫&page=2&key="),
        ("https://h/cb#access_token=T&state=s", "https://h/cb#access_token=***&state=s"),
        ("https://h/a@b/f", "https://h/a@b/f"),  # an @ in the path is no userinfo
        ("http://[::1", "http://[::1"),  # not even a valid address: shown as it is
        ("/srv/feeds/local.xml", "/srv/feeds/local.xml"),
    ],
)
def test_shown_url_hides_credentials_and_keeps_the_rest(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_the_formatters_hide_credentials_in_any_url_of_a_line() -> None:
    """As httpx logs a request, and as an error quotes an address: in text and in JSON,
    which stays valid JSON."""
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: GET %s "HTTP/1.1 200 OK"; see "%s"',
        ("https://u:pw@h/f?token=T1&n=1", "http://h/x?api_key=K2"),
        None,
    )
    text = RedactingFormatter("%(message)s", TOKEN).format(record)
    assert text == (
        'HTTP Request: GET https://***@h/f?token=***&n=1 "HTTP/1.1 200 OK";'
        ' see "http://h/x?api_key=***"'
    )
    line = json.loads(JsonLineFormatter(lambda line: redact(line, TOKEN)).format(record))
    assert line["message"] == text
    api = f"POST http://127.0.0.1:1/bot{TOKEN}/getMe?secret=S3"
    assert redact(api, TOKEN) == "POST http://127.0.0.1:1/bot<token>/getMe?secret=***"
