"""The steps the Dockerfile runs, without a container engine (none can pull images
here): build the wheel from what the image copies, install it into a fresh venv
(dependencies resolved as `pip install .` resolves them), start the installed
`noticebot` against the emulator, and check that it answers and is healthy."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.botenv import TOKEN, message_update
from tests.chaos import wait_for
from tests.emulator import Emulator
from tests.paths import ROOT
from tests.process import clean_env, free_port

# what the Dockerfile's COPY lines put into the image, read from it
COPIED = [
    name
    for line in (ROOT / "Dockerfile").read_text("utf-8").splitlines()
    if line.startswith("COPY ")
    for name in line.split()[1:-1]
]


def _healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status
    except OSError:
        return 0


def test_the_installed_wheel_runs_answers_and_is_healthy(tmp_path: Path) -> None:
    assert COPIED == ["pyproject.toml", "README.md", "bot"]
    source = tmp_path / "source"
    source.mkdir()
    for name in COPIED:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", str(source), "--no-deps", "-w", str(tmp_path / "dist")], check=True
    )
    (wheel,) = (tmp_path / "dist").glob("noticebot-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    venv = tmp_path / "venv" / "bin"
    subprocess.run(
        [
            str(venv / "python"),
            "-m",
            "pip",
            "--disable-pip-version-check",
            "-q",
            "install",
            str(wheel),
        ],
        check=True,
    )
    shutil.copytree(ROOT / "seeds", tmp_path / "articles")
    port = free_port()
    with Emulator() as emulator:
        env = clean_env(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=emulator.url,
            NOTICEBOT_DB=str(tmp_path / "state" / "noticebot.db"),
            NOTICEBOT_ARTICLES=str(tmp_path / "articles"),
            NOTICEBOT_METRICS_LISTEN=f"127.0.0.1:{port}",
            NOTICEBOT_LOG_FORMAT="json",
        )
        env.pop("PYTHONPATH")  # the installed package, not this checkout
        log = (tmp_path / "bot.log").open("wb")
        process = subprocess.Popen(
            [str(venv / "noticebot"), "run"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
        try:
            wait_for(lambda: process.poll() is not None or _healthz(port) == 200, 60, "a start")
            assert process.poll() is None, (tmp_path / "bot.log").read_text("utf-8")
            emulator.push(message_update(801, "/start"))
            wait_for(
                lambda: any(c.params.get("chat_id") == 801 for c in emulator.calls), 30, "a reply"
            )
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
            log.close()
    # cwd holds no bot/ and PYTHONPATH is gone: what ran is the installed package
    lines = [json.loads(line) for line in (tmp_path / "bot.log").read_text("utf-8").splitlines()]
    assert any(r["message"].startswith("noticebot started as @") for r in lines)
    assert lines[-1]["message"] == "noticebot stopped"
