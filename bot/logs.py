"""Logging that never shows a secret, whatever the level.

httpx logs every request URL at INFO and python-telegram-bot its API URL at
DEBUG; both contain ``bot<token>``, and a feed's address may carry a password or
an access key. The formatter redacts the configured token, anything shaped like
one, and the credentials in every URL (:func:`shown_url`), after formatting, so
arguments, tracebacks and exception texts are covered too. :func:`shown_url` is
also how a feed's address is shown anywhere else: status, metrics, reports.
"""

from __future__ import annotations

import logging
import re
import sys
from urllib.parse import unquote

# Libraries that log every request or job run at INFO: a person running the bot needs
# their warnings, not ~6,000 lines a day.
CHATTY = ("httpx", "httpcore", "apscheduler")
_TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
REDACTED = "<token>"
HIDDEN = "***"  # what a URL shows in place of a credential
# A URL in free text ends at a space, a quote, an angle bracket or a backslash (a JSON
# line's escaped quote), so redacting it never breaks what surrounds it.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>\\`]+")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
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
    return _TOKEN_SHAPE.sub(REDACTED, text)


def shown_url(url: str) -> str:
    """The address as logs, status, metrics and reports show it: the user and password
    (``user:pass@``) and the value of every parameter named like a credential
    (``access_key``, ``token``, ``apiKey``, ``X-Amz-Signature``…) replaced by ``***``;
    the rest as it was, so a person still knows which feed it is."""
    shown = _USERINFO.sub(rf"\1{HIDDEN}@", url, count=1)
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


def setup_logging(level: int | str, token: str | None, form: str = "text") -> None:
    """Route every logger through one redacting handler on stderr: text for people,
    ``json`` for machines."""
    handler = logging.StreamHandler(sys.stderr)
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
