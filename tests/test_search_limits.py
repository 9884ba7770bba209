"""Search is typed by anyone: control characters are no part of a word (a NUL made
SQLite raise), and a search that would hold the ledger too long stops at its limit.
A real ledger, real files, the real scanner."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.config import Config
from bot.ledger import Store
from bot.ledger.catalogue import SearchTooSlow
from bot.sources.scanner import Scanner
from tests import ledgers

pytestmark = ledgers.each_backend


def _ledger(tmp_path: Path, notices: int) -> Store:
    folder = tmp_path / "articles"
    folder.mkdir()
    for n in range(notices):
        (folder / f"{n}.md").write_text(
            f"---\ntitle: 第{n}号停水通知\n---\n第{n}号楼本周六上午停水，请提前储水。\n", "utf-8"
        )
    store = Store(ledgers.current(tmp_path))
    Scanner(store, Config(articles=(folder,))).scan()
    store.index_all_for_search()
    return store


def test_control_characters_in_a_query_are_no_part_of_a_word(tmp_path: Path) -> None:
    store = _ledger(tmp_path, 3)
    assert len(store.search("停水\x00通知")) == 3  # two words: both in every notice
    assert len(store.search("\x1b停水\x07")) == 3
    assert store.search("\x00\x07") == []


def test_a_search_that_takes_too_long_stops_at_its_limit(tmp_path: Path) -> None:
    store = _ledger(tmp_path, 300)
    assert len(store.search("停水 储水", limit=500)) == 300
    with pytest.raises(SearchTooSlow):
        store.search("停水 储水 上午 提前", limit=500, within=0.0)
    assert len(store.search("停水", limit=500)) == 300  # the ledger is as before


def test_a_search_waits_for_no_other_ledger_call(tmp_path: Path) -> None:
    """Searches read on a connection of their own: one that runs while the ledger is
    busy (a scan, a delivery's write; here, its lock held) neither waits for it nor
    makes it wait, as the bot's handlers call the ledger on the event loop."""
    store = _ledger(tmp_path, 3)
    found: list[int] = []
    with store._lock:  # the ledger busy, as during a write
        searching = threading.Thread(target=lambda: found.append(len(store.search("停水"))))
        searching.start()
        searching.join(timeout=5)
        assert not searching.is_alive() and found == [3]
