"""Article files → :class:`Article` values, and folders → articles plus errors.

An article is a Hexo-style post: YAML front matter (python-frontmatter) and an
HTML or Markdown body (:mod:`.markdown`); its id comes from :mod:`.identity` and
the files of a folder from :mod:`.walk`.

Loading a folder never stops at a bad file: it returns the good articles and an
:class:`ArticleError` for each bad one, naming the file and the reason.

Files are hostile input: a file is read only if it is itself inside its folder (no
symbolic link is followed out of it, nor to it), a front-matter value is checked to
be one value before anything turns it into text, and control characters never
reach a terminal or a chat.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

import frontmatter
import yaml

from bot.config import Config
from bot.durations import parse_duration
from bot.reading.htmltext import FoundImage, html_to_rich, read_html, safe_url, walk_html
from bot.reading.identity import ID_KEYS, article_id, short_hash
from bot.reading.markdown import absolute_url, is_relative, to_html
from bot.reading.richtext import RichText
from bot.reading.walk import HTML_SUFFIXES, article_files

IMAGE_KEYS = ("headimg", "cover", "thumbnail", "image", "banner", "top_img")
LINK_KEYS = ("link", "url", "permalink")
MAX_NAME_NODES = 10_000
MIN_SIDE = 100
MAX_RATIO = 20
_TOML_FRONT = re.compile(r"\ufeff?\s*\+\+\+[ \t]*\r?\n(.*?)\r?\n\+\+\+[ \t]*(?:\r?\n|$)", re.S)
# A Hexo post may begin with its front matter's keys and have only the closing line:
# a first line "title:" or "date:" (or any key), YAML lines, then "---".
_OPENING_MISSING = re.compile(
    r"\ufeff?\n*(?:title|date|layout|tags|categories)\s*:[^\n]*\n"
    r"(?:(?!---[ \t]*\n)[^\n]*\n){0,60}?---[ \t]*(?:\r?\n|$)",
    re.IGNORECASE,
)
_MORE = re.compile(r"<!--\s*more\s*-->", re.IGNORECASE)
EXCERPT_KEYS = ("excerpt", "description", "summary")
# Keys read as one value: a list or mapping there is ignored, and never made text.
SCALAR_KEYS = (
    "title",
    "date",
    "updated",
    "expires",
    "priority",
    "urgent",
    "ack",
    "confirm",
    "ack_by",
    "draft",
    "published",
    "withdrawn",
    *LINK_KEYS,
    *(key for key in ID_KEYS if key not in LINK_KEYS),
    *EXCERPT_KEYS,
)
_SCALARS = (str, int, float, date, time)  # bool is an int, datetime a date
# C0 and C1 control characters but tab and newline (line ends are made "\n" first):
# escape sequences set a terminal's title, write its clipboard, hide or clear text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"\s*(?:[\x00-\x1f\x7f-\x9f\u2028\u2029]\s*)+")
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_OTHER_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_C1_LEAD = b"\xc2"  # U+0080–U+009F in UTF-8 (and U+00A0–U+00BF: the slow check tells)
_CHARACTER_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));?")
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not hold the scan until someone writes
)
_LINK_ERRNOS = (errno.ELOOP, errno.EMLINK)  # O_NOFOLLOW on a link: Linux, macOS; BSD


class ArticleError(Exception):
    """A file that cannot become an article; ``str()`` names the file and the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        reason = one_line(reason)
        super().__init__(f"{one_line(str(path))}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[ArticleError], tuple[Path, str]]:
        return ArticleError, (self.path, self.reason)  # from a scan's worker process


@dataclass(frozen=True)
class Image:
    """One picture; ``fallback`` is the form to try when ``url`` cannot be fetched."""

    url: str
    fallback: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def is_gif(self) -> bool:
        path = self.url.split("?", 1)[0].lower()
        return path.endswith(".gif") or "wx_fmt=gif" in self.url.lower()

    @property
    def usable(self) -> bool:
        """Telegram refuses photos that are tiny or more than 20 times longer than wide."""
        if self.width is None or self.height is None:
            return True
        small, large = sorted((self.width, self.height))
        return small >= MIN_SIDE and large <= MAX_RATIO * small


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    date: datetime
    updated: datetime | None
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    author: str | None
    link: str | None
    draft: bool
    images: tuple[Image, ...]
    body_html: str
    path: Path
    content_hash: str
    warnings: tuple[str, ...] = field(default=())
    urgent: bool = False  # front matter urgent: true, or priority: urgent
    expires: datetime | None = None  # front matter expires: no longer pushed after it
    excerpt: str | None = None  # what the author wants on the card, as plain text
    ack: str = ""  # front matter ack: "yes" (residents confirm they read it), "renew" (ask again)
    ack_by: datetime | None = None  # who has not confirmed by then is reminded

    @cached_property
    def body(self) -> RichText:
        """The body as chat text with entities (computed once per article)."""
        return html_to_rich(self.body_html)

    @property
    def usable_images(self) -> list[Image]:
        return [image for image in self.images if image.usable]


@dataclass
class LoadResult:
    articles: list[Article]
    errors: list[ArticleError]


def load_folders(roots: Iterable[Path], config: Config) -> LoadResult:
    """Every article below ``roots``; bad files become errors, never exceptions."""
    result = LoadResult([], [])
    seen: dict[str, Path] = {}
    for root in roots:
        for path in article_files(root):
            try:
                article = load_article(path, root, config)
            except ArticleError as error:
                result.errors.append(error)
                continue
            except Exception as exc:  # a bug on one file must not stop the rest
                result.errors.append(ArticleError(path, f"unexpected error: {exc!r}"))
                continue
            if article.id in seen and seen[article.id] != path:
                article = replace(article, id=short_hash(str(path.resolve())))
            seen[article.id] = path
            result.articles.append(article)
    return result


def load_article(path: Path, root: Path, config: Config) -> Article:
    """Read and parse one file; raises :class:`ArticleError` with the reason."""
    raw, mtime = read_inside(path, root, config.max_file_bytes)
    return parse_article(raw, path, root, config, mtime=mtime)


def content_hash(raw: bytes) -> str:
    """What tells one version of a file from another."""
    return hashlib.sha256(raw).hexdigest()[:16]


def read_inside(path: Path, root: Path, limit: int) -> tuple[bytes, float]:
    """The bytes and mtime of a regular file inside ``root``, read from one open file.

    A symbolic link is not followed (a committed link to the bot's own config would
    send its token to every subscriber), nor is a file whose real place is outside
    ``root``; what is checked is the file opened, so nothing can swap it in between.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno in _LINK_ERRNOS and os.path.islink(path):
            raise ArticleError(path, "a symbolic link: not read") from None
        raise ArticleError(path, f"cannot read file: {exc.strerror or exc}") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise ArticleError(path, "not a regular file: not read")
        if not _inside(_opened_path(fd, path), path, root):
            raise ArticleError(path, "lies outside its folder (through a symbolic link): not read")
        if status.st_size > limit:
            raise ArticleError(
                path, f"file is {status.st_size:,} bytes, over the {limit:,}-byte limit"
            )
        return _read_to_end(fd, status.st_size, limit + 1), status.st_mtime
    except OSError as exc:
        raise ArticleError(path, f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _opened_path(fd: int, path: Path) -> str:
    """Where the open file really is (Linux says so for the descriptor itself)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(path)


def _inside(real: str, path: Path, root: Path) -> bool:
    """Whether the file really at ``real`` is in ``root``; when no link was on the way
    (the usual case) the paths as written say so, and ``root`` need not be resolved."""
    base = os.path.abspath(root) if real == os.path.abspath(path) else os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def _read_to_end(fd: int, size: int, most: int) -> bytes:
    """Up to ``most`` bytes: a file that grew since its stat is still bounded."""
    parts: list[bytes] = []
    left = most
    while left > 0:
        part = os.read(fd, min(left, max(size + 1, 1 << 16)))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def parse_article(
    raw: bytes, path: Path, root: Path, config: Config, *, mtime: float | None = None
) -> Article:
    """Bytes of an article file → :class:`Article`, without touching the disk."""
    if len(raw) > config.max_file_bytes:
        raise ArticleError(
            path, f"file is {len(raw):,} bytes, over the {config.max_file_bytes:,}-byte limit"
        )
    text = decode(raw, path)
    if not text.strip():
        raise ArticleError(path, "empty file")
    meta, body = _split_front_matter(text, path)
    warnings: list[str] = []
    meta = _one_values(meta, warnings)
    if path.name.lower().endswith(HTML_SUFFIXES):  # an HTML post is HTML, never Markdown
        body = f"<div>{body}</div>"
    body_html = _without_control_references(to_html(body, config.site_url))
    rich, found, relative_in_body = read_html(body_html)  # one parse: text and pictures
    images = _images(meta, found, config.unwrap_proxies, config.site_url)
    if not config.site_url and (relative := _relative_pictures(meta, relative_in_body)):
        warnings.append(
            f"{len(relative)} picture(s) with a relative address left out"
            f" ({one_line(relative[0])[:100]}): set NOTICEBOT_SITE_URL to where the blog is"
            " published to send them"
        )
    expires = _expiry(meta.get("expires"), config.tz, warnings)
    date = _date(meta.get("date"), config.tz, mtime, warnings, "date")
    ack, ack_by = _ack(meta, date, config.tz, warnings)
    article = Article(
        id=article_id(meta, path, root, config.articles[0] if config.articles else None),
        title=_title(meta, body_html, rich.text, path),
        date=date,
        updated=_optional_date(meta.get("updated"), config.tz, warnings),
        categories=_names(meta.get("categories")),
        tags=_names(meta.get("tags")),
        author=_author(meta.get("author")),
        link=None,  # below: the pattern may use the date and the id
        draft=meta.get("draft") is True
        or meta.get("published") is False
        or meta.get("withdrawn") is True,
        images=images,
        body_html=body_html,
        path=path,
        content_hash=content_hash(raw),
        warnings=tuple(warnings),
        urgent=meta.get("urgent") is True or str(meta.get("priority", "")).lower() == "urgent",
        expires=expires,
        excerpt=_excerpt(meta, body_html, config.site_url),
        ack=ack,
        ack_by=ack_by,
    )
    article = replace(article, link=_web_page(meta, path, root, article, config))
    article.__dict__["body"] = rich  # the cached property, already computed
    if not rich.text.strip() and not images:
        raise ArticleError(path, "no text and no image")
    return article


def decode(raw: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030 — in that order;
    line ends as ``\\n`` and no other control character but tab."""
    utf8 = False
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise ArticleError(path, "invalid UTF-16 text") from None
    elif b"\x00" in raw:
        raise ArticleError(path, "binary file (contains NUL bytes), not a text article")
    else:
        text, utf8 = _decode_8bit(raw, path)
    if "\x00" in text:
        raise ArticleError(path, "binary file (contains NUL characters), not a text article")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if utf8 and _C1_LEAD not in raw and not raw.translate(None, _OTHER_BYTES):
        return text  # no control character: the bytes say so faster than the text
    return _CONTROLS.sub("", text)


def one_line(text: str) -> str:
    """Text for a log or a terminal: one line, without control characters."""
    return _LINE_BREAKS.sub(" ", text).strip()


def _without_control_references(html: str) -> str:
    """HTML whose character references make no control character either (``&#27;``
    is ESC once parsed); C1 references are the Windows-1252 characters HTML says."""
    if "&#" not in html:
        return html
    return _CHARACTER_REFERENCE.sub(_control_reference, html)


def _control_reference(match: re.Match[str]) -> str:
    hexadecimal, decimal = match.groups()
    code = int(hexadecimal, 16) if hexadecimal else int(decimal)
    if code in (9, 10) or 0x20 <= code < 0x7F or code > 0x9F:
        return match.group(0)
    if code in (12, 13):
        return " "
    if code >= 0x80:
        try:
            return bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            return ""
    return ""


def _one_values(meta: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The front matter with each key read as one value checked to be one, before
    anything makes it text: YAML aliases make a 400-byte list of 10^9 items, which
    ``str()`` or ``repr()`` never finishes. Text loses its control characters."""
    checked = dict(meta)
    for key in SCALAR_KEYS:
        value = checked.get(key)
        if isinstance(value, str):
            checked[key] = _CONTROLS.sub("", value)
        elif value is not None and not isinstance(value, _SCALARS):
            warnings.append(f"{key} is {_kind(value)}, not one value; ignored")
            del checked[key]
    author = checked.get("author")
    name = author.get("name") if isinstance(author, dict) else author
    if name is not None and not isinstance(name, _SCALARS):
        warnings.append(f"author is {_kind(name)}, not a name; ignored")
        del checked["author"]
    for key in IMAGE_KEYS:
        value = checked.get(key)
        if value is not None and not isinstance(value, str | list):
            warnings.append(f"{key} is {_kind(value)}, not a picture's address; ignored")
            del checked[key]
    return checked


def _kind(value: Any) -> str:
    """What a value is, without making it text."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _decode_8bit(raw: bytes, path: Path) -> tuple[str, bool]:
    """The text, and whether it was UTF-8."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding), encoding == "utf-8-sig"
        except UnicodeDecodeError:
            continue
    raise ArticleError(path, "not text in UTF-8 or GB18030")


def _split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    """YAML between ``---`` lines; YAML with only its closing ``---`` (Hexo accepts
    that); or TOML between ``+++`` lines (Hugo)."""
    toml = _TOML_FRONT.match(text)
    if toml:
        import tomllib  # Hugo's front matter; Hexo's is YAML

        try:
            return tomllib.loads(toml.group(1)), text[toml.end() :]
        except tomllib.TOMLDecodeError as exc:
            raise ArticleError(path, f"invalid TOML front matter: {exc}") from None
    if _OPENING_MISSING.match(text):
        text = "---\n" + text.lstrip("\ufeff\n")
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        raise ArticleError(path, _yaml_reason(exc, text)) from None
    except Exception as exc:
        raise ArticleError(path, f"invalid front matter: {exc}") from None
    if not isinstance(post.metadata, dict):
        raise ArticleError(path, "front matter is not a mapping of keys to values")
    return dict(post.metadata), post.content


def _yaml_reason(exc: yaml.YAMLError, text: str) -> str:
    """The YAML problem with its line number in the file (not in the front matter)."""
    mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    if context:
        problem = f"{context}: {problem}"
    if mark is None:
        return f"invalid YAML front matter: {problem}"
    opening = next(
        (i for i, line in enumerate(text.splitlines()) if line.strip().startswith("---")), 0
    )
    return f"invalid YAML front matter at line {opening + 1 + mark.line}: {problem}"


_URL_SAFE = "/:@!$&'()*+,;=-._~%"  # what a path keeps as it is; the rest is %-encoded
_PERMALINK_PART = re.compile(
    r":(year|i_month|month|i_day|day|hour|minute|second|title|name|post_title|category|id)"
)


def _web_page(
    meta: dict[str, Any], path: Path, root: Path, article: Article, config: Config
) -> str | None:
    """The notice's page on the web: ``link``/``url``/``permalink`` front matter (a
    relative one resolves against NOTICEBOT_SITE_URL), else the site's permalink
    pattern (Hexo's ``:year/:month/:day/:title/`` unless NOTICEBOT_PERMALINK says)."""
    for key in LINK_KEYS:
        value = _str(meta.get(key))
        if value and (url := safe_url(absolute_url(value.strip(), config.site_url))):
            return url
    if not config.site_url or root not in config.articles:
        return None  # announcements and feed entries have no page on the site
    date = article.date.astimezone(config.tz)
    slug = _str(meta.get("slug")) or _relative_stem(path, root)
    values = {
        "year": f"{date.year:04d}",
        "month": f"{date.month:02d}",
        "i_month": str(date.month),
        "day": f"{date.day:02d}",
        "i_day": str(date.day),
        "hour": f"{date.hour:02d}",
        "minute": f"{date.minute:02d}",
        "second": f"{date.second:02d}",
        "title": slug,
        "name": slug.rsplit("/", 1)[-1],
        "post_title": article.title,
        "category": article.categories[0] if article.categories else "uncategorized",
        "id": article.id,
    }
    address = _PERMALINK_PART.sub(lambda m: values[m.group(1)], config.permalink)
    return safe_url(f"{config.site_url}/{quote(address, safe=_URL_SAFE)}")


def _relative_stem(path: Path, root: Path) -> str:
    try:
        relative = path.relative_to(root)
    except ValueError:
        relative = Path(path.name)
    return relative.with_suffix("").as_posix()


def _excerpt(meta: dict[str, Any], body_html: str, site_url: str | None) -> str | None:
    """Front matter ``excerpt``/``description``/``summary``, else the text before
    ``<!-- more -->`` (Hexo's and Jekyll's excerpt marker)."""
    for key in EXCERPT_KEYS:
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            html = _without_control_references(to_html(value, site_url))
            return html_to_rich(html).text.strip() or None
    marker = _MORE.search(body_html)  # an HTML comment, kept by the Markdown renderer
    if marker is None:
        return None
    return html_to_rich(body_html[: marker.start()]).text.strip() or None


def article_to_json(article: Article) -> str:
    """One version of an article as the ledger keeps it (what a delivery will send)."""
    return json.dumps(
        {
            **{f.name: getattr(article, f.name) for f in fields(article)},
            "date": article.date.isoformat(),
            "updated": article.updated.isoformat() if article.updated else None,
            "expires": article.expires.isoformat() if article.expires else None,
            "ack_by": article.ack_by.isoformat() if article.ack_by else None,
            "images": [vars(image) for image in article.images],  # flat: asdict's copy is slow
            "path": str(article.path),
        },
        ensure_ascii=False,
    )


def article_from_json(text: str) -> Article:
    data = json.loads(text)
    return Article(
        **{
            **data,
            "date": datetime.fromisoformat(data["date"]),
            "updated": datetime.fromisoformat(data["updated"]) if data["updated"] else None,
            "expires": datetime.fromisoformat(data["expires"]) if data.get("expires") else None,
            "ack_by": datetime.fromisoformat(data["ack_by"]) if data.get("ack_by") else None,
            "categories": tuple(data["categories"]),
            "tags": tuple(data["tags"]),
            "images": tuple(Image(**image) for image in data["images"]),
            "path": Path(data["path"]),
            "warnings": tuple(data["warnings"]),
        }
    )


def _title(meta: dict[str, Any], body_html: str, body_text: str, path: Path) -> str:
    title = _clean(_str(meta.get("title")))
    if title:
        return title
    heading = _FirstHeading.find(body_html)
    if heading:
        return heading
    first_line = next((line for line in body_text.splitlines() if line), "")
    return _clean(first_line)[:100] or path.stem


def _clean(text: str | None) -> str:
    return re.sub(r"\s+", " ", _CONTROLS.sub("", text) if text else "").strip()


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _names(value: Any) -> tuple[str, ...]:
    """Categories or tags: a string, a list, or Hexo's nested lists; deduplicated.

    The walk is bounded: YAML aliases can make a 500-byte list expand to 10^8 items.
    """
    items: list[str] = []
    stack = [value]
    budget = MAX_NAME_NODES
    while stack and budget:
        budget -= 1
        current = stack.pop()
        if isinstance(current, list | tuple):
            stack.extend(reversed(current))
        elif current is not None and not isinstance(current, dict):
            name = _clean(str(current))
            if name and name not in items:
                items.append(name)
    return tuple(items)


def _author(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    return _clean(_str(value)) or None


def _date(value: Any, tz: ZoneInfo, mtime: float | None, warnings: list[str], key: str) -> datetime:
    parsed = parse_date(value, tz)
    if parsed is None:
        if value is not None:
            warnings.append(f"{key} {value!r} not understood; using the file's time")
        stamp = mtime if mtime is not None else datetime.now(UTC).timestamp()
        parsed = datetime.fromtimestamp(stamp, UTC)
    return parsed


def _optional_date(value: Any, tz: ZoneInfo, warnings: list[str]) -> datetime | None:
    parsed = parse_date(value, tz)
    if parsed is None and value is not None:
        warnings.append(f"updated {value!r} not understood; ignored")
    return parsed


def _ack(
    meta: dict[str, Any], date: datetime, tz: ZoneInfo, warnings: list[str]
) -> tuple[str, datetime | None]:
    """``ack: true`` (or ``confirm: true``) asks residents to confirm; ``ack: renew`` in
    a corrected file asks again; ``ack_by`` (a time, or a duration after the notice's
    date such as ``6h``) says when who has not confirmed is reminded, and asks too."""
    asked = ""
    for key in ("ack", "confirm"):
        value = meta.get(key)
        if value is True:
            asked = asked or "yes"
        elif isinstance(value, str) and value.strip().lower() == "renew":
            asked = "renew"
        elif value not in (None, False):
            warnings.append(f"{key} {value!r} not understood (true, false or renew); ignored")
    value = meta.get("ack_by")
    if value is None:
        return asked, None
    seconds = parse_duration(value)
    by = date + timedelta(seconds=seconds) if seconds is not None else parse_date(value, tz)
    if by is None:
        warnings.append(f"ack_by {value!r} not understood (a time, or a duration such as 6h)")
        return asked, None
    return asked or "yes", by


def _expiry(value: Any, tz: ZoneInfo, warnings: list[str]) -> datetime | None:
    """When a notice stops being news; a bare date means the end of that day."""
    parsed = parse_date(value, tz)
    if parsed is None:
        if value is not None:
            warnings.append(f"expires {value!r} not understood; ignored")
        return None
    bare_date = not isinstance(value, datetime) and (
        isinstance(value, date) or len(str(value).strip()) <= 10
    )
    return parsed + timedelta(days=1) if bare_date else parsed


def parse_date(value: Any, tz: ZoneInfo) -> datetime | None:
    """RFC 2822, ISO 8601, YAML datetimes and dates; naive values are in ``tz``."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        parsed = _parse_date_text(value.strip())
        if parsed is None:
            return None
    else:
        return None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def _parse_date_text(text: str) -> datetime | None:
    from email.utils import parsedate_to_datetime  # RFC 2822 dates are rare: a lazy import

    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return None


def _images(
    meta: dict[str, Any],
    body_images: list[FoundImage],
    proxies: tuple[str, ...],
    site_url: str | None,
) -> tuple[Image, ...]:
    """Front-matter images first, then the body's; one entry per picture."""
    candidates: list[tuple[str, int | None, int | None]] = []
    for key in IMAGE_KEYS:
        value = meta.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                src = _CONTROLS.sub("", item).strip()
                candidates.append((absolute_url(src, site_url), None, None))
    made = [make_image(src, width, height, proxies) for src, width, height in candidates]
    made += [make_image(src, width, height, proxies) for src, width, height in body_images]
    sizes = {}
    for image in made[len(candidates) :]:
        if image and image.width and image.height:
            sizes.setdefault(image.url, (image.width, image.height))
    images: dict[str, Image] = {}
    for image in made:
        if image is None or image.url in images:
            continue
        if image.width is None and image.url in sizes:
            image = Image(image.url, image.fallback, *sizes[image.url])
        images[image.url] = image
    return tuple(images.values())


def _relative_pictures(meta: dict[str, Any], in_body: list[str]) -> list[str]:
    """Pictures whose address is relative to the website: without its address they
    lead nowhere from a chat, and are left out. (A lazy-loading theme's absolute
    ``data-src`` beside a relative ``src`` is sent.)"""
    sources = [item for key in IMAGE_KEYS for item in _listed(meta.get(key))]
    relative = [_CONTROLS.sub("", s).strip() for s in sources if isinstance(s, str)]
    return [s for s in relative if s and is_relative(s)] + in_body


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def make_image(
    src: str, width: int | None, height: int | None, proxies: tuple[str, ...]
) -> Image | None:
    """Unwrap a proxied URL: the inner URL first, the proxied form as fallback."""
    wrapped = safe_url(src)
    if wrapped is None:
        return None
    for prefix in proxies:
        if wrapped.startswith(prefix):
            inner = safe_url(_unquote_scheme(wrapped[len(prefix) :]))
            if inner:
                return Image(inner, wrapped, width, height)
    return Image(wrapped, None, width, height)


def _unquote_scheme(url: str) -> str:
    return unquote(url) if re.match(r"https?%3A", url, re.IGNORECASE) else url


class _FirstHeading:
    """The text of the first h1–h3, for articles without a title (an lxml parser target)."""

    def __init__(self) -> None:
        self.depth = 0
        self.parts: list[str] = []
        self.done = False

    @classmethod
    def find(cls, html: str) -> str:
        finder = cls()
        walk_html(html, finder)
        return _clean("".join(finder.parts))[:200]

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag in ("h1", "h2", "h3") and not self.done:
            self.depth += 1

    def end(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3") and self.depth:
            self.depth -= 1
            self.done = self.depth == 0 and bool(_clean("".join(self.parts)))

    def data(self, data: str) -> None:
        if self.depth and not self.done:
            self.parts.append(data)

    def close(self) -> None:
        return None
