"""Render planned Bot API calls for humans before anything is sent.

The formatter's output is a list of ``Outgoing`` values; reviewing them as raw JSON
hides what a reader would actually see (offsets are UTF-16, entities nest). These pure
functions turn them into a terminal transcript, JSON lines and a chat-like HTML page.
The caller does all file and network I/O.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

from bot.formatting.outgoing import Outgoing
from bot.reading.richtext import index_at, utf16_len, utf16_prefix

Entity = dict[str, Any]
State = tuple[str, Outgoing]  # a card as it reads in one state: ("withdrawn", card)
# One article on the page: its title and messages, and its card's states if computed.
PageArticle = tuple[str, list[Outgoing]] | tuple[str, list[Outgoing], Sequence[State]]

ALBUM_MIN = 2
ALBUM_MAX = 10

_MEDIA_PARAM = {"sendPhoto": "photo", "sendAnimation": "animation"}
_QUOTES = frozenset({"blockquote", "expandable_blockquote"})
_SGR = {
    "bold": "1",
    "italic": "3",
    "underline": "4",
    "strikethrough": "9",
    "code": "7",
    "pre": "2",
    "text_link": "4;34",
}
_HTML_TAGS = {
    "bold": "b",
    "italic": "i",
    "underline": "u",
    "strikethrough": "s",
    "code": "code",
    "blockquote": "blockquote",
    "expandable_blockquote": "blockquote",
}


# --- entities as nested spans -----------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Span:
    """One entity located in Python string indices; compared by identity."""

    start: int
    end: int
    order: int
    entity: Entity

    @property
    def type(self) -> str:
        return str(self.entity.get("type", ""))


@dataclass(frozen=True)
class _Segment:
    """A run of text under one unchanging set of entities, outermost first."""

    text: str
    active: tuple[_Span, ...]


@dataclass(frozen=True)
class _Step:
    """What changes before a segment: spans closed (innermost first), then opened."""

    closed: tuple[_Span, ...]
    opened: tuple[_Span, ...]
    segment: _Segment


def _spans(text: str, entities: Iterable[Entity]) -> list[_Span]:
    """Entities in string indices, sorted so that an enclosing span precedes its children."""
    bounds = utf16_prefix(text)
    spans = []
    for order, entity in enumerate(entities):
        offset = int(entity.get("offset", 0))
        start = index_at(bounds, offset)
        end = index_at(bounds, offset + int(entity.get("length", 0)))
        if start < end:
            spans.append(_Span(start, end, order, entity))
    return sorted(spans, key=lambda s: (s.start, -s.end, s.order))


def _segments(text: str, entities: Iterable[Entity]) -> list[_Segment]:
    """Cut the text at every entity boundary."""
    spans = _spans(text, entities)
    cuts = sorted({0, len(text), *(s.start for s in spans), *(s.end for s in spans)})
    return [
        _Segment(text[a:b], tuple(s for s in spans if s.start <= a and b <= s.end))
        for a, b in pairwise(cuts)
    ]


def _common_prefix(a: tuple[_Span, ...], b: tuple[_Span, ...]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] is b[n]:
        n += 1
    return n


def _steps(text: str, entities: Iterable[Entity]) -> list[_Step]:
    """Walk the text as a stack of open entities; the last step closes everything.

    The active tuple is the stack: diffing consecutive ones yields well-formed
    open/close events (even for overlapping input, which is closed and reopened).
    """
    steps = []
    stack: tuple[_Span, ...] = ()
    for segment in [*_segments(text, entities), _Segment("", ())]:
        keep = _common_prefix(stack, segment.active)
        steps.append(_Step(tuple(reversed(stack[keep:])), segment.active[keep:], segment))
        stack = segment.active
    return steps


# --- facts about a message shared by all renderers -------------------------------------


@dataclass(frozen=True)
class _Media:
    kind: str
    url: str
    fallback: str | None


@dataclass(frozen=True)
class _Budget:
    """How much of a part's allowance a message uses."""

    name: str
    used: int
    limit: int
    minimum: int = 0

    @property
    def over(self) -> bool:
        return not self.minimum <= self.used <= self.limit

    @property
    def short(self) -> str:
        return f"{self.used} photos" if self.name == "album" else f"{self.used}/{self.limit}"

    @property
    def label(self) -> str:
        return f"{self.name} {self.short}"


def _media(msg: Outgoing) -> list[_Media]:
    """Photos/animations in the call, paired with their fallback URLs."""
    if msg.method == "sendMediaGroup":
        group = msg.params.get("media", [])
        items = [(str(m.get("type", "photo")), str(m.get("media", ""))) for m in group]
    elif msg.method in _MEDIA_PARAM:
        kind = _MEDIA_PARAM[msg.method]
        items = [(kind, str(msg.params.get(kind, "")))]
    else:
        return []
    fallbacks = [*msg.fallbacks, *[None] * len(items)]
    return [_Media(kind, url, fb) for (kind, url), fb in zip(items, fallbacks, strict=False)]


def _budget(msg: Outgoing) -> _Budget:
    if msg.method == "sendMediaGroup":
        return _Budget("album", len(msg.params.get("media", [])), ALBUM_MAX, ALBUM_MIN)
    text, _ = msg.text_and_entities()
    name = "text" if msg.method == "sendMessage" else "caption"
    return _Budget(name, utf16_len(text), msg.limit)


def _keyboard(msg: Outgoing) -> list[list[dict[str, Any]]]:
    return (msg.params.get("reply_markup") or {}).get("inline_keyboard", [])


def _is_web_url(url: object) -> bool:
    """Only http(s) may become a link or image source; anything else stays text."""
    return isinstance(url, str) and urlsplit(url).scheme.lower() in ("http", "https")


# --- terminal ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Palette:
    """Terminal styling; with ``color`` off every escape is empty and markers are ASCII."""

    color: bool

    @property
    def reset(self) -> str:
        return "\x1b[0m" if self.color else ""

    @property
    def quote(self) -> str:
        return self.paint("34", "▍") + " " if self.color else "> "

    def paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def sgr(self, active: Iterable[_Span]) -> str:
        codes = [_SGR[s.type] for s in active if s.type in _SGR]
        return f"\x1b[{';'.join(codes)}m" if self.color and codes else ""

    def link_suffix(self, url: str) -> str:
        """Shown after the link text; the reset keeps the link style off the gap."""
        return f"{self.reset} {self.paint('2', f'[{url}]')}" if self.color else f" <{url}>"


def _terminal_rich(text: str, entities: Iterable[Entity], palette: _Palette) -> str:
    """Text with entities: reset then the active set at each boundary, quotes prefixed."""
    out = []
    for step in _steps(text, entities):
        out += [palette.link_suffix(str(s.entity.get("url", ""))) for s in _links(step.closed)]
        quoted = any(s.type in _QUOTES for s in step.segment.active)
        prefix = palette.quote if quoted else ""
        if any(s.type in _QUOTES for s in step.opened):
            out.append(palette.reset + prefix)
        style = palette.reset + palette.sgr(step.segment.active)
        out.append(style + step.segment.text.replace("\n", f"{palette.reset}\n{prefix}{style}"))
    return "".join(out)


def _links(spans: Iterable[_Span]) -> list[_Span]:
    return [s for s in spans if s.type == "text_link"]


def _terminal_button(button: dict[str, Any]) -> str:
    url = button.get("url")
    return f"[ {button.get('text', '')} ↗ {url} ]" if url else f"[ {button.get('text', '')} ]"


def _terminal_message(msg: Outgoing, palette: _Palette) -> list[str]:
    lines = [palette.paint("1;36", f"[{msg.part}] {msg.method}")]
    for item in _media(msg):
        lines.append(f"[{item.kind}] {item.url}")
        if item.fallback:
            lines.append(palette.paint("2", f"  fallback {item.fallback}"))
    text, entities = msg.text_and_entities()
    if text:
        lines.append(_terminal_rich(text, entities, palette))
    lines += [" ".join(_terminal_button(b) for b in row) for row in _keyboard(msg)]
    budget = _budget(msg)
    warning = palette.paint("1;31", "  !! out of limit") if budget.over else ""
    lines.append(palette.paint("2", budget.label) + warning)
    return lines


def render_terminal(title: str, messages: list[Outgoing], *, color: bool) -> str:
    """One article's messages as a chat would show them, with each part's length budget."""
    palette = _Palette(color)
    blocks = [palette.paint("1", f"══ {title} ══")]
    blocks += ["\n".join(_terminal_message(msg, palette)) for msg in messages]
    return "\n\n".join(blocks) + "\n"


# --- JSON lines --------------------------------------------------------------------------


def render_json_lines(messages: list[Outgoing]) -> str:
    """Exactly the Bot API calls, one per line, for diffing and replaying."""
    return "".join(
        json.dumps({"method": m.method, "params": m.params}, ensure_ascii=False) + "\n"
        for m in messages
    )


# --- HTML --------------------------------------------------------------------------------

_esc = html.escape

_CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 -apple-system, "Segoe UI", Roboto, "PingFang SC",
  "Noto Sans CJK SC", sans-serif; color: #000;
  background: linear-gradient(160deg, #a7c58b 0%, #d3e2a6 45%, #8fbf9b 100%) fixed; }
main { max-width: 560px; margin: 0 auto; padding: 16px 12px 48px; }
.article { margin-bottom: 28px; }
.title { display: table; margin: 12px auto; padding: 4px 12px; border-radius: 14px;
  background: rgba(0, 0, 0, .28); color: #fff; font-size: 14px; font-weight: 600;
  text-align: center; }
.msg { max-width: 440px; margin: 8px 0; }
.bubble { position: relative; background: #fff; border-radius: 12px 12px 12px 4px;
  box-shadow: 0 1px 2px rgba(0, 0, 0, .18); overflow: hidden; }
.sender { padding: 6px 10px 0; color: #3a8bd0; font-size: 13px; font-weight: 600; }
.media { display: grid; gap: 2px; margin-top: 6px; }
.media.grid { grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); }
figure { margin: 0; background: #eef2f5; }
figure img { display: block; width: 100%; max-height: 420px; object-fit: cover; }
.grid figure img { height: 130px; }
.noimg { padding: 28px 8px; color: #778; text-align: center; }
figcaption { padding: 2px 6px; font-size: 11px; color: #667; word-break: break-all; }
.text { padding: 6px 10px 2px; white-space: pre-wrap; overflow-wrap: anywhere; }
.text a { color: #168acd; }
.badlink { color: #b33; text-decoration: underline dotted; }
.text code { font: 13px ui-monospace, Menlo, Consolas, monospace; color: #c7254e;
  background: #f3f4f6; padding: 0 3px; border-radius: 3px; }
.text pre { display: inline-block; width: 100%; margin: 2px 0; padding: 6px 8px;
  background: #f3f4f6; border-radius: 6px; white-space: pre-wrap;
  font: 13px ui-monospace, Menlo, Consolas, monospace; }
.text pre code { color: inherit; background: none; padding: 0; }
.text blockquote { display: inline-block; width: 100%; margin: 2px 0; padding: 2px 8px;
  border-left: 3px solid #3a8bd0; background: #eaf3fb; border-radius: 4px; }
.badge { display: block; text-align: right; padding: 0 8px 4px; font-size: 11px;
  color: #8a9aa8; }
.badge.over { color: #d22; font-weight: 700; }
.keyboard { margin-top: 2px; }
.row { display: flex; gap: 2px; margin-top: 2px; }
.btn { flex: 1; padding: 8px 6px; border-radius: 8px; background: rgba(0, 0, 0, .22);
  color: #fff; text-align: center; text-decoration: none; font-size: 14px;
  overflow-wrap: anywhere; }
.btn small { display: block; opacity: .8; font-size: 10px; }
.card-row { display: flex; align-items: flex-start; gap: 8px; overflow-x: auto; }
.card-row > .msg { flex: 0 0 min(440px, 80%); }
.states { flex: 0 0 auto; margin-top: 8px; }
.states summary { padding: 2px 10px; border-radius: 10px; cursor: pointer;
  background: rgba(0, 0, 0, .2); color: #fff; font-size: 12px; }
.state-row { display: flex; gap: 10px; padding: 4px 2px 8px; }
.state { flex: 0 0 280px; }
.state .msg { margin: 4px 0; }
.state-label { color: #fff; font-size: 12px; font-weight: 600;
  text-shadow: 0 1px 2px rgba(0, 0, 0, .4); }
.errors { margin-top: 24px; padding: 10px 14px; background: #fff4f4;
  border: 2px solid #d22; border-radius: 10px; }
.errors h2 { margin: 0 0 6px; font-size: 16px; color: #b00; }
.errors li { white-space: pre-wrap; }
"""


def _html_tags(entity: Entity) -> tuple[str, str]:
    """Opening and closing markup for one entity; unknown types render as plain text."""
    kind = str(entity.get("type", ""))
    if kind == "text_link":
        url = entity.get("url", "")
        if _is_web_url(url):
            return f'<a href="{_esc(url)}" rel="noopener noreferrer">', "</a>"
        return f'<span class="badlink" title="{_esc(str(url))}">', "</span>"
    if kind == "pre":
        language = _esc(str(entity.get("language", "")))
        opening = f'<pre><code class="language-{language}">' if language else "<pre><code>"
        return opening, "</code></pre>"
    tag = _HTML_TAGS.get(kind)
    return (f"<{tag}>", f"</{tag}>") if tag else ("", "")


def _html_rich(text: str, entities: Iterable[Entity]) -> str:
    spans = _spans(text, entities)
    if all(a.end <= b.start for a, b in pairwise(spans)):  # none nested: no stack to keep
        return _html_flat(text, spans)
    out = []
    for step in _steps(text, entities):
        out += [_html_tags(s.entity)[1] for s in step.closed]
        out += [_html_tags(s.entity)[0] for s in step.opened]
        out.append(_esc(step.segment.text))
    return "".join(out)


def _html_flat(text: str, spans: list[_Span]) -> str:
    """What ``_steps`` gives for spans side by side, without its walk: most messages (a
    card's bold title, a few bold words and links) are only that, and a page of thousands
    of notices, each card in four states, renders tens of thousands of them."""
    out, at = [], 0
    for span in spans:
        opening, closing = _html_tags(span.entity)
        out += [_esc(text[at : span.start]), opening, _esc(text[span.start : span.end]), closing]
        at = span.end
    out.append(_esc(text[at:]))
    return "".join(out)


def _html_figure(item: _Media) -> str:
    url = _esc(item.url)
    picture = (
        f'<img src="{url}" alt="{_esc(item.kind)}" loading="lazy">'
        if _is_web_url(item.url)
        else f'<div class="noimg">{_esc(item.kind)}</div>'
    )
    fallback = f"<br>fallback {_esc(item.fallback)}" if item.fallback else ""
    return f"<figure>{picture}<figcaption>{url}{fallback}</figcaption></figure>"


def _html_media(items: list[_Media]) -> str:
    if not items:
        return ""
    layout = "media grid" if len(items) > 1 else "media"
    return f'<div class="{layout}">{"".join(_html_figure(i) for i in items)}</div>'


def _html_button(button: dict[str, Any]) -> str:
    text = _esc(str(button.get("text", "")))
    url = button.get("url")
    if _is_web_url(url):
        return f'<a class="btn" href="{_esc(url)}" rel="noopener noreferrer">{text} ↗</a>'
    target = f"<small>{_esc(str(url or button.get('callback_data', '')))}</small>"
    return f'<span class="btn">{text}{target}</span>'


def _html_keyboard(rows: list[list[dict[str, Any]]]) -> str:
    if not rows:
        return ""
    html_rows = "".join(f'<div class="row">{"".join(map(_html_button, r))}</div>' for r in rows)
    return f'<div class="keyboard">{html_rows}</div>'


def _html_message(msg: Outgoing) -> str:
    text, entities = msg.text_and_entities()
    body = f'<div class="text">{_html_rich(text, entities)}</div>' if text else ""
    budget = _budget(msg)
    badge_class = "badge over" if budget.over else "badge"
    return (
        '<div class="msg"><div class="bubble">'
        f'<div class="sender">{_esc(msg.part)} · {_esc(msg.method)}</div>'
        f"{_html_media(_media(msg))}{body}"
        f'<span class="{badge_class}" title="{_esc(budget.label)}">{_esc(budget.short)}</span>'
        f"</div>{_html_keyboard(_keyboard(msg))}</div>"
    )


def _html_states(states: Sequence[State]) -> str:
    """The card in each state, folded away beside the card as sent: an editor opens it
    for the notice at hand, and a page of thousands stays quick to scroll."""
    cells = "".join(
        f'<div class="state" data-state="{_esc(label)}"><div class="state-label">{_esc(label)}'
        f"</div>{_html_message(message)}</div>"
        for label, message in states
    )
    names = " · ".join(_esc(label) for label, _ in states)
    return (
        f'<details class="states"><summary title="{names}">states</summary>'
        f'<div class="state-row">{cells}</div></details>'
    )


def _html_article(title: str, messages: list[Outgoing], states: Sequence[State] = ()) -> str:
    bubbles = [_html_message(m) for m in messages]
    card = next((n for n, m in enumerate(messages) if m.part == "card"), None)
    if states and card is not None:
        bubbles[card] = f'<div class="card-row">{bubbles[card]}{_html_states(states)}</div>'
    shown = "\n".join(bubbles)
    return f'<section class="article"><h2 class="title">{_esc(title)}</h2>\n{shown}\n</section>'


def _html_errors(errors: list[str]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li>{_esc(e)}</li>" for e in errors)
    return f'<section class="errors"><h2>Errors ({len(errors)})</h2><ul>{items}</ul></section>'


def render_html(articles: Iterable[PageArticle], *, errors: list[str]) -> str:
    """A single self-contained page that looks like the chat, for reviewing a whole run;
    an article given with its card's states shows them too (urgent, corrected, ...)."""
    sections = "\n".join(_html_article(*article) for article in articles)
    return (
        '<!DOCTYPE html>\n<html lang="zh"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>noticebot preview</title><style>{_CSS}</style></head>\n"
        f"<body><main>\n{sections}\n{_html_errors(errors)}\n</main></body></html>\n"
    )
