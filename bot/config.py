"""Configuration in one place: environment variables, then ``noticebot.toml``.

The environment wins over the file so that a deployment can override one value
without editing files. Every bad value is a :class:`ConfigError` naming the
variable, so startup fails with a sentence instead of a traceback.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.durations import parse_duration

DEFAULT_API_URL = "https://api.telegram.org"
DEFAULT_PROXIES = ("https://cors.zfour.workers.dev/?",)
CONFIG_FILE = "noticebot.toml"
LANGUAGES = ("zh", "en")
DEFAULT_DB = Path("state/noticebot.db")
# The most a number setting may be: beyond it a value is a typo, and some overflow later
# (a timer of 1e300 seconds, a byte count no file reaches).
YEAR = 365 * 86400.0


# Every setting with its default as written in the environment ("": none). The one list:
# load_config reads only these names, and a NOTICEBOT_* name not here is warned about as
# unknown, so a setting cannot be read yet called unknown.
DEFAULTS: dict[str, str] = {
    "TELEGRAM_BOT_TOKEN": "",
    "TELEGRAM_API_URL": DEFAULT_API_URL,
    "NOTICEBOT_ARTICLES": "seeds",
    "NOTICEBOT_DB": str(DEFAULT_DB),
    "NOTICEBOT_ADMINS": "",
    "NOTICEBOT_SCAN_INTERVAL": "300",
    "NOTICEBOT_WATCH": "on",
    "NOTICEBOT_TZ": "Asia/Shanghai",
    "NOTICEBOT_LANG": "zh",
    "NOTICEBOT_MAX_AGE_DAYS": "7",
    "NOTICEBOT_UNWRAP_PROXIES": ",".join(DEFAULT_PROXIES),
    "NOTICEBOT_MAX_FILE_BYTES": "2097152",
    "NOTICEBOT_MAX_IN_FLIGHT": "1",
    "NOTICEBOT_LOG_LEVEL": "INFO",
    "NOTICEBOT_LOG_FORMAT": "text",
    "NOTICEBOT_METRICS_LISTEN": "",
    "NOTICEBOT_WEBHOOK_URL": "",
    "NOTICEBOT_WEBHOOK_LISTEN": "127.0.0.1:8443",
    "NOTICEBOT_EDITS": "on",
    "NOTICEBOT_SITE_URL": "",
    "NOTICEBOT_PERMALINK": ":year/:month/:day/:title/",
    "NOTICEBOT_ANNOUNCE_DIR": "state/announcements",
    "NOTICEBOT_FEEDS": "",
    "NOTICEBOT_FEED_INTERVAL": "300",
    "NOTICEBOT_FEED_DEADLINE": "30",
    "NOTICEBOT_FEED_MAX_ENTRIES": "200",
    "NOTICEBOT_FEEDS_ALLOW_PRIVATE": "off",
    "NOTICEBOT_FEED_ALERT_AFTER": "1d",
    "NOTICEBOT_ORG_NAME": "",
    "NOTICEBOT_CONTACT": "",
    "NOTICEBOT_ACK_URGENT": "on",
    "NOTICEBOT_ACK_REMIND": "",
    "NOTICEBOT_ACK_KEEP_DAYS": "90",
}
SETTINGS = tuple(DEFAULTS)
# Read by the test suite and the benchmarks, not by the bot: not a typo of a setting.
HARNESS = (
    "NOTICEBOT_FUZZ_EXAMPLES",
    "NOTICEBOT_CLI_FUZZ_EXAMPLES",
    "NOTICEBOT_MODEL_EXAMPLES",
    "NOTICEBOT_MODEL_SEED",
)


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Config:
    token: str | None = None
    api_url: str = DEFAULT_API_URL
    articles: tuple[Path, ...] = (Path("seeds"),)
    db: Path | str = DEFAULT_DB  # a SQLite file, or a PostgreSQL server's postgresql:// URL
    admins: frozenset[int] = frozenset()
    scan_interval: float = 300.0  # the safety net: watched folders are scanned at once
    watch: bool = True  # watch the article folders for changes
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    lang: str = "zh"
    max_age_days: float = 7.0
    unwrap_proxies: tuple[str, ...] = DEFAULT_PROXIES
    max_file_bytes: int = 2 * 1024 * 1024
    max_in_flight: int = 1
    log_level: str = "INFO"
    log_format: str = "text"  # or json: one object a line
    metrics_listen: tuple[str, int] | None = None  # serve /metrics and /healthz here
    webhook_url: str | None = None  # public https address: webhook instead of polling
    webhook_listen: tuple[str, int] | None = ("127.0.0.1", 8443)
    edits: bool = True  # a corrected notice edits every delivered copy in place
    site_url: str | None = None  # where the blog is published: relative links resolve here
    permalink: str = ":year/:month/:day/:title/"  # a notice's page under site_url (Hexo's)
    announce_dir: Path = Path("state/announcements")  # where /announce writes its files
    feeds: tuple[str, ...] = ()  # RSS, Atom or JSON Feed addresses, or files
    feed_interval: float = 300.0  # seconds between fetches of one feed
    feed_deadline: float = 30.0  # one fetch, from asking to the last byte (a drip included)
    feed_max_entries: int = 200  # the newest entries of a feed read; the rest left out
    # feeds the admins add may be on this machine or its network (configured ones may)
    feeds_allow_private: bool = False
    feed_alert_after: float | None = 86400.0  # a feed failing this long is told to the admins
    org_name: str | None = None  # who announcements are from, shown to every resident
    contact: str | None = None  # how residents reach the committee, for questions
    ack_urgent: bool = True  # an urgent notice asks residents to confirm they have read it
    ack_remind: float | None = None  # seconds after which who has not confirmed is reminded
    ack_keep_days: float = 90.0  # who confirmed a notice is forgotten this long after it
    # The names noticebot.toml set, as read: its unknown ones are warned about without
    # parsing the file again.
    in_file: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def folders(self) -> tuple[Path, ...]:
        """Every folder scanned: the announcements' first (inside a posts folder, as
        when the website publishes them too, its files are announcements), then the
        articles'."""
        return tuple(dict.fromkeys((self.announce_dir, *self.articles)))


def load_config(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Config:
    """Read the configuration; ``env`` and ``cwd`` are parameters so tests need no patching."""
    env = os.environ if env is None else env
    in_file = _read_file((cwd or Path.cwd()) / CONFIG_FILE)
    values = {**in_file, **_nonempty(env)}

    def get(name: str) -> str:
        """A setting's value, else its default; a name not in DEFAULTS is a KeyError, so
        a setting read here and missing there fails every test that loads a config."""
        return values.get(name, DEFAULTS[name])

    articles = _paths(get("NOTICEBOT_ARTICLES"))
    db = ledger_place("NOTICEBOT_DB", get("NOTICEBOT_DB"))
    return Config(
        token=get("TELEGRAM_BOT_TOKEN") or None,
        api_url=_http_url("TELEGRAM_API_URL", get("TELEGRAM_API_URL")),
        articles=articles,
        db=db,
        admins=_admins(get("NOTICEBOT_ADMINS")),
        scan_interval=_positive("NOTICEBOT_SCAN_INTERVAL", get("NOTICEBOT_SCAN_INTERVAL"), YEAR),
        watch=_switch("NOTICEBOT_WATCH", get("NOTICEBOT_WATCH")),
        tz=_zone(get("NOTICEBOT_TZ")),
        lang=_lang(get("NOTICEBOT_LANG")),
        max_age_days=_positive("NOTICEBOT_MAX_AGE_DAYS", get("NOTICEBOT_MAX_AGE_DAYS"), 100 * 365),
        unwrap_proxies=_proxies(get("NOTICEBOT_UNWRAP_PROXIES")),
        max_file_bytes=_whole("NOTICEBOT_MAX_FILE_BYTES", get("NOTICEBOT_MAX_FILE_BYTES"), 2**40),
        max_in_flight=_whole("NOTICEBOT_MAX_IN_FLIGHT", get("NOTICEBOT_MAX_IN_FLIGHT"), 10_000),
        log_level=_log_level(get("NOTICEBOT_LOG_LEVEL")),
        metrics_listen=_listen("NOTICEBOT_METRICS_LISTEN", get("NOTICEBOT_METRICS_LISTEN")),
        webhook_url=_webhook_url(get("NOTICEBOT_WEBHOOK_URL")),
        webhook_listen=_listen("NOTICEBOT_WEBHOOK_LISTEN", get("NOTICEBOT_WEBHOOK_LISTEN")),
        log_format=_choice("NOTICEBOT_LOG_FORMAT", get("NOTICEBOT_LOG_FORMAT"), ("text", "json")),
        edits=_switch("NOTICEBOT_EDITS", get("NOTICEBOT_EDITS")),
        site_url=_optional_url("NOTICEBOT_SITE_URL", get("NOTICEBOT_SITE_URL")),
        permalink=_permalink(get("NOTICEBOT_PERMALINK")),
        announce_dir=_announce_dir(
            get("NOTICEBOT_ANNOUNCE_DIR"),
            articles,
        ),
        feeds=_feeds(get("NOTICEBOT_FEEDS")),
        feed_interval=_positive("NOTICEBOT_FEED_INTERVAL", get("NOTICEBOT_FEED_INTERVAL"), YEAR),
        feed_deadline=_positive("NOTICEBOT_FEED_DEADLINE", get("NOTICEBOT_FEED_DEADLINE"), 86400),
        feed_max_entries=_whole(
            "NOTICEBOT_FEED_MAX_ENTRIES", get("NOTICEBOT_FEED_MAX_ENTRIES"), 10**6
        ),
        org_name=_line("NOTICEBOT_ORG_NAME", get("NOTICEBOT_ORG_NAME")),
        contact=_line("NOTICEBOT_CONTACT", get("NOTICEBOT_CONTACT")),
        feeds_allow_private=_switch(
            "NOTICEBOT_FEEDS_ALLOW_PRIVATE", get("NOTICEBOT_FEEDS_ALLOW_PRIVATE")
        ),
        feed_alert_after=_duration("NOTICEBOT_FEED_ALERT_AFTER", get("NOTICEBOT_FEED_ALERT_AFTER")),
        ack_urgent=_switch("NOTICEBOT_ACK_URGENT", get("NOTICEBOT_ACK_URGENT")),
        ack_remind=_duration("NOTICEBOT_ACK_REMIND", get("NOTICEBOT_ACK_REMIND")),
        ack_keep_days=_positive(
            "NOTICEBOT_ACK_KEEP_DAYS", get("NOTICEBOT_ACK_KEEP_DAYS"), 100 * 365
        ),
        in_file=tuple(in_file),
    )


def unknown_settings(config: Config, env: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each name in ``noticebot.toml`` (as ``config`` recorded it) or
    ``NOTICEBOT_*`` name in the environment that no setting has (``NOTICEBOT_ADMIN``
    for ``NOTICEBOT_ADMINS``): ignored, so said, with the closest known name. A
    ``TELEGRAM_*`` name in the environment is said only when it looks like ours
    (``TELEGRAM_BOT_TOKN``): other tools use that prefix too."""
    env = os.environ if env is None else env
    named = {**{f"{name} in {CONFIG_FILE}": name for name in config.in_file}, **{n: n for n in env}}
    warnings = []
    for shown, name in named.items():
        if name in SETTINGS or name in HARNESS:
            continue
        from_file = shown != name
        close = _closest(name)
        if from_file or name.startswith("NOTICEBOT_") or (name.startswith("TELEGRAM_") and close):
            hint = f" (did you mean {close}?)" if close else ""
            warnings.append(f"unknown setting {shown} ignored{hint}")
    return warnings


def _closest(name: str) -> str | None:
    """The setting ``name`` was likely meant to be; names are compared after their
    prefix (which would make every name close), and ``TELEGRAM_*`` names, which other
    tools use too, only when very close."""
    import difflib  # only for a mistyped name

    prefix = next((p for p in ("NOTICEBOT_", "TELEGRAM_") if name.startswith(p)), "")
    known = {s.removeprefix(prefix): s for s in SETTINGS if s.startswith(prefix)}
    cutoff = 0.8 if prefix == "TELEGRAM_" else 0.6
    close = difflib.get_close_matches(name.removeprefix(prefix), known, n=1, cutoff=cutoff)
    return known[close[0]] if close else None


def _webhook_url(value: str | None) -> str | None:
    if not value:
        return None
    url = value.strip()
    if not url.startswith("https://") or " " in url:
        raise ConfigError(
            "NOTICEBOT_WEBHOOK_URL must be the public https:// address Telegram posts to,"
            f" got {value!r}"
        )
    return url


def _listen(name: str, value: str | None) -> tuple[str, int] | None:
    """``host:port`` (``127.0.0.1:9464``; ``:9464`` for every address)."""
    if not value:
        return None
    host, _, port = value.strip().rpartition(":")
    if not port.isdecimal() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name} must be host:port, such as 127.0.0.1:9464, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    word = value.strip().lower()
    if word not in allowed:
        raise ConfigError(f"{name} must be {' or '.join(allowed)}, got {value!r}")
    return word


def _switch(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word in ("on", "true", "yes", "1"):
        return True
    if word in ("off", "false", "no", "0"):
        return False
    raise ConfigError(f"{name} must be on or off, got {value!r}")


def _nonempty(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if v.strip()}


def _read_file(path: Path) -> dict[str, str]:
    """``noticebot.toml`` uses the variable names as keys (any case), each at the top
    level: a string, a number, a boolean, or a list of strings or numbers."""
    if not path.is_file():
        if path.exists() or path.is_symlink():  # a folder, a dangling link
            raise ConfigError(f"{path}: not a readable file (a folder, or a broken link)")
        return {}
    import tomllib  # most bots are configured by their environment alone

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    out: dict[str, str] = {}
    for key, value in data.items():
        name = key.upper()
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str | int | float) for item in items):
            what = "a [table]" if isinstance(value, dict) else "a value that is no text or number"
            raise ConfigError(f'{path}: {key} is {what}; write {name} = "…" at the top')
        if isinstance(value, list):
            commas = ("NOTICEBOT_ADMINS", "NOTICEBOT_UNWRAP_PROXIES", "NOTICEBOT_FEEDS")
            value = ("," if name in commas else os.pathsep).join(str(v) for v in value)
        out[name] = str(value)
    return out


def _line(name: str, value: str, limit: int = 200) -> str | None:
    """One line shown to residents as written: a name, a phone number, an address."""
    value = value.strip()
    if not value:
        return None
    if len(value) > limit or any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise ConfigError(f"{name} must be one line of at most {limit} characters")
    return value


def _optional_url(name: str, value: str | None) -> str | None:
    return _http_url(name, value) if value else None


def _http_url(name: str, value: str) -> str:
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")) or " " in value:
        raise ConfigError(f"{name} must start with http:// or https://, got {value!r}")
    return value


def _permalink(value: str) -> str:
    pattern = value.strip().lstrip("/")
    if ":title" not in pattern and ":name" not in pattern and ":id" not in pattern:
        raise ConfigError(
            "NOTICEBOT_PERMALINK must contain :title, :name or :id (Hexo's default is"
            f" :year/:month/:day/:title/), got {value!r}"
        )
    return pattern


def _announce_dir(value: str, articles: tuple[Path, ...]) -> Path:
    folder = _path("NOTICEBOT_ANNOUNCE_DIR", value)
    if folder in articles:
        raise ConfigError(
            "NOTICEBOT_ANNOUNCE_DIR must not be one of NOTICEBOT_ARTICLES (a folder inside"
            f" one is fine): {value!r}"
        )
    return folder


def _feeds(value: str) -> tuple[str, ...]:
    """Addresses or files, separated by spaces, new lines, or commas before the next
    address (a comma inside an address, ``?tags=a,b``, stays)."""
    parts = re.split(r"\s+|,(?=\s*(?:https?://|/|\.{1,2}/|~))", value)
    feeds = tuple(dict.fromkeys(v.strip(",") for v in parts if v and v.strip(",")))
    for feed in feeds:
        if "://" in feed and not feed.startswith(("http://", "https://")):
            raise ConfigError(f"NOTICEBOT_FEEDS: {feed!r} is neither http(s) nor a file")
    return feeds


def _paths(value: str) -> tuple[Path, ...]:
    paths = tuple(_path("NOTICEBOT_ARTICLES", p) for p in value.split(os.pathsep) if p.strip())
    if not paths:
        raise ConfigError("NOTICEBOT_ARTICLES names no folder")
    return paths


def _path(name: str, value: str) -> Path:
    """A path the system can open: no NUL (a TOML string may hold one) and not blank."""
    if "\0" in value or not value.strip():
        raise ConfigError(f"{name} must be a path, got {value!r}")
    return Path(value)


_LIBPQ_PAIRS = re.compile(
    r"\s*(host|hostaddr|dbname|user|password|port|sslmode|service)\s*=", re.IGNORECASE
)


def ledger_place(name: str, value: str) -> Path | str:
    """A SQLite file's path, or a PostgreSQL URL (kept as text: it is no path)."""
    if value.startswith(("postgresql://", "postgres://")):
        if "\0" in value or any(c.isspace() for c in value):
            raise ConfigError(f"{name}: a PostgreSQL URL holds no spaces or NUL")
        try:
            urllib.parse.urlsplit(value).port  # noqa: B018 - a bad port or bracket raises
        except ValueError as error:
            raise ConfigError(f"{name}: not a PostgreSQL URL ({error})") from None
        return value
    if _LIBPQ_PAIRS.match(value):
        raise ConfigError(
            f"{name} looks like a libpq connection string (key=value …): give it as a URL,"
            " postgresql://user:password@host:port/dbname"
        )
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value):
        raise ConfigError(
            f"{name} must be a file or a postgresql:// URL, got {value.split('://')[0]}://…"
        )
    return _path(name, value)


def _admins(value: str) -> frozenset[int]:
    ids = set()
    for item in value.replace(" ", "").split(","):
        if not item:
            continue
        try:
            user = int(item)
            if not -(2**63) < user < 2**63:
                raise ValueError(item)
            ids.add(user)
        except ValueError:
            raise ConfigError(
                "NOTICEBOT_ADMINS must be comma-separated Telegram user ids; "
                f"{item!r} is not an integer"
            ) from None
    return frozenset(ids)


def _positive(name: str, value: str, most: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or not 0 < number <= most:
        raise ConfigError(f"{name} must be greater than 0 and at most {most:,.0f}, got {value!r}")
    return number


def _duration(name: str, value: str) -> float | None:
    """Off when empty or "off"; else a duration such as ``6h`` or ``90m``."""
    if value.strip().lower() in ("", "off"):
        return None
    seconds = parse_duration(value)
    if seconds is None:
        raise ConfigError(f"{name} must be a duration such as 6h, 90m or 1d, or off; got {value!r}")
    return seconds


def _whole(name: str, value: str, most: int) -> int:
    number = _positive(name, value, most)
    if number != int(number):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return int(number)


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(
            f"NOTICEBOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {value!r}"
        )
    return level


def _zone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
        raise ConfigError(
            f"NOTICEBOT_TZ: unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)"
        ) from None


def _lang(value: str) -> str:
    lang = value.strip().lower()
    if lang not in LANGUAGES:
        raise ConfigError(f"NOTICEBOT_LANG must be one of {', '.join(LANGUAGES)}, got {value!r}")
    return lang


def _proxies(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())
