"""Many feeds read on their intervals beside a broadcast: a scenario shared by the fast
test (tests/test_feeds_load.py) and ``bench/chaos`` (``--only feeds``).

A local host serves ``feeds`` RSS feeds (/f/0 … /f/N-1), a few of them misbehaving;
they are added to the ledger the way an admin does it, ``noticebot feeds import`` of an
OPML file; then a ``noticebot run`` process reads them while it sends a notice to every
chat, and new entries appear in some feeds meanwhile. What it shows: each feed is read
on time whatever the others do (a slow one costs the others at most its deadline), the
broadcast keeps Telegram's pace without a 429, and each new entry reaches each chat
that wants it exactly once.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from bot.app import FEEDS_EVERY
from bot.ledger import Chat, FeedState, Store
from tests.chaos import article_text, prepare_ledger, start_bot, wait_for
from tests.emulator import Call, Emulator, counted
from tests.feedserver import FeedHost, feed_of
from tests.process import BOT_COMMAND, clean_env

FILTER = "停水"  # the filtered chats' word: in the broadcast notice, in no feed entry
NOTICE = "停水通知"
NOTICE_BODY = "<p>明日9时至17时全小区停水，请提前储水。</p>"  # a card holds it whole
CATEGORIES = ("街道办", "物业", "居委会", None)  # OPML folders (None: at the top level)
CUT = re.compile(r"no answer within (\d+(?:\.\d+)?) s")
BACKLOG = 128  # the feed host's listen queue
# A round that carries a fetch cut at the deadline lasts a little more than the deadline
# (that fetch may start after others of the round, the round's reads are saved after it):
# a feed due as the round began waits for the round and then for the next look.
ROUND_WORK = 0.5  # seconds: the most that work may add


def old_title(feed: int, entry: int) -> str:
    return f"〔{feed}〕社区通讯第{entry}期"


def new_title(feed: int) -> str:
    return f"〔{feed}〕新公告：电梯检修"


def opml(host: FeedHost, feeds: int) -> bytes:
    """A feed reader's export: the feeds filed in folders, some at the top level."""
    folders: dict[str | None, list[str]] = {category: [] for category in CATEGORIES}
    for n in range(feeds):
        title = quoteattr(f"第{n}号公告栏")
        url = quoteattr(host.url(f"/f/{n}"))
        folders[CATEGORIES[n % len(CATEGORIES)]].append(
            f'<outline type="rss" text={title} title={title} xmlUrl={url}/>'
        )
    body = "".join(folders.pop(None))
    for name, outlines in folders.items():
        body += f"<outline text={quoteattr(str(name))}>{''.join(outlines)}</outline>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?><opml version="2.0">'
        f"<head><title>小区公告栏</title></head><body>{body}</body></opml>"
    ).encode()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class FeedsReport:
    chats: int
    feeds: int
    interval: float
    deadline: float
    look: float = FEEDS_EVERY
    unfiltered: int = 0  # chats without a filter word: they get every feed entry
    slow: list[str] = field(default_factory=list)  # paths slow from after the import
    failing: list[str] = field(default_factory=list)  # 500 throughout: refused by the import
    broken: list[str] = field(default_factory=list)  # 500 from after the import
    # the import: exit status, seconds, "imported N of M", unreachable (path, reason), other
    import_exit: int = -1
    import_seconds: float = 0.0
    import_added: int = 0
    import_listed: int = 0
    import_unreachable: dict[str, str] = field(default_factory=dict)
    import_other: list[str] = field(default_factory=list)  # any other section's lines
    import_output: str = ""
    categories: dict[str, int] = field(default_factory=dict)  # the ledger's, after the import
    categories_right: int = 0  # feeds filed in the category the OPML file gave them
    # lateness: of every fetch of a feed that behaves, after the bot's first
    fetches: int = 0
    lateness: list[float] = field(default_factory=list)  # seconds, one per fetch
    worst: tuple[str, float] = ("", 0.0)  # the latest fetch: its feed and lateness
    asked: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # the bot's
    # requests by feed: (seconds since the bot started, status), for a failure's message
    rounds_seconds: float = 0.0  # the bot's fetching, first to last request measured
    # the broadcast
    cards: int = 0
    last_card: float = 0.0  # monotonic
    seconds: float = 0.0
    rate: float = 0.0
    calls_rate: float = 0.0
    best_second: int = 0
    too_many: int = 0
    # the new entries
    new_entries: int = 0
    expected: int = 0  # new entries × unfiltered chats
    delivered_once: int = 0
    lost: int = 0
    duplicates: int = 0
    to_filtered: int = 0  # copies of a feed entry a filtered chat got (target 0)
    entry_delay: list[float] = field(default_factory=list)  # published → last chat has it
    after_broadcast: int = 0  # copies of new entries sent after the broadcast's last card
    # the misbehaving feeds as the ledger and the log tell them
    slow_cut: int = 0  # slow feeds whose last error is "no answer within <deadline> s"
    cuts_logged: int = 0  # log lines saying a fetch was cut at the deadline
    broken_recorded: int = 0  # broken feeds whose last error is HTTP 500
    slow_requests: int = 0  # requests the slow feeds got from the bot (backing off)
    clean_exit: bool = False

    @property
    def bound(self) -> float:
        return self.deadline + self.look

    @property
    def late(self) -> int:
        """Fetches later than a deadline and a look."""
        return sum(1 for lateness in self.lateness if lateness > self.bound)

    @property
    def too_late(self) -> int:
        """Fetches later than a deadline, a look and a round's own work: another feed
        held them up longer than its deadline."""
        return sum(1 for lateness in self.lateness if lateness > self.bound + ROUND_WORK)

    def lines(self) -> list[str]:
        misbehaving = (
            f"{len(self.slow)} slow ({self.deadline + 2:g} s), {len(self.broken)} failing"
            f" (500) after the import, {len(self.failing)} failing from the start"
        )
        unreachable = ", ".join(sorted(set(self.import_unreachable.values()))) or "none"
        delays = self.entry_delay
        return [
            f"feeds: {self.feeds} feeds on a local host (every {self.interval:g} s, deadline"
            f" {self.deadline:g} s; {misbehaving}) beside a broadcast to {self.chats:,} chats",
            f"  `noticebot feeds import` of an OPML file: {self.import_seconds:.1f} s, exit"
            f" {self.import_exit}; imported {self.import_added} of {self.import_listed},"
            f" {len(self.import_unreachable)} unreachable ({unreachable}); categories"
            f" {', '.join(f'{k} {v}' for k, v in sorted(self.categories.items()))}"
            f" ({self.categories_right} filed as the file said)",
            f"  fetches of the {self.feeds - len(self.slow) - len(self.failing)} feeds that"
            f" answer in time: {self.fetches:,} over {self.rounds_seconds:.0f} s;"
            f" lateness (gap − interval or back-off) max {max(self.lateness, default=0):.2f} s"
            f" ({self.worst[0]}), p99 {percentile(self.lateness, 0.99):.2f} s,"
            f" median {percentile(self.lateness, 0.5):.2f} s; later than deadline + look"
            f" ({self.bound:g} s): {self.late}, later than that + a round's work"
            f" ({self.bound + ROUND_WORK:g} s): {self.too_late} (target 0)",
            f"  broadcast: {self.cards:,} cards in {self.seconds:.1f} s = {self.rate:.1f} msg/s"
            f" ({self.calls_rate:.1f} msg/s counting the feeds' notices; best second"
            f" {self.best_second}); 429s {self.too_many} (target 0)",
            f"  {self.new_entries} new entries during it, to the {self.unfiltered} chats"
            f" without a filter: {self.delivered_once}/{self.expected} delivered once, lost"
            f" {self.lost}, duplicates {self.duplicates}, to filtered chats {self.to_filtered}"
            f" (targets 0); published → in every chat: median"
            f" {percentile(delays, 0.5):.1f} s, max {max(delays, default=0):.1f} s"
            f" ({self.after_broadcast} of the copies sent after the broadcast's last card)",
            f"  slow feeds cut at the deadline: {self.slow_cut}/{len(self.slow)} in the ledger,"
            f" {self.cuts_logged} cuts logged, {self.slow_requests} requests (backing off);"
            f" failing feeds recorded: {self.broken_recorded}/{len(self.broken)};"
            f" clean exit on SIGTERM: {self.clean_exit}",
        ]


def _text(call: Call) -> str:
    return str(call.params.get("text") or call.params.get("caption") or "")


def feeds_scenario(
    work: Path,
    chats: int,
    feeds: int,
    *,
    interval: int = 10,
    deadline: int = 3,
    unfiltered: int = 10,
    slow: int = 5,
    failing: int = 5,
    broken: int = 5,
    new_entries: int = 20,
    entries: int = 10,
    seed: int = 2026,
) -> FeedsReport:
    """``feeds`` feeds imported from an OPML file, then read by ``noticebot run`` every
    ``interval`` seconds while it sends a notice to ``chats`` chats (all but
    ``unfiltered`` of them with a filter word the feeds' entries do not match), and
    ``new_entries`` feeds get a new entry at moments spread over the broadcast."""
    rng = random.Random(seed)
    paths = [f"/f/{n}" for n in range(feeds)]
    shuffled = rng.sample(paths, slow + failing + broken)
    report = FeedsReport(
        chats=chats,
        feeds=feeds,
        interval=interval,
        deadline=deadline,
        unfiltered=unfiltered,
        slow=shuffled[:slow],
        failing=shuffled[slow : slow + failing],
        broken=shuffled[slow + failing :],
    )
    fast = [p for p in paths if p not in shuffled]
    changing = rng.sample(fast, new_entries)
    report.new_entries = len(changing)
    items = {
        n: [(f"f{n}-e{j}", old_title(n, j)) for j in range(entries, 0, -1)] for n in range(feeds)
    }
    subscribers = [Chat(i) for i in range(1, unfiltered + 1)]
    subscribers += [Chat(i, filters=(FILTER,)) for i in range(unfiltered + 1, chats + 1)]
    articles = prepare_ledger(work, subscribers)
    db = work / "state" / "noticebot.db"
    settings = {
        "NOTICEBOT_FEEDS_ALLOW_PRIVATE": "on",
        "NOTICEBOT_FEED_INTERVAL": str(interval),
        "NOTICEBOT_FEED_DEADLINE": str(deadline),
    }
    host = FeedHost()
    # The bot opens a connection a fetch, FETCHES_AT_ONCE at a time; the host's listen
    # queue (socketserver's 5) overflowed when this process was busy, a connection then
    # waited for the kernel's 1 s retry and was cut at a short deadline. A real host's is
    # 128 or more.
    host.httpd.socket.listen(BACKLOG)
    try:
        for n, path in enumerate(paths):
            host.feeds[path] = feed_of(f"第{n}号公告栏", items[n])
        host.failing.update(report.failing)
        _import(work, host, db, settings, report)
        for path in report.slow:  # feeds that become slow, or fail, once they were added
            host.slow[path] = deadline + 2
        host.failing.update(report.broken)
        with Emulator() as emulator:
            _run(work, articles, host, emulator, settings, changing, items, report)
    finally:
        host.close()
    _ledger_and_log(work, db, report)
    return report


def _import(
    work: Path, host: FeedHost, db: Path, settings: dict[str, str], report: FeedsReport
) -> None:
    """``noticebot feeds import FILE --db LEDGER`` as an admin runs it."""
    listing = work / "feeds.opml"
    listing.write_bytes(opml(host, report.feeds))
    start = time.monotonic()
    done = subprocess.run(
        [*BOT_COMMAND, "feeds", "import", str(listing), "--db", str(db)],
        cwd=work,
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    report.import_seconds = time.monotonic() - start
    report.import_exit = done.returncode
    report.import_output = done.stdout + done.stderr
    found = re.search(r"imported (\d+) of (\d+) feeds", done.stdout)
    if found:
        report.import_added, report.import_listed = int(found[1]), int(found[2])
    section = ""
    for line in done.stdout.splitlines():
        if not line.startswith("  "):
            section = line
        elif "unreachable" in section:
            url, _, reason = line.strip().partition(": ")
            report.import_unreachable[url.removeprefix(host.base)] = reason
        elif not line.startswith("  added "):
            report.import_other.append(line.strip())
    store = Store(db)
    try:
        sources = store.feed_sources()
    finally:
        store.close()
    for source in sources:
        report.categories[source.category or "(none)"] = (
            report.categories.get(source.category or "(none)", 0) + 1
        )
        n = int(source.url.rpartition("/")[2])
        report.categories_right += source.category == CATEGORIES[n % len(CATEGORIES)]


def _run(
    work: Path,
    articles: Path,
    host: FeedHost,
    emulator: Emulator,
    settings: dict[str, str],
    changing: list[str],
    items: dict[int, list[tuple[str, str]]],
    report: FeedsReport,
) -> None:
    added = [f"/f/{n}" for n in range(report.feeds) if f"/f/{n}" not in report.failing]
    process = start_bot(work, emulator, work / "bot.log", NOTICEBOT_LOG_LEVEL="WARNING", **settings)
    started = time.monotonic()
    published: dict[int, float] = {}  # feed number → when its new entry appeared
    try:

        def read_by_the_bot() -> bool:
            asked = {key for at, key, _ in list(host.requests) if at >= started}
            return all(path in asked for path in added)

        wait_for(read_by_the_bot, report.interval + report.deadline + 60, "every feed read")
        (articles / "notice.md").write_text(article_text(NOTICE, NOTICE_BODY), encoding="utf-8")

        def cards() -> int:
            return sum(1 for _, c in emulator.delivered() if NOTICE in _text(c))

        for k, path in enumerate(changing):  # spread over the broadcast
            wait_for(lambda k=k: cards() >= report.chats * (k + 1) // (len(changing) + 1), 600)
            n = int(path.rpartition("/")[2])
            host.feeds[path] = feed_of(f"第{n}号公告栏", [(f"f{n}-new", new_title(n)), *items[n]])
            published[n] = time.monotonic()
        wait_for(lambda: cards() >= report.chats, 600, "every card")
        titles = [new_title(n) for n in published]

        def entries_in() -> int:
            return sum(
                1
                for chat, c in emulator.delivered()
                if chat <= report.unfiltered and any(t in _text(c) for t in titles)
            )

        with contextlib.suppress(AssertionError):  # the report counts what is missing
            wait_for(lambda: entries_in() >= len(titles) * report.unfiltered, 300, "entries")
        time.sleep(min(report.interval, 5))  # a duplicate would come now
    finally:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            report.clean_exit = process.wait(timeout=60) == 0
        if process.poll() is None:
            process.kill()
            process.wait()
    _broadcast(emulator, report)
    _entries(emulator, published, report)
    _lateness(host, started, report)


def _broadcast(emulator: Emulator, report: FeedsReport) -> None:
    """First card to last, as the confirmations scenario measures it."""
    at = sorted(c.at for _, c in emulator.delivered() if NOTICE in _text(c))
    report.cards = len(at)
    report.too_many = emulator.too_many
    report.best_second = emulator.max_per_second()
    report.last_card = at[-1] if at else 0.0
    if len(at) < 2:
        return
    report.seconds = at[-1] - at[0]
    report.rate = (len(at) - 1) / report.seconds
    window = [c for c in emulator.calls if c.ok and counted(c.method) and at[0] <= c.at <= at[-1]]
    report.calls_rate = (len(window) - 1) / report.seconds


def _entries(emulator: Emulator, published: dict[int, float], report: FeedsReport) -> None:
    got: dict[tuple[int, int], list[float]] = {}
    for chat, call in emulator.delivered():
        text = _text(call)
        for n in published:
            if new_title(n) in text:
                got.setdefault((chat, n), []).append(call.at)
    report.expected = len(published) * report.unfiltered
    for n, when in published.items():
        last = 0.0
        for chat in range(1, report.unfiltered + 1):
            copies = got.get((chat, n), [])
            report.delivered_once += len(copies) == 1
            report.lost += not copies
            report.duplicates += max(0, len(copies) - 1)
            last = max([last, *copies])
            report.after_broadcast += sum(1 for at in copies if at > report.last_card)
        if last:
            report.entry_delay.append(last - when)
    report.to_filtered = sum(len(at) for (chat, _), at in got.items() if chat > report.unfiltered)


def _lateness(host: FeedHost, started: float, report: FeedsReport) -> None:
    """Per feed that answers in time, each gap between two of the bot's requests less the
    wait the bot owes it (its interval; a failing feed's grows, 2, 4… intervals). The host
    logs a request as it answers it: a slow feed's after its wait, which is why slow feeds
    are not measured (they are the ones that may be late)."""
    skip = {*report.slow, *report.failing}
    times: dict[str, list[float]] = {}
    for at, key, status in list(host.requests):
        if at >= started:
            times.setdefault(key, []).append(at)
            report.asked.setdefault(key, []).append((round(at - started, 3), status))
    report.slow_requests = sum(len(times.get(key, [])) for key in report.slow)
    measured = [at for key, ats in times.items() if key not in skip for at in ats]
    if measured:
        report.rounds_seconds = max(measured) - min(measured)
    for key, ats in times.items():
        if key in skip:
            continue
        for failures, (before, after) in enumerate(itertools.pairwise(sorted(ats)), 1):
            # a broken feed was healthy at the import: the bot's first fetch of it is its
            # first failure
            wait = report.interval * (2 ** min(12, failures) if key in report.broken else 1)
            lateness = after - before - wait
            report.lateness.append(lateness)
            if lateness > report.worst[1] or not report.worst[0]:
                report.worst = (key, lateness)
    report.fetches = len(report.lateness)


def _ledger_and_log(work: Path, db: Path, report: FeedsReport) -> None:
    store = Store(db)
    try:
        states = {urlsplit(state.url).path: state for state in store.feed_states()}
    finally:
        store.close()

    def error(path: str) -> str:
        return (states.get(path) or FeedState(path)).error or ""

    wanted = f"no answer within {report.deadline:g} s"
    report.slow_cut = sum(1 for path in report.slow if error(path) == wanted)
    report.broken_recorded = sum(1 for path in report.broken if "HTTP 500" in error(path))
    log = (work / "bot.log").read_text(encoding="utf-8", errors="replace")
    report.cuts_logged = sum(1 for m in CUT.finditer(log) if float(m[1]) == report.deadline)
