"""What noticebot makes holds every private user's id and name: the ledger, its WAL,
its lock, backups and exports are readable by their owner only, and the folders it
makes too, whatever the umask of the shell that started it. The real command."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.process import run_cli


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_what_noticebot_makes_is_its_owners_alone(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "a.md").write_text("---\ntitle: 停水\n---\n本周六停水。\n", "utf-8")
    ledger = tmp_path / "state" / "deep" / "noticebot.db"
    env = {"NOTICEBOT_ARTICLES": str(articles), "NOTICEBOT_DB": str(ledger)}
    scanned = run_cli("scan", "--create", cwd=tmp_path, umask=0o022, **env)
    assert scanned.returncode == 0, scanned.stderr
    backup, export = tmp_path / "backup.db", tmp_path / "subs.json"
    for made in (
        run_cli("backup", str(backup), cwd=tmp_path, umask=0o022, **env),
        run_cli("export", str(export), cwd=tmp_path, umask=0o022, **env),
    ):
        assert made.returncode == 0, made.stderr
    files = [p for p in ledger.parent.iterdir() if p.is_file()] + [backup, export]
    assert ledger in files and len(files) >= 3
    assert {str(p): oct(_mode(p)) for p in files if _mode(p) != 0o600} == {}
    for folder in (ledger.parent, ledger.parent.parent):
        assert _mode(folder) == 0o700, folder
