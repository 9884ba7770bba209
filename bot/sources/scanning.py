"""Scans as the running bot does them: on its schedule, when a watched folder
changes, or when an announcement was written; feeds when they are due; then the
search index catches up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from bot.i18n import span_words, t
from bot.reading.articles import one_line
from bot.runtime import Runtime
from bot.sources.scanner import HOLD_FOR, Held, ScanReport

log = logging.getLogger(__name__)


async def scan_now(runtime: Runtime) -> None:
    """A scan off the event loop; new deliveries wake the dispatcher at once.

    Returns when a scan that began after the call has finished (what an announcement
    needs: its file is in the ledger). Asked for during a scan, that scan goes round
    once more, and the callers waiting for it share that round.
    """
    runtime.scan_wanted = True
    async with runtime.scanning:
        while runtime.scan_wanted and not runtime.stopping.is_set():
            runtime.scan_wanted = False
            await _scan_once(runtime)
    _index_later(runtime)


def _index_later(runtime: Runtime) -> None:
    if runtime.indexer is None or runtime.indexer.done():
        runtime.indexer = asyncio.create_task(index_for_search(runtime), name="search index")


async def _scan_once(runtime: Runtime) -> None:
    started = time.monotonic()
    try:
        report: ScanReport = await asyncio.to_thread(runtime.scanner.scan)
    except Exception as error:  # the next interval tries again
        runtime.scan_failures += 1
        if runtime.scan_failures == 1:
            log.exception("the scan failed; it runs again at the next interval")
        else:
            log.error("the scan failed again (%d times): %r", runtime.scan_failures, error)
        with contextlib.suppress(Exception):
            runtime.store.record_trouble("scan", repr(error))
        return
    runtime.scan_failures = 0
    if runtime.scanned_at is None:  # at each start
        _at_start(report)
    runtime.scan_took, runtime.scanned_at = time.monotonic() - started, time.time()
    await _took_in(runtime, report, "scan")


def _at_start(report: ScanReport) -> None:
    """What stays wrong, said at each start: a mistyped folder reads nothing, and files
    broken before this start are still not sent (each was told when it was saved)."""
    for root in report.missing_roots:
        log.warning("the articles folder %s is missing: nothing is read from it", one_line(root))
    told = {path for path, _ in report.broken}
    waiting = sum(1 for path, _ in report.invalid if path not in told)
    if waiting:
        log.warning(
            "%d article file(s) are invalid and not sent: `noticebot status` lists them"
            " with their reasons",
            waiting,
        )


async def index_for_search(runtime: Runtime) -> None:
    """The search index catches up with the scan in small batches, off the event loop
    (a first scan of a large archive leaves thousands; search reads them with LIKE)."""
    try:
        while not runtime.stopping.is_set() and await asyncio.to_thread(
            runtime.store.index_for_search
        ):
            pass
    except Exception:  # the next scan starts it again
        log.exception("filling the search index failed")


async def read_feeds_now(runtime: Runtime, only: str | None = None) -> ScanReport | None:
    """The feeds that are due (``only``: that one), off the event loop, one round at a
    time; None when a round is under way or it failed."""
    if only is None and runtime.reading_feeds.locked():
        return None
    async with runtime.reading_feeds:
        try:
            report = await asyncio.to_thread(runtime.feed_reader.read_feeds, runtime.http, only)
        except Exception:  # a bug: the next round tries again
            log.exception("reading the feeds failed; they are read again at the next round")
            return None
    for feed, error in report.feed_errors:
        log.warning("feed %s: %s (tried again later)", feed, error)
    await _took_in(runtime, report, "feeds")
    await _tell_feed_health(runtime, report)
    if report.new or report.changed:
        _index_later(runtime)
    return report


async def _tell_feed_health(runtime: Runtime, report: ScanReport) -> None:
    """A feed failing for a while is told to the admins once, and once when it recovers."""
    for name, error, since in report.feeds_failing:
        log.warning("feed %s has failed since %s: %s", name, time.ctime(since), error)
        span = runtime.store.clock() - since

        def failing(lang: str, name: str = name, error: str = error, span: float = span) -> str:
            since = span_words(span, lang)
            return t("feed_failing", lang, feed=one_line(name), error=one_line(error), since=since)

        await runtime.sender.tell_admins(failing, "feed failing")
    for name in report.feeds_recovered:
        log.info("feed %s recovered", name)
        await runtime.sender.tell_admins(
            lambda lang, name=name: t("feed_recovered", lang, feed=one_line(name)),
            "feed recovered",
        )


async def _took_in(runtime: Runtime, report: ScanReport, what: str) -> None:
    """A line when something changed; the dispatcher woken when there is work; the
    admins told of withdrawals held and of each broken version of a file."""
    if report.new or report.changed or report.withdrawn or report.work:
        log.info("%s: %s", what, report.summary())
    await tell_broken(runtime, report.broken)
    for number, (path, warning) in enumerate(report.warned):
        if number == TELL_AT_MOST:
            log.warning("%s: %d more files with warnings", what, len(report.warned) - number)
            break
        log.warning("%s: %s", shown_path(path, runtime.scanner.config.folders), one_line(warning))
    for path, reason in report.unseen:
        log.warning(
            "%s: could not read %s (%s): its notices are kept", what, one_line(path), reason
        )
    if report.work:
        runtime.dispatcher.wake()
    for held in report.held:
        if held.new:
            log.warning(
                "%s: the files of %d notices in %s disappeared at once: their withdrawal is"
                " held for %d minutes (`noticebot scan --withdraw` confirms it)",
                what,
                held.files,
                held.folder or "folders no longer configured",
                HOLD_FOR // 60,
            )
            await _tell(runtime, held)


async def _tell(runtime: Runtime, held: Held) -> None:
    def words(lang: str) -> str:
        return t(
            "withdrawals_held",
            lang,
            folder=held.folder or t("unconfigured_folders", lang),
            count=held.files,
            minutes=int(HOLD_FOR // 60),
        )

    await runtime.sender.tell_admins(words, "withdrawals held")


TELL_AT_MOST = 5  # broken files told one by one in a scan; the rest in one line


async def tell_broken(runtime: Runtime, broken: list[tuple[str, str]]) -> None:
    """One WARNING per broken version of a file, and one message to the admins: the
    person who saved it believes it went out. An archive full of broken files (a first
    scan) is told in a few messages, not hundreds."""
    for number, (path, reason) in enumerate(broken):
        name, why = shown_path(path, runtime.scanner.config.folders), one_line(reason)
        log.warning("%s: %s", name, why)
        if number < TELL_AT_MOST:
            await runtime.sender.tell_admins(
                lambda lang, name=name, why=why: t("broken_post", lang, file=name, reason=why),
                "broken post",
            )
    if len(broken) > TELL_AT_MOST:
        more = len(broken) - TELL_AT_MOST
        await runtime.sender.tell_admins(
            lambda lang: t("broken_posts_more", lang, count=more), "broken posts"
        )


def shown_path(path: str, folders: tuple[Path, ...]) -> str:
    """A file as its editor knows it: below its article folder, else as it is."""
    for folder in sorted(folders, key=lambda f: len(str(f)), reverse=True):
        with contextlib.suppress(ValueError):
            return one_line(str(Path(path).relative_to(folder)))
    return one_line(path)
