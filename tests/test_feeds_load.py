"""Many feeds beside a broadcast, the fast version (``bench/chaos --only feeds`` runs
200 feeds beside 2,000 chats and prints the figures; no speed is asserted here)."""

from __future__ import annotations

from pathlib import Path

from tests.chaos_feeds import feeds_scenario


def test_many_feeds_on_their_intervals_beside_a_broadcast(tmp_path: Path) -> None:
    # Four feeds turn slow together: fetched one at a time (FETCHES_AT_ONCE = 1) they
    # held the others up four deadlines, and this test failed.
    report = feeds_scenario(
        tmp_path,
        chats=120,
        feeds=40,
        interval=2,
        deadline=1,
        unfiltered=5,
        slow=4,
        failing=2,
        broken=2,
        new_entries=5,
    )
    lines = report.lines()
    # the import: every feed that answers added, in its folder's category; the failing
    # ones named with their error, and the exit status says some were not added
    assert report.import_exit == 1, report.import_output
    assert report.import_listed == 40 and report.import_added == 38, report.import_output
    assert report.import_unreachable == dict.fromkeys(
        report.failing, "HTTP 500 Internal Server Error"
    ), report.import_output
    assert not report.import_other, report.import_output
    assert report.categories_right == 38 and len(report.categories) == 4, lines
    # each feed read on its interval: none held up by another for more than a deadline
    # (plus the look that finds it due, plus the round's own work)
    assert report.fetches >= 34 * 2, lines  # of the 34 that answer in time
    assert report.too_late == 0, (report.worst, report.asked.get(report.worst[0]), lines)
    # the broadcast within Telegram's limits, and each new entry once to each chat
    # that wants it, to none that filters it out
    assert report.cards == 120 and report.too_many == 0, lines
    assert report.expected == 25 and report.delivered_once == 25, lines
    assert report.lost == report.duplicates == report.to_filtered == 0, lines
    # the misbehaving feeds: the slow ones cut at the deadline, the failing ones recorded
    assert report.slow_cut == 4 and report.cuts_logged >= 4, lines
    assert report.broken_recorded == 2, lines
    assert report.clean_exit, lines
