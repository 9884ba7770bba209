"""Scan benchmark: 20,000 article files made from the corpus.

Prints the first scan (``noticebot scan`` as a whole process, start-up included;
its worker processes parse, it saves), the search index
filled after it (the bot does that in the background, search meanwhile reads the
unindexed rows directly), a rescan with nothing changed, and the rescan as a
ratio to a bare ``os.scandir`` + ``stat`` walk of the same tree.
Targets: first scan of 20,000 ≤ 8 s; rescan ≤ 3× the bare walk.
Run: ``make bench`` (or ``.venv/bin/python -m bench.scan [N]``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import Config
from bot.ledger import Store
from bot.sources.scanner import Scanner

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def make_tree(target: Path, count: int) -> None:
    sources = [p for p in CORPUS.glob("*.md") if p.name != "README.md"]
    sources = sources or [ROOT / "seeds" / "2022-02-01-community-new-year-greetings.md"]
    texts = [p.read_bytes() for p in sources]
    for i in range(count):
        folder = target / f"site{i % 20:02d}" / f"route{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        # a unique title so each file is its own article
        text = texts[i % len(texts)].replace(b"title: ", f"title: {i} ".encode(), 1)
        (folder / f"post-{i:05d}.md").write_bytes(text)


def bare_walk(root: Path) -> int:
    count = 0
    pending = [str(root)]
    while pending:
        for entry in os.scandir(pending.pop()):
            if entry.is_dir():
                pending.append(entry.path)
            else:
                entry.stat()
                count += 1
    return count


def best_of(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    work = Path(tempfile.mkdtemp(prefix="noticebot-bench-"))
    try:
        articles, db = work / "articles", work / "bench.db"
        make_tree(articles, count)
        # The first scan as a user runs it: the whole `noticebot scan` process.
        env = {**os.environ, "NOTICEBOT_ARTICLES": str(articles), "NOTICEBOT_DB": str(db)}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bot", "scan", "--json", "--create"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        first_time = time.perf_counter() - start
        first = json.loads(done.stdout)
        store = Store(db)
        scanner = Scanner(store, Config(articles=(articles,)))
        start = time.perf_counter()
        indexed = store.index_all_for_search()
        index_time = time.perf_counter() - start
        rescan = best_of(5, scanner.scan)
        walk = best_of(5, lambda: bare_walk(articles))
        again = scanner.scan()
        print(f"files: {count:,} ({len(first['new']):,} articles, {len(first['invalid'])} invalid)")
        target = " (target for 20,000: ≤ 8 s)" if count == 20_000 else ""
        print(
            f"first scan, `noticebot scan` from start to exit: {first_time:.2f} s{target},"
            f" on {os.cpu_count()} cores"
        )
        print(
            f"then the search index, in the background: {index_time:.2f} s ({indexed:,} articles)"
        )
        print(f"rescan, nothing changed: {rescan * 1000:.0f} ms ({again.unchanged:,} unchanged)")
        print(f"bare os.scandir + stat walk: {walk * 1000:.0f} ms")
        print(f"rescan / bare walk: {rescan / walk:.2f}×  (target ≤ 3×)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
