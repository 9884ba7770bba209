"""Logging that never shows a secret, whatever the level.

httpx logs every request URL at INFO and python-telegram-bot its API URL at
DEBUG; both contain ``bot<token>``, and a feed's address may carry a password or
an access key. The formatter redacts the configured token, anything shaped like
one, the credentials in every URL (:func:`shown_url`) and every secret the process
was told it holds (:func:`hold_secret`: the webhook's secret token, a feed's password or
access key), wherever they stand in a line, after formatting, so arguments (a repr of
request parameters), tracebacks and exception texts are covered too. :func:`shown_url`
is also how a feed's address is shown anywhere else: status, metrics, reports.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
from types import TracebackType
from urllib.parse import quote, unquote

# Libraries that log every request, job run or folder change at INFO: a person running
# the bot needs their warnings, not ~6,000 lines a day (the scan says what a change was).
CHATTY = ("httpx", "httpcore", "apscheduler", "watchfiles")
_TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
REDACTED = "<token>"
HIDDEN = "***"  # what a URL shows in place of a credential
# A URL in free text ends at a space, a quote, an angle bracket or a backslash (a JSON
# line's escaped quote), so redacting it never breaks what surrounds it.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>\\`]+")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
# A URL's authority, where its userinfo is: as urlsplit finds it, but also in an address
# urlsplit refuses (an unclosed IPv6 bracket), whose credentials must be held all the same.
_AUTHORITY = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
_PARAMETER = re.compile(r"([?#&;])([^=&;#]+)=([^&;#]*)")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
SECRET_WORDS = frozenset(
    {
        "auth",
        "authorization",
        "credential",
        "credentials",
        "jwt",
        "key",
        "pass",
        "passwd",
        "password",
        "pwd",
        "secret",
        "session",
        "sid",
        "sig",
        "signature",
        "token",
    }
)
SECRET_ENDINGS = ("key", "token", "secret", "password")  # apikey, accesstoken
# A held secret shorter than this is hidden only where a URL shows it: hiding "pw" or
# "1234" in every line would garble the log more than it protects.
MIN_HELD = 4
_held: set[str] = set()
_held_pattern: re.Pattern[str] | None = None
_held_lock = threading.Lock()


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, token: str | None) -> None:
        super().__init__(fmt)
        self.token = token

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.token)


def redact(text: str, token: str | None) -> str:
    text = redact_urls(text)  # first: a token in a URL's path would end the URL early
    if token:
        text = text.replace(token, REDACTED)
    text = _TOKEN_SHAPE.sub(REDACTED, text)
    pattern = _held_pattern
    return pattern.sub(HIDDEN, text) if pattern is not None else text


def hold_secret(value: str | None) -> None:
    """Tell the redactor the process holds this secret, so that no log line shows it
    anywhere: a URL's rules alone miss it in a repr of request parameters (how
    python-telegram-bot logs setWebhook's ``secret_token``) or in an address split into
    parts. Its escaped forms (percent-encoded, JSON, repr) are hidden too."""
    if not value or len(value) < MIN_HELD:
        return
    plain = {value, unquote(value)}
    plain |= {quote(form, safe="") for form in plain}
    shown = plain | {repr(form)[1:-1] for form in plain}  # as a repr quotes it
    forms = shown | {json.dumps(form, ensure_ascii=False)[1:-1] for form in shown}  # in JSON
    global _held_pattern
    with _held_lock:
        new = {form for form in forms if len(form) >= MIN_HELD} - _held
        if not new:
            return
        _held.update(new)
        # Where several held forms match at one place, each is a prefix of the others and
        # the longest must win: in reverse order a string comes before its prefixes.
        _held_pattern = re.compile("|".join(map(re.escape, sorted(_held, reverse=True))))


def hold_url_secrets(url: str) -> None:
    """Hold the credentials in an address (a feed's): what is before its ``@``, the
    password alone, the Basic authorization they make, and the value of each parameter
    named like a credential — what :func:`shown_url` hides in a URL, hidden everywhere."""
    address = _AUTHORITY.match(url)
    if address is None:
        return  # a file
    userinfo = address.group(1).rpartition("@")[0]
    if userinfo:
        user, _, password = userinfo.partition(":")
        hold_secret(userinfo)  # without a password, the user is the token: held as this
        hold_secret(password)
        basic = f"{unquote(user)}:{unquote(password)}".encode()
        hold_secret(base64.b64encode(basic).decode())
    before, _, fragment = url.partition("#")
    for tail in (before.partition("?")[2], fragment):
        for _, name, value in _PARAMETER.findall("&" + tail):
            if value and is_secret_name(name):
                hold_secret(value)


def shown_url(url: str) -> str:
    """The address as logs, status, metrics and reports show it: the user and password
    (``user:pass@``) and the value of every parameter named like a credential
    (``access_key``, ``token``, ``apiKey``, ``X-Amz-Signature``…) replaced by ``***``;
    the rest as it was, so a person still knows which feed it is."""
    shown = _USERINFO.sub(rf"\1{HIDDEN}@", url)  # anchored: one at most
    if "?" not in shown and "#" not in shown:
        return shown
    head, mark, tail = shown.partition("?") if "?" in shown else shown.partition("#")
    return head + _PARAMETER.sub(_hidden_value, mark + tail)


def redact_urls(text: str) -> str:
    """Every URL in a text (a log line, an error) as :func:`shown_url` shows it."""
    if "://" not in text:
        return text
    return _URL.sub(lambda match: shown_url(match.group()), text)


def is_secret_name(name: str) -> bool:
    """Whether a query parameter's name says its value is a credential."""
    words = [w.lower() for w in _WORDS.findall(unquote(name))]
    return any(w in SECRET_WORDS or w.endswith(SECRET_ENDINGS) for w in words)


def _hidden_value(match: re.Match[str]) -> str:
    mark, name, value = match.groups()
    if not value or not is_secret_name(name):
        return match.group()
    return f"{mark}{name}={HIDDEN}"


def setup_logging(level: int | str, token: str | None, form: str) -> None:
    """Route every logger through one redacting handler on stderr: text for people,
    ``json`` for machines."""
    handler = logging.StreamHandler()  # on stderr
    if form == "json":
        from bot.json_logs import JsonLineFormatter

        handler.setFormatter(JsonLineFormatter(lambda line: redact(line, token)))
    else:
        handler.setFormatter(
            RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", token)
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet = logging.WARNING if root.level > logging.DEBUG else logging.NOTSET
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(quiet)


def log_uncaught() -> None:
    """Send a traceback no one caught (the main thread's or another thread's) through the
    redacting handler instead of Python's plain print to stderr: its text may quote a
    secret. Ctrl-C and a closed pipe keep Python's own handling."""
    logger = logging.getLogger("noticebot")
    plain = sys.excepthook

    def main_thread(
        kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        if issubclass(kind, (KeyboardInterrupt, BrokenPipeError)):
            plain(kind, error, trace)
        else:
            logger.critical("uncaught %s", kind.__name__, exc_info=(kind, error, trace))

    def other_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread else "?"
        logger.critical(
            "uncaught %s in thread %s",
            args.exc_type.__name__,
            name,
            exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
        )

    sys.excepthook = main_thread
    threading.excepthook = other_thread
