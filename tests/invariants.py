"""What every formatted article must satisfy, checked the way Telegram would."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from bot.formatting.outgoing import ENTITY_LIMIT, Outgoing
from bot.reading.richtext import utf16_len, utf16_prefix

_SKIPPED = {
    "script", "style", "svg", "button", "form", "noscript", "template", "head", "title",
    "select", "textarea", "object", "canvas", "audio", "video", "map", "math", "iframe",
}  # fmt: skip
_WORD = re.compile(r"\w", re.UNICODE)


def check_messages(messages: list[Outgoing]) -> None:
    """Limits, entity validity and non-emptiness of every message."""
    assert messages, "an article became no message at all"
    for message in messages:
        if message.method == "sendMediaGroup":
            assert 2 <= len(message.params["media"]) <= 10
            continue
        text, entities = message.text_and_entities()
        if message.method == "sendMessage":
            assert text.strip(), "empty text message"
        assert utf16_len(text) <= message.limit, (message.method, utf16_len(text))
        check_entities(text, entities)


def check_entities(text: str, entities: list[dict]) -> None:
    assert len(entities) <= ENTITY_LIMIT
    bounds = set(utf16_prefix(text))
    total = utf16_len(text)
    spans = sorted(
        ((e["offset"], e["offset"] + e["length"], e) for e in entities),
        key=lambda s: (s[0], -s[1]),
    )
    stack: list[tuple[int, int, dict]] = []
    for start, end, entity in spans:
        assert 0 <= start < end <= total, entity
        assert start in bounds and end in bounds, f"entity cuts a surrogate pair: {entity}"
        if entity["type"] == "text_link":
            assert entity["url"].startswith(("http://", "https://")), entity
        while stack and stack[-1][1] <= start:
            stack.pop()
        if stack:
            outer = stack[-1]
            assert end <= outer[1], f"entities overlap: {outer[2]} and {entity}"
            assert outer[2]["type"] not in ("code", "pre"), "entity inside code/pre"
            assert not (outer[2]["type"] == entity["type"] == "blockquote")
        stack.append((start, end, entity))


def visible_runs(html: str) -> list[str]:
    """The word characters of each visible text node, by an independent walk."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    runs = ("".join(_WORD.findall(part)) for part in collector.parts)
    return [run for run in runs if run]


def check_complete(html: str, messages: list[Outgoing]) -> None:
    """Every visible text node of the article appears whole, in order, across the texts."""
    sent = "".join(_WORD.findall("".join(m.params["text"] for m in messages)))
    position = 0
    for run in visible_runs(html):
        found = sent.find(run, position)
        assert found >= 0, f"lost or reordered text: {run[:60]!r}"
        position = found + len(run)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIPPED:
            self.skipping.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skipping:
            while self.skipping and self.skipping.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)
