"""A big folder is previewed by worker processes, as a scan reads it: the output is
the same as one process gives, in order, with an id two files share told apart as
the loader does. Real files, the real command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bot.sources.folders import PARALLEL_FROM
from tests.process import BOT_COMMAND, clean_env

SHARED = (7, PARALLEL_FROM + 3)  # two files that name the same id in their front matter


def _write_folder(folder: Path) -> None:
    folder.mkdir()
    for n in range(PARALLEL_FROM + 20):
        named = "id: shared\n" if n in SHARED else ""
        (folder / f"{n:04}.md").write_text(
            f"---\ntitle: 第{n}号通知\ndate: 2026-12-01 09:00:00\n{named}---\n\n"
            f"<p>第{n}号楼本周六上午停水，请提前储水。</p>\n" * 20,  # more than a card holds
            encoding="utf-8",
        )


def _preview(folder: Path, cores: set[int] | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BOT_COMMAND, "preview", "--json", str(folder)],
        cwd=folder.parent,
        env=clean_env(NOTICEBOT_ARTICLES=str(folder)),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
    )


def test_a_big_folder_previews_the_same_in_worker_processes(tmp_path: Path) -> None:
    assert len(os.sched_getaffinity(0)) >= 2, "worker processes need two cores"
    folder = tmp_path / "posts"
    _write_folder(folder)
    alone = _preview(folder, cores={min(os.sched_getaffinity(0))})
    helped = _preview(folder, cores=None)
    assert alone.returncode == helped.returncode == 0, (alone.stderr, helped.stderr)
    assert helped.stdout == alone.stdout
    reads = {
        button["callback_data"]
        for line in helped.stdout.splitlines()
        for row in json.loads(line)["params"].get("reply_markup", {}).get("inline_keyboard", [])
        for button in row
        if button.get("callback_data", "").startswith("read:")
    }
    assert "read:shared" in reads
    assert len(reads) == PARALLEL_FROM + 20  # the second "shared" has an id of its own
