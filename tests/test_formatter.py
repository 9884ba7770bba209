"""Card, full text and albums for articles built in the test."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.config import Config
from bot.formatting.formatter import albums, format_article, hashtags, lead_image, summarize
from bot.reading.articles import Article, Image
from bot.reading.htmltext import html_to_rich
from tests.invariants import check_complete, check_messages


def _article(body: str = "<p>正文。</p>", images: tuple[Image, ...] = (), **kw: object) -> Article:
    fields: dict = {
        "id": "abc123",
        "title": "通知",
        "date": datetime(2022, 2, 1, 8, 57, 15, tzinfo=UTC),
        "updated": None,
        "categories": ("社区", "IT 之家", "2022"),
        "tags": (),
        "author": "居委会",
        "link": None,
        "draft": False,
        "images": images,
        "body_html": body,
        "path": Path("a.md"),
        "content_hash": "0",
    }
    return Article(**{**fields, **kw})


def test_lead_skips_banner_tiny_and_prefers_still() -> None:
    banner = Image("https://x/banner.jpg", None, 620, 23)
    tiny = Image("https://x/icon.png", None, 64, 64)
    gif = Image("https://x/anim.gif", None, 400, 300)
    photo = Image("https://x/photo.jpg", "https://proxy/?https://x/photo.jpg", 800, 600)
    article = _article(images=(banner, tiny, gif, photo))
    assert lead_image(article) == photo
    card = format_article(article, "zh", Config().tz).card
    assert card.method == "sendPhoto"
    assert card.fallbacks == ("https://proxy/?https://x/photo.jpg",)
    assert lead_image(_article(images=(banner, gif))) == gif
    gif_card = format_article(_article(images=(gif,)), "zh", Config().tz).card
    assert gif_card.method == "sendAnimation" and gif_card.params["animation"] == gif.url


def test_no_usable_image_gives_a_text_card_without_preview() -> None:
    article = _article(images=(Image("https://x/b.jpg", None, 620, 23),), link="https://src/1")
    card = format_article(article, "en", Config().tz).card
    assert card.method == "sendMessage"
    assert card.params["link_preview_options"] == {"is_disabled": True}
    assert card.params["text"].startswith("通知\n1 Feb 2022, 16:57 · 居委会\n\n正文。")
    assert card.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "🔗 On the web", "url": "https://src/1"}]]
    }  # no "Read full text": the card holds all of it


def test_hashtags_keep_only_what_telegram_links() -> None:
    assert hashtags(("社区", "IT 之家", "2022", "C++/Go", "社区")) == "#社区 #IT_之家 #C_Go"


def test_summary_cuts_at_a_sentence_end() -> None:
    text = "第一句话很长很长。第二句话也很长！第三句话还在继续继续继续继续"
    assert summarize(text, 20) == "第一句话很长很长。第二句话也很长！…"
    assert summarize("短。", 20) == "短。"
    assert summarize("没有标点的一段很长很长很长的文字", 10) == "没有标点的一段很长…"


def test_caption_stays_within_1024_with_a_huge_title() -> None:
    article = _article(title="标" * 3000, body="<p>" + "字。" * 3000 + "</p>")
    article_with_photo = _article(
        title=article.title, body=article.body_html, images=(Image("https://x/p.jpg"),)
    )
    formatted = format_article(article_with_photo, "zh", Config().tz)
    check_messages(formatted.all())
    check_complete(article.body_html, formatted.text)
    assert formatted.text[0].params["text"].startswith("标" * 3000)


def test_albums_are_balanced_and_gifs_go_alone() -> None:
    stills = [Image(f"https://x/{i}.jpg") for i in range(11)]
    assert [len(a.params["media"]) for a in albums(stills)] == [5, 6]
    mixed = [stills[0], Image("https://x/a.gif"), stills[1], stills[2]]
    assert [(a.method, a.part) for a in albums(mixed)] == [
        ("sendPhoto", "album"),
        ("sendAnimation", "album"),
        ("sendMediaGroup", "album"),
    ]


def test_markdown_bold_in_body_text_is_an_entity() -> None:
    article = _article(body="<p>请<strong>务必</strong>参加</p>")
    text = format_article(article, "zh", Config().tz).text[0]
    assert text.params["text"].endswith("请务必参加")
    body_start = text.params["text"].index("请")
    assert {"type": "bold", "offset": body_start + 1, "length": 2} in text.params["entities"]
    assert html_to_rich(article.body_html).text == "请务必参加"
