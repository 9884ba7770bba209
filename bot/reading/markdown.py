"""An article's body as HTML. A body that already is HTML (it opens with a block tag,
as every generated post does) is taken as it is, because CommonMark turns indented
HTML after a blank line into a code block; anything else is Markdown, rendered with
markdown-it-py after its template syntax is made plain. A table that opens with its
delimiter row, without a header (MultiMarkdown allows it, GFM does not), is given an
empty header so that it is read as a table, not as a paragraph of pipes."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urljoin

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

from bot.reading.templates import fence_spans, plain_markdown

_HTML_START = re.compile(
    r"\s*<(?:div|p|section|article|table|ul|ol|h[1-6]|blockquote|figure|pre|center|span|img|br)\b",
    re.IGNORECASE,
)
_HAS_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_RELATIVE_ATTR = re.compile(
    r"""(\s(?:src|href)\s*=\s*)(["'])(?![A-Za-z][A-Za-z0-9+.-]*:|//|#)([^"']+)\2""",
    re.IGNORECASE,
)


@cache
def _markdown() -> MarkdownIt:
    """The renderer, made on first use: generated posts are HTML, and a preview or a
    scan of them need not load markdown-it at all."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


# A delimiter row (``|--|--|``, ``:--- | ---:``) that starts a block (after a blank
# line or a heading) and has a row below it.
_HEADLESS_TABLE = re.compile(
    r"(?:\A|(?:\A|(?<=\n))(?:[ \t]*| {0,3}#{1,6}[ \t][^\n]*)\n)"
    r"( {0,3}(?=[^\n]*\|)\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*)"
    r"\n(?=[ \t]*[^\s][^\n]*\|)"
)


def to_html(body: str, site_url: str | None = None) -> str:
    """HTML bodies pass unchanged; anything else is CommonMark with raw HTML allowed,
    after its template syntax is made plain. Relative addresses resolve against
    ``site_url`` (without it they are left out: they lead nowhere from a chat)."""
    if _HTML_START.match(body):
        html = body
    else:
        html = _markdown().render(_headed_tables(plain_markdown(body, site_url)))
    return _absolute_urls(html, site_url)


def _headed_tables(markdown: str) -> str:
    """Each table without a header row gets an empty one (fenced code is left alone)."""
    if "|" not in markdown:
        return markdown
    found = list(_HEADLESS_TABLE.finditer(markdown))
    if not found:
        return markdown
    fences = fence_spans(markdown)
    parts: list[str] = []
    done = 0
    for match in found:
        start = match.start(1)
        if any(begin <= start < end for begin, end in fences):
            continue
        columns = len(match.group(1).strip().strip("|").split("|"))
        parts += [markdown[done:start], "|" + " |" * columns + "\n"]
        done = start
    return "".join(parts) + markdown[done:]


def _absolute_urls(html: str, site_url: str | None) -> str:
    if not site_url:
        return html
    return _RELATIVE_ATTR.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{absolute_url(m.group(3), site_url)}{m.group(2)}",
        html,
    )


def is_relative(url: str) -> bool:
    """An address on the site itself: no scheme, not protocol-relative."""
    return not _HAS_SCHEME.match(url) and not url.startswith("//")


def absolute_url(url: str, site_url: str | None) -> str:
    """``/images/a.png`` on the site; absolute addresses stay as they are."""
    if not site_url or not is_relative(url) or url.startswith("#"):
        return url
    return urljoin(site_url + "/", url)
