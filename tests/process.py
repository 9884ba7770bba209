"""Running ``noticebot`` as a user does: a real process with a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests import ledgers
from tests.paths import ROOT

BOT_COMMAND = [sys.executable, "-m", "bot"]


def clean_env(**values: str) -> dict[str, str]:
    """This environment without any noticebot or Telegram setting, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTICEBOT_", "TELEGRAM"))}
    server = ledgers.server()  # a test on a PostgreSQL ledger: its commands use it too
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        **({"NOTICEBOT_DB": server} if server else {}),
        **values,
    }


def run_cli(
    *args: str, cwd: Path, umask: int | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``umask``: the starting shell's (the process's own is set by noticebot)."""
    return subprocess.run(
        [*BOT_COMMAND, *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def free_port() -> int:
    """A local TCP port nobody listens on (for servers the bot starts itself)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
