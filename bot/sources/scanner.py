"""One scan of the article folders: new, changed, withdrawn and invalid articles.

Incremental: a file whose size and mtime are what the ledger remembers is not
read again, so a rescan of an unchanged archive costs one directory walk and one
query. New articles are queued for the chats whose filters match, except on the
first scan of each folder (an existing archive is not pushed; a folder that is
missing is baselined when it appears), for articles older than
``NOTICEBOT_MAX_AGE_DAYS``, for the announcements folder (an announcement goes
out as its broadcast), and no earlier than the article's own date.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import httpx

from bot.config import Config
from bot.formatting.formatter import MODE_DIGEST
from bot.ledger import ACTIVE, WITHDRAWN, Chat, FileState, Store
from bot.reading.articles import ArticleError, article_from_json, article_to_json
from bot.reading.walk import article_stats
from bot.sources import ReadFile
from bot.sources.feeds import failed_read, is_due, read_feed
from bot.sources.folders import PARALLEL_FROM, ToRead, read_files

log = logging.getLogger(__name__)

FIRST_SCAN_KEY = "first_scan_done"
CHUNK = 50  # files read and saved in one transaction
Progress = Callable[[int, int], None]


@dataclass
class ScanReport:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0
    queued: int = 0
    too_old: list[str] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)
    first_scan: bool = False
    missing_roots: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    editing: int = 0  # delivered copies queued for an edit
    retracting: int = 0  # delivered copies queued to be retracted
    unpinning: int = 0  # pinned copies of notices that expired
    feed_errors: list[tuple[str, str]] = field(default_factory=list)

    def merged(self, other: ScanReport) -> ScanReport:
        """This scan's report with another's (the feeds' beside the folders')."""
        return ScanReport(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
            | {"first_scan": self.first_scan}
        )

    @property
    def work(self) -> int:
        """Rows this scan gave the dispatcher."""
        return self.queued + self.editing + self.retracting + self.unpinning

    def summary(self) -> str:
        return (
            f"new {len(self.new)}, changed {len(self.changed)}, withdrawn {len(self.withdrawn)}, "
            f"invalid {len(self.invalid)}, unchanged {self.unchanged}; "
            f"{self.queued} deliveries queued"
            + (f", {self.editing} copies to edit" if self.editing else "")
            + (f", {self.retracting} to retract" if self.retracting else "")
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "new": self.new,
            "changed": self.changed,
            "withdrawn": self.withdrawn,
            "invalid": [{"path": p, "reason": r} for p, r in self.invalid],
            "unchanged": self.unchanged,
            "queued": self.queued,
            "too_old": self.too_old,
            "scheduled": self.scheduled,
            "first_scan": self.first_scan,
            "missing_roots": self.missing_roots,
            "corrected": self.corrected,
            "expired": self.expired,
            "editing": self.editing,
            "retracting": self.retracting,
            "unpinning": self.unpinning,
            "feed_errors": [{"feed": f, "error": e} for f, e in self.feed_errors],
        }


class Scanner:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._chats: list[Chat] | None = None
        self._gone_by_content: dict[str, str] = {}  # this scan: vanished content → its notice
        self._live_ids: set[str] = set()  # this scan: notices some file still carries
        self.parallel_from = PARALLEL_FROM

    def _push_chats(self) -> list[Chat]:
        """Chats that get notices one by one (digest chats get a daily list), read once a scan."""
        if self._chats is None:
            self._chats = [c for c in self.store.subscribed_chats() if c.mode != MODE_DIGEST]
        return self._chats

    def _baselined(self, root: Path) -> bool:
        """Whether this folder's archive was taken in (older ledgers: one key for all)."""
        return bool(
            self.store.get_meta(f"{FIRST_SCAN_KEY}:{root}") or self.store.get_meta(FIRST_SCAN_KEY)
        )

    def scan(self, progress: Progress | None = None) -> ScanReport:
        self._chats = None
        present = [root for root in self.config.folders if root.exists()]
        new_roots = [root for root in present if not self._baselined(root)]
        report = ScanReport(first_scan=bool(new_roots))
        known = self.store.file_states()
        seen: set[str] = set()
        todo: list[ToRead] = []
        missing = [root for root in self.config.folders if root not in present]
        # the announcements folder appears with the first announcement: not worth a warning
        report.missing_roots = [str(r) for r in missing if r != self.config.announce_dir]
        for root in present:
            for path, stat in article_stats(root):
                if path in seen:
                    continue  # a folder inside another (announcements in the posts): once
                seen.add(path)
                state = known.get(path)
                if state and (state.size, state.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                    report.unchanged += 1
                    if state.error:
                        report.invalid.append((path, state.error))
                else:
                    todo.append((path, root, stat))
        missing_roots = tuple(map(str, missing))
        gone = {
            path: state
            for path, state in known.items()
            if path not in seen and not (missing_roots and path.startswith(missing_roots))
        }
        self._gone_by_content = {
            s.content_hash: s.article_id for s in gone.values() if s.content_hash and s.article_id
        }
        self._live_ids = {s.article_id for p, s in known.items() if p in seen and s.article_id}
        chunks = [todo[start : start + CHUNK] for start in range(0, len(todo), CHUNK)]
        done = 0
        for chunk, read in zip(
            chunks, read_files(chunks, self.config, self.parallel_from), strict=True
        ):
            with self.store.transaction():  # a commit per file was a sixth of a first scan
                for (path, root, stat), article in zip(chunk, read, strict=True):
                    # a folder's first scan pushes nothing; announcements go out as broadcasts
                    silent = root in new_roots or root == self.config.announce_dir
                    self._scan_file(path, root, stat, article, known.get(path), report, silent)
            done += len(chunk)
            if progress:
                progress(done, len(todo))
        self._withdraw_gone(gone, report)
        report.unpinning = self.store.queue_unpins(self.store.clock())
        for root in new_roots:  # a folder missing now is baselined when it appears
            self.store.set_meta(f"{FIRST_SCAN_KEY}:{root}", str(self.store.clock()))
        return report

    def scan_file(self, path: Path, root: Path) -> ScanReport:
        """One file read and saved, and nothing else looked at (what `noticebot announce`
        needs: a scan with another shell's settings could take the bot's folders for gone)."""
        self._chats = None
        report = ScanReport()
        known = self.store.file_states().get(str(path))
        stat = path.stat()
        (read,) = next(read_files([[(str(path), root, stat)]], self.config))
        with self.store.transaction():
            silent = root == self.config.announce_dir
            self._scan_file(str(path), root, stat, read, known, report, silent)
        return report

    def _scan_file(
        self,
        path: str,
        root: Path,
        stat: os.stat_result,
        read: ReadFile | ArticleError,
        before: FileState | None,
        report: ScanReport,
        silent: bool,
    ) -> None:
        """Record what one file says, in one transaction: the article, its version and
        its deliveries are saved together or not at all."""
        if isinstance(read, ArticleError):
            # Perhaps half-written: a known notice keeps its last good version (and what
            # is queued of it); the file is read again when it changes.
            report.invalid.append((path, read.reason))
            article_id = before.article_id if before else None
            self.store.record_file(
                path, FileState(stat.st_size, stat.st_mtime_ns, article_id, None, read.reason)
            )
            return
        if before is None and read.named_by_path:
            read = self._same_notice_moved(read)
        article_id, version = read.row["id"], read.row["content_hash"]
        with self.store.transaction():
            self._save(read, path, report, silent)
            if before and before.article_id and before.article_id != article_id:
                self._withdraw(before.article_id, report)
            self.store.record_file(
                path, FileState(stat.st_size, stat.st_mtime_ns, article_id, version)
            )

    def _save(self, read: ReadFile, path: str, report: ScanReport, silent: bool) -> None:
        """A notice as a source read it: its article and version saved, and its chats'
        copies queued (new), edited (corrected) or retracted (withdrawn), in one
        transaction. ``silent``: recorded, nothing queued."""
        article_id, version = read.row["id"], read.row["content_hash"]
        self._live_ids.add(article_id)
        status = WITHDRAWN if read.draft else ACTIVE
        with self.store.transaction():
            result, old = self.store.save_article({**read.row, "path": path, "status": status})
            old_status = old["status"] if old else None
            if status == ACTIVE:
                self.store.save_version(article_id, version, read.version)
            if result == "new":
                report.new.append(article_id)
            elif result == "changed":
                report.changed.append(article_id)
            if status == WITHDRAWN and old_status == ACTIVE:
                report.withdrawn.append(article_id)
                report.retracting += self.store.retract_article(article_id, "article withdrawn")
                return
            if status == ACTIVE and old_status == WITHDRAWN:
                self.store.restore_copies(article_id, version)
            if status == ACTIVE and old_status != ACTIVE and not silent:
                self._queue(read, report)
            if status == ACTIVE and old and old["content_hash"] != version:
                # a correction; or published again while copies were still being retracted
                if old_status == ACTIVE:
                    report.corrected.append(article_id)
                report.editing += self.store.retarget(
                    article_id, version, edit_sent=self.config.edits
                )

    def read_feeds(self, client: httpx.Client) -> ScanReport:
        """Every feed that is due: its new and changed entries saved as notices (the first
        read of a feed takes its entries in without pushing them). A broken feed is
        recorded with its error and tried later; it never stops the others."""
        self._chats = None
        report = ScanReport()
        for url in self.config.feeds:
            state = self.store.feed_state(url)
            now = self.store.clock()
            if not is_due(state, now):
                continue
            try:
                read = read_feed(url, state, self.config, client, now, self._date_of)
            except Exception as error:  # a bug on this feed: the others are still read
                log.exception("feed %s could not be read", url)
                read = failed_read(state, f"unexpected error: {error!r}"[:300], self.config, now)
            silent = state.baselined_at is None
            with self.store.transaction():
                for entry in read.entries:
                    if isinstance(entry, ArticleError):
                        report.invalid.append((str(entry.path), entry.reason))
                    else:
                        self._save(entry, f"{url}#{entry.row['id']}", report, silent)
                baselined = state.baselined_at or (now if read.changed else None)
                self.store.save_feed_state(replace(read.state, baselined_at=baselined))
            if read.state.error:
                report.feed_errors.append((url, read.state.error))
        return report

    def _date_of(self, article_id: str) -> float | None:
        """When a notice says it was published (a feed entry without a date keeps the
        date it was first read with, instead of taking each read's time)."""
        row = self.store.article(article_id)
        return row["date"] if row else None

    def _same_notice_moved(self, read: ReadFile) -> ReadFile:
        """A new file with the very content of one that disappeared, and no id of its
        own in its front matter, is that notice, renamed or moved."""
        old_id = self._gone_by_content.pop(read.row["content_hash"], None)
        if old_id is None:
            return read
        article = replace(article_from_json(read.version), id=old_id)
        return replace(read, row={**read.row, "id": old_id}, version=article_to_json(article))

    def _queue(self, read: ReadFile, report: ScanReport) -> None:
        row = read.row
        now = self.store.clock()
        published = row["date"]
        if published < now - self.config.max_age_days * 86400:
            report.too_old.append(row["id"])
            return
        if row["expires"] is not None and row["expires"] <= now:
            report.expired.append(row["id"])
            return
        if published > now:
            report.scheduled.append(row["id"])
        text = f"{row['title']}\n{row['search_text']}"
        chats = [c.id for c in self._push_chats() if c.wants(read.names, text)]
        report.queued += self.store.enqueue(
            row["id"], chats, not_before=max(now, published), version=row["content_hash"]
        )

    def _withdraw_gone(self, gone: dict[str, FileState], report: ScanReport) -> None:
        """Files that disappeared withdraw their notice, unless another file carries it
        now (renamed, moved, or the same front-matter id elsewhere). One transaction:
        a folder removed at once is not a commit per file."""
        with self.store.transaction():
            for path, state in gone.items():
                self.store.forget_file(path)
                if state.article_id and state.article_id not in self._live_ids:
                    self._withdraw(state.article_id, report)

    def _withdraw(self, article_id: str, report: ScanReport) -> None:
        with self.store.transaction():
            if self.store.set_article_status(article_id, WITHDRAWN):
                report.withdrawn.append(article_id)
            report.retracting += self.store.retract_article(article_id, "article withdrawn")
