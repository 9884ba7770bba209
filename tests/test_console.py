"""Console mode: `noticebot run` without a token, driven by piped stdin."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.chaos import article_text
from tests.paths import ROOT
from tests.process import BOT_COMMAND, clean_env

SEED_ID = "f614b98f"


def _console(
    tmp_path: Path, lines: list[str], *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    return subprocess.run(
        [*BOT_COMMAND, "run", *args],
        cwd=tmp_path,
        env=clean_env(**env),
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_piped_console_shows_the_seed_card(tmp_path: Path) -> None:
    result = _console(tmp_path, ["/latest", f"/read_{SEED_ID}", "/subscribe"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "nothing is sent to Telegram" in out and "TELEGRAM_BOT_TOKEN" in out
    assert f"/read_{SEED_ID}" in out.split("> /latest")[1]
    card = out.split(f"> /read_{SEED_ID}")[1]
    assert "[card] sendPhoto" in card
    assert "[photo] http://static.1sapp.com/qupost/img/2022/02/01/caa781ce" in card
    assert "2022年2月1日 16:57 · 趣头条" in card and "caption 286/1024" in card
    assert "订阅成功" in out.split("> /subscribe")[1]
    assert not (tmp_path / "state").exists()  # a temporary ledger, not one in the tree
    assert "Traceback" not in result.stderr


def test_console_broadcast_with_a_button_press(tmp_path: Path) -> None:
    result = _console(tmp_path, ["/subscribe", f"/broadcast {SEED_ID}", "1"])
    assert result.returncode == 0, result.stderr
    after = result.stdout.split("> 1")[1]
    assert "发送完成：成功1" in after and "[card] sendPhoto" in after


def test_run_help_lists_every_option(tmp_path: Path) -> None:
    result = subprocess.run(
        [*BOT_COMMAND, "run", "--help"], env=clean_env(), capture_output=True, text=True
    )
    for option in ("--console", "--articles", "--db", "--log-level"):
        assert option in result.stdout


def test_console_is_a_sandbox_for_announcements(tmp_path: Path) -> None:
    """A console /announce beside a configured bot writes nothing where that bot reads:
    neither its announcements folder nor its ledger; the banner says where things go."""
    real_folder = tmp_path / "posts"
    real_folder.mkdir()
    real_db = tmp_path / "live.db"
    lines = ["/subscribe", "/announce 本周六五号楼停水。", "1"]
    result = _console(
        tmp_path,
        lines,
        NOTICEBOT_ANNOUNCE_DIR=str(real_folder),
        NOTICEBOT_DB=str(real_db),
    )
    assert result.returncode == 0, result.stderr
    assert "发送完成：成功1" in result.stdout
    assert list(real_folder.iterdir()) == []
    assert "temporary" in result.stdout.split("\n> ")[0]
    assert not real_db.exists() and not (tmp_path / "state").exists()


def test_console_with_db_keeps_its_ledger(tmp_path: Path) -> None:
    real_db = tmp_path / "chosen.db"
    result = _console(tmp_path, ["/subscribe"], "--db", str(real_db))
    assert result.returncode == 0, result.stderr
    assert real_db.is_file() and f"ledger: {real_db} (real" in result.stdout


def test_console_announce_here_document_with_markdown(tmp_path: Path) -> None:
    """Lines after /announce up to a single '.' are one notice; Markdown typed in the
    terminal is its formatting, as bold and lists are in a chat: the bold first line
    is the title, the marks are gone, the items are a list."""
    lines = [
        "/subscribe",
        "/announce",
        "**五号楼停水**",
        "本周六*上午* 停水，详见 [通知](https://example.org/a)。",
        "",
        "- 带好水桶",
        "- 关好`阀门`",
        ".",
        "1",
    ]
    result = _console(tmp_path, lines)
    assert result.returncode == 0, result.stderr
    sent = result.stdout.split("> 1")[1]
    assert "发送完成：成功1" in sent
    card = sent.split("[text] sendMessage")[2]
    assert card.lstrip().startswith("五号楼停水\n")
    # a short notice: its card holds it whole, the link too (the console shows where)
    assert "本周六上午 停水，详见 通知 <https://example.org/a>。" in card
    assert "• 带好水桶\n• 关好阀门" in card
    assert "*" not in card and "](" not in card and "`" not in card


def test_console_settings_buttons_change_the_settings(tmp_path: Path) -> None:
    """A press in the console comes on the menu that shows the buttons, as in a chat."""
    done = _console(tmp_path, ["/settings", "2"], "--console")
    assert done.returncode == 0, done.stderr
    assert "✓ 只看摘要" in done.stdout.split("press:")[1]  # the menu as first shown
    assert "✓ 摘要和全文" in done.stdout.split("press:")[-1]  # edited to full mode
    assert "这个按钮已失效" not in done.stdout


def test_a_short_notice_with_a_picture_shows_as_its_card(tmp_path: Path) -> None:
    """A card whose summary holds the whole notice has no buttons, and is still a card."""
    folder = tmp_path / "posts"
    folder.mkdir()
    body = '<p><img src="https://example.org/water.jpg"></p><p>本周六停水。</p>'
    (folder / "w.md").write_text(article_text("停水通知", body, "slug: water\n"), "utf-8")
    result = _console(tmp_path, ["/read water"], NOTICEBOT_ARTICLES=str(folder))
    assert result.returncode == 0, result.stderr
    shown = result.stdout.split("> /read water")[1]
    assert "[card] sendPhoto" in shown and "[album]" not in shown
