"""The sample the project was designed from: every field exact, every message valid."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from bot.config import Config
from bot.formatting.formatter import format_article
from bot.reading.articles import Article, load_article
from bot.reading.richtext import utf16_len
from tests.invariants import check_complete, check_messages
from tests.paths import ROOT, SEED

LEAD = "http://static.1sapp.com/qupost/img/2022/02/01/caa781ce54988c54a6c812e1db37d599.jpeg"
PROXY = "https://cors.zfour.workers.dev/?"


@pytest.fixture
def seed(config: Config) -> Article:
    return load_article(SEED, SEED.parent, config)


# SHA-256 of the real sample in ../shared/seeds, as the project received it.
SEED_SHA256 = "10237ca477829753888c9fa898a69fa228dd4a3423608765bd2efdf83cbdd33b"


def test_seed_is_shipped_byte_for_byte() -> None:
    raw = SEED.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SEED_SHA256  # the whole file, every byte
    original = ROOT.parent / "shared" / "seeds" / SEED.name
    if original.exists():  # beside the checkout (developers and CI)
        assert raw == original.read_bytes()


def test_seed_fields(seed: Article) -> None:
    assert seed.title == "爱申活暖心春｜社区防疫不放松，新春问候暖心传递"
    assert seed.categories == ("新媒体", "趣头条", "分类")
    assert seed.date == datetime(2022, 2, 1, 8, 57, 15, tzinfo=UTC)
    assert seed.author == "趣头条"
    assert seed.link is None
    assert seed.draft is False
    assert len(seed.images) == 12
    assert seed.images[0].url == LEAD
    assert seed.images[0].fallback == PROXY + LEAD
    assert (seed.images[0].width, seed.images[0].height) == (1000, 243)
    assert all(i.url.startswith("http://static.1sapp.com/") for i in seed.images)
    assert len(seed.id) == 8 and seed.id.isalnum()


def test_seed_text_has_no_raw_nbsp_runs(seed: Article) -> None:
    text = seed.body.text
    assert "\u00a0" not in text
    assert "  " not in text
    assert "\n\n\n" not in text
    assert "<" not in text and "&nbsp;" not in text


def test_seed_card(seed: Article, config: Config) -> None:
    card = format_article(seed, "zh", config.tz).card
    assert card.method == "sendPhoto"
    assert card.params["photo"] == LEAD
    assert card.fallbacks == (PROXY + LEAD,)
    caption = card.params["caption"]
    title, byline = caption.split("\n")[:2]
    assert title == seed.title
    assert byline == "2022年2月1日 16:57 · 趣头条"
    assert card.params["caption_entities"][0] == {
        "type": "bold",
        "offset": 0,
        "length": utf16_len(seed.title),
    }
    assert caption.endswith("#新媒体 #趣头条 #分类")
    summary = caption.split("\n\n")[1]
    assert summary.startswith("社区，作为疫情防控的第一道防线")
    assert summary.endswith("！…")
    assert utf16_len(caption) <= 1024
    buttons = card.params["reply_markup"]["inline_keyboard"][0]
    assert buttons == [{"text": "阅读全文", "callback_data": f"read:{seed.id}"}]


def test_seed_card_in_english(seed: Article, config: Config) -> None:
    card = format_article(seed, "en", config.tz).card
    assert card.params["caption"].split("\n")[1] == "1 Feb 2022, 16:57 · 趣头条"
    assert card.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Read full text"


def test_seed_full_text_and_albums(seed: Article, config: Config) -> None:
    formatted = format_article(seed, "zh", config.tz)
    assert len(formatted.text) == 1
    text = formatted.text[0].params["text"]
    assert text.startswith(seed.title + "\n2022年2月1日 16:57 · 趣头条\n\n社区，作为")
    assert "\n\n周密部署 保障到位\n\n" in text
    assert formatted.text[0].params["link_preview_options"] == {"is_disabled": True}
    media = [item["media"] for album in formatted.albums for item in album.params["media"]]
    assert media == [image.url for image in seed.images[1:]]
    assert [len(a.params["media"]) for a in formatted.albums] == [5, 6]
    check_messages(formatted.all())
    check_complete(seed.body_html, formatted.text)
