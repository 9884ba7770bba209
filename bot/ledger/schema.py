"""The ledger's tables, as forward migrations numbered by ``PRAGMA user_version``:
a later release opens an older database and upgrades it in place."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import sqlite_utils

from bot.formatting.formatter import MODE_DIGEST
from bot.ledger.copies import UNKNOWN, Part, dumps
from bot.ledger.states import QUEUED, SENDING, SENT


def _v1(db: sqlite_utils.Database) -> None:
    if db["articles"].exists():
        return
    db["articles"].create(
        {
            "id": str,
            "path": str,
            "title": str,
            "date": float,
            "categories": str,
            "tags": str,
            "search_text": str,
            "content_hash": str,
            "first_seen": float,
            "last_changed": float,
            "status": str,
            "error": str,
            "text": str,
        },
        pk="id",
    )
    db["articles"].create_index(["date"])
    db["files"].create(
        {
            "path": str,
            "size": int,
            "mtime_ns": int,
            "article_id": str,
            "content_hash": str,
            "error": str,
        },
        pk="path",
    )
    db["chats"].create(
        {
            "id": int,
            "type": str,
            "title": str,
            "language": str,
            "mode": str,
            "filters": str,
            "thread_id": int,
            "active": int,
            "subscribed": int,
            "subscribed_at": float,
            "deactivated_reason": str,
            "updated_at": float,
        },
        pk="id",
        defaults={"mode": "card", "filters": "[]", "active": 1, "subscribed": 1},
    )
    db["deliveries"].create(
        {
            "id": int,
            "article_id": str,
            "chat_id": int,
            "kind": str,
            "status": str,
            "next_part": int,
            "attempts": int,
            "next_attempt_at": float,
            "first_error_at": float,
            "last_error": str,
            "message_ids": str,
            "broadcast_id": int,
            "created_at": float,
            "updated_at": float,
            "sent_at": float,
        },
        pk="id",
        defaults={"next_part": 0, "attempts": 0, "message_ids": "[]"},
    )
    db["deliveries"].create_index(["article_id", "chat_id"], unique=True)
    db["deliveries"].create_index(["status", "next_attempt_at"])
    db["deliveries"].create_index(["chat_id"])
    db["broadcasts"].create(
        {
            "id": int,
            "by_user": int,
            "article_id": str,
            "created_at": float,
            "recipients": int,
        },
        pk="id",
    )
    db["meta"].create({"key": str, "value": str}, pk="key")


def _v2(db: sqlite_utils.Database) -> None:
    """Chat settings for the bot's commands, and full-text search over articles.

    Trigram tokens make Chinese searchable without a word segmenter (terms of
    three or more characters; shorter ones fall back to LIKE, see ``search``).
    """
    columns = db["chats"].columns_dict
    for name, kind in (
        ("quiet_start", str),
        ("quiet_end", str),
        ("digest_time", str),
        ("last_digest_at", float),
    ):
        if name not in columns:
            db["chats"].add_column(name, kind)
    if not db["articles"].detect_fts():
        db["articles"].enable_fts(
            ["title", "search_text"], fts_version="FTS5", tokenize="trigram", create_triggers=True
        )


def _v3(db: sqlite_utils.Database) -> None:
    """Deliveries as a state machine: "pending" is called "queued", as in its table."""
    db.execute("UPDATE deliveries SET status = 'queued' WHERE status = 'pending'")


def _v4(db: sqlite_utils.Database) -> None:
    """Each version of an article as it was read, and the version each delivery sends:
    the sender reads the ledger, never a file that may be half-written or changed."""
    if not db["versions"].exists():
        db["versions"].create(
            {"article_id": str, "version": str, "content": str, "created_at": float},
            pk=("article_id", "version"),
        )
    if "version" not in db["deliveries"].columns_dict:
        db["deliveries"].add_column("version", str)


def _v5(db: sqlite_utils.Database) -> None:
    """Index only the open deliveries, which the dispatcher looks up all the time.

    The index on (status, next_attempt_at) held every row ever sent, and the check
    "this chat has nothing being sent" walked a chat's whole history: a chat with a
    hundred past notices made each batch thirty times slower. Partial indexes hold
    only queued and sending rows, so a sent record drops one entry instead of moving
    it. Queries name the status as a literal, which is how SQLite matches them.
    """
    db.execute(
        f"CREATE INDEX IF NOT EXISTS deliveries_queued ON deliveries (next_attempt_at)"
        f" WHERE status = '{QUEUED}'"
    )
    db.execute(
        f"CREATE INDEX IF NOT EXISTS deliveries_sending ON deliveries (chat_id)"
        f" WHERE status = '{SENDING}'"
    )
    db.execute("DROP INDEX IF EXISTS idx_deliveries_status_next_attempt_at")


def _v6(db: sqlite_utils.Database) -> None:
    """Delivered copies kept current: what each chat's copy shows, its message ids per
    part, the progress of an edit or retraction, the pin; urgency and expiry."""
    columns = db["deliveries"].columns_dict
    for name, kind, default in (
        ("shown", str, None),  # the version the chat's copy shows (NULL: nothing yet)
        ("step", int, 0),  # the next part an edit or a retraction handles
        ("pinned", int, 0),
        ("edits", int, 0),  # corrections applied to this copy
    ):
        if name not in columns:
            db["deliveries"].add_column(name, kind, not_null_default=default)
    for name, kind in (("urgent", int), ("expires", float)):
        if name not in db["articles"].columns_dict:
            db["articles"].add_column(name, kind)
    if "pin_refused_at" not in db["chats"].columns_dict:
        db["chats"].add_column("pin_refused_at", float)
    # Message ids per part ([[card], [text], [album items]]) instead of one flat list:
    # an edit changes part by part. Old rows: one id a part, an album's ids in the last.
    rows = db.execute(
        "SELECT id, message_ids, next_part FROM deliveries"
        " WHERE message_ids NOT LIKE '[[%' AND message_ids != '[]'"
    ).fetchall()
    for delivery_id, flat, parts in rows:
        ids = json.loads(flat)
        nested = [[i] for i in ids[: max(parts - 1, 0)]] + [ids[max(parts - 1, 0) :]]
        db.execute(
            "UPDATE deliveries SET message_ids = ? WHERE id = ?", [json.dumps(nested), delivery_id]
        )
    db.execute(
        "UPDATE deliveries SET shown = COALESCE(version,"
        " (SELECT content_hash FROM articles a WHERE a.id = deliveries.article_id))"
        f" WHERE status = '{SENT}' AND shown IS NULL"
    )


def _v7(db: sqlite_utils.Database) -> None:
    """Pinned copies by article: every scan looks for pins of expired notices, which
    without an index read the whole deliveries table."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS deliveries_pinned ON deliveries (article_id) WHERE pinned = 1"
    )


def _v8(db: sqlite_utils.Database) -> None:
    """The search index is filled after a scan, not during it (``Catalogue.index_for_search``).

    Trigram indexing costs about 1 ms an article, more than reading the article:
    with sqlite-utils' triggers it was half of a first scan. ``indexed`` says which
    rows the index holds; search reads the others with LIKE until they are in.
    Our triggers take a row out of the index when its words change or it goes.
    One transaction, so a crash leaves either the old triggers or all of this.
    """
    if "indexed" in db["articles"].columns_dict:
        return
    db.execute("BEGIN IMMEDIATE")
    db.execute("ALTER TABLE articles ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE articles SET indexed = 1")  # the old triggers indexed every row
    for name in ("articles_ai", "articles_ad", "articles_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute("CREATE INDEX articles_unindexed ON articles (indexed) WHERE indexed = 0")
    forget_old = (
        "INSERT INTO articles_fts (articles_fts, rowid, title, search_text)"
        " VALUES ('delete', old.rowid, old.title, old.search_text);"
    )
    db.execute(
        "CREATE TRIGGER articles_words_changed AFTER UPDATE OF title, search_text ON articles"
        f" WHEN old.indexed = 1 BEGIN {forget_old}"
        " UPDATE articles SET indexed = 0 WHERE rowid = old.rowid; END"
    )
    db.execute(
        f"CREATE TRIGGER articles_gone AFTER DELETE ON articles WHEN old.indexed = 1"
        f" BEGIN {forget_old} END"
    )
    db.execute("COMMIT")


def _v9(db: sqlite_utils.Database) -> None:
    """Feeds: what the last fetch of each said (for conditional GET), when it changed,
    its errors and when to try again."""
    if db["feeds"].exists():
        return
    db["feeds"].create(
        {
            "url": str,
            "etag": str,
            "last_modified": str,
            "fetched_at": float,  # the last answer, 304 included
            "changed_at": float,  # the last answer with new content
            "baselined_at": float,  # the first read: its entries were taken in, not pushed
            "entries": int,
            "error": str,
            "error_at": float,
            "failures": int,  # in a row
            "next_at": float,
        },
        pk="url",
        defaults={"failures": 0, "entries": 0},
    )


def _v10(db: sqlite_utils.Database) -> None:
    """A row leaves the search index only when its words change: ``save_article``
    rewrites every column, and a new date alone dropped it until the next fill."""
    db.execute("BEGIN IMMEDIATE")
    db.execute("DROP TRIGGER IF EXISTS articles_words_changed")
    db.execute(
        "CREATE TRIGGER articles_words_changed AFTER UPDATE OF title, search_text ON articles"
        " WHEN old.indexed = 1"
        " AND (old.title IS NOT new.title OR old.search_text IS NOT new.search_text)"
        " BEGIN INSERT INTO articles_fts (articles_fts, rowid, title, search_text)"
        " VALUES ('delete', old.rowid, old.title, old.search_text);"
        " UPDATE articles SET indexed = 0 WHERE rowid = old.rowid; END"
    )
    db.execute("COMMIT")


def _v11(db: sqlite_utils.Database) -> None:
    """A delivery records what its chat holds (``copy``: each part's messages, what
    they show, pinned or not, what can still be done to them), not the steps of an
    operation; the reconciler brings it to the notice as it stands. Old rows become
    copies whose contents are unknown: an edit is then always tried, never skipped.

    Chats get ``trouble``: a reason the chat is held (a closed topic, no right to
    send), told to the admins once. Queued rows are indexed by chat, so every chat
    with due work gets its turn whatever the backlog of one."""
    if "copy" in db["deliveries"].columns_dict:
        return
    db.execute("BEGIN IMMEDIATE")
    db.execute("ALTER TABLE deliveries ADD COLUMN copy TEXT NOT NULL DEFAULT '[]'")
    for name, kind in (("trouble", "TEXT"), ("trouble_at", "FLOAT")):
        if name not in db["chats"].columns_dict:
            db.execute(f"ALTER TABLE chats ADD COLUMN {name} {kind}")
    rows = db.execute(
        "SELECT id, chat_id, message_ids, pinned, COALESCE(sent_at, updated_at, created_at)"
        " FROM deliveries WHERE message_ids != '[]'"
    ).fetchall()
    for delivery_id, chat_id, message_ids, pinned, at in rows:
        parts = [
            Part(
                slot, chat_id, tuple(ids), "", UNKNOWN, at or 0.0, pinned=bool(pinned and not slot)
            )
            for slot, ids in enumerate(json.loads(message_ids))
            if ids
        ]
        db.execute("UPDATE deliveries SET copy = ? WHERE id = ?", [dumps(parts), delivery_id])
    db.execute(
        "CREATE INDEX IF NOT EXISTS deliveries_queued_by_chat ON deliveries"
        f" (chat_id, next_attempt_at) WHERE status = '{QUEUED}'"
    )
    db.execute("COMMIT")


def _v12(db: sqlite_utils.Database) -> None:
    """When each chat entered digest mode: its first digest lists only what became
    readable since (it listed the whole archive, first read that day). A chat already
    in digest mode starts from its last digest, or from the upgrade."""
    if "digest_since" in db["chats"].columns_dict:
        return
    db.execute("BEGIN IMMEDIATE")
    db.execute("ALTER TABLE chats ADD COLUMN digest_since FLOAT")
    db.execute(
        "UPDATE chats SET digest_since = COALESCE(last_digest_at, ?) WHERE mode = ?",
        [time.time(), MODE_DIGEST],
    )
    db.execute("COMMIT")


def _v13(db: sqlite_utils.Database) -> None:
    """Confirmations: which notices ask residents to confirm they read them (and in which
    round: an admin may ask again), who confirmed, the reminders sent for each round, and
    the count each group's card shows."""
    if db["acks"].exists():
        return
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "CREATE TABLE ack_notices (article_id TEXT PRIMARY KEY, round INTEGER NOT NULL DEFAULT 1,"
        " asked_at FLOAT, remind_at FLOAT, remind_after FLOAT,"
        " reminded_round INTEGER NOT NULL DEFAULT 0, renewed_version TEXT)"
    )
    db.execute(
        "CREATE TABLE acks (id INTEGER PRIMARY KEY, article_id TEXT NOT NULL,"
        " chat_id INTEGER NOT NULL, user_id INTEGER NOT NULL, name TEXT, round INTEGER NOT NULL,"
        " version TEXT, at FLOAT NOT NULL)"
    )
    db.execute("CREATE UNIQUE INDEX acks_once ON acks (article_id, round, chat_id, user_id)")
    db.execute(
        "CREATE TABLE ack_reminders (id TEXT PRIMARY KEY, article_id TEXT NOT NULL,"
        " round INTEGER NOT NULL)"
    )
    db.execute("ALTER TABLE deliveries ADD COLUMN acks_shown INTEGER")
    db.execute("COMMIT")


def _v14(db: sqlite_utils.Database) -> None:
    """Feeds the admins manage (from the chat or the command line) beside the configured
    ones; and since when a feed fails, and whether the admins were told."""
    if db["feed_sources"].exists():
        return
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "CREATE TABLE feed_sources (id TEXT PRIMARY KEY, url TEXT NOT NULL UNIQUE, title TEXT,"
        " category TEXT, interval FLOAT, paused INTEGER NOT NULL DEFAULT 0,"
        " added_at FLOAT NOT NULL, added_by TEXT)"
    )
    db.execute("ALTER TABLE feeds ADD COLUMN title TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN failing_since FLOAT")
    db.execute("ALTER TABLE feeds ADD COLUMN told_failing INTEGER NOT NULL DEFAULT 0")
    db.execute("COMMIT")


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _v1,
    _v2,
    _v3,
    _v4,
    _v5,
    _v6,
    _v7,
    _v8,
    _v9,
    _v10,
    _v11,
    _v12,
    _v13,
    _v14,
)
SCHEMA_VERSION = len(MIGRATIONS)
