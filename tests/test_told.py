"""Broken posts are told: the person who saved a file the bot cannot read believes
it went out, so the log, `noticebot status` and the admins' chat all say so, once
per version of the file.

End to end: real python-telegram-bot against the emulator, a real ledger, real files.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ledger import Chat
from bot.sources.scanning import scan_now
from tests import ledgers
from tests.botenv import ADMIN, running_bot
from tests.emulator import Emulator
from tests.paths import ROOT
from tests.process import BOT_COMMAND, clean_env, run_cli

pytestmark = ledgers.each_backend

BROKEN = "---\ntitle: 五号楼停水\ndate: [2026-12-05\n---\n\n明天停水。\n"


def told(emulator: Emulator) -> list[str]:
    return [m["text"] for m in emulator.shown(ADMIN)]


def broken_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage().startswith("五号楼停水.md: ")
    ]


async def test_a_broken_post_is_logged_and_told_to_the_admins_once_per_version(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(tmp_path, free, rate_limits=False, admins=frozenset({ADMIN})) as env:
        env.write_standing()
        await scan_now(env.runtime)
        post = env.articles / "五号楼停水.md"
        post.write_text(BROKEN, encoding="utf-8")
        await scan_now(env.runtime)
        await scan_now(env.runtime)  # still broken, the same version: not told again
        assert len(broken_lines(caplog)) == 1
        assert "invalid YAML front matter at line 3" in broken_lines(caplog)[0]
        assert len(told(free)) == 1
        assert "五号楼停水.md" in told(free)[0] and "line 3" in told(free)[0]
        assert "没有发出" in told(free)[0]

        post.write_text(BROKEN.replace("明天", "后天"), encoding="utf-8")
        await scan_now(env.runtime)  # a new broken version is told again
        assert len(broken_lines(caplog)) == 2 and len(told(free)) == 2

        post.write_text(BROKEN.replace("[", ""), encoding="utf-8")
        await scan_now(env.runtime)  # corrected: nothing more to tell
        assert len(broken_lines(caplog)) == 2 and len(told(free)) == 2


async def test_admins_are_told_in_the_bots_language(tmp_path: Path, free: Emulator) -> None:
    settings = {"admins": frozenset({ADMIN}), "lang": "en"}
    async with running_bot(tmp_path, free, rate_limits=False, **settings) as env:
        env.write_standing()
        await scan_now(env.runtime)
        (env.articles / "empty.md").write_text("", encoding="utf-8")
        await scan_now(env.runtime)
        assert len(told(free)) == 1
        assert "The file empty.md could not be read" in told(free)[0]


async def test_each_admin_is_told_in_the_language_their_chat_chose(
    tmp_path: Path, free: Emulator
) -> None:
    """The bot speaks Chinese; an admin who chose English in /settings reads English."""
    other = ADMIN + 1
    admins = frozenset({ADMIN, other})
    async with running_bot(tmp_path, free, rate_limits=False, admins=admins) as env:
        env.write_standing()
        env.runtime.store.subscribe(Chat(other, language="en"))
        await scan_now(env.runtime)
        (env.articles / "empty.md").write_text("", encoding="utf-8")
        await scan_now(env.runtime)
        (chinese,) = [m["text"] for m in free.shown(ADMIN)]
        (english,) = [m["text"] for m in free.shown(other)]
    assert chinese.startswith("⚠️ 文件 empty.md 无法读取")
    assert english.startswith("⚠️ The file empty.md could not be read")


async def test_status_lists_the_invalid_files_with_their_reasons(
    tmp_path: Path, free: Emulator
) -> None:
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.write_standing()
        (env.articles / "五号楼停水.md").write_text(BROKEN, encoding="utf-8")
        await scan_now(env.runtime)
        db = str(env.runtime.config.db)
    env_vars = {"NOTICEBOT_ARTICLES": str(env.articles), "NOTICEBOT_DB": db}
    shown = run_cli("status", cwd=tmp_path, **env_vars)
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if "五号楼停水.md" in x)
    assert line.startswith("invalid ") and "invalid YAML front matter at line 3" in line
    as_json = json.loads(run_cli("status", "--json", cwd=tmp_path, **env_vars).stdout)
    [invalid] = as_json["invalid_files"]
    assert invalid["path"].endswith("五号楼停水.md") and "line 3" in invalid["reason"]


async def test_a_missing_articles_folder_is_told_at_each_start_and_by_status(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "帖子"  # a mistyped path: nothing is ever read from it

    def warnings() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING and str(missing) in r.getMessage()
        ]

    for start in (1, 2):
        async with running_bot(tmp_path, free, articles=(missing,)) as env:
            await scan_now(env.runtime)
            await scan_now(env.runtime)  # once a start, not at every scan
            assert len(warnings()) == start
    assert "is missing" in warnings()[0]
    env_vars = {"NOTICEBOT_ARTICLES": str(missing), "NOTICEBOT_DB": str(env.runtime.config.db)}
    shown = run_cli("status", cwd=tmp_path, **env_vars)
    assert f"articles folder {missing}: missing" in shown.stdout, shown.stdout + shown.stderr
    as_json = json.loads(run_cli("status", "--json", cwd=tmp_path, **env_vars).stdout)
    assert as_json["missing_folders"] == [str(missing)]


def test_relative_pictures_without_the_site_address_are_one_warning_per_file(
    tmp_path: Path,
) -> None:
    post = tmp_path / "停水.md"
    post.write_text(
        "---\ntitle: 停水\nheadimg: /images/top.png\n---\n\n明天停水。\n\n"
        "![水管](/images/a.png)\n\n<img src='images/b.png'>\n\n"
        '<img src="loading.gif" data-src="https://example.org/lazy.png">\n',
        encoding="utf-8",
    )
    shown = run_cli("preview", str(post), cwd=tmp_path)
    warnings = [line for line in shown.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, shown.stderr
    assert "停水.md" in warnings[0] and "3 picture(s) with a relative address" in warnings[0]
    assert "NOTICEBOT_SITE_URL" in warnings[0]
    resolved = run_cli("preview", str(post), cwd=tmp_path, NOTICEBOT_SITE_URL="https://b.org")
    assert "warning:" not in resolved.stderr and "https://b.org/images/a.png" in resolved.stdout


async def test_html_posts_with_front_matter_are_read_and_other_html_is_left_alone(
    tmp_path: Path, free: Emulator
) -> None:
    """Jekyll publishes an HTML file with front matter as a post; a page without it
    (a theme's, a saved web page) is no post, and no invalid file either."""
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.write_standing()
        await scan_now(env.runtime)
        env.subscribe(101)
        written = datetime.fromtimestamp(env.clock.now - 60, UTC).isoformat()
        (env.articles / "2026-12-05-停水.html").write_text(
            f"---\ntitle: 五号楼停水通知\ndate: {written}\n---\n明天<b>停水</b>，请储水。\n\n"
            "    <p>联系电话 12345。</p>\n",
            encoding="utf-8",
        )
        (env.articles / "theme.html").write_text("<html><body>页脚</body></html>", "utf-8")
        report = env.runtime.scanner.scan()
        await env.send()
        assert len(report.new) == 1 and report.invalid == []
        shown = "\n".join(m["text"] or m.get("caption") or "" for m in free.shown(101))
        assert "五号楼停水通知" in shown and "明天停水，请储水。" in shown
        assert "<b>" not in shown and "<p>" not in shown and "页脚" not in shown


async def test_a_file_name_that_is_not_text_is_told_once(tmp_path: Path, free: Emulator) -> None:
    """A post unzipped from a GBK archive: its name cannot be read, so it is reported
    at every scan; the admins hear of it once."""
    async with running_bot(tmp_path, free, rate_limits=False, admins=frozenset({ADMIN})) as env:
        env.write_standing()
        await scan_now(env.runtime)
        gbk_name = os.fsencode(env.articles) + b"/" + "五号楼停水.md".encode("gbk")
        with open(gbk_name, "wb") as post:
            post.write("---\ntitle: 停水\n---\n明天停水。\n".encode())
        await scan_now(env.runtime)
        await scan_now(env.runtime)
        assert len(told(free)) == 1 and "not UTF-8" in told(free)[0]


def test_the_console_says_at_start_that_files_are_broken(tmp_path: Path) -> None:
    """Console mode shows what the running bot logs: a broken post among the seeds is
    told at start, pointing at `noticebot status`."""
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    (tmp_path / "seeds" / "五号楼停水.md").write_text(BROKEN, encoding="utf-8")
    result = subprocess.run(
        [*BOT_COMMAND, "run"],
        cwd=tmp_path,
        env=clean_env(),
        input="/latest\n",
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert "1 article file(s) are invalid and not sent" in result.stderr
    assert "noticebot status" in result.stderr and "Traceback" not in result.stderr


async def test_the_running_bot_logs_what_a_file_lost_once_per_version(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Not only `noticebot preview`: the running bot says which file had pictures left
    out for want of NOTICEBOT_SITE_URL, once for each version it reads."""
    caplog.set_level(logging.WARNING, logger="bot.sources.scanning")
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.write_standing()
        env.scan()
        body = "<p>明天停水。</p><img src='/images/a.png'>"
        env.write_article("停水.md", title="停水", body=body)
        await scan_now(env.runtime)
        await scan_now(env.runtime)  # the same version: not again
        lines = [r.getMessage() for r in caplog.records if "picture(s)" in r.getMessage()]
        assert len(lines) == 1 and lines[0].startswith("停水.md: "), lines
        env.write_article("停水.md", title="停水", body=body.replace("明天", "后天"))
        await scan_now(env.runtime)
        lines = [r.getMessage() for r in caplog.records if "picture(s)" in r.getMessage()]
        assert len(lines) == 2, lines
