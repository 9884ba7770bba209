"""What blog generators put in a post besides Markdown: front matter without its
opening line or in TOML, template tags, excerpts, relative addresses, tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import Config
from bot.formatting.formatter import format_article
from bot.reading.articles import Article, load_article, parse_article
from bot.reading.htmltext import html_to_rich
from bot.reading.templates import plain_markdown
from tests.invariants import check_messages

SITE = "https://blog.example.org"
REAL_POSTS = Path(__file__).parent / "real_posts"


def _parse(text: str, **config: object) -> Article:
    settings = {"articles": (Path("a"),), **config}  # the post lies in an article folder
    return parse_article(text.encode(), Path("a/p.md"), Path("a"), Config(**settings))  # type: ignore[arg-type]


def test_hexo_front_matter_without_its_opening_line() -> None:
    article = _parse(
        "title: GRUB2的rescue模式\ndate: 2019-07-14 10:11:14\ntags: ubuntu\n"
        "categories: 编程\n---\n\n进入 rescue 模式后，先用 ls 查看分区。\n"
    )
    assert article.title == "GRUB2的rescue模式"
    assert (article.date.year, article.date.month, article.date.day) == (2019, 7, 14)
    assert article.categories == ("编程",) and article.tags == ("ubuntu",)
    assert article.body.text == "进入 rescue 模式后，先用 ls 查看分区。"


def test_prose_that_starts_like_a_key_is_not_front_matter() -> None:
    article = _parse("Note: the water is off.\n\nMore text.\n\n---\n\nAfter a rule.\n")
    assert article.body.text.startswith("Note: the water is off.")


def test_toml_front_matter() -> None:
    article = _parse(
        '+++\ntitle = "Hugo post"\ndate = 2020-01-02T10:00:00+08:00\n'
        'tags = ["a", "b"]\ndraft = false\n+++\n\nHello **world**.\n'
    )
    assert (article.title, article.tags, article.body.text) == (
        "Hugo post",
        ("a", "b"),
        "Hello world.",
    )


def test_broken_toml_is_a_clear_error() -> None:
    with pytest.raises(Exception, match="invalid TOML front matter"):
        _parse('+++\ntitle = "unclosed\n+++\nbody\n')


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("{% note info %}\n停水提示。\n{% endnote %}", "> 停水提示。"),
        ("{% blockquote 鲁迅 %}\n横眉冷对\n{% endblockquote %}", "> 横眉冷对"),
        ("见 {% post_link hello-world 你好世界 %}。", "见 你好世界。"),
        ("见 {% post_link hello-world %}。", "见 hello-world。"),
        ("{% asset_img diagram.png 架构图 %}", "![架构图](diagram.png)"),
        ("{% asset_img left diagram.png 300 200 '架构图' %}", "![架构图](diagram.png)"),
        ("路径 {% asset_path a.pdf %} 结束", "路径  结束"),
        ("{{< youtube dQw4w9WgXcQ >}}", "<https://www.youtube.com/watch?v=dQw4w9WgXcQ>"),
        ('{{< figure src="/img/a.png" caption="图一" >}}', "![图一](/img/a.png)"),
        ("{{% notice warning %}}\n小心\n{{% /notice %}}", "> 小心"),
        ("![x]({{ site.baseurl }}/images/a.png)", f"![x]({SITE}/images/a.png)"),
        ("{{ page.title }} 标题", " 标题"),
        ('{% unknown_tag "保留的文字" %}', "保留的文字"),
        ("{% fold 点击展开 %}\n内容\n{% endfold %}", "点击展开\n内容\n"),
        ("{% include footer.html %}", ""),
    ],
)
def test_template_tags_become_what_they_stand_for(markdown: str, expected: str) -> None:
    out = plain_markdown(markdown, SITE)
    assert expected in out and "{%" not in out and "{{" not in out
    if not expected:
        assert out.strip() == ""


@pytest.mark.parametrize(
    "code",
    [
        "```liquid\n{% for p in site.posts %}{{ p.title }}{% endfor %}\n```",
        "~~~\n{{< youtube x >}}\n~~~",
        "行内 `{{ site.baseurl }}` 和 `{% raw %}`",
        "{% raw %}{{ kept }} {% note %}{% endraw %}",
    ],
)
def test_code_keeps_template_text_literally(code: str) -> None:
    out = plain_markdown(code, SITE)
    literals = ("{{ p.title }}", "{{< youtube x >}}", "{{ site.baseurl }}", "{{ kept }}")
    present = [literal for literal in literals if literal in code]
    assert present and all(literal in out for literal in present)


def test_highlight_and_codeblock_become_code_blocks() -> None:
    article = _parse(
        '---\ntitle: t\n---\n{% highlight python %}\nprint("{{ x }}")\n{% endhighlight %}\n\n'
        "{% codeblock lang:sh %}\nls -l\n{% endcodeblock %}\n"
    )
    pres = [e for e in article.body.entities if e.type == "pre"]
    assert [article.body.text[e.start : e.end] for e in pres] == ['print("{{ x }}")', "ls -l"]
    assert pres[0].language == "python"


def test_no_template_syntax_reaches_the_text() -> None:
    article = _parse(
        "---\ntitle: t\n---\n{% note %}\n提示\n{% endnote %}\n\n{{< tweet user 123 >}}\n\n"
        "{% label primary@标签 %} 文字 {{ site.title }}\n"
    )
    assert "{%" not in article.body.text and "{{" not in article.body.text


def test_the_excerpt_marker_and_front_matter_say_what_the_card_shows() -> None:
    marked = _parse("---\ntitle: t\n---\n第一段是摘要。\n\n<!-- more -->\n\n正文很长。\n")
    assert marked.excerpt == "第一段是摘要。" and "正文很长" in marked.body.text
    card = format_article(marked, "zh", Config().tz).card
    assert "正文很长" not in card.text_and_entities()[0]
    described = _parse("---\ntitle: t\ndescription: 本周六停水\n---\n正文。\n")
    assert described.excerpt == "本周六停水"
    assert _parse("---\ntitle: t\n---\n正文。\n").excerpt is None


def test_relative_addresses_resolve_against_the_site_or_are_left_out() -> None:
    text = (
        "---\ntitle: t\ncover: /images/cover.jpg\n---\n![图](/images/a.png)\n\n"
        "[上一篇](/2020/01/01/prev/) 和 [外链](https://x.org/)\n"
    )
    without = _parse(text)
    assert without.images == ()
    assert [e.url for e in without.body.entities if e.type == "text_link"] == ["https://x.org/"]
    with_site = _parse(text, site_url=SITE)
    assert [i.url for i in with_site.images] == [f"{SITE}/images/cover.jpg", f"{SITE}/images/a.png"]
    links = [e.url for e in with_site.body.entities if e.type == "text_link"]
    assert links == [f"{SITE}/2020/01/01/prev/", "https://x.org/"]


def test_a_table_reads_as_one_line_per_row_named_by_its_header() -> None:
    article = _parse(
        "---\ntitle: t\n---\n| 命令 | 功能 | 备注 |\n|---|---|---|\n"
        "| ls | 列出**文件** | |\n| cd | 切换目录 | 常用 |\n"
    )
    assert article.body.text.split("\n") == [
        "• 命令：ls · 功能：列出文件",
        "• 命令：cd · 功能：切换目录 · 备注：常用",
    ]
    (bold,) = article.body.entities
    assert article.body.text[bold.start : bold.end] == "文件"


def test_a_table_without_a_header_row_joins_its_cells() -> None:
    rich = html_to_rich(
        "<table><tr><td>Steam 平台：</td><td>￥35</td></tr>"
        "<tr><td>Epic</td><td>免费</td></tr></table>"
    )
    assert rich.text == "• Steam 平台： ￥35\n• Epic · 免费"
    assert "|" not in rich.text


def test_the_web_page_follows_the_sites_permalink_pattern() -> None:
    text = "---\ntitle: 停水\ndate: 2024-03-05 08:09:10\ncategories: [公告]\n---\n正文\n"
    assert _parse(text).link is None  # no site, no address
    assert _parse(text, site_url=SITE).link == f"{SITE}/2024/03/05/p/"
    pattern = ":category/:i_month-:i_day/:name.html"
    assert (
        _parse(text, site_url=SITE, permalink=pattern).link
        == f"{SITE}/%E5%85%AC%E5%91%8A/3-5/p.html"
    )
    slugged = text.replace("title:", "slug: water-off\ntitle:")
    assert _parse(slugged, site_url=SITE).link == f"{SITE}/2024/03/05/water-off/"
    linked = text.replace("title:", "link: https://mp.weixin.qq.com/s/abc\ntitle:")
    assert _parse(linked, site_url=SITE).link == "https://mp.weixin.qq.com/s/abc"
    assert _parse(linked).link == "https://mp.weixin.qq.com/s/abc"
    elsewhere = _parse(text, site_url=SITE, articles=(Path("posts"),))  # announcements, feeds
    assert elsewhere.link is None  # no made-up page on the site


@dataclass
class _Sent:
    """What a chat is sent of a post's full text: the text, and each entity as
    (type, the text it covers, its language or URL)."""

    text: str
    spans: list[tuple[str, str, str | None]]

    def covering(self, kind: str, inner: str) -> list[str]:
        return [text for type_, text, _ in self.spans if type_ == kind and inner in text]


def _sent(path: Path, site: str | None = None) -> _Sent:
    """The post loaded from its file and formatted, every message valid for Telegram."""
    config = Config(site_url=site)
    article = load_article(path, path.parent, config)
    formatted = format_article(article, "zh", config.tz)
    check_messages(formatted.all())
    texts, spans = [], []
    for message in formatted.text:
        text, entities = message.text_and_entities()
        units = text.encode("utf-16-le")
        for e in entities:
            covered = units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
            spans.append((e["type"], covered, e.get("language") or e.get("url")))
        texts.append(text)
    return _Sent("\n\n".join(texts), spans)


def _post(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "post.md"
    path.write_text(f"---\ntitle: 测试\ndate: 2024-03-05 08:00:00\n---\n{body}", encoding="utf-8")
    return path


def test_fenced_code_inside_a_hugo_admonition_stays_code_inside_the_quote() -> None:
    """LoveIt's demo: an admonition whose content shows Markdown and HTML in fences."""
    sent = _sent(REAL_POSTS / "loveit--basic-markdown-syntax-index.zh-cn.md")
    heading, html = "### 一个很棒的标题 {#custom-id}", '<h3 id="custom-id">一个很棒的标题</h3>'
    assert (("pre", heading, "markdown")) in sent.spans
    assert (("pre", html, "html")) in sent.spans
    (quote,) = sent.covering("blockquote", "要添加自定义标题 ID")
    assert heading in quote and html in quote and "输出的 HTML 看起来像这样" in quote
    numbered = sent.covering("pre", "1. Lorem ipsum dolor sit amet\n1. Consectetur")
    assert numbered and sent.covering("blockquote", numbered[0])  # the tip's sample, quoted
    for fence in ("```markdown", "```html"):  # every fence shown is inside code
        assert sent.text.count(fence) == sum(s[1].count(fence) for s in sent.spans if s[0] == "pre")


def test_template_text_in_code_inside_a_quote_stays_literal(tmp_path: Path) -> None:
    sent = _sent(
        _post(
            tmp_path,
            '{{< admonition tip "嵌入视频" >}}\n这样写:\n\n```markdown\n'
            "{{< youtube w7Ft2ymGmfc >}}\n```\n\n"
            "{% codeblock lang:js %}\nshow(`{{ x }}`)\n{% endcodeblock %}\n{{< /admonition >}}\n",
        )
    )
    assert ("pre", "{{< youtube w7Ft2ymGmfc >}}", "markdown") in sent.spans
    assert ("pre", "show(`{{ x }}`)", "js") in sent.spans
    (quote,) = sent.covering("blockquote", "这样写")
    assert "{{< youtube w7Ft2ymGmfc >}}" in quote and "show(`{{ x }}`)" in quote


def test_a_hugo_highlight_shortcode_is_a_code_block() -> None:
    """``{{< highlight >}}`` as Hexo's ``{% highlight %}`` is; its code may show fences."""
    loveit = _sent(REAL_POSTS / "loveit--basic-markdown-syntax-index.zh-cn.md")
    assert ("pre", "```markdown\nSample text here...\n```", "markdown") in loveit.spans
    assert "highlight" not in loveit.text
    even = _sent(REAL_POSTS / "hugo-theme-even--syntax-highlighting.md")
    (code,) = even.covering("pre", '<section id="main">')
    assert '<h1 id="title">{{ .Title }}</h1>' in code and "{{ end }}" in code
    assert next(s for s in even.spans if s[1] == code)[2] == "go-html-template"
    shown = '{{< highlight go-html-template "linenos=table,hl_lines=1 3-7,linenostart=199" >}}'
    assert ("code", f"{shown}..{{{{< / highlight >}}}}", None) in even.spans


def test_a_hexo_highlight_that_shows_fences_keeps_them_inside(tmp_path: Path) -> None:
    sent = _sent(
        _post(tmp_path, "{% highlight markdown %}\n```js\nrun()\n```\n{% endhighlight %}\n\n后文\n")
    )
    assert ("pre", "```js\nrun()\n```", "markdown") in sent.spans
    assert sent.text.endswith("后文")


def test_pictures_in_table_cells_say_which_columns_are_checked() -> None:
    """hugo-theme-even's demo: a feature matrix whose cells hold a checkmark icon."""
    sent = _sent(REAL_POSTS / "hugo-theme-even--even-preview.md")
    lines = sent.text.split("\n")
    assert (
        "• Class or Enum: LocalDate · Year: checked · Month: checked · Day: checked"
        " · toString Output: 2013-08-20 · Where Discussed: Date Classes"
    ) in lines
    (zoned,) = [line for line in lines if line.startswith("• Class or Enum: ZonedDateTime")]
    assert "· Zone Offset: checked · Zone ID: checked · toString Output: 2013-08-21T00" in zoned


def test_a_picture_in_a_cell_without_alt_text_is_its_address(tmp_path: Path) -> None:
    sent = _sent(
        _post(
            tmp_path,
            "| 步骤 | 截图 |\n|---|---|\n| 一 | ![](/img/1.png) |\n"
            "| 二 | [![](https://img.example/2.png)](https://example.org/2) |\n"
            "| 三 | <p>先</p><p>后</p> |\n",
        ),
        site=SITE,
    )
    assert sent.text.split("\n")[3:] == [
        f"• 步骤：一 · 截图：{SITE}/img/1.png",
        "• 步骤：二 · 截图：https://example.org/2",
        "• 步骤：三 · 截图：先 后",
    ]
    assert ("text_link", f"{SITE}/img/1.png", f"{SITE}/img/1.png") in sent.spans
    assert ("text_link", "https://example.org/2", "https://example.org/2") in sent.spans


def test_a_table_without_a_header_row_is_a_table() -> None:
    """A Jekyll post whose tables open with their delimiter row, as MultiMarkdown allows."""
    sent = _sent(REAL_POSTS / "beremiz--2022-03-05-osie-OPC-UA.md")
    lines = sent.text.split("\n")
    assert (
        "• OSIE · OSIE aims to transforms industrial automation into a branch of the open"
        " source software and hardware ecosystems."
    ) in lines
    assert any(line.startswith("• OPC UA · OPC UA is a cross-platform") for line in lines)
    assert "|" not in sent.text and "---" not in sent.text
    assert ("text_link", "OPC Foundation", "https://opcfoundation.org/") in sent.spans


def test_headerless_tables_in_code_and_after_headings(tmp_path: Path) -> None:
    sent = _sent(
        _post(
            tmp_path,
            "## 停水\n|:--|--:|\n| 周六 | 8:00–12:00 |\n\n"
            "```\n表格:\n\n|--|--|\n|a|b|\n```\n\n|--|\n\n正文\n",
        )
    )
    assert sent.text.split("\n\n")[1:3] == ["停水", "• 周六 · 8:00–12:00"]
    assert ("pre", "表格:\n\n|--|--|\n|a|b|", None) in sent.spans  # code stays as written
    assert sent.text.endswith("|a|b|\n\n|--|\n\n正文")  # a delimiter row without rows is text
