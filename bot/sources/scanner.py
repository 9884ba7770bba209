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

import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import httpx

from bot.config import Config
from bot.formatting.formatter import MODE_DIGEST
from bot.ledger import ACTIVE, WITHDRAWN, Chat, FeedSource, FeedState, FileState, Store
from bot.ledger.visibility import send_from
from bot.logs import shown_url
from bot.reading.articles import ArticleError, article_from_json, article_to_json
from bot.reading.identity import short_hash
from bot.reading.walk import FileKey, FolderWalk, walk_folder
from bot.sources import ReadFile
from bot.sources.feeds import FeedRead, failed_read, feed_name, is_due, read_feed, spelling
from bot.sources.folders import PARALLEL_FROM, ToRead, contents, read_chunk, read_files

log = logging.getLogger(__name__)

FIRST_SCAN_KEY = "first_scan_done"
SOURCES_KEY = "sources"  # the folders and feeds of the ledger's running bot
HELD_KEY = "withdrawals_held"  # folder → since when its files seem gone
LINK_KEY = "feed_link:"  # a feed entry's id taken from its link → the guid it names
ALIAS_KEY = "id_alias:"  # a front-matter id given to a known notice → that notice
HOLD_FOR = 600.0  # seconds a suspicious withdrawal waits for its files to come back
HOLD_MANY = 5  # a folder losing more files than this at once, and
HOLD_SHARE = 0.25  # more than this share of them, is suspicious
CHUNK = 50  # files read and saved in one transaction
FETCHES_AT_ONCE = 8  # feeds fetched at the same time: a slow one holds up no other
DUE_EARLY = 0.5  # seconds: a feed due this soon is read in this round
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Sources:
    """The folders and feeds a scanner reads. ``complete``: all of its configuration's,
    and all of the running bot's (a shell with other settings reads only what they
    share, and withdraws nothing)."""

    folders: tuple[str, ...]  # absolute, as the scanner walks them
    feeds: tuple[str, ...]
    complete: bool = True

    @classmethod
    def of(cls, config: Config) -> Sources:
        return cls(tuple(map(str, config.folders)), tuple(config.feeds))

    def to_json(self) -> str:
        return json.dumps({"folders": sorted(self.folders), "feeds": sorted(self.feeds)})

    @classmethod
    def from_json(cls, text: str) -> Sources:
        data = json.loads(text)
        return cls(tuple(data["folders"]), tuple(data["feeds"]))

    def shared_with(self, theirs: Sources) -> Sources:
        folders = tuple(f for f in self.folders if f in theirs.folders)
        feeds = tuple(f for f in self.feeds if f in theirs.feeds)
        same = set(self.folders) == set(theirs.folders) and set(self.feeds) == set(theirs.feeds)
        return Sources(folders, feeds, same)


def absolute(config: Config) -> Config:
    """The configuration with its folders made absolute: the ledger knows a file by one
    path, whichever way a shell wrote its folder."""
    return replace(
        config,
        articles=tuple(Path(os.path.abspath(folder)) for folder in config.articles),
        announce_dir=Path(os.path.abspath(config.announce_dir)),
    )


@dataclass
class Gone:
    """A folder's files that are gone this scan, beside what it held before."""

    files: dict[str, FileState] = field(default_factory=dict)
    known: int = 0  # files the ledger knew in the folder
    seen: int = 0  # files the folder holds now

    def carried_on(self, live: set[str]) -> list[str]:
        """The files whose notice another file carries now."""
        return [p for p, s in self.files.items() if not s.article_id or s.article_id in live]

    @property
    def suspicious(self) -> bool:
        many = len(self.files) > HOLD_MANY and len(self.files) > HOLD_SHARE * self.known
        return self.seen == 0 or many


@dataclass(frozen=True)
class Held:
    """Withdrawals held for files that seem gone; ``folder`` is "" for files of
    folders no longer configured."""

    folder: str
    files: int
    since: float
    new: bool  # first held by this scan: the admins are told

    def as_dict(self) -> dict[str, object]:
        return {"folder": self.folder, "files": self.files, "since": self.since}


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
    unseen: list[tuple[str, str]] = field(default_factory=list)  # could not be read: kept
    held: list[Held] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # folders not the running bot's: skipped
    complete: bool = True  # the running bot's sources, all of them: it may withdraw
    feeds_cut: list[tuple[str, int]] = field(default_factory=list)  # (feed, entries it had)
    feeds_failing: list[tuple[str, str, float]] = field(default_factory=list)  # name, error, since
    feeds_recovered: list[str] = field(default_factory=list)  # their names
    broken: list[tuple[str, str]] = field(default_factory=list)  # invalid versions, new
    warned: list[tuple[str, str]] = field(default_factory=list)  # (file, what was left out)

    def merged(self, other: ScanReport) -> ScanReport:
        """This scan's report with another's (the feeds' beside the folders')."""
        return ScanReport(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
            | {"first_scan": self.first_scan, "complete": self.complete and other.complete}
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
            "unseen": [{"path": p, "reason": r} for p, r in self.unseen],
            "held": [held.as_dict() for held in self.held],
            "foreign": self.foreign,
            "complete": self.complete,
            "feeds_cut": [{"feed": f, "entries": n} for f, n in self.feeds_cut],
            "feeds_failing": [
                {"feed": f, "error": e, "since": t} for f, e, t in self.feeds_failing
            ],
            "feeds_recovered": self.feeds_recovered,
            "broken": [{"path": p, "reason": r} for p, r in self.broken],
            "warned": [{"path": p, "warning": w} for p, w in self.warned],
        }


class Scanner:
    def __init__(self, store: Store, config: Config, *, owner: bool = False) -> None:
        self.store = store
        self.config = absolute(config)
        self.owner = owner  # the running bot's: its sources are the ledger's
        self._chats: list[Chat] | None = None
        self._gone_by_content: dict[str, str] = {}  # this scan: vanished content → its notice
        self._live_ids: set[str] = set()  # this scan: notices some file still carries
        self._displaced: set[str] = set()  # this scan: notices a known file no longer carries
        self._moved_away: set[str] = set()  # this scan: known files whose content went elsewhere
        self._aliases: dict[str, str] = {}  # front-matter id → the notice it names
        self.parallel_from = PARALLEL_FROM
        self._told: dict[str, str] = {}  # invalid without a ledger row (a name, a feed entry)
        self._not_articles: dict[str, FileKey] = {}  # HTML files found not to be articles
        self._feed_urls: set[str] = set()  # the feeds read in this round

    def _not_told(self, invalid: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Invalid files the ledger keeps no row for, reported again at every scan: those
        this scanner has not reported yet, or not with this reason."""
        fresh = [(path, reason) for path, reason in invalid if self._told.get(path) != reason]
        self._told.update(fresh)
        return fresh

    def _push_chats(self) -> list[Chat]:
        """Chats that get notices one by one (digest chats get a daily list), read once a scan."""
        if self._chats is None:
            self._chats = [c for c in self.store.subscribed_chats() if c.mode != MODE_DIGEST]
        return self._chats

    def _baselined(self, root: Path, known: dict[str, FileState]) -> bool:
        """Whether this folder's archive was taken in. A ledger from before each folder
        had its key kept one for all: it stands for the folders it holds files of."""
        if self.store.get_meta(f"{FIRST_SCAN_KEY}:{root}"):
            return True
        spelled = self.store.metas(f"{FIRST_SCAN_KEY}:")  # older ledgers: as configured
        legacy = self.store.get_meta(FIRST_SCAN_KEY) is not None
        inside = str(root) + os.sep
        if any(os.path.abspath(folder) == str(root) for folder in spelled) or (
            legacy and any(os.path.abspath(p).startswith(inside) for p in known)
        ):
            self.store.set_meta(f"{FIRST_SCAN_KEY}:{root}", str(self.store.clock()))
            return True
        return False

    def owned(self) -> Sources:
        """This scanner's sources that the ledger's running bot scans too: all of them
        for the running bot itself, and for a ledger no bot has claimed yet."""
        mine = Sources.of(self.config)
        recorded = self.store.get_meta(SOURCES_KEY)
        if self.owner or recorded is None:
            if recorded != mine.to_json():
                self.store.set_meta(SOURCES_KEY, mine.to_json())
            return mine
        return mine.shared_with(Sources.from_json(recorded))

    def scan(self, progress: Progress | None = None, *, withdraw: bool = False) -> ScanReport:
        """One scan. ``withdraw``: withdrawals held for files that seem gone apply now."""
        self._chats = None
        owned = self.owned()
        roots = [root for root in self.config.folders if str(root) in owned.folders]
        # what the ledger knew before the walk: a file another scan (a command's) took in
        # after this walk listed the folder is not taken for gone
        known = self.store.file_states()
        walks = {root: walk_folder(root, self._not_articles) for root in roots if root.exists()}
        self._not_articles = {p: k for walk in walks.values() for p, k in walk.not_articles.items()}
        new_roots = [root for root in walks if not self._baselined(root, known)]
        report = ScanReport(first_scan=bool(new_roots))
        report.foreign = [str(r) for r in self.config.folders if str(r) not in owned.folders]
        report.complete = owned.complete
        seen: set[str] = set()
        todo: list[ToRead] = []
        # the announcements folder appears with the first announcement: not worth a warning
        report.missing_roots = [
            str(r) for r in roots if r not in walks and r != self.config.announce_dir
        ]
        for root, walk in walks.items():
            report.unseen += walk.unseen
            report.invalid += walk.invalid
            report.broken += self._not_told(walk.invalid)
            for path, stat in walk.files:
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
        gone = {path: state for path, state in known.items() if path not in seen}
        if gone:  # what another scan forgot since the read (withdrew, held no longer) is not gone
            still = self.store.file_states()
            gone = {path: still[path] for path in gone if path in still}
        self._gone_by_content = {
            s.content_hash: s.article_id for s in gone.values() if s.content_hash and s.article_id
        }
        self._moved_away = self._moves_among(todo, known)
        self._aliases = self.store.metas(ALIAS_KEY)
        changed = {path for path, _, _ in todo}
        self._live_ids = {
            s.article_id
            for p, s in known.items()
            if p in seen and p not in changed and s.article_id
        }
        self._displaced = set()
        chunks = [todo[start : start + CHUNK] for start in range(0, len(todo), CHUNK)]
        done = 0
        for chunk, read in zip(
            chunks, read_files(chunks, self.config, read_chunk, self.parallel_from), strict=True
        ):
            with self.store.transaction():  # a commit per file was a sixth of a first scan
                for (path, root, stat), article in zip(chunk, read, strict=True):
                    # a folder's first scan pushes nothing; announcements go out as broadcasts
                    silent = root in new_roots or root == self.config.announce_dir
                    self._scan_file(path, root, stat, article, known.get(path), report, silent)
            done += len(chunk)
            if progress:
                progress(done, len(todo))
        if owned.complete:
            self._withdraw_gone(self._gone_by_folder(gone, walks, known), report, withdraw)
        self._withdraw_displaced(report)
        report.unpinning = self.store.queue_unpins(self.store.clock())
        for root in new_roots:  # a folder missing now is baselined when it appears
            self.store.set_meta(f"{FIRST_SCAN_KEY}:{root}", str(self.store.clock()))
        return report

    def _gone_by_folder(
        self,
        gone: dict[str, FileState],
        walks: dict[Path, FolderWalk],
        known: dict[str, FileState],
    ) -> dict[str, Gone]:
        """The files that are gone, by the folder they were in. A folder that is missing,
        or that could not be read completely, has nothing gone: it could not be seen."""
        folders = sorted(map(str, self.config.folders), key=len, reverse=True)

        def folder_of(path: str) -> str:
            return next((f for f in folders if path.startswith(f + os.sep) or path == f), "")

        walked = {str(root): walk for root, walk in walks.items()}
        by_folder: dict[str, Gone] = {}
        for path, state in gone.items():
            folder = folder_of(path)
            walk = walked.get(folder) if folder else FolderWalk()
            if walk is not None and walk.complete:
                by_folder.setdefault(folder, Gone(seen=len(walk.files))).files[path] = state
        if by_folder:  # how many each held before (only when some are gone: a rescan's case)
            for path in known:
                entry = by_folder.get(folder_of(path))
                if entry is not None:
                    entry.known += 1
        return {folder: entry for folder, entry in by_folder.items() if entry.files}

    def scan_file(self, path: Path, root: Path) -> ScanReport:
        """One file read and saved, and nothing else looked at (what `noticebot announce`
        needs: a scan with another shell's settings could take the bot's folders for gone)."""
        self._chats = None
        path, root = Path(os.path.abspath(path)), Path(os.path.abspath(root))
        self._gone_by_content, self._live_ids, self._displaced = {}, set(), set()
        self._moved_away = set()
        self._aliases = self.store.metas(ALIAS_KEY)
        report = ScanReport()
        known = self.store.file_state(str(path))
        stat = path.stat()
        (read,) = next(read_files([[(str(path), root, stat)]], self.config, read_chunk))
        with self.store.transaction():
            silent = root == self.config.announce_dir
            self._scan_file(str(path), root, stat, read, known, report, silent)
            self._withdraw_displaced(report)
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
            report.broken.append((path, read.reason))  # read only when its size or time changed
            article_id = before.article_id if before else None
            if article_id:
                self._live_ids.add(article_id)
            self.store.record_file(
                path, FileState(stat.st_size, stat.st_mtime_ns, article_id, None, read.reason)
            )
            return
        report.warned += [(path, warning) for warning in read.warnings]
        if read.named_by_path:
            read = self._named_by_place(read, path, before)
        else:
            read = self._by_given_id(read, before)
        article_id, version = read.row["id"], read.row["content_hash"]
        if before and before.article_id and before.article_id != article_id:
            # withdrawn at the end of the scan, unless a file read later carries it on
            self._displaced.add(before.article_id)
            if before.content_hash:
                self._gone_by_content[before.content_hash] = before.article_id
        with self.store.transaction():
            self._save(read, path, report, silent)
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
                report.retracting += self.store.withdraw_reminders(article_id)
                return
            if status == ACTIVE and (read.ack or (read.row["urgent"] and self.config.ack_urgent)):
                self._ask_to_confirm(read, version)
            if status == ACTIVE and old_status == WITHDRAWN:
                self.store.restore_copies(article_id, version)
                self.store.restore_reminders(article_id)
            if status == ACTIVE and old_status != ACTIVE and not silent:
                self._queue(read, report)
            if status == ACTIVE and old and old["content_hash"] != version:
                # a correction; or published again while copies were still being retracted
                if old_status == ACTIVE:
                    report.corrected.append(article_id)
                report.editing += self.store.retarget(
                    article_id, version, edit_sent=self.config.edits
                )

    def _ask_to_confirm(self, read: ReadFile, version: str) -> None:
        """The notice asks residents to confirm; reminded at ``ack_by``, else as long
        after it first went out as NOTICEBOT_ACK_REMIND says (no reminder without either).
        A correction moves the reminder only by a new ``ack_by``."""
        self.store.ask_to_confirm(
            read.row["id"],
            start=max(read.row["date"], self.store.clock()),
            remind_at=read.ack_by,
            remind_after=self.config.ack_remind,
            renew_version=version if read.ack == "renew" else None,
        )

    def feeds(self) -> list[FeedSource]:
        """The feeds to read: the configured ones this scanner owns, then those the admins
        added and did not pause."""
        configured = [FeedSource(url) for url in self.owned().feeds]
        taken = {spelling(source.url) for source in configured}  # read as configured
        added = [
            s for s in self.store.feed_sources() if not s.paused and spelling(s.url) not in taken
        ]
        return configured + added

    def read_feeds(self, client: httpx.Client, only: str | None = None) -> ScanReport:
        """Every feed that is due (``only``: that one, if due): its new and changed entries
        saved as notices (the first read of a feed takes its entries in without pushing
        them). Fetched ``FETCHES_AT_ONCE`` at a time, so that a slow feed holds no other
        up for longer than its deadline; saved one by one in the feeds' order. A broken
        feed is recorded with its error and tried later; it never stops the others."""
        self._chats = None
        report = ScanReport()
        sources = [s for s in self.feeds() if only is None or s.url == only]
        self._feed_urls = {source.url for source in sources}
        known = {state.url: state for state in self.store.feed_states()}
        states = {source.url: known.get(source.url) or FeedState(source.url) for source in sources}
        self._tell_failing(sources, states, report)
        now = self.store.clock()
        # a feed due within a moment is read now, not at the next look (a second late)
        soon = now + min(DUE_EARLY, self.config.feed_interval / 4)
        due = [source for source in sources if is_due(states[source.url], soon)]
        if not due:
            return report
        linked = self.store.metas(LINK_KEY)  # grows with every entry named by its link
        with ThreadPoolExecutor(FETCHES_AT_ONCE, thread_name_prefix="feed") as pool:
            reads = [
                pool.submit(self._fetch_feed, source, states[source.url], client, dict(linked), now)
                for source in due
            ]
            for source, done in zip(due, reads, strict=True):  # in order: the first feed
                read, links = done.result()  # to bring an item keeps it
                self._take_in(source, states[source.url], read, links, linked, report)
        return report

    def _fetch_feed(
        self,
        source: FeedSource,
        state: FeedState,
        client: httpx.Client,
        linked: dict[str, str],
        now: float,
    ) -> tuple[FeedRead, dict[str, str]]:
        """``now``: the round's, which found it due: due again one interval after it,
        not after the fetch began (then it would wait for the look after)."""
        config = self.config
        if source.interval:
            config = replace(config, feed_interval=source.interval)
        try:
            read = read_feed(
                source.url,
                state,
                config,
                client,
                now,
                self.store.dates_of,
                linked,
                category=source.category,
                private_ok=source.configured or config.feeds_allow_private,
            )
        except Exception as error:  # a bug on this feed: the others are still read
            log.exception("feed %s could not be read", shown_url(source.url))
            read = failed_read(state, f"unexpected error: {error!r}"[:300], config, now)
        return read, linked

    def _take_in(
        self,
        source: FeedSource,
        state: FeedState,
        read: FeedRead,
        links: dict[str, str],
        linked: dict[str, str],
        report: ScanReport,
    ) -> None:
        """One feed's read saved: its entries, the links they took, its state."""
        url = source.url
        silent = state.baselined_at is None
        with self.store.transaction():
            if not self._still_listed(source):  # removed or paused while it was read
                return
            for entry in read.entries:
                if isinstance(entry, ArticleError):
                    report.invalid.append((str(entry.path), entry.reason))
                    report.broken += self._not_told([(str(entry.path), entry.reason)])
                elif self._read_from_another_feed(entry.row["id"], url):
                    report.unchanged += 1
                else:
                    self._save(entry, f"{url}#{entry.row['id']}", report, silent)
            for article_id, guid in links.items():
                if linked.get(article_id) != guid:
                    self.store.set_meta(f"{LINK_KEY}{article_id}", guid)
                    linked[article_id] = guid
            # after its entries were saved: a later notice is the feed's first new one
            baselined = state.baselined_at or (self.store.clock() if read.changed else None)
            told = read.state.told_failing
            if told and not read.state.failures:
                report.feeds_recovered.append(feed_name(source, read.state))
                told = 0
            self.store.save_feed_state(
                replace(read.state, baselined_at=baselined, told_failing=told)
            )
        if read.state.error:
            report.feed_errors.append((shown_url(url), read.state.error))
        if read.left_out:
            report.feeds_cut.append((shown_url(url), read.left_out))

    def _still_listed(self, source: FeedSource) -> bool:
        """Whether the feed is still to be read (in the transaction that saves its read:
        what a command line removed meanwhile is not brought back)."""
        if source.configured:
            return True
        listed = self.store.feed_source(source.url)
        return listed is not None and not listed.paused

    def _tell_failing(
        self, sources: list[FeedSource], states: dict[str, FeedState], report: ScanReport
    ) -> None:
        """Feeds seen failing for NOTICEBOT_FEED_ALERT_AFTER, told once (and again when
        they recover): by their failures, not the clock, so a feed that failed once before
        the bot stopped is not taken for one that failed all the while."""
        after = self.config.feed_alert_after
        for source in sources:
            state = states[source.url]
            since, last = state.failing_since, state.error_at
            if after is None or since is None or last is None or state.told_failing:
                continue
            if last - since < after:
                continue
            report.feeds_failing.append((feed_name(source, state), state.error or "", since))
            states[source.url] = replace(state, told_failing=1)
            self.store.save_feed_state(states[source.url])

    def _read_from_another_feed(self, article_id: str, url: str) -> bool:
        """The same item in two feeds is one notice, read from the feed that brought it
        first while that feed is read (two versions would correct each other); one that
        feed's removal withdrew stays withdrawn (else each chat would get it again)."""
        row = self.store.article(article_id)
        suffix = f"#{article_id}"
        if row is None or not row["path"].endswith(suffix):
            return False
        first = row["path"][: -len(suffix)]
        return first != url and (first in self._feed_urls or row["status"] == WITHDRAWN)

    def _moves_among(self, todo: list[ToRead], known: dict[str, FileState]) -> set[str]:
        """Known files whose old content is now in another file this scan reads (renamed,
        or two names swapped): that file carries their notice, and they do not. Their
        old contents join the vanished ones. Costs a read of the changed files, and only
        when a known file changed."""
        olds = {
            known[path].content_hash: path
            for path, _, _ in todo
            if path in known and known[path].content_hash and known[path].article_id
        }
        if not olds:
            return set()
        away = set()
        sizes = {known[path].size for path in olds.values()}  # the hash is of the bytes
        current = contents([f for f in todo if f[2].st_size in sizes], self.config)
        for path, content in current.items():
            old = olds.get(content)
            if old is not None and old != path and current.get(old) != content:
                away.add(old)
                self._gone_by_content[content] = known[old].article_id
        return away

    def _another_notice(self, read: ReadFile, article_id: str) -> bool:
        """Whether a file's new content is another notice than ``article_id``: a new title
        and a new date (a correction changes one at most)."""
        old = self.store.article(article_id)
        return bool(old) and old["title"] != read.row["title"] and old["date"] != read.row["date"]

    def _by_given_id(self, read: ReadFile, before: FileState | None) -> ReadFile:
        """The notice a file whose front matter names an id carries. A known file that
        gains an id (hexo-abbrlink writes one into every post) or changes it carries the
        notice it carried, which that id names from then on, unless the id is a notice
        already or the file now says another notice."""
        given = read.row["id"]
        if given in self._aliases:
            return _with_id(read, self._aliases[given])
        if (
            before is None
            or not before.article_id
            or before.article_id == given
            or self.store.article(given) is not None
            or self._another_notice(read, before.article_id)
        ):
            return read
        self.store.set_meta(f"{ALIAS_KEY}{given}", before.article_id)
        self._aliases[given] = before.article_id
        return _with_id(read, before.article_id)

    def _named_by_place(self, read: ReadFile, path: str, before: FileState | None) -> ReadFile:
        """The notice a file without an id of its own carries.

        The very content of a file that disappeared, or of a known file that now says
        something else, is that notice, renamed or moved. Otherwise a known file carries
        the notice it carried (whatever id it was first given), corrected, unless its
        name was reused: its old content went to another file, or it has a new title
        and a new date.
        """
        content = read.row["content_hash"]
        known = before is not None and before.article_id is not None
        if known and before.content_hash == content and path not in self._moved_away:
            return _with_id(read, before.article_id)
        moved = self._gone_by_content.pop(content, None)
        if moved:
            return _with_id(read, moved)
        if not known:
            return read
        if path in self._moved_away or self._another_notice(read, before.article_id):
            return _with_id(read, short_hash(f"{read.row['id']}\n{content}"))
        return _with_id(read, before.article_id)

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
            row["id"], chats, not_before=send_from(now, published), version=row["content_hash"]
        )

    def _withdraw_gone(self, gone: dict[str, Gone], report: ScanReport, confirmed: bool) -> None:
        """Files that disappeared withdraw their notice, unless another file carries it
        now (renamed, moved, or the same front-matter id elsewhere); one transaction.

        A folder found empty, or losing many of its files at once, is more likely not
        there yet (a mount, a checkout under way) than emptied: its withdrawals are held
        until the files stay gone through scans ``HOLD_FOR`` apart, or are confirmed.
        """
        now = self.store.clock()
        held: dict[str, float] = json.loads(self.store.get_meta(HELD_KEY) or "{}")
        still_held: dict[str, float] = {}
        with self.store.transaction():
            for folder, entry in gone.items():
                for path in entry.carried_on(self._live_ids):  # renamed or moved: nothing to hold
                    self.store.forget_file(path)
                    del entry.files[path]
                if not entry.files:
                    continue
                since = held.get(folder, now)
                # once held, held until the time is up, whatever comes back meanwhile
                suspicious = entry.suspicious or folder in held
                if suspicious and not confirmed and now - since < HOLD_FOR:
                    still_held[folder] = since
                    report.held.append(Held(folder, len(entry.files), since, folder not in held))
                    continue
                for path, state in entry.files.items():
                    self.store.forget_file(path)
                    if state.article_id:
                        self._withdraw(state.article_id, report)
            if still_held != held:
                self.store.set_meta(HELD_KEY, json.dumps(still_held))

    def _withdraw_displaced(self, report: ScanReport) -> None:
        with self.store.transaction():
            for article_id in self._displaced - self._live_ids:
                self._withdraw(article_id, report)

    def withdraw_notices(self, article_ids: list[str]) -> ScanReport:
        """Notices withdrawn by hand (a removed feed's): retracted from every chat."""
        report = ScanReport()
        with self.store.transaction():
            for article_id in article_ids:
                self._withdraw(article_id, report)
        return report

    def _withdraw(self, article_id: str, report: ScanReport) -> None:
        with self.store.transaction():
            if self.store.set_article_status(article_id, WITHDRAWN):
                report.withdrawn.append(article_id)
            report.retracting += self.store.retract_article(article_id, "article withdrawn")
            report.retracting += self.store.withdraw_reminders(article_id)


def _with_id(read: ReadFile, article_id: str) -> ReadFile:
    if article_id == read.row["id"]:
        return read
    article = replace(article_from_json(read.version), id=article_id)
    return replace(read, row={**read.row, "id": article_id}, version=article_to_json(article))
