"""Hostile and odd article files: every one is either rejected with a clear reason
or loads and formats into messages Telegram accepts, with nothing lost."""

from __future__ import annotations

import codecs
import dataclasses
import multiprocessing
import os
import random
import re
import resource
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from bot.config import Config
from bot.formatting.formatter import Formatted, format_article
from bot.formatting.outgoing import TEXT_LIMIT
from bot.formatting.preview import render_terminal
from bot.ledger import Chat, Store
from bot.reading import articles as reading
from bot.reading.articles import (
    MAX_NAME_NODES,
    Article,
    ArticleError,
    article_from_json,
    article_to_json,
    load_article,
    load_folders,
)
from bot.reading.richtext import RichText, split, utf16_len
from bot.sources.scanner import Scanner
from tests.invariants import check_complete, check_messages

CONFIG = Config()
SHANGHAI = CONFIG.tz


# --- helpers ---


def write(folder: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def post(body: str, **meta: str) -> str:
    """An article as this family writes them: a blank line, then the front matter."""
    lines = "".join(f"{key}: {value}\n" for key, value in meta.items())
    return f"\n---\n{lines}---\n\n{body}\n"


def checked(article: Article, lang: str = "zh") -> Formatted:
    formatted = format_article(article, lang, CONFIG.tz)
    check_messages(formatted.all())
    check_complete(article.body_html, formatted.text)
    return formatted


def load_checked(path: Path, config: Config = CONFIG) -> tuple[Article, Formatted]:
    article = load_article(path, path.parent, config)
    return article, checked(article)


def rejected(path: Path, config: Config = CONFIG) -> ArticleError:
    with pytest.raises(ArticleError) as info:
        load_article(path, path.parent, config)
    error = info.value
    assert error.path == path
    assert str(path) in str(error)
    return error


def texts(formatted: Formatted) -> list[str]:
    return [m.params["text"] for m in formatted.text]


def visible(formatted: Formatted) -> str:
    return "\n".join(m.text_and_entities()[0] for m in formatted.all())


def entities_of(formatted: Formatted) -> list[tuple[str, dict]]:
    out = []
    for message in formatted.all():
        text, entities = message.text_and_entities()
        out.extend((text, e) for e in entities)
    return out


def entity_text(text: str, entity: dict) -> str:
    """The characters an entity covers (offsets are UTF-16 units)."""
    units = text.encode("utf-16-le")
    start, end = entity["offset"] * 2, (entity["offset"] + entity["length"]) * 2
    return units[start:end].decode("utf-16-le")


# --- front matter errors ---

FRONT = ["title: 通知", "date: 2021-08-07 02:22:05", "author: 教务处", "categories: 通知公告"]


@pytest.mark.parametrize(
    ("bad_index", "bad_line", "leading_blank", "expected"),
    [
        # blank line 1, "---" line 2, so front-matter line k (0-based) is file line 3 + k
        (0, "title: a: b", True, 3),
        (2, "author: a: b", True, 5),
        (4, "tags:\n\t- x", True, 8),  # the tab is on the line after "tags:"
        (1, 'summary: "未闭合', True, 4),  # the quote opens here; YAML notices at the end
        (2, "author: a: b", False, 4),  # no leading blank line: "---" is line 1
    ],
    ids=["first-line", "middle", "tab", "unclosed-quote", "no-blank-line"],
)
def test_invalid_yaml_names_the_line_in_the_file(
    tmp_path: Path, bad_index: int, bad_line: str, leading_blank: bool, expected: int
) -> None:
    front = [*FRONT]
    front.insert(bad_index, bad_line)
    prefix = "\n" if leading_blank else ""
    text = prefix + "---\n" + "\n".join(front) + "\n---\n\n<p>正文</p>\n"
    marker = bad_line.split("\n")[-1]
    assert text.split("\n")[expected - 1] == marker  # the expectation is the offending line
    error = rejected(write(tmp_path, "bad.md", text))
    assert "YAML" in error.reason
    numbers = [int(n) for n in re.findall(r"\bline (\d+)\b", error.reason)]
    assert numbers == [expected], error.reason


# --- files that are not articles ---


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b" \n\t\n   \r\n\n", "empty"),
        ("\u3000\n \n".encode(), "empty"),
    ],
    ids=["empty", "whitespace", "ideographic-space"],
)
def test_empty_files_are_rejected(tmp_path: Path, content: bytes, reason: str) -> None:
    error = rejected(write(tmp_path, "empty.md", content))
    assert reason in error.reason


def test_front_matter_without_body_is_rejected(tmp_path: Path) -> None:
    error = rejected(write(tmp_path, "only-meta.md", post("", title="只有标题")))
    assert error.reason == "no text and no image"


def _random_bytes(seed: int, size: int = 4096) -> bytes:
    data = random.Random(seed).randbytes(size)
    return data[:100] + b"\x00" + data[100:]


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + _random_bytes(1),
        b"abc" + _random_bytes(2),
        b"\n---\ntitle: x\n---\n\n<p>text\x00more</p>\n",
    ],
    ids=["png", "random", "text-with-nul"],
)
def test_binary_files_are_rejected(tmp_path: Path, content: bytes) -> None:
    assert not content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    error = rejected(write(tmp_path, "binary.md", content))
    assert "binary" in error.reason


def test_utf16_bom_with_garbage_is_rejected(tmp_path: Path) -> None:
    content = codecs.BOM_UTF16_LE + b"\x00\xd8\x41\x00" + _random_bytes(3)
    error = rejected(write(tmp_path, "garbage16.md", content))
    assert "binary" in error.reason or "UTF-16" in error.reason


def test_huge_file_is_rejected_by_size(tmp_path: Path) -> None:
    body = "<p>" + "长" * 1_000_000 + "</p>"  # 3 MB in UTF-8
    path = write(tmp_path, "huge.md", post(body, title="大文件"))
    assert path.stat().st_size > 3_000_000
    error = rejected(path)
    assert f"{CONFIG.max_file_bytes:,}" in error.reason
    assert "limit" in error.reason
    assert f"{path.stat().st_size:,}" in error.reason


def test_size_limit_comes_from_config(tmp_path: Path) -> None:
    path = write(tmp_path, "medium.md", post("<p>" + "字" * 400 + "</p>", title="中等"))
    small = dataclasses.replace(CONFIG, max_file_bytes=1000)
    assert "1,000-byte limit" in rejected(path, small).reason
    load_checked(path, dataclasses.replace(CONFIG, max_file_bytes=path.stat().st_size))


# --- encodings ---

CHINESE = post("<p>各位同学：寒假期间请注意安全，按时返校。</p>", title="寒假安全通知")


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("gb18030"),
        lambda s: codecs.BOM_UTF8 + s.encode("utf-8"),
        lambda s: s.encode("utf-16"),
        lambda s: codecs.BOM_UTF16_BE + s.encode("utf-16-be"),
        lambda s: s.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["gb18030", "utf8-bom", "utf16-bom", "utf16-be-bom", "crlf"],
)
def test_encodings_load_the_same_article(tmp_path: Path, encode: Callable[[str], bytes]) -> None:
    raw = encode(CHINESE)
    article, formatted = load_checked(write(tmp_path, "encoded.md", raw))
    assert article.title == "寒假安全通知"
    assert article.body.text == "各位同学：寒假期间请注意安全，按时返校。"
    assert "\ufeff" not in visible(formatted)
    assert texts(formatted)[0].startswith("寒假安全通知\n")


# --- Markdown without front matter ---


def test_markdown_without_front_matter(tmp_path: Path) -> None:
    text = "# 标题\n\n正文里有**加粗**文字，还有一句。\n"
    article, formatted = load_checked(write(tmp_path, "plain.md", text))
    assert article.title == "标题"
    full = "".join(texts(formatted))
    assert "*" not in full
    assert "*" not in visible(formatted)
    assert "正文里有加粗文字，还有一句。" in full
    bold = [
        entity_text(message.params["text"], e)
        for message in formatted.text
        for e in message.params["entities"]
        if e["type"] == "bold"
    ]
    assert "加粗" in bold
    # The only bolds: the title line, the heading, and exactly 加粗.
    assert sorted(bold) == sorted(["标题", "标题", "加粗"])


# --- dates ---


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2021-08-07 02:22:05", datetime(2021, 8, 6, 18, 22, 5, tzinfo=UTC)),
        ("2022-02-01", datetime(2022, 1, 31, 16, 0, tzinfo=UTC)),
        ("Tue, 01 Feb 2022 08:57:15 GMT", datetime(2022, 2, 1, 8, 57, 15, tzinfo=UTC)),
        ("'Tue, 01 Feb 2022 08:57:15 +0800'", datetime(2022, 2, 1, 0, 57, 15, tzinfo=UTC)),
        ("2022-02-01T08:00:00Z", datetime(2022, 2, 1, 8, 0, tzinfo=UTC)),
        ("'2021/08/07 02:22:05'", datetime(2021, 8, 6, 18, 22, 5, tzinfo=UTC)),
    ],
    ids=["naive", "date-only", "rfc2822-gmt", "rfc2822-offset", "iso-z", "slashes"],
)
def test_dates(tmp_path: Path, value: str, utc: datetime) -> None:
    path = write(tmp_path, "dated.md", post("<p>内容</p>", title="日期", date=value))
    article, formatted = load_checked(path)
    assert article.date.tzinfo is not None
    assert article.date == utc
    assert article.date.astimezone(UTC).replace(tzinfo=None) == utc.replace(tzinfo=None)
    assert article.warnings == ()
    local = utc.astimezone(SHANGHAI)
    caption = formatted.card.params["text"]
    assert f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}" in caption


def test_naive_date_is_shanghai_wall_time(tmp_path: Path) -> None:
    path = write(tmp_path, "n.md", post("<p>内容</p>", title="日期", date="2021-08-07 02:22:05"))
    article, formatted = load_checked(path)
    assert article.date.astimezone(SHANGHAI).replace(tzinfo=None) == datetime(2021, 8, 7, 2, 22, 5)
    assert "2021年8月7日 02:22" in formatted.card.params["text"]


def test_missing_date_uses_file_mtime(tmp_path: Path) -> None:
    path = write(tmp_path, "undated.md", post("<p>内容</p>", title="无日期"))
    stamp = 1_650_000_000  # 2022-04-15 05:20:00 UTC
    os.utime(path, (stamp, stamp))
    article, formatted = load_checked(path)
    assert article.date == datetime.fromtimestamp(stamp, UTC)
    assert article.warnings == ()
    assert "2022年4月15日 13:20" in formatted.card.params["text"]


def test_unparseable_date_warns_and_uses_mtime(tmp_path: Path) -> None:
    path = write(tmp_path, "junk.md", post("<p>内容</p>", title="坏日期", date="下周二"))
    os.utime(path, (1_600_000_000, 1_600_000_000))
    article, _ = load_checked(path)
    assert article.date == datetime.fromtimestamp(1_600_000_000, UTC)
    assert len(article.warnings) == 1 and "下周二" in article.warnings[0]


# --- categories, titles ---


def test_single_string_category(tmp_path: Path) -> None:
    path = write(tmp_path, "cat.md", post("<p>内容</p>", title="分类", categories="通知公告"))
    article, formatted = load_checked(path)
    assert article.categories == ("通知公告",)
    caption = formatted.card.params["text"]
    assert re.findall(r"#\w+", caption) == ["#通知公告"]
    assert caption.count("#") == 1
    assert caption.endswith("#通知公告")


def test_title_falls_back_to_first_line(tmp_path: Path) -> None:
    body = "<p>第一行 是标题<br>第二行不是</p><p>第二段</p>"
    article, formatted = load_checked(write(tmp_path, "untitled.md", post(body, author="某人")))
    assert article.title == "第一行 是标题"
    assert texts(formatted)[0].startswith("第一行 是标题\n")


def test_title_falls_back_to_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, "2022-02-01-only-picture.md", "![](https://example.com/only.jpg)\n")
    article, formatted = load_checked(path)
    assert article.title == "2022-02-01-only-picture"
    assert [i.url for i in article.images] == ["https://example.com/only.jpg"]
    assert formatted.card.method == "sendPhoto"
    assert formatted.card.params["photo"] == "https://example.com/only.jpg"
    assert formatted.card.params["caption"].startswith("2022-02-01-only-picture\n")
    assert formatted.albums == []


# --- deep nesting ---

DEPTH = 5000


@pytest.mark.parametrize(
    "body",
    [
        "<div><span><b>" * DEPTH + "深处的文字" + "</b></span></div>" * DEPTH,
        "<div><span><b>" * DEPTH + "深处的文字",
        "<p>开头</p>" + "<i>" * DEPTH + "深处的文字",
        "<i>" * DEPTH + "深处的文字",
        "<blockquote>" * DEPTH + "深处的文字" + "</blockquote>" * DEPTH,
    ],
    ids=["closed", "unclosed-div", "unclosed-i-html", "unclosed-i-markdown", "quote"],
)
def test_deep_nesting(tmp_path: Path, body: str) -> None:
    path = write(tmp_path, "deep.md", post(body, title="深层嵌套"))
    article, formatted = load_checked(path)
    assert len(formatted.text) <= 10  # a 50 KB file is not thousands of messages
    assert "深处的文字" in article.body.text
    assert "深处的文字" in "".join(texts(formatted))
    for message in formatted.all():
        assert utf16_len(message.text_and_entities()[0]) <= message.limit


# --- unsafe content ---


@pytest.mark.parametrize(
    "body",
    [
        "<p>可见</p><script>var s = 'SCRIPTSECRET';</script>"
        "<style>.x{content:'STYLESECRET'}</style><p>也可见</p>",
        "可见\n\n<script>\nvar s = 'SCRIPTSECRET';\n</script>\n\n"
        "<style>\n.x{content:'STYLESECRET'}\n</style>\n\n也可见",
        "<p>可见<SCRIPT type='text/javascript'>SCRIPTSECRET</SCRIPT>"
        "<Style>STYLESECRET</Style>也可见</p>",
        "<p>可见<noscript>SCRIPTSECRET</noscript><svg><style>STYLESECRET</style></svg>也可见</p>",
    ],
    ids=["html", "markdown", "uppercase", "noscript-svg"],
)
def test_script_and_style_never_shown(tmp_path: Path, body: str) -> None:
    _article, formatted = load_checked(write(tmp_path, "s.md", post(body, title="脚本")))
    shown = visible(formatted)
    assert "可见" in shown and "也可见" in shown
    for secret in ("SCRIPTSECRET", "STYLESECRET", "var s", "content:"):
        assert secret not in shown
        for message in formatted.all():
            assert secret not in repr(message.params)


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "jav&#x09;ascript:alert(1)",
        "data:text/html,<b>x</b>",
        "vbscript:msgbox",
    ],
)
def test_unsafe_link_keeps_text_without_link(tmp_path: Path, href: str) -> None:
    body = f'<p>请<a href="{href}">点这里</a>查看。</p>'
    _article, formatted = load_checked(write(tmp_path, "js.md", post(body, title="链接")))
    assert "请点这里查看。" in "".join(texts(formatted))
    assert "请点这里查看。" in formatted.card.params["text"]
    for _text, entity in entities_of(formatted):
        assert entity["type"] != "text_link", entity
    assert "alert" not in visible(formatted)
    for row in formatted.card.params.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            assert "javascript" not in button.get("url", "").lower()


def test_javascript_link_in_markdown(tmp_path: Path) -> None:
    body = "请[点这里](javascript:alert(1))查看。"
    _article, formatted = load_checked(write(tmp_path, "jsmd.md", post(body, title="链接")))
    assert "点这里" in "".join(texts(formatted))
    assert all(e["type"] != "text_link" for _t, e in entities_of(formatted))


def test_data_images_dropped(tmp_path: Path) -> None:
    body = (
        '<p><img src="data:image/png;base64,iVBORw0KGgo=" data-size="800,600"></p>'
        '<p><img src="https://example.com/real.jpg" data-size="800,600"></p>'
        '<p><img src="DATA:image/gif;base64,R0lGOD=="></p><p>正文</p>'
    )
    path = write(tmp_path, "data.md", post(body, title="图片", cover="data:image/png;base64,AA"))
    article, formatted = load_checked(path)
    assert [i.url for i in article.images] == ["https://example.com/real.jpg"]
    assert formatted.card.params["photo"] == "https://example.com/real.jpg"
    assert "data:" not in repr([m.params for m in formatted.all()])


# --- many images ---


def test_thirty_images_become_lead_and_albums(tmp_path: Path) -> None:
    urls = [f"https://example.com/img/{n:02d}.jpg" for n in range(30)]
    parts = []
    for n, url in enumerate(urls):
        parts.append(f'<p><img src="{url}" data-size="{800 + n},{600 + n}"></p><p>第{n}张</p>')
        if n == 5:  # unusable pictures in between: too small, too long
            parts.append('<p><img src="https://example.com/tiny.jpg" data-size="20,20"></p>')
            parts.append('<p><img src="https://example.com/strip.jpg" data-size="100,5000"></p>')
        if n == 7:  # the same picture again
            parts.append(f'<p><img src="{urls[0]}" data-size="800,600"></p>')
    article, formatted = load_checked(write(tmp_path, "many.md", post("".join(parts), title="图")))
    assert len(article.images) == 32
    assert [i.url for i in article.usable_images] == urls
    assert formatted.card.method == "sendPhoto"
    assert formatted.card.params["photo"] == urls[0]
    groups = [m.params["media"] for m in formatted.albums]
    assert all(m.method == "sendMediaGroup" for m in formatted.albums)
    assert all(2 <= len(g) <= 10 for g in groups)
    assert len(groups) == 3
    sent = [item["media"] for group in groups for item in group]
    assert sent == urls[1:]
    assert all(item["type"] == "photo" for group in groups for item in group)
    for message in formatted.albums:
        assert len(message.fallbacks) == len(message.params["media"])


@pytest.mark.parametrize("count", [1, 2, 3, 10, 11, 12, 21])
def test_album_sizes(tmp_path: Path, count: int) -> None:
    urls = [f"https://example.com/{n}.jpg" for n in range(count + 1)]
    body = "".join(f'<p><img src="{u}" data-size="800,600"></p>' for u in urls) + "<p>字</p>"
    _, formatted = load_checked(write(tmp_path, "a.md", post(body, title="相册")))
    sent = []
    for message in formatted.albums:
        if message.method == "sendMediaGroup":
            assert 2 <= len(message.params["media"]) <= 10
            sent.extend(item["media"] for item in message.params["media"])
        else:
            assert message.method == "sendPhoto"
            sent.append(message.params["photo"])
    assert sent == urls[1:]


# --- splitting around emoji ---

# (sequence, UTF-16 units of the sequence that fit before the 4096 boundary)
EMOJI_CUTS = [
    ("😀", 1),
    ("👨\u200d👩\u200d👧", 1),
    ("👨\u200d👩\u200d👧", 3),
    ("👨\u200d👩\u200d👧", 4),
    ("👨\u200d👩\u200d👧", 7),
    ("👍🏽", 3),
    ("👍🏽", 2),
    ("🇨🇳", 2),
    ("🇨🇳", 3),
    ("e\u0301\u0301", 1),
]


def _filler(n: int) -> str:
    return "".join(chr(0x4E00 + (i * 7) % 2000) for i in range(n))


@pytest.mark.parametrize(("emoji", "inside"), EMOJI_CUTS)
def test_split_never_cuts_an_emoji(emoji: str, inside: int) -> None:
    before = _filler(TEXT_LIMIT - inside)
    text = before + emoji + _filler(300)
    assert utf16_len(before) < TEXT_LIMIT < utf16_len(before + emoji)
    rich = RichText().append(text[:4000]).append(text[4000:], "bold")
    parts = split(rich, TEXT_LIMIT)
    assert "".join(p.text for p in parts) == text
    assert sum(emoji in p.text for p in parts) == 1
    for part in parts:
        assert utf16_len(part.text) <= TEXT_LIMIT
        part.text.encode("utf-16-le")  # no lone surrogate
        for entity in part.entities:
            assert 0 <= entity.start < entity.end <= len(part.text)


@pytest.mark.parametrize("anchor", ["body", "message"])
@pytest.mark.parametrize(("emoji", "inside"), EMOJI_CUTS)
def test_article_split_around_emoji(tmp_path: Path, emoji: str, inside: int, anchor: str) -> None:
    title = "表情"
    probe = load_article(write(tmp_path, "p.md", post("<p>字</p>", title=title)), tmp_path, CONFIG)
    header = format_article(probe, "zh", CONFIG.tz).text[0].params["text"][: -len("字")]
    offset = 0 if anchor == "body" else utf16_len(header)
    n = TEXT_LIMIT - inside - offset
    before, after = _filler(n), _filler(5000)
    body = f"<p>{before[:-50]}<b>{before[-50:]}{emoji}{after[:50]}</b>{after[50:]}</p>"
    path = write(tmp_path, "emoji.md", post(body, title=title))
    os.utime(path, (probe.date.timestamp(),) * 2)
    article, formatted = load_checked(path)
    assert article.body.text == before + emoji + after
    parts = texts(formatted)
    assert len(parts) >= 3
    for text in parts:
        assert utf16_len(text) <= TEXT_LIMIT
        text.encode("utf-16-le")
    assert sum(emoji in text for text in parts) == 1
    assert emoji in "".join(parts)
    assert "".join(parts).endswith(before + emoji + after)


# --- a long paragraph with no break ---


def test_ten_thousand_chars_without_breaks(tmp_path: Path) -> None:
    paragraph = _filler(10_000)
    assert not re.search(r"[\s\W]", paragraph)
    path = write(tmp_path, "long.md", post(f"<p>{paragraph}</p>", title="长段落"))
    _article, formatted = load_checked(path)
    parts = texts(formatted)
    assert all(utf16_len(p) <= TEXT_LIMIT for p in parts)
    assert len(parts) >= 3
    joined = "".join(parts)
    assert joined.count(paragraph) == 1
    assert sum(len(p) for p in parts if p[0] in paragraph) >= len(paragraph)
    summary = formatted.card.params["text"]
    assert utf16_len(summary) <= 1024


def test_ten_thousand_chars_in_markdown_with_bold(tmp_path: Path) -> None:
    paragraph = _filler(10_000)
    body = paragraph[:3000] + "**" + paragraph[3000:7000] + "**" + paragraph[7000:]
    _article, formatted = load_checked(write(tmp_path, "long-md.md", post(body, title="长")))
    assert "".join(texts(formatted)).count(paragraph) == 1
    bold = "".join(
        entity_text(m.params["text"], e)
        for m in formatted.text
        for e in m.params["entities"]
        if e["type"] == "bold" and entity_text(m.params["text"], e) != "长"
    )
    assert bold == paragraph[3000:7000]


# --- one image and two links ---


def test_image_and_two_links(tmp_path: Path) -> None:
    body = (
        '<p><img src="https://example.com/poster.jpg" data-size="1080,1920"></p>'
        '<p><a href="https://example.com/one?a=1&amp;b=2">报名表</a></p>'
        '<p><a href="https://example.org/two">活动细则</a></p>'
    )
    _article, formatted = load_checked(write(tmp_path, "links.md", post(body, title="活动")))
    assert formatted.card.method == "sendPhoto"
    assert formatted.card.params["photo"] == "https://example.com/poster.jpg"
    assert formatted.albums == []
    links = [
        (entity_text(m.params["text"], e), e["url"])
        for m in formatted.text
        for e in m.params["entities"]
        if e["type"] == "text_link"
    ]
    assert links == [
        ("报名表", "https://example.com/one?a=1&b=2"),
        ("活动细则", "https://example.org/two"),
    ]


# --- folders ---


def test_mixed_folder(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    good = {
        write(root, "good-html.md", post("<p>正常文章</p>", title="正常一")): "正常一",
        write(root, "good-md.md", "# 正常二\n\n正文。\n"): "正常二",
        write(root, "sub/good-gb.markdown", post("<p>国标</p>", title="正常三"), "gb18030"): (
            "正常三"
        ),
        write(root, "good-weird.md", post("<p>怪</p>", title="[1, 2]", tags="{a: 1}")): "怪",
    }
    bad = [
        write(root, "empty.md", b""),
        write(root, "blank.md", b"\n \n\t\n"),
        write(root, "binary.md", _random_bytes(7)),
        write(root, "yaml.md", post("<p>x</p>", title="a: b")),
        write(root, "big.md", post("<p>" + "大" * 30_000 + "</p>", title="大")),
        write(root, "nothing.md", post("", title="空")),
        write(root, "hr-only.md", "---\n"),
        write(root, "bad16.md", codecs.BOM_UTF16_LE + b"\x00\xd8"),
        write(root, "bad-date.md", post("<p>日</p>", title="坏日期", date="2021-13-45")),
    ]
    write(root, "notes.txt", b"\x00 not an article")
    write(root, ".drafts/hidden.md", b"\x00 hidden")
    config = dataclasses.replace(CONFIG, max_file_bytes=50_000)
    result = load_folders([root, tmp_path / "missing"], config)
    errors = {error.path: error for error in result.errors}
    assert len(result.errors) == len(bad)
    assert set(errors) == set(bad)
    assert all(isinstance(e, ArticleError) and e.reason for e in result.errors)
    assert "limit" in errors[root / "big.md"].reason
    assert "YAML" in errors[root / "yaml.md"].reason
    assert {a.path: a.title for a in result.articles} == good
    assert len({a.id for a in result.articles}) == len(result.articles)
    for article in result.articles:
        checked(article)


def test_folder_never_raises_on_strange_front_matter(tmp_path: Path) -> None:
    contents = [
        "---\n- a\n- b\n---\n\n<p>列表</p>\n",
        "---\n42\n---\n\n<p>数字</p>\n",
        "---\ntitle: !!python/object:os.system ls\n---\n\n<p>标签</p>\n",
        "---\ndate: 0000-00-00\n---\n\n<p>零</p>\n",
        "---\ndate: 9999-12-31 23:59:59\n---\n\n<p>远</p>\n",
        "---\ndate: 99999999999999999999\n---\n\n<p>大数</p>\n",
        "---\nauthor: {name: [1, 2]}\ncategories: [[a, [b, [c]]], {x: y}, 3]\n---\n\n<p>嵌</p>\n",
        "---\nid: '!!!'\nslug: ''\n---\n\n<p>号</p>\n",
        "---\nheadimg: [1, 'javascript:x', '//example.com/a.jpg']\n---\n\n<p>图</p>\n",
        "---\n" + "x" * 60_000 + ": 1\n---\n\n<p>长键</p>\n",
    ]
    for n, content in enumerate(contents):
        write(tmp_path, f"{n:02d}.md", content)
    result = load_folders([tmp_path], CONFIG)
    assert len(result.articles) + len(result.errors) == len(contents)
    for article in result.articles:
        checked(article)
        assert re.fullmatch(r"[a-z0-9_]{1,24}", article.id)
    for error in result.errors:
        assert error.reason


def test_yaml_alias_bomb_is_cheap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 500-byte front matter whose aliases expand to 10^8 tags and as many categories:
    the loader reads a bounded number of those names (MAX_NAME_NODES nodes a key), not
    all of them; a loader that walks on fails here at ten times that, instead of hanging."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 8):
        levels.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    text = "\n---\n" + "\n".join(levels) + "\ntags: *a7\ncategories: *a7\n---\n\n<p>炸弹</p>\n"
    path = write(tmp_path, "bomb.md", text)
    assert path.stat().st_size < 1000
    names_read = 0
    clean = reading._clean  # what makes each name read from the front matter text

    def counted(value: str) -> str:
        nonlocal names_read
        names_read += 1
        assert names_read <= 10 * MAX_NAME_NODES, "the loader walks the whole alias bomb"
        return clean(value)

    monkeypatch.setattr(reading, "_clean", counted)
    try:
        article = load_article(path, tmp_path, CONFIG)
    except ArticleError as error:  # rejecting it is fine too
        assert error.reason
        return
    assert article.tags == ("x",) and article.categories == ("x",)
    # two keys of at most MAX_NAME_NODES nodes each; more than 100: the counting sees the walk
    assert 100 < names_read <= 2 * MAX_NAME_NODES + 100, names_read
    checked(article)


@pytest.mark.parametrize(
    "body",
    ["<ul><li>" * DEPTH + "深处的文字", "<ol><li>" * DEPTH + "深处的文字" + "</li></ol>" * DEPTH],
    ids=["unclosed-ul", "closed-ol"],
)
def test_deeply_nested_lists_are_cheap(tmp_path: Path, body: str) -> None:
    """5,000 nested lists: a 50 KB file must not become megabytes of indentation."""
    path = write(tmp_path, "lists.md", post(body, title="列表"))
    assert path.stat().st_size < 100_000
    article = load_article(path, tmp_path, CONFIG)
    assert len(article.body.text) < 200_000
    assert "深处的文字" in article.body.text
    formatted = checked(article)
    assert len(formatted.text) <= 50


# --- symbolic links ---

TOKEN = "123456789:AAHsecret-token-of-the-bot"
CONFIG_FILE = f'[telegram]\ntoken = "{TOKEN}"\n'


def _linked_folder(tmp_path: Path) -> tuple[Path, Path, Path]:
    """An articles folder holding one article, and the bot's config beside it."""
    root = tmp_path / "articles"
    inside = write(root, "2022/real.md", post("<p>校内通知正文</p>", title="真的通知"))
    secret = write(tmp_path, "noticebot.toml", CONFIG_FILE)
    return root, inside, secret


@pytest.mark.parametrize("target", ["outside", "inside", "inside-relative"])
def test_a_linked_file_is_not_read(tmp_path: Path, target: str) -> None:
    """A link committed to a blog's repository must not send what it names: not the
    bot's config outside the folder, and not another file inside it either."""
    root, inside, secret = _linked_folder(tmp_path)
    link = root / "leak.md"
    link.symlink_to(
        {"outside": secret, "inside": inside, "inside-relative": "2022/real.md"}[target]
    )
    error = rejected(link)
    assert "symbolic link" in error.reason
    assert "\n" not in str(error)
    assert TOKEN not in str(error)


def test_a_file_reached_through_a_linked_folder_stays_inside(tmp_path: Path) -> None:
    """A linked folder out of the articles folder gives nothing; one within it is the
    folder's own files, found by another path; a configured folder may be a link."""
    root, inside, _secret = _linked_folder(tmp_path)
    outside = tmp_path / "elsewhere"
    write(outside, "copied.md", post(f"<p>{TOKEN}</p>", title="外面"))
    (root / "out").symlink_to(outside)
    (root / "again").symlink_to(inside.parent)
    error = rejected_in(root / "out" / "copied.md", root)
    assert "outside" in error.reason and "\n" not in error.reason
    article = load_article(root / "again" / "real.md", root, CONFIG)
    assert article.title == "真的通知"
    current = tmp_path / "current"  # a folder that is itself a link: the admin's choice
    current.symlink_to(root)
    assert load_article(current / "2022" / "real.md", current, CONFIG).title == "真的通知"


def rejected_in(path: Path, root: Path) -> ArticleError:
    with pytest.raises(ArticleError) as info:
        load_article(path, root, CONFIG)
    assert info.value.path == path
    return info.value


def test_a_linked_file_in_a_folder_is_an_error_never_an_article(tmp_path: Path) -> None:
    root, _inside, secret = _linked_folder(tmp_path)
    (root / "leak.md").symlink_to(secret)
    result = load_folders([root], CONFIG)
    assert [a.title for a in result.articles] == ["真的通知"]
    assert all(TOKEN not in article_to_json(a) for a in result.articles)
    assert all(TOKEN not in str(e) for e in result.errors)
    assert [e.path for e in result.errors] in ([], [root / "leak.md"])  # or the walk skips it


def test_a_fifo_is_not_waited_on(tmp_path: Path) -> None:
    """A named pipe called post.md would hold the scan until someone wrote to it."""
    root = tmp_path / "articles"
    root.mkdir()
    os.mkfifo(root / "pipe.md")
    outcome = _in_a_child(_load_outcome, root / "pipe.md", root)
    assert outcome[0] == "error" and "regular file" in outcome[1]


def test_a_linked_file_never_reaches_a_chat(tmp_path: Path) -> None:
    """The scanner with a real ledger: the link is reported invalid, nothing of it is
    queued or kept, and a real article written beside it still goes out."""
    root, inside, secret = _linked_folder(tmp_path)
    store = Store(tmp_path / "ledger.db")
    store.subscribe(Chat(1))
    scanner = Scanner(store, Config(articles=(root,)))
    assert scanner.scan().first_scan  # the archive: taken in, not sent
    (root / "leak.md").symlink_to(secret)
    (root / "twin.md").symlink_to(inside)
    write(root, "news.md", post("<p>本周六停水，请提前储水。</p>", title="停水通知"))
    report = scanner.scan()
    invalid = dict(report.invalid)
    assert set(invalid) == {str(root / "leak.md"), str(root / "twin.md")}
    assert all("symbolic link" in reason and "\n" not in reason for reason in invalid.values())
    assert report.queued == 1
    (delivery,) = store.deliveries(1)
    titles = store.db.execute("SELECT id, title FROM articles").fetchall()
    assert dict(titles)[delivery.article_id] == "停水通知"
    assert "真的通知" in dict(titles).values()  # the archive's article, once
    assert len(titles) == 2
    for (content,) in store.db.execute("SELECT content FROM versions"):
        assert TOKEN not in content
    store.close()


# --- YAML alias bombs ---

# Nine levels of nine: *i stands for 9^9 (387 million) strings in 383 bytes.
_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)
ONE_VALUE_KEYS = [
    "title",
    "date",
    "updated",
    "expires",
    "priority",
    "urgent",
    "draft",
    "published",
    "withdrawn",
    "link",
    "url",
    "permalink",
    "slug",
    "id",
    "abbrlink",
    "excerpt",
    "description",
    "summary",
    "author",
]
PICTURE_KEYS = ["headimg", "cover", "thumbnail", "image", "banner", "top_img"]
NAME_KEYS = ["categories", "tags"]


def _bomb_in(key: str) -> str:
    value = "{name: *i}" if key == "author-name" else "*i"
    key = "author" if key == "author-name" else key
    return f"\n---\n{_BOMB}\n{key}: {value}\nlayout: post\n---\n\n<p>炸弹正文</p>\n"


def _load_outcome(path: Path, root: Path) -> tuple[str, str]:
    try:
        return "article", article_to_json(load_article(path, root, CONFIG))
    except ArticleError as error:
        return "error", error.reason


def _child(send: Connection, action: Callable[..., object], args: tuple[object, ...]) -> None:
    # Bounded memory too: a regression makes a string of gigabytes before it stalls.
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    room = pages * os.sysconf("SC_PAGE_SIZE") + (1 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (room, room))
    try:
        send.send(action(*args))
    except BaseException as exc:  # reported to the test, which fails with it
        send.send(("crashed", repr(exc)[:500]))


def _in_a_child(action: Callable[..., tuple[str, str]], *args: object) -> tuple[str, str]:
    """``action(*args)`` in a forked process: a regression that never returns (or eats
    all memory) fails the test instead of hanging the suite."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, action, args), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(GUARD_SECONDS):
            raise AssertionError(f"{action.__name__}{args} did not return")
        return receive.recv()
    finally:
        child.kill()
        child.join()


GUARD_SECONDS = 60  # a guard against a hang, not a measure: a load takes milliseconds (and
# below the suite's 120 s a test, so the test says what hung)


@pytest.mark.parametrize(
    "key", [*ONE_VALUE_KEYS, "author-name", *PICTURE_KEYS, *NAME_KEYS, "layout"]
)
def test_an_alias_bomb_in_any_key_is_cheap(tmp_path: Path, key: str) -> None:
    """387 million strings behind one key: never made text, never walked in full."""
    path = write(tmp_path, "bomb.md", _bomb_in(key))
    assert len(_BOMB) < 400 and path.stat().st_size < 500
    kind, result = _in_a_child(_load_outcome, path, tmp_path)
    assert kind in ("article", "error"), result
    if kind == "error":  # rejecting it is fine, in one line that names the key
        assert key.split("-")[0] in result and "\n" not in result
        return
    article = article_from_json(result)
    assert article.body.text == "炸弹正文"
    if key in ONE_VALUE_KEYS or key == "author-name":
        assert any(w.startswith(key.split("-")[0] + " ") for w in article.warnings), (
            article.warnings
        )
    for text in (article.title, article.author or "", article.link or "", article.excerpt or ""):
        assert len(text) < 200
    assert article.tags in ((), ("lol",)) and article.categories in ((), ("lol",))
    assert article.images == ()
    assert not article.draft and not article.urgent and article.expires is None
    checked(article)


# --- control characters ---

ESCAPES = [
    "\x1b]0;pwned\x07",  # sets the window title
    "\x1b]52;c;aGFja2Vk\x07",  # writes the clipboard
    "\x1b[2J\x1b[H",  # clears the screen
    "\x1b[8m",  # hides what follows
    "\x9b31m",  # the same, C1
    "\x08\x08\x7f\r",  # erases what came before
]
KEPT = "中文通知 👨\u200d👩\u200d👧 👍🏽 🇨🇳 שלום עולם مرحبا بالعالم"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (*_strings(key), *_strings(item))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def _no_controls(*texts: str) -> None:
    for text in texts:
        assert not _CONTROL.search(text), repr(text)


def test_control_characters_in_a_body_never_reach_a_terminal_or_a_chat(tmp_path: Path) -> None:
    """Escape sequences in the body are gone from the chat and the preview; emoji, CJK,
    right-to-left text, tabs and line breaks are kept."""
    body = f"<p>正文{''.join(ESCAPES)}结束</p>\n<p>{KEPT}</p>\n<pre>a\tb</pre>\n"
    path = write(tmp_path, "escape.md", post(body, title="标题", tags="[标签]"))
    article, formatted = load_checked(path)
    # What is left of a sequence is plain text, shown as it is: harmless, and a sign.
    assert article.body.text.startswith("正文]0;pwned]52;c;aGFja2Vk[2J[H[8m31m")
    assert KEPT in article.body.text and "a\tb" in article.body.text
    _no_controls(article.body.text, article.body_html)
    _no_controls(*(s for message in formatted.all() for s in _strings(message.params)))
    shown = render_terminal(article.title, formatted.all(), color=False)
    _no_controls(shown)
    assert KEPT in shown


def test_control_characters_in_front_matter_are_dropped(tmp_path: Path) -> None:
    """In the title, author, tags, categories and excerpt alike: dropped, and the file
    is read (YAML refuses a control character outright)."""
    text = (
        f"\n---\ntitle: '{ESCAPES[0]}标题'\nauthor: '{ESCAPES[3]}教务处'\n"
        f"tags:\n  - '{ESCAPES[1]}标签'\n  - 普通\ncategories: '{ESCAPES[4]}通知'\n"
        f"excerpt: '摘要{ESCAPES[2]}'\n---\n\n<p>正文</p>\n"
    )
    article, formatted = load_checked(write(tmp_path, "escape.md", text))
    assert article.title == "]0;pwned标题"
    assert article.tags == ("]52;c;aGFja2Vk标签", "普通") and article.categories == ("31m通知",)
    assert article.author == "[8m教务处"
    assert article.excerpt == "摘要[2J[H"
    _no_controls(*(s for message in formatted.all() for s in _strings(message.params)))
    _no_controls(render_terminal(article.title, formatted.all(), color=False))


@pytest.mark.parametrize(
    "content",
    [
        # YAML's and TOML's own escapes, and HTML's character references
        '\n---\ntitle: "\\e]0;pwned\\a标题"\ntags: ["\\e[2J标签"]\n---\n\n<p>正文</p>\n',
        '+++\ntitle = "\\u001b]0;pwned\\u0007标题"\ntags = ["\\u001b[2J标签"]\n'
        "+++\n\n<p>正文</p>\n",
        "\n---\ntitle: 标题\ntags: [标签]\n---\n\n<p>正&#x1b;]0;pwned&#7;文&#155;&#x81;</p>\n",
        "\n---\ntitle: 标题\ntags: [标签]\nexcerpt: <p>&#27;[2J摘要</p>\n---\n\n<p>正文</p>\n",
    ],
    ids=["yaml-escapes", "toml-escapes", "html-references", "excerpt-references"],
)
def test_escaped_control_characters_are_gone_too(tmp_path: Path, content: str) -> None:
    article, formatted = load_checked(write(tmp_path, "escaped.md", content))
    assert article.title.endswith("标题") and article.tags[0].endswith("标签")
    _no_controls(article.title, *article.tags, article.body.text, article.body_html)
    _no_controls(article.excerpt or "")
    _no_controls(*(s for message in formatted.all() for s in _strings(message.params)))


def test_every_reason_is_one_line_without_controls(tmp_path: Path) -> None:
    """What the scan report, the log and the preview print: one line per bad file,
    whatever its name or its front matter says."""
    root = tmp_path / "articles"
    write(root, "\x1b]0;pwned\x07name.md", b"")
    write(root, "yaml.md", '\n---\ntitle: "\\e[2J\n  two\nlines: [\n---\n\n<p>x</p>\n')
    write(root, "toml.md", '+++\ntitle = """\n\x1b[2J\n+++\n\n<p>x</p>\n')
    errors = load_folders([root], CONFIG).errors
    assert len(errors) == 3
    for error in errors:
        _no_controls(str(error), error.reason)
        assert "\n" not in str(error) and "\t" not in str(error)
