"""Property-based fuzzing of the formatter: random HTML trees with Chinese, emoji and
markup must always give messages Telegram accepts, with nothing lost.

``make test`` runs a few hundred examples; ``bench/chaos`` runs 10,000
(``NOTICEBOT_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Config
from bot.formatting.formatter import format_article
from bot.reading.articles import Article, Image
from bot.reading.markdown import to_html
from tests.invariants import check_complete, check_messages

EXAMPLES = int(os.environ.get("NOTICEBOT_FUZZ_EXAMPLES", "300"))
CONFIG = Config()

PIECES = [
    *"社区通知防疫居民停水。，！？；：、“”《》abcXYZ019 .,!?;:-_*#[]()<>&\"'\n\t",
    *("\u00a0", "\u3000", "\u200b", "\u200d", "\u202e", "\ufe0f"),
    *("😀", "👨\u200d👩\u200d👧", "🇨🇳", "👍🏽", "e\u0301"),
]
WORDS = (
    st.lists(st.sampled_from(PIECES), max_size=60)
    .map("".join)
    .map(lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
)
LONG_WORDS = st.builds(lambda w, n: w * n, WORDS, st.integers(1, 120))
INLINE = ["b", "strong", "i", "em", "u", "s", "del", "code", "span", "a", "cite", "kbd"]
BLOCK = ["p", "div", "blockquote", "pre", "h1", "h2", "h3", "ul", "ol", "li", "table", "tr", "td"]
DROPPED = ["script", "style", "svg", "button", "iframe"]
HREFS = [
    "https://ok.example/x",
    "http://a.b",
    "javascript:alert(1)",
    "data:x",
    "//cdn.x/y",
    "mailto:a",
]


@st.composite
def html(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 6:
        return draw(WORDS)
    kind = draw(st.sampled_from(["text", "long", "inline", "block", "void", "dropped", "seq"]))
    if kind == "text":
        return draw(WORDS)
    if kind == "long":
        return draw(LONG_WORDS)
    if kind == "void":
        return draw(
            st.sampled_from(["<br>", "<hr>", "<img src='https://i.example/a.jpg'>", "<br/>"])
        )
    if kind == "dropped":
        tag = draw(st.sampled_from(DROPPED))
        return f"<{tag} src='https://v.example/e'>{draw(WORDS)}</{tag}>"
    if kind == "seq":
        return "".join(draw(st.lists(html(depth + 1), max_size=5)))
    tag = draw(st.sampled_from(INLINE if kind == "inline" else BLOCK))
    attrs = f" href='{draw(st.sampled_from(HREFS))}'" if tag == "a" else ""
    inner = "".join(draw(st.lists(html(depth + 1), max_size=4)))
    closed = draw(st.booleans())  # unclosed tags too
    return f"<{tag}{attrs}>{inner}" + (f"</{tag}>" if closed else "")


def _article(body: str, title: str, images: int) -> Article:
    return Article(
        id="fuzz",
        title=title or "标题",
        date=datetime(2022, 2, 1, tzinfo=UTC),
        updated=None,
        categories=("社区",),
        tags=(),
        author=None,
        link=None,
        draft=False,
        images=tuple(Image(f"https://i.example/{i}.jpg") for i in range(images)),
        body_html=body,
        path=Path("fuzz.md"),
        content_hash="0",
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=html(), title=WORDS, images=st.integers(0, 25), lang=st.sampled_from(["zh", "en"]))
def test_formatter_invariants_hold_for_any_html(
    body: str, title: str, images: int, lang: str
) -> None:
    article = _article(body, title.strip(), images)
    formatted = format_article(article, lang, CONFIG.tz)
    check_messages(formatted.all())
    check_complete(body, formatted.text)


@settings(max_examples=max(EXAMPLES // 3, 50), deadline=None)
@given(text=st.text(max_size=3000))
def test_any_markdown_text_formats(text: str) -> None:
    body = to_html(text)
    formatted = format_article(_article(body, "标题", 0), "zh", CONFIG.tz)
    check_messages(formatted.all())
