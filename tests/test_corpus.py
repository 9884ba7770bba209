"""Real posts of the seed's family load and format within Telegram's rules: the posts shipped
in tests/corpus (sources in its SOURCES.md) on every run, and those of ../shared/corpus too
when it is beside the checkout. What the family shows (../shared/corpus/README.md) is in the
shipped posts, and each thing is checked on the post that shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import frontmatter
import pytest

from bot.config import Config
from bot.formatting.formatter import format_article
from bot.reading.articles import Article, load_article
from tests.invariants import check_complete, check_messages
from tests.paths import SHIPPED_CORPUS, corpus_files

FILES = corpus_files()
PROXY = "https://cors.zfour.workers.dev/?"
QU = "http://static.1sapp.com/qupost/"


def _id(path: Path, root: Path) -> str:
    return ("shipped:" if root == SHIPPED_CORPUS else "shared:") + path.stem[:20]


def shipped(name: str) -> Article:
    return load_article(SHIPPED_CORPUS / name, SHIPPED_CORPUS, Config())


@pytest.mark.parametrize(("path", "root"), FILES, ids=[_id(p, r) for p, r in FILES])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_corpus_article(path: Path, root: Path, lang: str, config: Config) -> None:
    article = load_article(path, root, config)
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


def test_corpus_banner_is_never_the_lead(config: Config) -> None:
    """The 620×23 banner (ratio > 20) is refused by Telegram as a photo."""
    seen_banner = False
    for path, root in FILES:
        article = load_article(path, root, config)
        for image in article.images:
            if (image.width, image.height) == (620, 23):
                seen_banner = True
                assert not image.usable
                card = format_article(article, "zh", config.tz).card
                assert card.params.get("photo") != image.url
    assert seen_banner


def test_shipped_corpus_shows_what_the_family_shows() -> None:
    """The shipped selection keeps every case ../shared/corpus/README.md lists, so a fresh
    clone checks them all (a post taken out for one reason must not take a case with it)."""
    posts = [p.read_text("utf-8") for p, root in FILES if root == SHIPPED_CORPUS]
    heads = [frontmatter.loads(p).metadata for p in posts]
    assert len(posts) >= 12
    assert all(p.startswith("\n---\n") and p.endswith("</div>\n            ") for p in posts)
    assert any("headimg" not in h for h in heads) and any("headimg" in h for h in heads)
    assert any("\ncategories: \n    - " in p for p in posts)  # the older generation
    assert any(isinstance(h["date"], str) and h["date"].endswith(" GMT") for h in heads)
    assert any(isinstance(h["date"], datetime) and h["date"].tzinfo is None for h in heads)
    assert any(str(h["thumbnail"]).startswith("http://") for h in heads)
    for shown in (PROXY + "http://", '.gif"', 'data-size="620,23"', 'data-size="1080,4627"'):
        assert any(shown in p for p in posts), shown
    assert any(p.count("<img ") >= 12 for p in posts)
    for shown in ("<svg", "<button", "onclick", "&#123;", "<blockquote>", "<h2", "<ul>"):
        assert any(shown in p for p in posts), shown
    assert any("<strong><img " in p for p in posts)
    assert any("<p>#" in p and "#</p>" in p for p in posts)  # #hashtag# lines
    assert any(p.count("<br>") > 20 for p in posts)  # bare text between line breaks


def test_rfc822_and_naive_dates(config: Config) -> None:
    """An RFC-822 date is UTC; a date without a zone is the bot's time zone (Asia/Shanghai
    by default), not UTC: the Dockone post says 05:06, as its site did."""
    older = shipped("''75后''常务副县长高燕文涉嫌严重违纪违法被查.md")
    assert older.date == datetime(2021, 3, 23, 5, 57, 42, tzinfo=UTC)
    card = format_article(older, "zh", config.tz).card
    assert card.params["caption"].split("\n")[1] == "2021年3月23日 13:57 · 趣头条"
    naive = shipped("CNCF宣布Linkerd正式毕业！.md")
    assert naive.date == datetime(2021, 7, 31, 5, 6, 47, tzinfo=ZoneInfo("Asia/Shanghai"))
    card = format_article(naive, "zh", config.tz).card
    assert card.params["caption"].split("\n")[1] == "2021年7月31日 05:06 · Dockone"


def test_older_front_matter(config: Config) -> None:
    """No headimg, categories indented by four spaces and a blank line after them, an
    unproxied thumbnail: read as the newer posts are."""
    older = shipped("''75后''常务副县长高燕文涉嫌严重违纪违法被查.md")
    assert older.title == "''75后''常务副县长高燕文涉嫌严重违纪违法被查"
    assert older.categories == ("新媒体", "趣头条", "分类")
    assert older.author == "趣头条"
    lead = QU + "img/2021/03/23/b744d262812d53fc8e1927fa585b9466.jpeg"
    assert [(i.url, i.fallback) for i in older.images] == [(lead, None)]
    assert format_article(older, "zh", config.tz).card.params["photo"] == lead


def test_proxied_pictures_go_by_their_own_address(config: Config) -> None:
    """Behind the (probably dead) proxy is the real address: it is sent, the proxied one is
    the fallback; a picture without a size (煎蛋) is still one to send."""
    post = shipped("100天！又有好消息传来！金银纪念币也上新，长这样→.md")
    lead = QU + "img/2021/08/30/6ebaf856037b4c8b7997049c5ad6e515.png"
    card = format_article(post, "zh", config.tz).card
    assert (card.params["photo"], card.fallbacks) == (lead, (PROXY + lead,))
    jandan = shipped("ChromeOS更新源码打错一个符号，笔记本变砖.md")
    (image,) = jandan.images
    jpg = "http://img.jandan.net/news/2019/01/e8a0563355b36a31cc690a3f54a808be.jpg!custom"
    assert image.url == jpg
    assert (image.width, image.height, image.usable) == (None, None, True)


def test_tall_picture_leads_and_the_banner_stays_out(config: Config) -> None:
    post = shipped("+60！满洲里疫情传播链已涉及北京等4省份→.md")
    tall, banner = post.images
    assert (tall.width, tall.height, tall.usable) == (1080, 4627, True)
    assert (banner.width, banner.height, banner.usable) == (620, 23, False)
    formatted = format_article(post, "zh", config.tz)
    assert formatted.card.params["photo"] == tall.url
    assert not formatted.albums  # the banner is not sent at all


def test_gif_and_strips(config: Config) -> None:
    """Strips 57 and 62 pixels high are not sent; the GIF goes as an animation; the card leads
    with the one still picture fit for it, though it is the post's last."""
    post = shipped("10月1日施行.md")
    strip, gif, strip2, still = post.images
    assert [i.usable for i in post.images] == [False, True, False, True]
    assert gif.is_gif and not still.is_gif
    formatted = format_article(post, "zh", config.tz)
    assert formatted.card.params["photo"] == still.url
    ((method, params),) = [(a.method, a.params) for a in formatted.albums]
    assert (method, params["animation"]) == ("sendAnimation", gif.url)
    sent = [m.params.get("photo") or m.params.get("animation") for m in formatted.all()]
    assert strip.url not in sent and strip2.url not in sent


def test_many_pictures(config: Config) -> None:
    """13 pictures, the first too small to lead (474×82): the next leads, the other eleven
    follow in two albums, in the post's order."""
    post = shipped("00后自制火箭并发射，惊呆60w网友.md")
    assert len(post.images) == 13 and not post.images[0].usable
    formatted = format_article(post, "zh", config.tz)
    assert formatted.card.params["photo"] == post.images[1].url
    media = [[item["media"] for item in a.params["media"]] for a in formatted.albums]
    assert [len(m) for m in media] == [5, 6]
    assert [url for album in media for url in album] == [i.url for i in post.images[2:]]


def test_long_text_takes_two_messages(config: Config) -> None:
    post = shipped("10年，一切都在毫厘之间！.md")
    assert len(post.body.text) > 4096
    formatted = format_article(post, "zh", config.tz)
    assert len(formatted.text) == 2
    check_messages(formatted.text)
    check_complete(post.body_html, formatted.text)


def test_widgets_and_entities(config: Config) -> None:
    """A tip button with its svg is no text; &#123; is a brace and a raw && stays as it is;
    a lazy-loaded ZAKER picture (data-original, onclick around it) is found."""
    widget = format_article(shipped("B端决策类产品｜任务中断回溯设计.md"), "zh", config.tz)
    text = widget.text[0].params["text"]
    assert text.endswith("题图来自 Unsplash，基于CC0协议。\n\n给作者打赏，鼓励TA抓紧创作！")
    assert "赞赏" not in text
    code = shipped("ChromeOS更新源码打错一个符号，笔记本变砖.md").body.text
    assert '"if (key_data_.has_value() && !key_data_->label().empty()) {"，' in code
    zaker = shipped("微软封杀漏洞后，网友又挖出了 Win11 家庭版新的离线激活方法.md")
    url = "http://zkres1.myzaker.com/202109/613e1bf8b15ec03cce542222_1024.jpg"
    assert [i.url for i in zaker.images] == [url]
    assert "onclick" not in zaker.body.text
