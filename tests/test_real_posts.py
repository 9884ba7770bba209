"""Real public blog posts (``tests/real_posts``, sources in its SOURCES.md) read as
their authors meant them: front matter never in a title, no template syntax or
table pipes outside code, nothing lost, and every message valid for Telegram."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Config
from bot.formatting.formatter import format_article
from bot.reading.articles import load_article
from tests.invariants import check_messages, visible_runs

POSTS = Path(__file__).parent / "real_posts"
FILES = sorted(p for p in POSTS.glob("*.md") if p.name != "SOURCES.md")
TEMPLATE = re.compile(r"\{%|%\}|\{\{[<%]|[>%]\}\}|\{\{\s*[A-Za-z_.][\w.]*\s*(\|[^}]*)?\}\}")
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$|^\s*\|?\s*:?-{3,}:?\s*\|")
WORD = re.compile(r"\w+")


def _outside_code(text: str, entities: list) -> str:
    keep = list(text)
    for entity in entities:
        if entity.type in ("code", "pre"):
            keep[entity.start : entity.end] = [" "] * (entity.end - entity.start)
    return "".join(keep)


def test_the_set_covers_what_real_blogs_do() -> None:
    assert len(FILES) >= 30
    sources = (POSTS / "SOURCES.md").read_text(encoding="utf-8")
    assert all(f"`{path.name}`" in sources for path in FILES)  # each with its source


@pytest.mark.parametrize("path", FILES, ids=[p.stem[:40] for p in FILES])
@pytest.mark.parametrize("site", [None, "https://blog.example.org"])
def test_a_real_post(path: Path, site: str | None) -> None:
    config = Config(site_url=site)
    article = load_article(path, POSTS, config)
    assert "\n" not in article.title
    assert not re.search(r"\b(title|date|tags|categories)\s*:", article.title), article.title
    body = article.body
    prose = _outside_code(body.text, body.entities)
    assert not TEMPLATE.search(prose), TEMPLATE.search(prose)
    pipes = [line for line in prose.split("\n") if TABLE_ROW.search(line)]
    assert not pipes, pipes[:3]
    formatted = format_article(article, "zh", config.tz)
    check_messages(formatted.all())
    sent = "".join(m.params["text"] for m in formatted.text)
    for run in visible_runs(article.body_html):
        assert run in "".join(WORD.findall(sent)), f"lost: {run[:60]!r}"
    for image in article.images:
        assert image.url.startswith(("http://", "https://"))
