"""An admin's formatted message → the Markdown of its article file → what chats get."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Config
from bot.reading.articles import parse_article
from bot.sources.announcements import (
    announcement_file,
    split_title,
    to_markdown,
    write_announcement,
)


def _read_back(markdown: str) -> str:
    text = announcement_file("通知", "王主任", markdown, datetime(2026, 11, 30, tzinfo=UTC))
    return parse_article(text.encode(), Path("a/x.md"), Path("a"), Config()).body.text


@pytest.mark.parametrize(
    ("html", "markdown", "shown"),
    [
        ("本周六<b>上午</b>停水", "本周六**上午**停水", "本周六上午停水"),
        ("<b>注意！</b>停水", "**注意！**停水", "注意！停水"),  # no space shown in chats
        ("乙楼<i>全天</i>停水", "乙楼*全天*停水", "乙楼全天停水"),
        ("word<b>bold</b>word", "word**bold** word", "wordbold word"),
        ("*星* _下_ a&lt;b &lt;tag&gt;", r"\*星\* \_下\_ a\<b \<tag>", "*星* _下_ a<b <tag>"),
        ("<code>a&lt;b</code>", "`a<b`", "a<b"),
        (
            "- 甲\n• 乙\n1. 一\n2) 二",
            "  * 甲\n  * 乙\n\n  1. 一\n  2. 二",
            "• 甲\n• 乙\n\n1. 一\n2. 二",
        ),
        ("第一行\n第二行\n\n另一段", "第一行  \n第二行\n\n另一段", "第一行\n第二行\n\n另一段"),
    ],
)
def test_formatting_survives_to_markdown_and_back(html: str, markdown: str, shown: str) -> None:
    lines = [line.strip() for line in to_markdown(html).splitlines() if line.strip()]
    assert lines == [line.strip() for line in markdown.splitlines() if line.strip()]
    assert _read_back(to_markdown(html)) == shown


def test_a_first_line_all_in_bold_is_the_title() -> None:
    assert split_title("<b>停水通知</b>\n正文") == ("停水通知", "正文")
    assert split_title("<b>停水</b>通知\n正文") == (None, "<b>停水</b>通知\n正文")


def test_two_announcements_in_the_same_second_get_two_files(tmp_path: Path) -> None:
    when = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    first = write_announcement(tmp_path, "通知", "甲", "一\n", when)
    second = write_announcement(tmp_path, "通知", "乙", "二\n", when)
    assert first != second and "author: 甲" in first.read_text("utf-8")
    assert second.name == "2026-11-30-080000-announcement-1.md"


def test_a_bold_line_alone_or_a_bold_label_is_no_title() -> None:
    assert split_title("<b>明天停水</b>") == (None, "<b>明天停水</b>")
    assert split_title("<b>温馨提示：</b>\n明天停水") == (None, "<b>温馨提示：</b>\n明天停水")
    assert split_title("<b>停水通知</b>\n明天停水") == ("停水通知", "明天停水")
