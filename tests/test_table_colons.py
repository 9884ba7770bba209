"""A table row names each cell by its column, in the header's own script: a Chinese
header takes a full-width colon with no space (``小区：丽园路501弄``), any other a
colon and a space (``Name: x``). The reader does not know the chat's language, so
the header decides."""

from __future__ import annotations

from bot.reading.htmltext import html_to_rich


def _rows(html: str) -> list[str]:
    return html_to_rich(html).text.split("\n")


def test_a_chinese_header_takes_a_full_width_colon() -> None:
    html = (
        "<table><thead><tr><th>小区</th><th>停水时间</th></tr></thead>"
        "<tbody><tr><td>丽园路501弄</td><td>8:00–17:00</td></tr>"
        "<tr><td>蒙自路</td><td>9:00–12:00</td></tr></tbody></table>"
    )
    assert _rows(html) == [
        "• 小区：丽园路501弄 · 停水时间：8:00–17:00",
        "• 小区：蒙自路 · 停水时间：9:00–12:00",
    ]


def test_each_header_decides_for_its_own_column() -> None:
    html = (
        "<table><tr><th>Name</th><th>时间（小时）</th><th>楼号 A</th><th>停水:</th></tr>"
        "<tr><td>x</td><td>9</td><td>5</td><td>是</td></tr></table>"
    )
    assert _rows(html) == ["• Name: x · 时间（小时）：9 · 楼号 A: 5 · 停水: 是"]


def test_a_header_ending_in_a_colon_keeps_its_own() -> None:
    html = (
        "<table><tr><th>时间：</th><th>Time:</th></tr><tr><td>8:00</td><td>8 am</td></tr></table>"
    )
    assert _rows(html) == ["• 时间：8:00 · Time: 8 am"]


def test_a_cell_that_opens_with_a_paragraph_or_a_picture_has_no_space_after_the_colon() -> None:
    html = (
        "<table><tr><th>小区</th><th>示意图</th></tr>"
        "<tr><td><p>丽园路501弄</p></td><td><img src='https://x.cn/a.png' alt='路线'></td></tr>"
        "</table>"
    )
    assert _rows(html) == ["• 小区：丽园路501弄 · 示意图：路线"]
