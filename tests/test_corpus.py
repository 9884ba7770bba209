"""Every real post of the seed's family loads and formats within Telegram's rules."""

from __future__ import annotations

from pathlib import Path

import frontmatter
import pytest

from bot.config import Config
from bot.formatting.formatter import format_article
from bot.reading.articles import load_article
from tests.invariants import check_complete, check_messages
from tests.paths import CORPUS, corpus_files

FILES = corpus_files()


@pytest.mark.skipif(not FILES, reason="../shared/corpus is absent")
@pytest.mark.parametrize("path", FILES, ids=[p.stem[:20] for p in FILES])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_corpus_article(path: Path, lang: str, config: Config) -> None:
    article = load_article(path, CORPUS, config)
    assert article.title == str(frontmatter.load(path)["title"]).strip()
    assert article.categories
    assert all(line == line.rstrip() for line in article.body.text.split("\n"))
    formatted = format_article(article, lang, config.tz)
    check_messages(formatted.all())
    check_complete(article.body_html, formatted.text)
    assert formatted.card.method in ("sendPhoto", "sendAnimation", "sendMessage")
    lead = formatted.card.params.get("photo") or formatted.card.params.get("animation")
    if lead:
        assert lead.startswith(("http://", "https://"))
        assert "cors.zfour.workers.dev" not in lead


@pytest.mark.skipif(not FILES, reason="../shared/corpus is absent")
def test_corpus_banner_is_never_the_lead(config: Config) -> None:
    """The 620×23 banner (ratio > 20) is refused by Telegram as a photo."""
    seen_banner = False
    for path in FILES:
        article = load_article(path, CORPUS, config)
        for image in article.images:
            if (image.width, image.height) == (620, 23):
                seen_banner = True
                assert not image.usable
                card = format_article(article, "zh", config.tz).card
                assert card.params.get("photo") != image.url
    assert seen_banner
