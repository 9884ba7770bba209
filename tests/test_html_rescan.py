"""An HTML file that is not an article (a theme's page beside the posts) is opened once,
not at every rescan: the scanner remembers it, as it remembers an article file's size
and time, until it changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import Config
from bot.ledger import Store
from bot.reading import walk
from bot.sources.scanner import Scanner


def test_an_unchanged_html_page_is_not_opened_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "a.md").write_text("---\ntitle: 通知\n---\n正文\n", "utf-8")
    page = posts / "index.html"
    page.write_text("<html><body>主题页面</body></html>\n", "utf-8")
    opened: list[str] = []
    real = walk.has_front_matter

    def counted(path: str) -> bool:
        opened.append(path)
        return real(path)

    monkeypatch.setattr(walk, "has_front_matter", counted)
    scanner = Scanner(Store(tmp_path / "db.sqlite"), Config(articles=(posts,)), owner=True)
    assert len(scanner.scan().new) == 1
    assert scanner.scan().unchanged == 1
    assert opened == [str(page)], "the page is opened at every rescan"

    page.write_text("---\ntitle: 页面通知\n---\n<p>现在是通知。</p>\n", "utf-8")
    stat = page.stat()
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    report = scanner.scan()
    assert len(report.new) == 1 and opened == [str(page)] * 2  # changed: read again
