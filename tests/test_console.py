"""Console mode: `noticebot run` without a token, driven by piped stdin."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.paths import ROOT
from tests.process import BOT_COMMAND, clean_env

SEED_ID = "f614b98f"


def _console(tmp_path: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    return subprocess.run(
        [*BOT_COMMAND, "run"],
        cwd=tmp_path,
        env=clean_env(),
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
    assert "已订阅" in out.split("> /subscribe")[1]
    assert (tmp_path / "state" / "console.db").is_file()  # its own ledger
    assert "Traceback" not in result.stderr


def test_console_broadcast_with_a_button_press(tmp_path: Path) -> None:
    result = _console(tmp_path, ["/subscribe", f"/broadcast {SEED_ID}", "1"])
    assert result.returncode == 0, result.stderr
    after = result.stdout.split("> 1")[1]
    assert "推送完成：已发送 1" in after and "[card] sendPhoto" in after


def test_run_help_lists_every_option(tmp_path: Path) -> None:
    result = subprocess.run(
        [*BOT_COMMAND, "run", "--help"], env=clean_env(), capture_output=True, text=True
    )
    for option in ("--console", "--articles", "--db", "--log-level"):
        assert option in result.stdout
