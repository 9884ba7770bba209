"""OPML, the file feed readers exchange their subscriptions in (opml.org/spec2): read
from any reader's export, written as OPML 2.0 with each feed in its category's folder.

A category is the folder a feed is filed in (what Feedly, Inoreader, NetNewsWire and
Miniflux write), else OPML 2.0's ``category`` attribute. What only noticebot knows (a
feed's interval, that it is paused) rides in attributes of its own, which other
readers ignore.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from bot.logs import shown_url
from bot.reading.articles import one_line

MAX_BYTES = 5 * 1024 * 1024
INTERVAL = "noticebotInterval"  # seconds
YEAR = 366 * 86400.0
MAX_TITLE = 200  # as a feed's own title: entities in an attribute are expanded
PAUSED = "noticebotPaused"


class OpmlError(Exception):
    """Why a file is no OPML: one line."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str | None = None
    category: str | None = None
    interval: float | None = None
    paused: bool = False


@dataclass(frozen=True)
class Opml:
    feeds: list[OpmlFeed]
    repeated: list[str]  # addresses the file lists more than once: the first is read


def read_opml(data: bytes) -> Opml:
    if len(data) > MAX_BYTES:
        raise OpmlError(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise OpmlError(f"not XML: {error}") from None
    if _local(root.tag) != "opml":
        raise OpmlError(f"not OPML: its root element is <{_local(root.tag)}>, not <opml>")
    body = next((child for child in root if _local(child.tag) == "body"), None)
    if body is None:
        raise OpmlError("not OPML: no <body>")
    feeds: dict[str, OpmlFeed] = {}
    repeated: list[str] = []
    for outline, folder in _outlines(body, None):
        url = _attribute(outline, "xmlUrl")
        if not url:
            continue
        if url in feeds:
            repeated.append(url)
            continue
        title = _attribute(outline, "title") or _attribute(outline, "text")  # not an address
        feeds[url] = OpmlFeed(
            url,
            title=None if title is None or "://" in title else title[:MAX_TITLE],
            category=folder or _category(_attribute(outline, "category")),
            interval=_seconds(_attribute(outline, INTERVAL)),
            paused=_attribute(outline, PAUSED) == "true",
        )
    return Opml(list(feeds.values()), repeated)


def _outlines(
    parent: etree._Element, folder: str | None
) -> Iterator[tuple[etree._Element, str | None]]:
    """Each outline with the folder it is filed in (the innermost one)."""
    for outline in parent:
        if not isinstance(outline.tag, str) or _local(outline.tag) != "outline":
            continue
        yield outline, folder
        if not _attribute(outline, "xmlUrl"):
            name = _attribute(outline, "title") or _attribute(outline, "text")
            yield from _outlines(outline, name or folder)


def _attribute(element: etree._Element, name: str) -> str | None:
    """An attribute whatever its case (``xmlurl`` is seen in the wild), on one line."""
    for key, value in element.attrib.items():
        if str(key).lower() == name.lower():
            return one_line(str(value)) or None
    return None


def _category(value: str | None) -> str | None:
    """OPML 2.0's categories ("/Boston/Weather,/Harvard"): the last step of the first."""
    if not value:
        return None
    first = value.split(",")[0].strip().rstrip("/")
    return first.rsplit("/", 1)[-1].strip() or None


def _seconds(value: str | None) -> float | None:
    """A number of seconds, up to a year (as NOTICEBOT_FEED_INTERVAL); else none."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds and 0 < seconds <= YEAR else None


def _local(tag: object) -> str:
    return str(tag).rpartition("}")[2]


def write_opml(feeds: list[OpmlFeed], title: str, now: float) -> bytes:
    """OPML 2.0: feeds without a category first, then a folder per category."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = email.utils.formatdate(now, usegmt=True)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    folders: dict[str, etree._Element] = {}
    for feed in sorted(feeds, key=lambda f: f.category is not None):
        parent = body
        if feed.category:
            if feed.category not in folders:
                folders[feed.category] = etree.SubElement(
                    body, "outline", text=feed.category, title=feed.category
                )
            parent = folders[feed.category]
        name = feed.title or shown_url(feed.url)  # the address itself holds its password
        outline = etree.SubElement(parent, "outline", type="rss", text=name, title=name)
        outline.set("xmlUrl", feed.url)
        if feed.category:
            outline.set("category", f"/{feed.category}")
        if feed.interval:
            whole = feed.interval.is_integer()  # exactly: ":g" wrote 1000001 as 1e+06
            outline.set(INTERVAL, str(int(feed.interval)) if whole else str(feed.interval))
        if feed.paused:
            outline.set(PAUSED, "true")
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
