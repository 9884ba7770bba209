"""Attacks on the PostgreSQL ledger, the lease and the standby: each test fails while the
bug it names is there (see each docstring for what goes wrong and why it matters)."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from bot.config import Config, ConfigError, load_config
from bot.ledger import Chat, Store
from bot.ledger.lease import STALE_AFTER
from bot.ledger.postgres import WRITER_LOCK
from bot.sources.scanner import Scanner
from tests import ledgers
from tests.chaos import article_text, start_bot, wait_for
from tests.emulator import Emulator, Fault
from tests.feedserver import FeedServer
from tests.paths import ROOT
from tests.process import BOT_COMMAND, clean_env, free_port, run_cli

PASSWORD = "s3cret-Pw-4711"


def _with_password(url: str) -> str:
    """The database's URL with a password (the test server trusts any)."""
    assert url.startswith("postgresql://postgres@")
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@", 1)


def _ledger_with_articles(tmp_path: Path) -> tuple[str, Path]:
    """A PostgreSQL ledger whose (empty) archive was scanned once, and its folder."""
    url = ledgers.postgres_database()
    articles = tmp_path / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    store = Store(url)
    Scanner(store, Config(articles=(articles,), announce_dir=tmp_path / "ann")).scan()
    store.close()
    return url, articles


# --- the lease and the standby ------------------------------------------------------------

STANDBY_AFTER_A_RESTART = """
import asyncio, sys
import psycopg
from bot.ledger import Store
from bot.standby import become_active

url = sys.argv[1]
active, standby = Store(url), Store(url)
assert active.owner.try_take()

async def main():
    waiting = asyncio.create_task(become_active(standby.owner, None))
    await asyncio.sleep(1.5)
    with psycopg.connect(url, autocommit=True) as raw:  # the server restarts: sessions end
        raw.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    try:
        await asyncio.wait_for(waiting, 30)  # the bug waits for ever; a loaded machine, seconds
    except TimeoutError:
        print("still standing by on a dead connection", flush=True)
        sys.exit(3)

asyncio.run(main())
print("took over, generation", standby.owner.generation, flush=True)
"""


def test_a_standby_whose_connection_broke_still_takes_over() -> None:
    """A PostgreSQL restart (or a managed database's failover, or any cut connection)
    ends every session. The active process then exits 75, as designed; but a standby
    keeps its dead psycopg connection for ever: ``become_active`` catches the
    ``OperationalError('the connection is closed')`` every second and looks again on the
    same closed connection, so it never takes over, never exits, and logs a warning a
    second. After one database restart no standby is left: when the active process
    dies next, nothing takes over (the failover the standbys exist for is gone), while
    their 503 answers still tell a load balancer they are alive. The standby must
    reconnect (or exit 75 so that its supervisor restarts it)."""
    url = ledgers.postgres_database()
    done = subprocess.run(
        [sys.executable, "-c", STANDBY_AFTER_A_RESTART, url],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 75), done.stdout + done.stderr[-2000:]


def test_a_writer_waiting_for_the_lock_does_not_silence_the_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every transaction waits for the writer lock (``pg_advisory_xact_lock``) with no
    time limit, holding the ledger's own lock meanwhile, and the heartbeat needs that
    lock too (``Lease._do``), called on the event loop. So while another session holds
    the writer lock (``noticebot scan`` or ``import`` suspended with Ctrl-Z or cut off
    on a VPN mid-transaction, a DBA in psql), the active bot's first transaction (a
    scan, a feed, a command) blocks its whole event loop: no heartbeat, no polling, no
    sends. After 5 s a standby ends its session and takes over, then blocks the same
    way at its first transaction, and so on; without a standby the bot hangs silently
    for as long as the other session lives. (SQLite's ``BEGIN IMMEDIATE`` gives up
    after its 5 s busy timeout.)"""
    url = ledgers.postgres_database()
    bot = Store(url)
    assert bot.owner.try_take()
    lost: list[str] = []
    bot.owner.keep(lost.append)  # as the bot beats it (never os._exit in pytest)
    watcher = Store(url)
    other = psycopg.connect(url)  # a command line session, stopped mid-transaction
    other.execute("SELECT pg_advisory_xact_lock(%s)", [WRITER_LOCK])

    def scan() -> None:  # a scan's transaction, in its thread as the bot runs it
        with contextlib.suppress(Exception), bot.transaction():
            bot.set_meta("scanned", "1")

    time.sleep(1.2)
    scanning = threading.Thread(target=scan, daemon=True)
    scanning.start()
    ages = []
    try:
        for _ in range(13):  # 6.5 s: longer than a standby waits (STALE_AFTER)
            time.sleep(0.5)
            ages.append(watcher.owner.holding().heartbeat_age or 0.0)
    finally:
        other.rollback()
        other.close()
        scanning.join(10)
        watcher.close()
        bot.close()
    assert not lost
    assert max(ages) < STALE_AFTER, f"heartbeat ages: {[round(a, 1) for a in ages]}"


def test_a_stopping_bot_beats_its_lease_until_it_releases_it(
    tmp_path: Path, emulator: Emulator
) -> None:
    """SIGTERM sets ``runtime.stopping`` first, which ends ``keep_active`` at once; then
    ``_stop`` waits for the dispatcher's in-flight sends (``_drain``: up to 10 s), and
    only then ``store.close()`` releases the lease. In between the process still holds
    the lock and still sends, but beats no more: a send in flight for more than about
    5 s (Telegram slow to answer, a request waiting for its chat's pace) makes a standby
    take the stopping bot for frozen, end its session (the records of what it just
    sent are lost) and send those parts again. A restart (a deploy) is the commonest
    moment of all to stop a bot: the heartbeat must go on until the lease is handed on.
    Here both parts of a notice (card and text) take 3.5 s each to be answered (less
    than the client's 5 s timeout), so the bot is stopped with about 7 s of sending
    left, longer than a standby waits (STALE_AFTER), and a real standby watches: it
    must get the lease handed on, never take it from a silent holder."""
    url, articles = _ledger_with_articles(tmp_path)
    store = Store(url)
    store.subscribe(Chat(5, mode="full"))  # two messages a notice: its card, its text
    emulator.fail(5, "sendMessage", Fault.slow(3.5), times=2)
    bot = start_bot(tmp_path, emulator, tmp_path / "bot.log", NOTICEBOT_DB=url)
    standby: subprocess.Popen[bytes] | None = None
    try:
        first = _active_bot(store)
        standby = start_bot(tmp_path, emulator, tmp_path / "standby.log", NOTICEBOT_DB=url)
        wait_for(lambda: len(store.owner.processes()) > 1, 60, "the second bot standing by")
        (articles / "n.md").write_text(article_text("停水通知"), encoding="utf-8")
        wait_for(
            lambda: store._tuples("SELECT status FROM deliveries") == [("sending",)],
            30,
            "the notice in flight",
        )
        bot.send_signal(signal.SIGTERM)
        wait_for(lambda: bot.poll() is not None, 60, "the first bot stopped")
        _active_bot(store, other_than=first)  # the standby was watching: it took over
        failovers = store.owner.failovers()
    finally:
        for process in (bot, standby):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        store.close()
    # A failover is a lease taken from a holder whose heartbeat went stale; a stopping
    # bot that beats until it lets go hands the lease on instead.
    assert failovers == [], f"the stopping bot went silent: {failovers}"
    assert bot.returncode == 0


def _active_bot(store: Store, other_than: str | None = None) -> str:
    """The bot that holds the lease and beats it (another than ``other_than``)."""

    def beating() -> bool:
        holding = store.owner.holding()
        age = holding.heartbeat_age
        return holding.holder not in (None, other_than) and age is not None and age < 2

    wait_for(beating, 60, "a bot active")
    return str(store.owner.holding().holder)


def test_a_console_on_the_real_ledger_never_takes_over_the_bots_chats(tmp_path: Path) -> None:
    """``noticebot run --console --db postgresql://…`` beside a running bot: on SQLite it
    is refused ("another noticebot is running"). On PostgreSQL the console silently
    becomes a standby (its "standby" line is INFO, hidden at the console's WARNING
    level), and when the real bot stops (a restart, a deploy) the console takes the
    lease within a second: its dispatcher then "sends" the real chats' queued notices
    into the terminal through the console's fake Bot API and records them ``sent``.
    Those chats never get them on Telegram, and the restarted bot waits as a standby
    behind a console someone left open."""
    url, articles = _ledger_with_articles(tmp_path)
    (articles / "n.md").write_text(article_text("停水通知"), encoding="utf-8")
    store = Store(url)
    store.subscribe(Chat(5))
    Scanner(store, Config(articles=(articles,), announce_dir=tmp_path / "ann")).scan()
    assert store._tuples("SELECT chat_id, status FROM deliveries") == [(5, "queued")]
    bot = Store(url)  # the running bot: it holds the lease
    assert bot.owner.try_take()
    out = tmp_path / "console.out"
    with out.open("wb") as sink:
        console = subprocess.Popen(
            [*BOT_COMMAND, "run", "--console", "--db", url],
            cwd=tmp_path,
            env=clean_env(NOTICEBOT_ARTICLES=str(articles)),
            stdin=subprocess.PIPE,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: console.poll() is not None or len(bot.owner.processes()) > 1,
            20,
            "the console standing by or refusing",
        )
        bot.close()  # the bot stops (to be restarted): the lease is free
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and console.poll() is None:
            if store._tuples("SELECT status FROM deliveries") != [("queued",)]:
                break
            time.sleep(0.1)
        statuses = store._tuples("SELECT chat_id, status FROM deliveries")
    finally:
        if console.poll() is None:
            assert console.stdin is not None
            console.stdin.close()
            try:
                console.wait(15)
            except subprocess.TimeoutExpired:
                console.kill()
                console.wait()
        store.close()
    shown = out.read_text("utf-8", "replace")
    assert "chat 5" not in shown, shown[-1500:]
    assert statuses == [(5, "queued")]


# --- secrets and what the commands say ----------------------------------------------------


def test_preview_with_a_postgresql_ledger_does_not_print_its_password(tmp_path: Path) -> None:
    """``noticebot preview --db postgresql://user:PASSWORD@host/db`` (the bot's ``--db``,
    given as every other command takes it) prints ``no ledger at
    postgresql://user:PASSWORD@host/db`` on standard error: ``ledger_ids`` formats the
    URL as it came and ``preview`` prints the error unredacted. The password lands in a
    terminal, a CI log, a support ticket. (Preview cannot read a PostgreSQL ledger at
    all: it opens the path with sqlite3.)"""
    (tmp_path / "n.md").write_text(article_text("停水通知"), encoding="utf-8")
    url = f"postgresql://bob:{PASSWORD}@127.0.0.1:{free_port()}/noticebot"
    done = run_cli("preview", "--db", url, str(tmp_path / "n.md"), cwd=tmp_path)
    assert PASSWORD not in done.stdout + done.stderr


def test_the_console_banner_does_not_print_the_ledgers_password(tmp_path: Path) -> None:
    """``noticebot run --console --db postgresql://user:PASSWORD@…`` prints ``ledger:
    postgresql://user:PASSWORD@… (real, as asked)`` in its banner: ``bot.console.banner``
    formats ``config.db`` raw (every other place shows it through ``shown_url``)."""
    url = _with_password(ledgers.postgres_database())
    done = subprocess.run(
        [*BOT_COMMAND, "run", "--console", "--db", url],
        cwd=tmp_path,
        env=clean_env(NOTICEBOT_ARTICLES=str(tmp_path / "articles")),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "ledger:" in done.stdout  # the banner was shown
    assert PASSWORD not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("export", "subs.json"),
        ("feeds", "export", "feeds.opml"),
        ("preview", "--html", "page.html", "articles"),
    ],
    ids=["export", "feeds-export", "preview-html"],
)
def test_commands_that_write_a_file_work_beside_a_postgresql_ledger(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """``noticebot export FILE`` (subscriptions, the README's way to move to a new
    server), ``noticebot feeds export FILE`` and ``noticebot preview --html FILE`` crash
    with ``AttributeError: 'str' object has no attribute 'absolute'`` when
    ``NOTICEBOT_DB`` is a URL: ``bot.ledger.moves.check_target`` (is the target the live
    ledger?) treats the ledger as a ``Path``. Nothing is written; a traceback instead."""
    url, _ = _ledger_with_articles(tmp_path)
    (tmp_path / "articles" / "n.md").write_text(article_text("停水通知"), encoding="utf-8")
    done = run_cli(*command, cwd=tmp_path, NOTICEBOT_DB=url)
    assert "Traceback" not in done.stderr, done.stderr[-1500:]
    assert done.returncode == 0
    assert (tmp_path / command[-1 if command[0] != "preview" else 2]).exists()


def test_a_url_with_an_unclosed_bracket_is_said_in_one_line(tmp_path: Path) -> None:
    """``NOTICEBOT_DB=postgresql://user:pw@[::1/db`` (a typo in an IPv6 address) ends every
    command with a ``ValueError: Invalid IPv6 URL`` traceback: ``postgres.hold_secrets``
    calls ``urlsplit`` before anything checks the URL (``bot.logs`` keeps its own regex
    precisely because urlsplit refuses such addresses). A configuration mistake should
    be one line and exit status 2, as every other bad ledger address is."""
    done = run_cli("status", "--db", f"postgresql://bob:{PASSWORD}@[::1/noticebot", cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr[-1500:]
    assert done.returncode == 2
    assert PASSWORD not in done.stderr


def test_a_database_refusing_the_schema_is_said_in_one_line(tmp_path: Path) -> None:
    """The first ``noticebot run`` / ``scan --create`` on a database where the user may
    not ``CREATE EXTENSION pg_trgm`` (the README names the privilege; a managed server's
    default user often lacks it) ends with a psycopg ``InsufficientPrivilege``
    traceback: the command line turns ``sqlite3.Error`` into one line but not
    ``psycopg.Error``, and ``PostgresBackend.migrate`` lets it through. The same goes
    for any database error in any command (a server restarting during ``status``)."""
    owner_url = ledgers.postgres_database()
    name = owner_url.rsplit("/", 1)[1]
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS noticebot_limited")
        conn.execute("CREATE ROLE noticebot_limited LOGIN")
        conn.execute(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC')
    limited = owner_url.replace("postgresql://postgres@", "postgresql://noticebot_limited@", 1)
    done = run_cli("scan", "--create", "--db", limited, cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr[-1500:]
    assert done.returncode in (1, 2)
    assert len(done.stderr.strip().splitlines()) <= 2


def test_a_refused_connection_says_why(tmp_path: Path) -> None:
    """A server that is down: ``connect`` keeps the last line of psycopg's message, which
    is libpq's hint, not the error: ``cannot connect (\\tIs the server running on that
    host and accepting TCP/IP connections?)``, a literal tab included, and neither
    "Connection refused" nor the host and port libpq named. The operator is told to
    check what it does not say failed."""
    url = f"postgresql://bob:{PASSWORD}@127.0.0.1:{free_port()}/noticebot"
    done = run_cli("status", "--db", url, cwd=tmp_path)
    assert done.returncode == 2
    assert "refused" in done.stderr.lower(), done.stderr
    assert "\\t" not in done.stderr


def test_a_libpq_connection_string_is_not_taken_for_a_sqlite_file() -> None:
    """``NOTICEBOT_DB="host=db.internal dbname=noticebot user=noticebot password=…"`` (the
    other connection string psycopg and libpq document) is taken for a SQLite file of
    that name: ``run`` creates it in the working folder, every machine then sends from a
    ledger of its own (each notice once per machine), and ``ledger host=… password=…``
    is printed by every command, the password in clear (only URLs are redacted)."""
    with pytest.raises(ConfigError):
        load_config(
            {"NOTICEBOT_DB": f"host=db.internal dbname=noticebot user=bob password={PASSWORD}"}
        )


# --- SQL on PostgreSQL ----------------------------------------------------------------------


def test_a_percent_sign_in_a_statement_without_parameters_is_kept() -> None:
    """``dialect`` doubles every ``%`` for psycopg's placeholders, but ``_run`` passes
    ``None`` for empty parameters, and psycopg then sends the query as written: a
    literal ``'50%'`` or a ``LIKE 'x%'`` in a statement without parameters reaches the
    server as ``'50%%'``, silently another value or pattern than on SQLite. No ledger
    statement has one today; the seam promises SQL written once for both engines."""
    store = Store(ledgers.postgres_database())
    try:
        assert store._rows("SELECT 'a%b' AS x") == [{"x": "a%b"}]
        store._exec("INSERT INTO meta (key, value) VALUES ('k', '50%')")
        assert store.get_meta("k") == "50%"
    finally:
        store.close()


def test_a_transaction_that_could_not_begin_leaves_the_connection_usable() -> None:
    """``LedgerBase.transaction`` calls ``backend.begin()`` outside its ``try``, and on
    PostgreSQL ``begin`` sends ``BEGIN`` and then waits for the writer lock. If that wait
    fails (a role's ``lock_timeout`` or ``statement_timeout``, common on managed
    servers, while an export or another writer holds the lock; a DBA's
    ``pg_cancel_backend``), nothing rolls back: the connection stays in an aborted
    transaction, ``in_transaction`` is true for ever, so no later ``transaction()``
    begins or rolls back, and every statement of the process fails with
    ``InFailedSqlTransaction`` until it exits. On SQLite a failed ``BEGIN IMMEDIATE``
    leaves nothing behind."""
    url = ledgers.postgres_database()
    store = Store(url)
    other = psycopg.connect(url)  # another writer, in its transaction
    try:
        store.backend.conn.execute("SET lock_timeout = '200ms'")
        other.execute("SELECT pg_advisory_xact_lock(%s)", [WRITER_LOCK])
        with pytest.raises(psycopg.errors.LockNotAvailable), store.transaction():
            store.set_meta("a", "1")
        other.rollback()  # the other writer is done
        with store.transaction():
            store.set_meta("a", "2")
        assert store.get_meta("a") == "2"
    finally:
        other.close()
        store.close()


def test_a_feed_guid_with_a_nul_stops_no_other_feed(tmp_path: Path) -> None:
    """A feed's item id (JSON Feed ``"id": "n1\\u0000"``, or an RSS ``<guid>`` with
    ``&#0;``, which feedparser's loose parser decodes) is stored raw as the value of a
    ``meta`` row (``LINK_KEY``). SQLite keeps it; PostgreSQL refuses text with NUL
    (``DataError``), and the error escapes ``Scanner.read_feeds`` (``_take_in`` is not
    inside the per-feed guard): the round ends there, no feed after it is taken in, and
    since the broken feed's state is never saved it is due again at every round. Any
    feed publisher stops every other feed, on PostgreSQL only ("a broken feed ... never
    stops the others")."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def item(guid: str, n: int, title: str) -> dict[str, str]:
        return {
            "id": guid,
            "url": f"https://example.org/n/{n}",
            "title": title,
            "content_html": f"<p>{title}: this Saturday</p>",
            "date_published": now,
        }

    poisoned, healthy = FeedServer(), FeedServer()
    poisoned.body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "A",
            "items": [item("n1\0", 1, "Water")],
        }
    ).encode()
    healthy.body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "B",
            "items": [item("m2", 2, "Power")],
        }
    ).encode()
    url, articles = _ledger_with_articles(tmp_path)
    store = Store(url)
    config = Config(
        articles=(articles,),
        db=url,
        announce_dir=tmp_path / "ann",
        feeds=(poisoned.url, healthy.url),
        feeds_allow_private=True,
    )
    try:
        with httpx.Client(timeout=5) as client:
            Scanner(store, config, owner=True).read_feeds(client)
        assert store.feed_state(healthy.url) is not None
        assert store.feed_state(healthy.url).entries == 1
    finally:
        store.close()
        poisoned.close()
        healthy.close()


@pytest.mark.parametrize("query", ["привет", "éclair"])
def test_search_ignores_case_beyond_ascii_as_on_sqlite(tmp_path: Path, query: str) -> None:
    """``/search`` on PostgreSQL is ``ILIKE`` on ``text COLLATE "C"``, which folds ASCII
    letters only: "привет" does not find "Привет", "éclair" does not find "Éclair",
    while "café" finds "Café" (half the word folded). On SQLite, where the FTS5 trigram
    index folds case (``case_sensitive 0``), both are found: the same search answers
    otherwise on the two backends, for every language with non-ASCII capitals."""
    found = {}
    for backend in ledgers.BACKENDS:
        work = tmp_path / backend
        where = ledgers.ledger_for(backend, work)
        (work / "a").mkdir(parents=True)
        config = Config(articles=(work / "a",), db=where, announce_dir=work / "ann")
        store = Store(where)
        try:
            Scanner(store, config).scan()
            (work / "a" / "n.md").write_text(
                article_text("Привет Éclair", body="<p>Straße</p>"), encoding="utf-8"
            )
            Scanner(store, config).scan()
            store.index_all_for_search()
            found[backend] = len(store.search(query))
        finally:
            store.close()
    assert found == {"sqlite": 1, "postgresql": 1}
