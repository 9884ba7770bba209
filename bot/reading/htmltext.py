"""HTML → :class:`RichText`: the article body as chat text with Telegram entities.

Why we walk the HTML ourselves instead of html2text → Markdown → entities
(telegramify-markdown 1.4.1 was the converter tried): on the 21 posts of
the corpus and seed, that route kept every word and split correctly, but
 - html2text puts a space after a closing ``**`` before Chinese text
   (``**34例** （广西``): 12 stray spaces in 2 posts, and they cannot be
   stripped, because without them the Markdown bold no longer closes;
 - html2text does not escape ``* _ [ ] ` ||`` or ``<tag>`` in plain text, so
   resident-written text could turn into formatting or vanish;
 - images came out as ``🖼`` plus file names (16 in 3 posts), ``<button>``
   text leaked into the message, ``javascript:`` links stayed links, and
   ``AT&T`` became ``AT&T;``.
Walking the tree gives entities with exact offsets and no markup to escape,
and it takes about the same time (≈30 ms for all 21 posts either way).
html2text stays a dependency of the project's chosen stack but is not on
this path.

The walk is driven by the events of lxml's HTML parser (libxml2): the
walker is its parser target, with an explicit stack (no recursion), so 5,000
nested tags or unclosed tags cost nothing special. libxml2 tokenizes in C about
three times as fast as :mod:`html.parser`, and recovers from broken markup as
browsers do (an unclosed ``<td>`` ends at the next one, a BOM is not text,
``--!>`` ends a comment).
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import lxml.etree

from bot.reading.markdown import is_relative
from bot.reading.richtext import Entity, RichText

FoundImage = tuple[str, int | None, int | None]  # an <img>'s source, width and height

_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_DROPPED = frozenset(
    [
        "script",
        "style",
        "svg",
        "button",
        "form",
        "noscript",
        "template",
        "title",
        "select",
        "textarea",
        "object",
        "canvas",
        "audio",
        "video",
        "map",
        "math",
    ]
)
_BLOCK = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "aside",
        "nav",
        "figure",
        "figcaption",
        "address",
        "center",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "caption",
        "dl",
        "dt",
        "dd",
        "fieldset",
        "details",
        "summary",
        "hr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "blockquote",
        "pre",
    ]
)
_LINE = frozenset(["li", "tr"])
_CELL = frozenset(["td", "th"])
_STYLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "cite": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "kbd": "code",
    "tt": "code",
}
_HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])
# Deeper lists are shown at this depth, so nesting cannot blow up the text.
MAX_INDENT = 4
_URL_LIKE = re.compile(
    r"^(https?://|www\.)[^\s/]+\.[^\s]+$|^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}(/\S*)?$", re.I
)
_ANY_SPACE = re.compile(r"\s")
_IMAGE_SOURCES = ("src", "data-src", "data-original")  # lazy-loading themes use data-*
Attrs = dict[str, str]  # as lxml gives them
_SPACE = re.compile(r"[ \t\n\r\f\v\u00a0\u3000\u2000-\u200a\u202f\u205f]+")


def safe_url(url: str | None) -> str | None:
    """An absolute http(s) URL, or None: other schemes never become links."""
    if not url:
        return None
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https") or len(url) > 2048 or _ANY_SPACE.search(url):
        return None
    return url


class _Buffer:
    """Text built from many small pieces without copying it all on every append."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def append(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.size += len(text)

    def last(self) -> str:
        return self.parts[-1][-1] if self.parts else ""

    def rstrip(self, chars: str) -> None:
        while self.parts:
            kept = self.parts[-1].rstrip(chars)
            self.size -= len(self.parts[-1]) - len(kept)
            if kept:
                self.parts[-1] = kept
                return
            self.parts.pop()

    def text(self) -> str:
        return "".join(self.parts)

    def truncate(self, size: int) -> None:
        """Drop everything after the first ``size`` characters."""
        while self.parts and self.size - len(self.parts[-1]) >= size:
            self.size -= len(self.parts.pop())
        if self.parts and self.size > size:
            keep = len(self.parts[-1]) - (self.size - size)
            self.parts[-1] = self.parts[-1][:keep]
            self.size = size

    def tail(self, count: int) -> str:
        """The last ``count`` characters."""
        pieces: list[str] = []
        for part in reversed(self.parts):
            if count <= 0:
                break
            pieces.append(part[-count:])
            count -= len(part)
        return "".join(reversed(pieces))


@dataclass(slots=True)
class _Open:
    tag: str
    start: int
    entity: str | None = None
    url: str | None = None
    language: str | None = None
    list_kind: str | None = None
    counter: int = 0
    dropped: bool = False


@dataclass
class _Table:
    """A table being walked. Telegram has none: each row becomes a line, its cells
    named by the header row (``• 命令: ls · 功能: 列出文件``), which is not shown itself.
    A picture in a cell is its alt text (or its address): a matrix of checkmark
    icons must still say which columns are checked."""

    headers: list[str] = field(default_factory=list)
    rows: int = 0
    in_head: bool = False
    header_row: bool = False
    in_cell: bool = False  # blocks inside a cell keep to the row's line
    row_start: int = 0
    cells: list[str] = field(default_factory=list)
    cell_start: int = 0
    separator_start: int = 0  # where this cell's separator begins (dropped if it stays empty)


@dataclass
class _Walker:
    """A target for lxml's parser: ``start``, ``end``, ``data``; ``close`` gives the text."""

    buf: _Buffer = field(default_factory=lambda: _Buffer())
    entities: list[Entity] = field(default_factory=list)
    stack: list[_Open] = field(default_factory=list)
    pending_break: str = ""
    drop_depth: int = 0
    pre_depth: int = 0
    lists: list[_Open] = field(default_factory=list)
    open_tags: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    open_entities: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    tables: list[_Table] = field(default_factory=list)
    images: list[FoundImage] = field(default_factory=list)  # every <img>, even in dropped parts
    relative: list[str] = field(default_factory=list)  # <img>s with only site-relative sources

    @property
    def in_cell(self) -> bool:
        """In a cell of the innermost table."""
        return bool(self.tables) and self.tables[-1].in_cell

    @property
    def at_cell_start(self) -> bool:
        """Nothing in the cell yet: right after its column's name, which ends as its
        language writes it (``小区：`` takes no space after it)."""
        return self.in_cell and self.buf.size == self.tables[-1].cell_start

    # --- events -----------------------------------------------------------------
    def start(self, tag: str, attrs: Attrs) -> None:
        if tag == "img":
            self._found_image(attrs)
        if tag in _VOID:
            self._void(tag, attrs)
            return
        if tag == "iframe" and not self.drop_depth:
            self._link_line(attrs.get("src"))
        if self.drop_depth or tag in _DROPPED or tag == "iframe":
            self.drop_depth += 1
            self._push(_Open(tag, self.buf.size, dropped=True))
            return
        self._open(tag, attrs)

    def end(self, tag: str) -> None:
        if not self.open_tags[tag]:
            return
        while self.stack:
            node = self._pop()
            self._close(node)
            if node.tag == tag:
                break

    def data(self, data: str) -> None:
        if self.drop_depth or not data:
            return
        if self.pre_depth:
            self._emit(data.replace("\r\n", "\n"))
            return
        text = _SPACE.sub(" ", data)
        if self.pending_break or self.buf.last() in ("", "\n", " "):  # at a line's start
            text = text.lstrip(" ")
        if text:
            self._emit(text)

    def close(self) -> RichText:
        while self.stack:
            self._close(self._pop())
        self.buf.rstrip(" \n")  # line ends are already trimmed as breaks are written
        self._clip_closed()
        return RichText(self.buf.text(), self.entities).normalized()

    def _found_image(self, attrs: Attrs) -> None:
        src = _image_url(attrs)
        if src is not None:
            self.images.append((src, *_size(attrs)))
            return
        given = [value for key in _IMAGE_SOURCES if (value := (attrs.get(key) or "").strip())]
        if given and all(is_relative(value) for value in given):
            self.relative.append(given[0])

    # --- structure --------------------------------------------------------------
    def _open(self, tag: str, attrs: Attrs) -> None:
        node = _Open(tag, self.buf.size)
        if tag in _BLOCK:
            self._break(self._block_break(tag))
        if tag in _LINE:
            self._break("\n")
            if tag == "li":
                self._bullet()
        if tag in _CELL and self.tables:
            self._open_cell(tag)
        if tag == "table":
            self.tables.append(_Table())
        elif tag == "thead" and self.tables:
            self.tables[-1].in_head = True
        elif tag == "tr" and self.tables:
            table = self.tables[-1]
            table.cells, table.header_row = [], False
        if tag in ("ul", "ol"):
            node.list_kind = tag
        if tag == "code" and self.pre_depth:
            pre = next(o for o in reversed(self.stack) if o.tag == "pre")
            pre.language = pre.language or _code_language(attrs)
        if tag in _STYLE:
            node.entity = _STYLE[tag]
        elif tag in _HEADINGS:
            node.entity = "bold"
        elif tag == "blockquote":
            node.entity = "blockquote"
        elif tag == "pre":
            node.entity = "pre"
            node.language = _code_language(attrs)
            self.pre_depth += 1
        elif tag == "a":
            node.url = safe_url(attrs.get("href"))
            node.entity = "text_link" if node.url else None
        if node.entity and self._blocked(node.entity):
            node.entity = None
        self._push(node)

    def _close(self, node: _Open) -> None:
        if node.dropped:
            self.drop_depth -= 1
            return
        if node.tag == "pre":
            self.pre_depth -= 1
        if node.tag == "a" and node.url and self.buf.size == node.start:
            self._emit(node.url)
        if node.entity == "text_link" and _misleading(
            self.buf.tail(self.buf.size - node.start), node.url
        ):
            node.entity = None  # shown as text, followed by where it really goes
            self._emit(f" ({node.url})")
        end = self.buf.size
        if node.entity and end > node.start:
            self.entities.append(
                Entity(node.entity, node.start, end, url=node.url, language=node.language)
            )
        if node.tag in _CELL and self.tables:
            table = self.tables[-1]
            table.in_cell = False
            if self.pending_break == " ":  # a block that ended the cell
                self.pending_break = ""
            text = self.buf.tail(self.buf.size - table.cell_start).strip()
            if not text and table.cells and not table.header_row:
                self.buf.truncate(table.separator_start)  # an empty cell says nothing
            table.cells.append(text)
        elif node.tag == "tr" and self.tables:
            self._close_row(self.tables[-1])
        elif node.tag == "thead" and self.tables:
            self.tables[-1].in_head = False
        elif node.tag == "table" and self.tables:
            self.tables.pop()
        if node.tag in _BLOCK:
            self._break(self._block_break(node.tag))
        elif node.tag in _LINE:
            self._break("\n")

    def _open_cell(self, tag: str) -> None:
        table = self.tables[-1]
        if not table.cells and not table.header_row:
            table.header_row = table.in_head or (tag == "th" and table.rows == 0)
            if table.header_row:
                self._break("\n")
                self._emit("")
                table.row_start = self.buf.size
            else:
                first = table.headers[0] if table.headers else ""
                self._emit(f"• {_named(first)}" if first else "• ")
        elif table.cells and not table.header_row:
            self.buf.rstrip(" ")
            self._clip_closed()
            table.separator_start = self.buf.size
            index = len(table.cells)
            name = table.headers[index] if index < len(table.headers) else ""
            if name:
                self._emit(f" · {_named(name)}")
            elif table.cells[-1].endswith((":", "：")):
                self._emit(" ")
            else:
                self._emit(" · ")
        table.cell_start = self.buf.size
        table.in_cell = True

    def _close_row(self, table: _Table) -> None:
        """A header row names the columns and is taken out of the text."""
        if table.header_row:
            table.headers = table.cells
            self.buf.truncate(table.row_start)
            self.entities = [e for e in self.entities if e.start < table.row_start]
            self._clip_closed()
        table.rows += 1

    def _void(self, tag: str, attrs: Attrs) -> None:
        if self.drop_depth:
            return
        if tag == "img" and self.in_cell:
            self._cell_image(attrs)
        elif tag == "br":
            self._emit_break("\n")
        elif tag == "hr":
            self._break("\n\n")
        elif tag == "embed":
            self._link_line(attrs.get("src"))

    def _cell_image(self, attrs: Attrs) -> None:
        """A picture in a table cell says what it stands for: its alt text, else its
        address as a link (inside a link, the link's own address is shown instead)."""
        alt = _SPACE.sub(" ", attrs.get("alt") or "").strip()
        url = None if alt or self.open_tags["a"] else safe_url(_image_url(attrs))
        shown = alt or url
        if not shown:
            return
        beside = self.buf.last() not in ("", " ", "\n") and not self.pending_break
        if beside and not self.at_cell_start:
            self._emit(" ")  # two pictures side by side
        self._emit(shown)
        if url and not self._blocked("text_link"):
            self.entities.append(
                Entity("text_link", self.buf.size - len(url), self.buf.size, url=url)
            )

    def _link_line(self, src: str | None) -> None:
        url = safe_url(src)
        if url is None:
            return
        self._break("\n\n")
        self._emit("🔗 ")
        start = self.buf.size
        self._emit(url)
        if not self._blocked("text_link"):
            self.entities.append(Entity("text_link", start, self.buf.size, url=url))
        self._break("\n\n")

    def _block_break(self, tag: str) -> str:
        """A list inside a list item is part of it: a line break, not a paragraph."""
        nested = tag in ("ul", "ol") and bool(self.lists)
        return "\n" if nested else "\n\n"

    def _bullet(self) -> None:
        indent = "  " * min(max(len(self.lists) - 1, 0), MAX_INDENT)
        if self.lists and self.lists[-1].list_kind == "ol":
            self.lists[-1].counter += 1
            self._emit(f"{indent}{self.lists[-1].counter}. ")
        else:
            self._emit(f"{indent}• ")

    # --- output -----------------------------------------------------------------
    def _break(self, kind: str) -> None:
        """Ask for a line or paragraph break before the next text (never doubled);
        inside a table cell, a space (the row stays one line)."""
        if self.in_cell:
            if self.at_cell_start:
                return
            kind = " "
        if self.buf.size and (kind == "\n\n" or self.pending_break != "\n\n"):
            self.pending_break = kind

    def _emit_break(self, kind: str) -> None:
        if self.pending_break:
            return
        self.buf.rstrip(" ")
        self._clip_closed()
        self.buf.append(kind)

    def _emit(self, text: str) -> None:
        if self.pending_break:
            self.buf.rstrip(" \n")
            self._clip_closed()
            if self.buf.size:
                self.buf.append(self.pending_break)
            self.pending_break = ""
            # Spans opened inside the stripped tail now start where it was cut.
            for node in reversed(self.stack):
                if node.start <= self.buf.size:
                    break
                node.start = self.buf.size
        self.buf.append(text)

    def _clip_closed(self) -> None:
        """Spans already closed must not reach into whitespace that was just stripped
        (their ends only grow in closing order, so the check stops early)."""
        length = self.buf.size
        for index in range(len(self.entities) - 1, -1, -1):
            entity = self.entities[index]
            if entity.end <= length:
                break
            self.entities[index] = entity.shifted(min(entity.start, length), length)

    def _blocked(self, entity: str) -> bool:
        """Telegram refuses entities inside code/pre and nested blockquotes; a span
        inside the same kind of span adds nothing but counts against the 100."""
        opened = self.open_entities
        return bool(opened[entity] or opened["code"] or opened["pre"])

    def _push(self, node: _Open) -> None:
        self.stack.append(node)
        if node.list_kind:
            self.lists.append(node)
        self.open_tags[node.tag] += 1
        if node.entity:
            self.open_entities[node.entity] += 1

    def _pop(self) -> _Open:
        node = self.stack.pop()
        if node.list_kind:
            self.lists.pop()
        self.open_tags[node.tag] -= 1
        if node.entity:
            self.open_entities[node.entity] -= 1
        return node


# Scripts written with a full-width colon and no space after it: CJK ideographs, kana,
# CJK punctuation and full-width forms (a header such as 时间（小时） ends in one).
_FULL_WIDTH_COLON = re.compile(
    "[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]$"
)


def _named(header: str) -> str:
    """A cell's column name before its value: ``小区：`` after a Chinese header, ``Name: ``
    after any other (the reader does not know the chat's language; the header's script
    says how its own language writes it). A header ending in a colon keeps its own."""
    if header.endswith("："):
        return header
    if header.endswith(":"):
        return header + " "
    return header + ("：" if _FULL_WIDTH_COLON.search(header) else ": ")


def _host(url: str) -> str:
    return urlsplit(url if "://" in url else f"http://{url}").hostname or ""


def _misleading(text: str, url: str | None) -> bool:
    """Link text that reads as an address other than where the link goes."""
    shown = text.strip()
    if url is None or not _URL_LIKE.match(shown):
        return False
    return _host(shown).removeprefix("www.") != _host(url).removeprefix("www.")


def _image_url(attrs: Attrs) -> str | None:
    """An <img>'s source as it is written, if it is one a chat can open (lazy-loading
    themes put it in ``data-src``)."""
    return next((attrs[k] for k in _IMAGE_SOURCES if safe_url(attrs.get(k))), None)


def _code_language(attrs: Attrs) -> str | None:
    for cls in (attrs.get("class") or "").split():
        if cls.startswith(("language-", "lang-")):
            return cls.split("-", 1)[1][:32] or None
    return None


def _size(values: Attrs) -> tuple[int | None, int | None]:
    match = re.fullmatch(r"\s*(\d{1,6})\s*[,x×]\s*(\d{1,6})\s*", values.get("data-size", ""))
    if match:
        return int(match.group(1)), int(match.group(2))
    width = re.fullmatch(r"\s*(\d{1,6})\s*(?:px)?\s*", values.get("width", ""))
    height = re.fullmatch(r"\s*(\d{1,6})\s*(?:px)?\s*", values.get("height", ""))
    if width and height:
        return int(width.group(1)), int(height.group(1))
    return None, None


def walk_html(html: str, target: Any, parser: Any = None) -> Any:
    """Feed ``html`` to an lxml parser target (``start``, ``end``, ``data``, ``close``);
    what its ``close`` returns."""
    parser = parser or lxml.etree.HTMLParser(target=target)
    try:
        parser.feed(html)
    except UnicodeEncodeError:  # a lone surrogate (not from a file: those are decoded strictly)
        parser.feed(html.encode("utf-8", "replace").decode("utf-8"))
    return parser.close()


_readers = threading.local()


class HtmlRead(NamedTuple):
    text: RichText
    images: list[FoundImage]  # every picture's source and size
    relative: list[str]  # pictures whose every source is relative to the website


def read_html(html: str) -> HtmlRead:
    """The text with entities and the pictures, in one parse.

    Each thread keeps one parser and its walker: lxml inspects a target's methods
    whenever a parser is made, which cost a tenth of a short article's walk.
    """
    reader = getattr(_readers, "reader", None)
    if reader is None:
        walker = _Walker()
        reader = _readers.reader = (walker, lxml.etree.HTMLParser(target=walker))
    walker, parser = reader
    walker.__init__()  # type: ignore[misc]  # a fresh walk
    _readers.reader = None  # not reused if this walk fails half-way
    rich = walk_html(html, walker, parser)
    _readers.reader = reader
    return HtmlRead(rich, walker.images, walker.relative)


def html_to_rich(html: str) -> RichText:
    """Readable chat text with entities for an HTML fragment."""
    return read_html(html)[0]
