"""Two scans of one ledger at once: the running bot's, and a command's (`noticebot scan`,
`noticebot announce`) or a second process's. Neither may take what the other just
took in for gone."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Config
from bot.ledger import Chat, Store
from bot.reading.walk import FolderWalk
from bot.sources import scanner as scanner_module
from bot.sources.scanner import HOLD_FOR, Scanner
from tests import ledgers
from tests.chaos import article_text
from tests.paths import SEED

pytestmark = ledgers.each_backend


def _beside_the_walk(
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    meanwhile: Callable[[], None],
    *,
    before: bool,
) -> None:
    """``meanwhile`` runs once, right before (``before``) or right after the next scan
    walks ``folder``, and after that scan read what the ledger knows: the moments
    another process's scan may land in."""
    walk = scanner_module.walk_folder
    pending = [meanwhile]

    def walk_beside_another_scan(root: Path, *args: object) -> FolderWalk:
        if before:
            while pending and root == folder:
                pending.pop()()
        walked = walk(root, *args)
        while pending and root == folder:
            pending.pop()()
        return walked

    monkeypatch.setattr(scanner_module, "walk_folder", walk_beside_another_scan)


def test_a_notice_another_scan_took_in_during_this_scans_walk_is_not_withdrawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEED, folder)
    config = Config(articles=(folder,), announce_dir=tmp_path / "announcements")
    db = ledgers.current(tmp_path)
    bots, command = Store(db), Store(db)
    bots.subscribe(Chat(5))
    running = Scanner(bots, config, owner=True)
    running.scan()  # the archive, taken in

    def a_command_scans_a_new_notice() -> None:
        (folder / "water.md").write_text(
            article_text("五号楼停水", "<p>周六停水。</p>", "slug: water-5\n"), "utf-8"
        )
        assert Scanner(command, config).scan().new == ["water_5"]

    _beside_the_walk(folder, monkeypatch, a_command_scans_a_new_notice, before=False)
    report = running.scan()
    assert (report.new, report.changed, report.withdrawn) == ([], [], [])
    assert bots.published("water_5") is not None
    assert [d.article_id for d in bots.deliveries(5)] == ["water_5"]  # queued once
    monkeypatch.undo()
    again = running.scan()
    assert (again.new, again.changed, again.withdrawn) == ([], [], [])
    assert bots.published("water_5") is not None
    bots.close()
    command.close()


@pytest.mark.parametrize("how", ["confirmed", "hold_ran_out"])
def test_withdrawals_another_scan_applied_meanwhile_are_not_held_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A folder lost many files at once: their withdrawals are held, the admins told.
    Another scan applies them (confirmed with ``--withdraw``, or their hold ran out)
    after this scan read the ledger and before it walked: they are not a new loss to
    hold and tell the admins of again."""
    folder = tmp_path / "articles"
    folder.mkdir()
    config = Config(articles=(folder,), announce_dir=tmp_path / "announcements")
    db = ledgers.current(tmp_path)
    bots, command = Store(db), Store(db)
    now = [1_800_000_000.0]
    bots.clock = command.clock = lambda: now[0]
    running = Scanner(bots, config, owner=True)
    running.scan()
    for n in range(8):
        (folder / f"n{n}.md").write_text(article_text(f"通知{n}", f"<p>第{n}条。</p>"), "utf-8")
    assert len(running.scan().new) == 8
    for n in range(8):
        (folder / f"n{n}.md").unlink()
    assert [held.new for held in running.scan().held] == [True]  # held, the admins told

    def another_scan_applies_them() -> None:
        if how == "hold_ran_out":
            now[0] += HOLD_FOR + 100
        report = Scanner(command, config).scan(withdraw=how == "confirmed")
        assert len(report.withdrawn) == 8 and not report.held, report.as_dict()

    _beside_the_walk(folder, monkeypatch, another_scan_applies_them, before=True)
    report = running.scan()
    monkeypatch.undo()
    assert (report.held, report.withdrawn) == ([], [])
    bots.close()
    command.close()
