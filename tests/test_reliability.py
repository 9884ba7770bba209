"""Reliability, fast versions (``bench/chaos`` runs the long ones and prints a report)."""

from __future__ import annotations

from pathlib import Path

from tests import ledgers
from tests.botenv import TOKEN
from tests.chaos import (
    GONE,
    TRANSIENT,
    bad_input_scenario,
    crash_scenario,
    fault_scenario,
    flaky_sources_scenario,
    lifecycle_scenario,
)

pytestmark = ledgers.each_backend


def test_sigkill_mid_broadcast_loses_nothing(tmp_path: Path) -> None:
    report = crash_scenario(tmp_path, chats=120, kills=3, seed=7)
    assert report.missing == 0, report.lines()
    assert report.duplicates <= report.kills, report.lines()
    assert report.stale == 0, report.lines()
    assert report.edits and report.deletions, report.lines()  # the copies really were kept
    assert report.too_many == 0, report.lines()
    assert report.clean_exit
    log = (tmp_path / "bot.log").read_text(encoding="utf-8", errors="replace")
    assert "sendMessage" in log  # DEBUG logging really ran
    assert TOKEN not in log and TOKEN.split(":")[1] not in log


async def test_api_faults_lose_no_healthy_chat(tmp_path: Path) -> None:
    report = await fault_scenario(tmp_path, chats=120, seed=3)
    assert sum(report.injected.values()) == 120
    for kind in TRANSIENT:
        assert report.lost[kind] == 0, report.lines()
        assert report.handled[kind] == report.injected[kind]
    for kind in GONE:
        assert report.handled[kind] == report.injected[kind], report.lines()
    assert report.handled["migrated"] == report.injected["migrated"]
    assert report.duplicates["healthy"] == 0
    assert report.inside_retry_after == 0
    # a time-out after Telegram took the message is indistinguishable from a loss: resent once
    assert report.duplicates["timeout"] <= report.injected["timeout"]
    assert report.photo_fallbacks == sum(report.handled[k] for k in (*TRANSIENT, "migrated"))


def test_bad_files_beside_good_ones(tmp_path: Path) -> None:
    report = bad_input_scenario(tmp_path, big_bytes=3 * 1024 * 1024)
    assert not report.crashed
    assert report.listed == report.bad, report.reasons
    assert report.delivered == report.good, report.lines()
    assert report.leaked == report.controls == 0, report.lines()
    assert "symbolic link" in report.reasons["linked.md"]
    assert "YAML" in report.reasons["invalid-yaml.md"]
    assert "over the" in report.reasons["huge.md"]


async def test_upgrades_drafts_and_renames_during_a_broadcast(tmp_path: Path) -> None:
    report = await lifecycle_scenario(tmp_path, chats=200, seed=9)
    assert report.upgraded >= 10
    assert report.lost == 0, report.lines()
    assert report.duplicates == 0, report.lines()


async def test_folders_and_feeds_that_come_and_go_during_a_broadcast(tmp_path: Path) -> None:
    report = await flaky_sources_scenario(tmp_path, chats=60)
    assert report.held >= 1 and report.feed_errors >= 1, report.lines()
    assert report.wrongful_withdrawals == 0, report.lines()
    assert report.lost == 0, report.lines()
    assert report.duplicates == 0, report.lines()
