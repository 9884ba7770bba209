"""Emphasis beside Chinese punctuation in Markdown bodies, read as the bot reads them:
``**注意：**恢复供水`` is bold, as editors write it (CommonMark leaves the asterisks)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Config
from bot.reading.articles import load_article
from bot.reading.markdown import to_html
from bot.sources.announcements import write_announcement


def _shown(path: Path, root: Path) -> tuple[str, list[tuple[str, str]]]:
    body = load_article(path, root, Config(articles=(root,))).body
    return body.text, [(e.type, body.text[e.start : e.end]) for e in body.entities]


def _read(tmp_path: Path, markdown: str) -> tuple[str, list[tuple[str, str]]]:
    path = tmp_path / "2024-03-10-water.md"
    path.write_text(
        f"---\ntitle: 停水通知\ndate: 2024-03-10 09:00:00\n---\n\n{markdown}\n", encoding="utf-8"
    )
    return _shown(path, tmp_path)


@pytest.mark.parametrize(
    ("markdown", "text", "entities"),
    [
        ("**注意：**恢复供水", "注意：恢复供水", [("bold", "注意：")]),
        ("**停水时间：**8:00", "停水时间：8:00", [("bold", "停水时间：")]),
        ("**“通知”**原文", "“通知”原文", [("bold", "“通知”")]),
        ("*斜体。*文字", "斜体。文字", [("italic", "斜体。")]),
        ("**（重要）**通知", "（重要）通知", [("bold", "（重要）")]),
        ("原文**“通知”**见附件", "原文“通知”见附件", [("bold", "“通知”")]),
        ("~~旧办法。~~新办法", "旧办法。新办法", [("strikethrough", "旧办法。")]),
        ("| 项目 | 说明 |\n|---|---|\n| **注意：**带桶 | 无 |", "注意：带桶", [("bold", "注意：")]),
    ],
)
def test_emphasis_beside_chinese_punctuation_is_formatting(
    tmp_path: Path, markdown: str, text: str, entities: list[tuple[str, str]]
) -> None:
    shown, found = _read(tmp_path, markdown)
    assert "*" not in shown and "~" not in shown
    assert text in shown
    assert found == entities


@pytest.mark.parametrize(
    ("markdown", "text", "entities"),
    [
        ("**bold** text", "bold text", [("bold", "bold")]),
        ("a**b**c", "abc", [("bold", "b")]),
        ("2*3*4", "234", [("italic", "3")]),
        ("2 * 3 * 4", "2 * 3 * 4", []),
        ("（**重要**）", "（重要）", [("bold", "重要")]),
        ("本周六**上午**停水", "本周六上午停水", [("bold", "上午")]),
        ("**注意！** 停水", "注意！ 停水", [("bold", "注意！")]),
        ("附件_通知_说明", "附件_通知_说明", []),
        ("snake_case_name", "snake_case_name", []),
        ("`**注意：**恢复`", "**注意：**恢复", [("code", "**注意：**恢复")]),
    ],
)
def test_what_commonmark_already_read_stays_as_it_was(
    tmp_path: Path, markdown: str, text: str, entities: list[tuple[str, str]]
) -> None:
    assert _read(tmp_path, markdown) == (text, entities)


def test_an_announcement_file_gets_the_bold(tmp_path: Path) -> None:
    """``noticebot announce FILE`` keeps the admin's Markdown as written."""
    when = datetime(2024, 3, 10, 9, 0, tzinfo=UTC)
    markdown = "**注意：**恢复供水时间另行通知\n"
    path = write_announcement(tmp_path, "停水通知", "王主任", markdown, when)
    assert _shown(path, tmp_path) == ("注意：恢复供水时间另行通知", [("bold", "注意：")])


def test_other_markdown_it_parsers_in_the_process_keep_commonmark() -> None:
    from markdown_it import MarkdownIt

    assert "<strong>注意：</strong>" in to_html("**注意：**恢复供水")
    assert MarkdownIt("commonmark").render("**注意：**恢复供水") == "<p>**注意：**恢复供水</p>\n"
