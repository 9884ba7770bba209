"""Preview renderers: what a reviewer sees must match what Telegram would show."""

from __future__ import annotations

import json

import pytest

from bot.formatting.outgoing import Outgoing
from bot.formatting.preview import render_html, render_json_lines, render_terminal
from bot.reading.richtext import index_at, utf16_len, utf16_prefix

LINK = "https://example.com/a?x=1&y=2"
ORIGINAL = "https://example.com/post?id=1&lang=zh"

# "🎉" takes two UTF-16 units, so every offset below is one more than the Python index.
CAPTION = "🎉 开学通知\n请阅读粗体链接了解详情。"
TEXT = "<script>alert(1)</script> 危险链接\n引用第一行\n引用第二行\n结束"


@pytest.fixture
def card() -> Outgoing:
    return Outgoing(
        "sendPhoto",
        {
            "photo": "https://example.com/cover.jpg",
            "caption": CAPTION,
            "caption_entities": [
                {"type": "bold", "offset": 3, "length": 4},
                {"type": "text_link", "offset": 11, "length": 4, "url": LINK},
                {"type": "bold", "offset": 11, "length": 2},
            ],
            "reply_markup": {
                "inline_keyboard": [
                    [
                        {"text": "阅读全文", "callback_data": "full:1"},
                        {"text": "原文", "url": ORIGINAL},
                    ]
                ]
            },
        },
        "card",
    )


@pytest.fixture
def text() -> Outgoing:
    return Outgoing(
        "sendMessage",
        {
            "text": TEXT,
            "entities": [
                {"type": "text_link", "offset": 26, "length": 4, "url": "javascript:alert(1)"},
                {"type": "blockquote", "offset": 31, "length": 11},
                {"type": "italic", "offset": 43, "length": 2},
            ],
            "link_preview_options": {"is_disabled": True},
        },
        "text",
    )


@pytest.fixture
def album() -> Outgoing:
    media = [{"type": "photo", "media": f"https://example.com/{i}.jpg"} for i in range(3)]
    return Outgoing("sendMediaGroup", {"media": media}, "album")


@pytest.fixture
def messages(card: Outgoing, text: Outgoing, album: Outgoing) -> list[Outgoing]:
    return [card, text, album]


def test_utf16_helpers_count_astral_characters_twice() -> None:
    assert utf16_len(CAPTION) == 20
    bounds = utf16_prefix(CAPTION)
    assert CAPTION[index_at(bounds, 11) :].startswith("粗体")
    assert index_at(bounds, 999) == len(CAPTION)


def test_terminal_plain(messages: list[Outgoing]) -> None:
    out = render_terminal("开学通知", messages, color=False)
    assert "\x1b" not in out
    assert out.startswith("══ 开学通知 ══\n")
    assert "[card] sendPhoto\n[photo] https://example.com/cover.jpg\n🎉 开学通知\n" in out
    assert f"请阅读粗体链接 <{LINK}>了解详情。\n" in out
    assert f"[ 阅读全文 ] [ 原文 ↗ {ORIGINAL} ]\ncaption 20/1024\n" in out
    assert "危险链接 <javascript:alert(1)>\n> 引用第一行\n> 引用第二行\n结束\ntext 45/4096\n" in out
    photos = "".join(f"[photo] https://example.com/{i}.jpg\n" for i in range(3))
    assert f"[album] sendMediaGroup\n{photos}album 3 photos\n" in out


def test_terminal_color_styles_exact_spans(messages: list[Outgoing]) -> None:
    out = render_terminal("开学通知", messages, color=True)
    assert "\x1b[0m\x1b[1m开学通知\x1b[0m" in out
    # Bold nested in the link: reset, then link + bold, exactly around "粗体".
    assert "\x1b[0m\x1b[4;34;1m粗体\x1b[0m\x1b[4;34m链接\x1b[0m \x1b[2m[" + LINK + "]\x1b[0m" in out
    assert "\x1b[34m▍\x1b[0m \x1b[0m引用第一行\x1b[0m\n\x1b[34m▍\x1b[0m \x1b[0m引用第二行" in out
    assert "\x1b[3m结束\x1b[0m" in out
    assert out.rstrip("\n").endswith("\x1b[0m")


def test_terminal_flags_over_limit() -> None:
    long = Outgoing("sendPhoto", {"photo": "https://e.com/p.jpg", "caption": "😀" * 513}, "card")
    out = render_terminal("t", [long], color=False)
    assert "caption 1026/1024  !! out of limit" in out


def test_json_lines_round_trip(messages: list[Outgoing]) -> None:
    out = render_json_lines(messages)
    assert "开学通知" in out  # not \u-escaped
    lines = out.splitlines()
    assert len(lines) == 3
    assert [json.loads(line) for line in lines] == [
        {"method": m.method, "params": m.params} for m in messages
    ]


def test_html_nesting_and_escaping(messages: list[Outgoing], album: Outgoing) -> None:
    page = render_html([("开学 <通知>", messages), ("第二篇", [album])], errors=["坏 <x>"])
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<html") == 1 and page.count("</html>") == 1
    assert page.count("<body>") == 1 and page.count("<style>") == 1
    assert "<script" not in page and "<link" not in page
    assert '<h2 class="title">开学 &lt;通知&gt;</h2>' in page
    assert "🎉 <b>开学通知</b>\n请阅读" in page
    assert (
        '<a href="https://example.com/a?x=1&amp;y=2" rel="noopener noreferrer">'
        "<b>粗体</b>链接</a>了解详情。"
    ) in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript' not in page
    assert '<span class="badlink" title="javascript:alert(1)">危险链接</span>' in page
    assert "<blockquote>引用第一行\n引用第二行</blockquote>\n<i>结束</i>" in page
    assert '<span class="badge" title="caption 20/1024">20/1024</span>' in page
    assert '<span class="badge" title="text 45/4096">45/4096</span>' in page
    assert f'<a class="btn" href="{ORIGINAL.replace("&", "&amp;")}"' in page
    assert '<span class="btn">阅读全文<small>full:1</small></span>' in page
    assert page.count('<div class="media grid">') == 2
    assert page.count('<img src="https://example.com/1.jpg" alt="photo"') == 2
    assert "<figcaption>https://example.com/1.jpg</figcaption>" in page
    assert '<section class="errors"><h2>Errors (1)</h2><ul><li>坏 &lt;x&gt;</li></ul>' in page


def test_html_without_errors_has_no_error_section(card: Outgoing) -> None:
    page = render_html([("t", [card])], errors=[])
    assert 'class="errors"' not in page.split("</style>")[1]
