"""The redactor's promises that mutation testing (``make mutate``) found no test for: each
test here failed against a mutant of ``bot/logs.py`` that the other tests let pass.

Held secrets are process-wide, so every secret here is fresh (``secrets.token_hex``)."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import sys
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest

import bot.logs
from bot.logs import (
    CHATTY,
    RedactingFormatter,
    hold_secret,
    hold_url_secrets,
    log_uncaught,
    redact,
    setup_logging,
    shown_url,
)
from tests.botenv import TOKEN


def _fresh(prefix: str = "s") -> str:
    return f"{prefix}{secrets.token_hex(6)}"


def _record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("feeds", logging.WARNING, __file__, 1, message, args, exc_info)


def test_the_formatter_keeps_its_format_and_hides_a_token_of_any_shape() -> None:
    """The configured token is hidden even where it does not look like a Telegram token
    (a test server's, a mistyped one), and the format a person chose is kept."""
    odd = f"42:{_fresh()}"
    text = RedactingFormatter("%(levelname)s %(name)s: %(message)s", odd).format(
        _record("GET /bot%s/getMe failed", odd)
    )
    assert text == "WARNING feeds: GET /bot<token>/getMe failed"


def test_nothing_held_leaves_a_line_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.logs, "_held_pattern", None)
    assert redact("scan: 3 new", TOKEN) == "scan: 3 new"


def test_a_held_secret_is_hidden_from_four_characters_on() -> None:
    four = secrets.token_hex(2)  # 4 characters: hidden everywhere
    three = four[:3]  # shorter: hiding it would garble the log more than it protects
    hold_secret(None)
    hold_secret("")
    hold_secret(three)
    hold_secret(four)
    assert redact(f"a {four} b", None) == "a *** b"
    assert redact(f"a {three}- b", None) == f"a {three}- b"


def test_a_held_secret_is_hidden_whole_even_when_another_begins_it() -> None:
    short = _fresh()
    long = short + "-and-more"
    hold_secret(long)
    hold_secret(short)
    assert redact(f"[{long}] [{short}]", None) == "[***] [***]"


def test_a_held_secret_is_hidden_in_each_escaped_form_it_takes() -> None:
    """Percent-encoded (a slash too), as a repr quotes it, as JSON escapes it (non-ASCII
    characters kept, as the JSON log writes them): nothing of it is left around ***."""
    secret = f"密'\"/{secrets.token_hex(4)}"
    hold_secret(secret)
    assert redact(f"key={quote(secret, safe='')}", None) == "key=***"
    assert redact(f"params {{'k': {secret!r}}}", None) == "params {'k': '***'}"
    assert redact(json.dumps({"k": secret}, ensure_ascii=False), None) == '{"k": "***"}'


def test_a_feeds_credentials_are_held_whatever_the_address() -> None:
    """The password alone (a colon and an @ in it), the Basic authorization, a user that is a
    token; a credential parameter first in the query, one whose value holds a ?, one in
    a fragment after another #; and an address urlsplit refuses, an @ in its path."""
    password, token, key = f"pa:s@s-{_fresh()}", _fresh("ghp_"), _fresh("K")
    sig, first, frag = _fresh(), _fresh(), _fresh()
    hold_url_secrets(f"https://reader:{password}@h/f/a@b")
    hold_url_secrets(f"https://{token}@h/f")
    hold_url_secrets(f"https://h/f?sig={sig}&page=2&token={first}?x")
    hold_url_secrets(f"https://h/cb#access_token={frag}#more")
    hold_url_secrets(f"http://u:{key}@[::1/f/x@y")
    basic = base64.b64encode(f"reader:{password}".encode()).decode()
    for secret in (password, f"Basic {basic}", token, sig, f"{first}?x", frag, key):
        assert redact(f"<{secret}>", None) in ("<***>", "<Basic ***>"), secret


def test_only_credentials_are_held_from_a_feeds_address() -> None:
    """A parameter not named like a credential stays readable in every line."""
    category = _fresh("news-")
    hold_url_secrets(f"https://h/f?category={category}&token={_fresh()}")
    hold_url_secrets(f"/srv/feeds/{category}.xml")
    assert redact(f"feed {category} failed", None) == f"feed {category} failed"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h/f?token=T1?x", "https://h/f?token=***"),
        ("https://h/cb#access_token=T2#x", "https://h/cb#access_token=***#x"),
    ],
)
def test_a_value_with_a_second_mark_in_it_is_hidden_whole(url: str, shown: str) -> None:
    assert shown_url(url) == shown


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """The root logger's handlers and levels, given back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    chatty = {name: logging.getLogger(name).level for name in CHATTY}
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in chatty.items():
        logging.getLogger(name).setLevel(was)


@pytest.mark.parametrize("form", ["text", "json"])
def test_setup_logging_routes_every_line_through_the_redactor(
    root_logging: logging.Logger, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    odd = f"42:{_fresh()}"  # not shaped like a token: hidden as the configured one
    setup_logging("INFO", odd, form)
    assert root_logging.level == logging.INFO and len(root_logging.handlers) == 1
    assert all(logging.getLogger(name).level == logging.WARNING for name in CHATTY)
    logging.getLogger("noticebot").info("calling /bot%s/getMe", odd)
    logging.getLogger("noticebot").debug("not at INFO")
    line = capsys.readouterr().err.strip()
    if form == "json":
        record = json.loads(line)
        assert (record["level"], record["logger"]) == ("INFO", "noticebot")
        assert record["message"] == "calling /bot<token>/getMe"
    else:
        assert line.endswith(" INFO noticebot: calling /bot<token>/getMe")
        assert line[:4].isdigit()  # the time first


def test_setup_logging_at_debug_lets_the_chatty_libraries_speak(
    root_logging: logging.Logger,
) -> None:
    setup_logging(logging.DEBUG, TOKEN, "text")
    assert root_logging.level == logging.DEBUG
    assert all(logging.getLogger(name).level == logging.NOTSET for name in CHATTY)


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """Python's hooks as log_uncaught finds them: recorders, restored afterwards."""
    plain: list[tuple[object, ...]] = []
    monkeypatch.setattr(sys, "excepthook", lambda *args: plain.append(args))
    monkeypatch.setattr(threading, "excepthook", lambda args: plain.append((args,)))
    log_uncaught()
    return plain


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


def test_an_uncaught_error_is_logged_by_the_noticebot_logger(
    hooks: list[tuple[object, ...]], caplog: pytest.LogCaptureFixture
) -> None:
    error = _raised(RuntimeError("boom"))
    with caplog.at_level(logging.DEBUG):
        sys.excepthook(RuntimeError, error, error.__traceback__)
    [record] = caplog.records
    assert (record.name, record.levelno) == ("noticebot", logging.CRITICAL)
    assert record.getMessage() == "uncaught RuntimeError"
    assert record.exc_info == (RuntimeError, error, error.__traceback__)
    assert hooks == []


@pytest.mark.parametrize("kind", [KeyboardInterrupt, BrokenPipeError])
def test_ctrl_c_and_a_closed_pipe_keep_pythons_own_handling(
    hooks: list[tuple[object, ...]], caplog: pytest.LogCaptureFixture, kind: type
) -> None:
    error = _raised(kind())
    with caplog.at_level(logging.DEBUG):
        sys.excepthook(kind, error, error.__traceback__)
    assert caplog.records == []
    assert hooks == [(kind, error, error.__traceback__)]


def _thread_failure(
    kind: type[BaseException], value: BaseException | None, thread: threading.Thread | None
) -> threading.ExceptHookArgs:
    trace = value.__traceback__ if value is not None else None
    return threading.ExceptHookArgs([kind, value, trace, thread])


def test_an_uncaught_error_in_a_thread_is_logged_with_its_name(
    hooks: list[tuple[object, ...]], caplog: pytest.LogCaptureFixture
) -> None:
    error = _raised(ValueError("bad"))
    with caplog.at_level(logging.DEBUG):
        threading.excepthook(_thread_failure(ValueError, error, threading.Thread(name="scan")))
        threading.excepthook(_thread_failure(KeyError, None, None))
        threading.excepthook(_thread_failure(SystemExit, SystemExit(0), None))
    first, second = caplog.records
    assert (first.name, first.levelno) == ("noticebot", logging.CRITICAL)
    assert first.getMessage() == "uncaught ValueError in thread scan"
    assert first.exc_info == (ValueError, error, error.__traceback__)
    assert second.getMessage() == "uncaught KeyError in thread ?"
    assert isinstance(second.exc_info[1], KeyError)
    assert hooks == []
