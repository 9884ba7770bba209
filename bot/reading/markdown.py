"""An article's body as HTML. A body that already is HTML (it opens with a block tag,
as every generated post does) is taken as it is, because CommonMark turns indented
HTML after a blank line into a code block; anything else is Markdown, rendered with
markdown-it-py after its template syntax is made plain. A table that opens with its
delimiter row, without a header (MultiMarkdown allows it, GFM does not), is given an
empty header so that it is read as a table, not as a paragraph of pipes.

Emphasis follows the CJK-friendly amendment to CommonMark (tats-u/markdown-cjk-friendly,
specification.md): ``**注意：**恢复供水`` is bold, as editors write it, where CommonMark
leaves the asterisks because full-width punctuation inside a run is followed by a letter
outside it. Without a Chinese, Japanese or Korean character beside a run nothing changes."""

from __future__ import annotations

import re
import unicodedata
from functools import cache, partial
from typing import TYPE_CHECKING
from urllib.parse import urljoin

if TYPE_CHECKING:
    from collections.abc import Callable

    from markdown_it import MarkdownIt
    from markdown_it.rules_inline.state_inline import Scanned, StateInline

    InlineRule = Callable[[StateInline, bool], bool]

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
    from markdown_it.rules_inline import emphasis, strikethrough

    md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    md.inline.ruler.at("emphasis", _cjk_friendly(emphasis.tokenize))
    md.inline.ruler.at("strikethrough", _cjk_friendly(strikethrough.tokenize))
    return md


def _cjk_friendly(tokenize: InlineRule) -> InlineRule:
    """markdown-it's rule, its delimiter runs scanned by :func:`_scan_delims` (on this
    parser's states only: other markdown-it users in the process keep CommonMark)."""

    def rule(state: StateInline, silent: bool) -> bool:
        state.scanDelims = partial(_scan_delims, state)  # type: ignore[method-assign]
        return tokenize(state, silent)

    return rule


def _scan_delims(state: StateInline, start: int, can_split_word: bool) -> Scanned:
    """Whether a run of ``*``, ``_`` or ``~`` can open or close, by the amendment's
    flanking rules: punctuation that is itself CJK (：。（）) no longer stops a run, and a
    CJK character beside a run lets it open or close as punctuation or a space would."""
    src, end, marker = state.src, start, state.src[start]
    while end < state.posMax and src[end] == marker:
        end += 1
    before = src[start - 1] if start > 0 else " "
    if "\ufe00" <= before <= "\ufe0e" and start > 1:  # a variation selector: what it varies
        before = src[start - 2]
    after = src[end] if end < state.posMax else " "
    cjk_before, cjk_after = _is_cjk(before), _is_cjk(after)
    if not (cjk_before or cjk_after):
        return type(state).scanDelims(state, start, can_split_word)  # CommonMark's
    from markdown_it.rules_inline.state_inline import Scanned

    utils = state.md.utils
    space_before, space_after = utils.isWhiteSpace(ord(before)), utils.isWhiteSpace(ord(after))
    punct_before = utils.isMdAsciiPunct(ord(before)) or utils.isPunctChar(before)
    punct_after = utils.isMdAsciiPunct(ord(after)) or utils.isPunctChar(after)
    left = not space_after and (
        not punct_after or cjk_after or space_before or punct_before or cjk_before
    )
    right = not space_before and (
        not punct_before or cjk_before or space_after or punct_after or cjk_after
    )
    if not can_split_word:  # _ inside a word stays a character, as in 附件_通知_说明
        left, right = left and (not right or punct_before), right and (not left or punct_after)
    return Scanned(left, right, end - start)


def _is_cjk(char: str) -> bool:
    """The amendment's CJK character: East Asian Width wide, full or half, emoji aside
    (symbols outside the CJK blocks), or Hangul; and an ideographic variation selector,
    which follows only ideographs."""
    if "\U000e0100" <= char <= "\U000e01ef":
        return True
    if "\u1100" <= char <= "\u11ff" or "\ua960" <= char <= "\ua97f" or "\ud7b0" <= char <= "\ud7ff":
        return True  # Hangul jamo, some of them narrow
    if unicodedata.east_asian_width(char) not in ("W", "F", "H"):
        return False
    return not (unicodedata.category(char)[0] == "S" and (char < "\u2e80" or char >= "\U0001f000"))


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
