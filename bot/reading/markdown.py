"""An article's body as HTML. A body that already is HTML (it opens with a block tag,
as every generated post does) is taken as it is, because CommonMark turns indented
HTML after a blank line into a code block; anything else is Markdown, rendered with
markdown-it-py after its template syntax is made plain."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from markdown_it import MarkdownIt

from bot.reading.templates import plain_markdown

_HTML_START = re.compile(
    r"\s*<(?:div|p|section|article|table|ul|ol|h[1-6]|blockquote|figure|pre|center|span|img|br)\b",
    re.IGNORECASE,
)
_HAS_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_RELATIVE_ATTR = re.compile(
    r"""(\s(?:src|href)\s*=\s*)(["'])(?![A-Za-z][A-Za-z0-9+.-]*:|//|#)([^"']+)\2""",
    re.IGNORECASE,
)
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def to_html(body: str, site_url: str | None = None) -> str:
    """HTML bodies pass unchanged; anything else is CommonMark with raw HTML allowed,
    after its template syntax is made plain. Relative addresses resolve against
    ``site_url`` (without it they are left out: they lead nowhere from a chat)."""
    html = body if _HTML_START.match(body) else _MARKDOWN.render(plain_markdown(body, site_url))
    return _absolute_urls(html, site_url)


def _absolute_urls(html: str, site_url: str | None) -> str:
    if not site_url:
        return html
    return _RELATIVE_ATTR.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{absolute_url(m.group(3), site_url)}{m.group(2)}",
        html,
    )


def absolute_url(url: str, site_url: str | None) -> str:
    """``/images/a.png`` on the site; absolute addresses stay as they are."""
    if not site_url or _HAS_SCHEME.match(url) or url.startswith(("//", "#")):
        return url
    return urljoin(site_url + "/", url)
