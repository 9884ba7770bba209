"""`noticebot preview` as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.paths import ROOT, SEED
from tests.process import run_cli


def test_preview_shows_the_seed_card_and_lengths(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    result = run_cli("preview", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out  # piped: no ANSI styling
    assert "[photo] http://static.1sapp.com/qupost/img/2022/02/01/caa781ce" in out
    assert "爱申活暖心春｜社区防疫不放松，新春问候暖心传递" in out
    assert "2022年2月1日 16:57 · 趣头条" in out
    assert "caption 286/1024" in out
    assert "1 article(s), 0 error(s)" in out


def test_preview_json_is_the_exact_calls(tmp_path: Path) -> None:
    result = run_cli("preview", "--json", "--lang", "en", str(SEED), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in result.stdout.splitlines()]
    assert [c["method"] for c in calls] == [
        "sendPhoto",
        "sendMessage",
        "sendMediaGroup",
        "sendMediaGroup",
    ]
    assert calls[0]["params"]["caption"].split("\n")[1] == "1 Feb 2022, 16:57 · 趣头条"
    assert calls[1]["params"]["entities"][0]["type"] == "bold"


def test_preview_html_and_errors_listed_last(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEED, folder)
    (folder / "broken.md").write_text("---\ntitle: [unclosed\n---\n正文", encoding="utf-8")
    page = tmp_path / "out.html"
    result = run_cli("preview", "--html", str(page), cwd=tmp_path, NOTICEBOT_ARTICLES=str(folder))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "broken.md" in last and "line 2" in last
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "爱申活暖心春" in html and "broken.md" in html


def test_bad_configuration_is_one_clear_line(tmp_path: Path) -> None:
    result = run_cli("preview", cwd=tmp_path, NOTICEBOT_TZ="Nowhere/Town")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "noticebot: configuration error: NOTICEBOT_TZ: unknown time zone 'Nowhere/Town' "
        "(use an IANA name such as Asia/Shanghai)"
    )
    assert "Traceback" not in result.stderr
