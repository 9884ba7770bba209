"""One scan of the article folders: new, changed, withdrawn and invalid articles.

Incremental: a file whose size and mtime are what the ledger remembers is not
read again, so a rescan of an unchanged archive costs one directory walk and one
query. New articles are queued for the chats whose filters match, except on the
first scan of each folder (an existing archive is not pushed; a folder that is
missing is baselined when it appears), for articles older than
``NOTICEBOT_MAX_AGE_DAYS``, and no earlier than the article's own date.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.articles import (
    Article,
    ArticleError,
    article_stats,
    article_to_json,
    load_article,
    path_id,
)
from bot.config import Config
from bot.formatter import MODE_DIGEST
from bot.ledger import ACTIVE, WITHDRAWN, Chat, FileState, Store

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
        }


class Scanner:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._chats: list[Chat] | None = None
        self._gone_by_content: dict[str, str] = {}  # this scan: vanished content → its notice
        self._live_ids: set[str] = set()  # this scan: notices some file still carries

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
        present = [root for root in self.config.articles if root.exists()]
        new_roots = [root for root in present if not self._baselined(root)]
        report = ScanReport(first_scan=bool(new_roots))
        known = self.store.file_states()
        seen: set[str] = set()
        todo: list[tuple[str, Path, os.stat_result]] = []
        for root in self.config.articles:
            if root not in present:
                report.missing_roots.append(str(root))
                continue
            for path, stat in article_stats(root):
                seen.add(path)
                state = known.get(path)
                if state and (state.size, state.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                    report.unchanged += 1
                    if state.error:
                        report.invalid.append((path, state.error))
                else:
                    todo.append((path, root, stat))
        missing_roots = tuple(report.missing_roots)
        gone = {
            path: state
            for path, state in known.items()
            if path not in seen and not (missing_roots and path.startswith(missing_roots))
        }
        self._gone_by_content = {
            s.content_hash: s.article_id for s in gone.values() if s.content_hash and s.article_id
        }
        self._live_ids = {s.article_id for p, s in known.items() if p in seen and s.article_id}
        for start in range(0, len(todo), CHUNK):
            # Files are read first, without holding the ledger, then saved in one
            # transaction per chunk: a commit per file was a sixth of a first scan.
            chunk = todo[start : start + CHUNK]
            read = [_read(Path(path), root, self.config) for path, root, _ in chunk]
            with self.store.transaction():
                for (path, root, stat), article in zip(chunk, read, strict=True):
                    self._scan_file(
                        path, root, stat, article, known.get(path), report, root in new_roots
                    )
            if progress:
                progress(min(start + CHUNK, len(todo)), len(todo))
        self._withdraw_gone(gone, report)
        report.unpinning = self.store.queue_unpins(self.store.clock())
        for root in new_roots:  # a folder missing now is baselined when it appears
            self.store.set_meta(f"{FIRST_SCAN_KEY}:{root}", str(self.store.clock()))
        return report

    def _scan_file(
        self,
        path: str,
        root: Path,
        stat: os.stat_result,
        article: Article | ArticleError,
        before: FileState | None,
        report: ScanReport,
        baseline: bool,
    ) -> None:
        """Record what one file says, in one transaction: the article, its version and
        its deliveries are saved together or not at all."""
        if isinstance(article, ArticleError):
            # Perhaps half-written: a known notice keeps its last good version (and what
            # is queued of it); the file is read again when it changes.
            report.invalid.append((path, article.reason))
            article_id = before.article_id if before else None
            self.store.record_file(
                path, FileState(stat.st_size, stat.st_mtime_ns, article_id, None, article.reason)
            )
            return
        if before is None:
            article = self._same_notice_moved(article, path, root)
        self._live_ids.add(article.id)
        status = WITHDRAWN if article.draft else ACTIVE
        with self.store.transaction():
            result, old = self.store.save_article(_row(article, path, status))
            old_status = old["status"] if old else None
            if status == ACTIVE:
                self.store.save_version(article.id, article.content_hash, article_to_json(article))
            if before and before.article_id and before.article_id != article.id:
                self._withdraw(before.article_id, report)
            self.store.record_file(
                path, FileState(stat.st_size, stat.st_mtime_ns, article.id, article.content_hash)
            )
            if result == "new":
                report.new.append(article.id)
            elif result == "changed":
                report.changed.append(article.id)
            if status == WITHDRAWN and old_status == ACTIVE:
                report.withdrawn.append(article.id)
                report.retracting += self.store.retract_article(article.id, "article withdrawn")
                return
            if status == ACTIVE and old_status != ACTIVE and not baseline:
                self._queue(article, report)
            if status == ACTIVE and old and old["content_hash"] != article.content_hash:
                # a correction; or published again while copies were still being retracted
                if old_status == ACTIVE:
                    report.corrected.append(article.id)
                report.editing += self.store.retarget(
                    article.id, article.content_hash, edit_sent=self.config.edits
                )

    def _same_notice_moved(self, article: Article, path: str, root: Path) -> Article:
        """A file that appeared with the very content of one that disappeared is that
        notice, renamed or moved (unless its front matter names its own id)."""
        if article.id != path_id(Path(path), root):
            return article
        old_id = self._gone_by_content.pop(article.content_hash, None)
        return replace(article, id=old_id) if old_id else article

    def _queue(self, article: Article, report: ScanReport) -> None:
        now = self.store.clock()
        published = article.date.timestamp()
        if published < now - self.config.max_age_days * 86400:
            report.too_old.append(article.id)
            return
        if article.expires is not None and article.expires.timestamp() <= now:
            report.expired.append(article.id)
            return
        if published > now:
            report.scheduled.append(article.id)
        names = (*article.categories, *article.tags)
        text = f"{article.title}\n{article.body.text}"
        chats = [c.id for c in self._push_chats() if c.wants(names, text)]
        report.queued += self.store.enqueue(
            article.id, chats, not_before=max(now, published), version=article.content_hash
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


def _read(path: Path, root: Path, config: Config) -> Article | ArticleError:
    try:
        return load_article(path, root, config)
    except ArticleError as error:
        return error


def _row(article: Article, path: str, status: str) -> dict[str, object]:
    return {
        "id": article.id,
        "path": path,
        "title": article.title,
        "date": article.date.timestamp(),
        "categories": json.dumps(list(article.categories), ensure_ascii=False),
        "tags": json.dumps(list(article.tags), ensure_ascii=False),
        "search_text": article.body.text,
        "content_hash": article.content_hash,
        "status": status,
        "error": None,
        "urgent": int(article.urgent),
        "expires": article.expires.timestamp() if article.expires else None,
    }
