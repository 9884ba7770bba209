"""The HTML walk: what a resident reads, with Telegram entities."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.reading.htmltext import html_to_rich, safe_url


def _spans(html: str) -> list[tuple[str, str]]:
    rich = html_to_rich(html)
    return [(e.type, rich.text[e.start : e.end]) for e in rich.entities]


def test_paragraphs_breaks_and_whitespace() -> None:
    rich = html_to_rich("<div>  <p>第一段\n  文字</p><p></p><p>第二行<br>第三行</p>  </div>")
    assert rich.text == "第一段 文字\n\n第二行\n第三行"


def test_chinese_bold_gets_no_inserted_spaces() -> None:
    html = "<p>前<strong>境外输入病例34例</strong>（广西13例）<b>加粗</b>后</p>"
    assert html_to_rich(html).text == "前境外输入病例34例（广西13例）加粗后"
    assert _spans(html) == [("bold", "境外输入病例34例"), ("bold", "加粗")]


def test_headings_lists_quotes_and_code() -> None:
    html = (
        "<h2>标题</h2><ul><li>一</li><li>二<ol><li>甲</li><li>乙</li></ol></li></ul>"
        "<blockquote>引用<blockquote>内层</blockquote></blockquote>"
        "<pre><code class='language-c'>a  &lt;b&gt;\n  c</code></pre><p>x<code>y</code></p>"
    )
    rich = html_to_rich(html)
    assert rich.text == "标题\n\n• 一\n• 二\n  1. 甲\n  2. 乙\n\n引用\n\n内层\n\na  <b>\n  c\n\nxy"
    assert _spans(html) == [
        ("bold", "标题"),
        ("blockquote", "引用\n\n内层"),
        ("pre", "a  <b>\n  c"),
        ("code", "y"),
    ]
    assert [e.language for e in rich.entities if e.type == "pre"] == ["c"]


def test_links_only_http_and_https() -> None:
    html = (
        '<p><a href="https://a.example/x">好链接</a> <a href="javascript:alert(1)">坏</a> '
        '<a href="//cdn.example/y">相对</a> <a href="mailto:a@b.c">信</a></p>'
    )
    rich = html_to_rich(html)
    assert rich.text == "好链接 坏 相对 信"
    assert [(e.url, rich.text[e.start : e.end]) for e in rich.entities] == [
        ("https://a.example/x", "好链接"),
        ("https://cdn.example/y", "相对"),
    ]


def test_dropped_elements_images_iframes_and_charrefs() -> None:
    html = (
        "<p>a<script>evil()</script><style>p{}</style><svg><text>图</text></svg>"
        "<button>赏</button><img src='x.jpg'>b &#123;&#125; R&D</p>"
        "<iframe src='https://v.example/e'>fallback</iframe>"
    )
    rich = html_to_rich(html)
    assert rich.text == "ab {} R&D\n\n🔗 https://v.example/e"
    assert _spans(html) == [("text_link", "https://v.example/e")]


def test_misnested_and_unclosed_tags_stay_nested() -> None:
    html = "<b>粗<i>斜</b>后</i><div><svg><div>藏</div></svg>见</div><u>未闭合"
    rich = html_to_rich(html)
    assert rich.text == "粗斜后\n\n见\n\n未闭合"
    assert _spans(html) == [("bold", "粗斜"), ("italic", "斜"), ("underline", "未闭合")]


def test_deep_nesting_is_not_recursive() -> None:
    html = "<div><span><b>" * 5000 + "深" + "</b></span></div>" * 5000
    rich = html_to_rich(html)
    assert rich.text == "深"
    assert _spans(html) == [("bold", "深")]


def test_safe_url() -> None:
    assert safe_url(" https://a.b/c ") == "https://a.b/c"
    assert safe_url("//a.b/c") == "https://a.b/c"
    assert safe_url("data:image/png;base64,xx") is None
    assert safe_url("JavaScript:x") is None
    assert safe_url("https://a.b/c d") is None


def test_link_text_that_names_another_address_is_not_a_link() -> None:
    html = (
        '<p><a href="https://evil.example/x">https://bank.example.com</a> '
        '<a href="https://bank.example.com/login">bank.example.com</a></p>'
    )
    rich = html_to_rich(html)
    assert rich.text == "https://bank.example.com (https://evil.example/x) bank.example.com"
    assert [(e.type, e.url) for e in rich.entities] == [
        ("text_link", "https://bank.example.com/login")
    ]


def test_closed_span_does_not_reach_into_stripped_whitespace() -> None:
    """Found by the fuzzer: an italic around a lone <br> ended up over the next line's text."""
    html = "<b><i><br></i><code><iframe src='https://v.example/e'></iframe>"
    assert _spans(html) == [("bold", "🔗 https://v.example/e"), ("code", "🔗 https://v.example/e")]


def test_a_reused_parser_starts_each_walk_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each thread reuses one parser and walker: nothing carries over between bodies,
    not after a walk that failed half-way, and not between threads."""
    assert html_to_rich("<b>粗<i>斜").text == "粗斜"  # left open
    assert _spans("<p>下一篇</p>") == []
    calls = []

    def broken(self: object, text: str) -> None:
        calls.append(text)
        raise RuntimeError("a walker bug")

    with monkeypatch.context() as patched:
        patched.setattr("bot.reading.htmltext._Walker._emit", broken)
        with pytest.raises(RuntimeError):
            html_to_rich("<p>前<b>半")
    assert calls and html_to_rich("<p>正常</p>").text == "正常"
    bodies = [f"<p>第{i}篇 <a href='https://a.cn/{i}'>链接{i}</a></p>" for i in range(200)]
    with ThreadPoolExecutor(4) as pool:
        read = list(pool.map(html_to_rich, bodies))
    assert [r.text for r in read] == [f"第{i}篇 链接{i}" for i in range(200)]
    assert [r.entities[0].url for r in read] == [f"https://a.cn/{i}" for i in range(200)]


def test_a_row_stays_one_line_and_its_pictures_say_what_they_show() -> None:
    html = (
        "<table><tr><th>名称</th><th>支持</th><th>截图</th></tr>"
        "<tr><td><p>甲</p><p>乙</p></td><td><center><img src='/ok.png' alt=' 支持 '></center></td>"
        "<td><img src='https://x.cn/a.png'><img data-src='https://x.cn/b.png'></td></tr>"
        "<tr><td>丙</td><td><center><img src='/ok.png'></center></td><td></td></tr></table>"
    )
    rich = html_to_rich(html)
    assert rich.text == (
        "• 名称：甲 乙 · 支持：支持 · 截图：https://x.cn/a.png https://x.cn/b.png\n• 名称：丙"
    )
    assert _spans(html) == [
        ("text_link", "https://x.cn/a.png"),
        ("text_link", "https://x.cn/b.png"),
    ]


@pytest.mark.parametrize(
    "html",
    [
        "<script src='https://v.example/e'></script><tr>社",  # found by tests/test_fuzz.py
        "<style>p {}</style><td>社",
    ],
)
def test_text_the_parser_puts_in_a_head_it_made_is_kept(html: str) -> None:
    """Before the body's first block, lxml opens a head for a script or style and leaves
    a stray row in it: the head of a fragment is the parser's, not the post's."""
    assert html_to_rich(html).text == "社"


def test_a_pasted_pages_head_shows_nothing() -> None:
    page = (
        "<html><head><title>标题</title><style>p {}</style></head><body><p>正文</p></body></html>"
    )
    assert html_to_rich(page).text == "正文"
