"""The preview page shows an editor each card's states beside the card as it goes out:
urgent, corrected, withdrawn and expired, folded in a <details> next to the card (the
page of a big folder stays quick). The real command in a subprocess, real files."""

from __future__ import annotations

import html
import re
from pathlib import Path

from bot.config import Config
from bot.formatting.outgoing import Outgoing
from bot.formatting.preview import render_html
from bot.sources.folders import read_files
from tests.process import run_cli

NOTICE = """---
title: 五号楼停水
date: 2026-12-04 09:30:00
updated: 2026-12-05 09:12:00
categories: [公告]
cover: https://img.example/lead.jpg
---

<p>本周六上午五号楼停水，请提前储水。</p>
"""
TEXT_ONLY = NOTICE.replace("cover: https://img.example/lead.jpg\n", "").replace(
    "title: 五号楼停水", "title: 六号楼停电"
)


def _states(page: str) -> dict[str, str]:
    """Each state's bubble on the page, by its label, as text without markup."""
    out = {}
    for chunk in page.split('<div class="state" data-state="')[1:]:
        label, rest = chunk.split('"', 1)
        shown = rest.split('<div class="state" ')[0].split("</details>")[0]
        out[label] = html.unescape(re.sub(r"<[^>]+>", "", shown))
    return out


def test_the_page_shows_the_four_states_of_each_card(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "water.md").write_text(NOTICE, encoding="utf-8")
    (folder / "power.md").write_text(TEXT_ONLY, encoding="utf-8")
    page_path = tmp_path / "page.html"
    done = run_cli("preview", str(folder), "--html", str(page_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = page_path.read_text("utf-8")
    sections = page.split('<section class="article">')[1:]
    assert len(sections) == 2
    for section in sections:
        assert section.count('<details class="states">') == 1
        states = _states(section)
        assert list(states) == ["urgent", "corrected", "withdrawn", "expired"]
        title = re.findall(r'<h2 class="title">([^<]+)</h2>', section)[0]
        row = section.split('<div class="card-row">')[1].split('<details class="states">')[0]
        assert "card · send" in row and "🔴" not in row  # beside the card as it goes out
        assert f"🔴 紧急 {title}" in states["urgent"]
        assert "🔄 已于12月5日 09:12更新" in states["corrected"]
        assert "⚠️ 此通知已撤回，请以最新通知为准。" in states["withdrawn"]
        assert "⏰ 此通知已过期，仅供查阅。" in states["expired"]
    photo = next(s for s in sections if '<h2 class="title">五号楼停水' in s)
    withdrawn_cell = photo.split('data-state="withdrawn"')[1].split('data-state="expired"')[0]
    assert "https://img.example/lead.jpg" in withdrawn_cell  # the picture stays, marked


def test_the_terminal_and_json_show_no_states(tmp_path: Path) -> None:
    """Only the page has them: the JSON lines are the calls the bot makes, nothing else."""
    (tmp_path / "water.md").write_text(NOTICE, encoding="utf-8")
    json_lines = run_cli("preview", "--json", str(tmp_path / "water.md"), cwd=tmp_path)
    assert json_lines.returncode == 0 and len(json_lines.stdout.splitlines()) == 1
    assert "紧急" not in json_lines.stdout and "⏰" not in json_lines.stdout


def test_worker_processes_bring_the_states_back(tmp_path: Path) -> None:
    """A big folder is formatted by worker processes; the states come back with it."""
    from functools import partial

    from bot.cli.preview import Shown, show_files

    (tmp_path / "water.md").write_text(NOTICE, encoding="utf-8")
    stat = (tmp_path / "water.md").stat()
    chunks = [[(str(tmp_path / "water.md"), tmp_path, stat)]]
    read = partial(show_files, states=True)
    ((shown,),) = list(read_files(chunks, Config(), read, parallel_from=0))
    assert isinstance(shown, Shown)
    assert [label for label, _ in shown.states] == ["urgent", "corrected", "withdrawn", "expired"]


def test_a_page_without_states_has_no_fold() -> None:
    card = Outgoing("sendMessage", {"text": "停水"}, "card")
    assert "<details" not in render_html([("t", [card])], errors=[])
    urgent = Outgoing("sendMessage", {"text": "🔴 紧急 停水"}, "card")
    states = _states(render_html([("t", [card], [("urgent", urgent)])], errors=[]))
    assert list(states) == ["urgent"] and "🔴 紧急 停水" in states["urgent"]
