"""Attacks on the sources' presence and identity rules (README "Articles and feeds"):
sequences in which a notice is wrongly withdrawn, sent twice, lost, or two notices
merge. Each test fails on the code it was written against."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from bot.config import Config
from bot.ledger import Store
from bot.sources.scanner import Scanner
from bot.sources.scanning import scan_now
from tests.botenv import ADMIN, running_bot
from tests.emulator import Emulator
from tests.feedserver import FeedServer, rss_of
from tests.process import run_cli
from tests.test_sources import archive, deletes, sends, shown_titles

HOLD_FOR = 600
INTERVAL = 300.0


def edits(emulator: Emulator, start: int = 0) -> int:
    return sum(1 for c in emulator.calls[start:] if c.ok and c.method.startswith("edit"))


# --- held withdrawals -------------------------------------------------------------


async def test_a_held_folder_whose_files_come_back_partly_withdraws_nothing_early(
    tmp_path: Path, free: Emulator
) -> None:
    """The articles folder is found empty (a share not mounted yet, a checkout or a
    sync under way): its 3 notices' withdrawals are held. A scan a moment later (the
    watcher scans within half a second of a change) sees one file back: the folder is
    no longer empty and 2 files are "only" 2, so the held withdrawals of the other
    two apply at once, although they have not stayed gone 10 minutes. When the sync
    finishes a second later, the two notices are sent again to every chat.

    README: held withdrawals "apply only when the files stay gone through scans at
    least 10 minutes apart, or when `noticebot scan --withdraw` confirms them"."""
    async with archive(tmp_path, free, ["a.md", "b.md"]) as env:
        start = len(free.calls)
        away = tmp_path / "away"
        env.articles.rename(away)
        env.articles.mkdir()
        assert env.scan().held  # held: nothing withdrawn
        env.clock.advance(5)
        (env.articles / "a.md").write_bytes((away / "a.md").read_bytes())
        os.utime(env.articles / "a.md", ns=(0, (away / "a.md").stat().st_mtime_ns))
        partly = env.scan()
        env.clock.advance(5)
        (env.articles / "a.md").unlink()
        env.articles.rmdir()
        away.rename(env.articles)
        env.scan()
        await env.send()
        assert partly.withdrawn == [], f"withdrawn 5 s after the hold began: {partly.withdrawn}"
        assert deletes(free, start) == 0 and sends(free, start) == 0


async def test_a_folder_removed_from_configuration_is_named_sensibly_to_the_admins(
    tmp_path: Path, free: Emulator
) -> None:
    """The running bot's configuration drops a folder: its notices' withdrawals are
    held under the folder "" and the admins are told. Scanner gives the Held the
    folder "?" (``folder or "?"``), so scanning.py's ``held.folder or
    t("unconfigured_folders")`` never applies: the admins read "文件夹 ? 中 3 篇通知…"
    instead of "（已不在配置中的文件夹）", and `noticebot scan` prints "of ?"."""
    second = tmp_path / "second"
    second.mkdir()
    both = (tmp_path / "articles", second)
    async with running_bot(tmp_path, free, rate_limits=False, articles=both) as env:
        env.write_standing()
        for i in range(3):
            (second / f"{i}.md").write_text(f"---\ntitle: 二{i}\n---\n正文{i}\n", "utf-8")
        env.scan()
    admins = frozenset({ADMIN})
    async with running_bot(tmp_path, free, rate_limits=False, admins=admins) as env:
        await scan_now(env.runtime)
        await env.send()
        (told,) = [m["text"] for m in free.shown(ADMIN)]
    assert "已不在配置中的文件夹" in told, told


# --- identity ---------------------------------------------------------------------


async def test_two_files_swapping_names_stay_their_notices(tmp_path: Path, free: Emulator) -> None:
    """``a.md`` and ``b.md`` (two notices of different titles and dates) swap names
    (``mv a.md t; mv b.md a.md; mv t b.md``). No file disappeared, so the scan reads
    the two known files in walk order: the first, a.md, now has another title and
    another date, so it is taken for a reused name and given a NEW id; its old notice
    A goes to the list of displaced contents, where b.md finds it (rule 2). But B's
    content, now in a.md, was already given a new id: notice B is withdrawn
    (retracted from every chat) and the same text is sent again as a new notice.

    README rule 2: a file with exactly the content of one that disappeared is that
    notice, renamed; a rename is not sent again. Expected: nothing withdrawn, nothing
    sent."""
    async with archive(tmp_path, free, []) as env:
        env.write_article("a.md", title="停水通知", date=env.clock.now - 3600)
        env.write_article("b.md", title="停电通知", date=env.clock.now - 7200)
        env.scan()
        await env.send()
        assert len(free.shown(101)) == 2
        start = len(free.calls)
        a, b, t = (env.articles / n for n in ("a.md", "b.md", "t.md"))
        a.rename(t)
        b.rename(a)
        t.rename(b)
        report = env.scan()
        await env.send()
        assert report.withdrawn == [] and report.new == [], report.as_dict()
        assert deletes(free, start) == 0 and sends(free, start) == 0


async def test_a_renamed_weekly_notice_and_its_reused_name_with_the_same_title(
    tmp_path: Path, free: Emulator
) -> None:
    """A weekly notice: last week's ``tingshui.md`` ("停水通知") is moved to
    ``archive/2025-w01.md`` and a new ``tingshui.md`` with the same title, a new date
    and a new text is written, in one scan. The known file has the same title, so it
    is taken as a correction: the copies of LAST week's notice are edited to this
    week's text (nobody is notified of this week's notice), and the archived file,
    whose content is exactly the old notice's, gets a path id of its own: last week's
    text is pushed again to every chat as a new notice.

    README rule 2: "a file with exactly the content of one that disappeared in the
    same scan is that notice, renamed or moved" and "a renamed one is not sent again";
    the old content moved to the archive file, so the known name was reused. Expected:
    last week's notice untouched, this week's sent as new."""
    async with archive(tmp_path, free, []) as env:
        env.write_article("tingshui.md", title="停水通知", body="<p>本周三停水。</p>")
        env.scan()
        await env.send()
        start = len(free.calls)
        (env.articles / "archive").mkdir(exist_ok=True)
        (env.articles / "tingshui.md").rename(env.articles / "archive" / "2025-w01.md")
        env.clock.advance(7 * 86400)
        env.write_article("tingshui.md", title="停水通知", body="<p>下周五停水。</p>")
        report = env.scan()
        await env.send()
        texts = shown_titles(free, 101)
        assert report.corrected == [] and edits(free, start) == 0, report.as_dict()
        assert sum("本周三停水" in t for t in texts) == 1
        assert sum("下周五停水" in t for t in texts) == 1


async def test_an_id_added_to_a_known_post_keeps_its_notice(tmp_path: Path, free: Emulator) -> None:
    """hexo-abbrlink (or a `slug:` added by hand) writes an ``abbrlink:`` into every
    post that lacks one, at the next `hexo g`. The known file's notice is displaced
    by the front-matter id: the old notice is withdrawn (retracted from every chat)
    and the unchanged post is sent again as a new notice. For a whole archive at once
    (every post gains its abbrlink) no hold applies: the files are not gone.

    README rule 3: "a file the ledger knows keeps the notice it carried, corrected".
    Expected: a correction at most; nothing retracted, nothing sent again."""
    async with archive(tmp_path, free, []) as env:
        when = env.clock.now - 3600
        env.write_article("post.md", title="停水通知", date=when, body="<p>周三停水。</p>")
        env.scan()
        await env.send()
        start = len(free.calls)
        env.write_article(
            "post.md",
            title="停水通知",
            date=when,
            body="<p>周三停水。</p>",
            extra="abbrlink: 5e3c1a\n",
        )
        report = env.scan()
        await env.send()
        assert report.withdrawn == [] and report.new == [], report.as_dict()
        assert deletes(free, start) == 0 and sends(free, start) == 0


# --- feeds ------------------------------------------------------------------------


@pytest.fixture
def server() -> FeedServer:
    feed_server = FeedServer()
    yield feed_server  # type: ignore[misc]
    feed_server.close()


async def test_two_entries_that_link_to_the_same_page_are_two_notices(
    tmp_path: Path, server: FeedServer
) -> None:
    """A committee's feed whose entries all link to its notice board page (common for
    feeds made from a page, a CMS list or a mailing list archive), each with its own
    guid, not an address. The id is the link, so the second notice is taken for a
    correction of the first: it is never sent, the first notice's copies are edited to
    the second's text, and every later read of both entries edits back and forth.

    README: a feed's id is the guid when it is a URL/urn/tag, "else its link" — here
    that merges two notices (before, feed + guid kept them apart). Expected: two
    notices, each sent once."""
    board = "https://jmj.example.org/notices"
    server.body = rss_of([])
    with Emulator(limits=None) as emulator:
        async with running_bot(tmp_path, emulator, rate_limits=False, feeds=(server.url,)) as env:
            env.scan()
            env.subscribe(101)
            with httpx.Client(timeout=5) as client:
                env.runtime.scanner.read_feeds(client)
                server.body = rss_of([("n-1001", board, "停水通知")])
                env.clock.advance(INTERVAL)
                env.runtime.scanner.read_feeds(client)
                await env.send()
                server.body = rss_of([("n-1002", board, "停电通知"), ("n-1001", board, "停水通知")])
                env.clock.advance(INTERVAL)
                second = env.runtime.scanner.read_feeds(client)
                await env.send()
        texts = [m["text"] or "" for m in emulator.shown(101)]
    assert len(second.new) == 1 and second.corrected == [], second.as_dict()
    assert any("停电通知" in t for t in texts) and any("停水通知" in t for t in texts), texts


async def test_an_item_a_ledger_named_in_one_feed_is_not_sent_again_by_another(
    tmp_path: Path,
) -> None:
    """A ledger from the release before: feed A's item X has the id it gave then
    (feed + guid). Feed B (a district feed that mirrors the committee's) is added and
    read in; later X appears in B too. B's id for X is the new one (the guid, a URL),
    and B's "earlier id" is B's own, which never existed: X is a new notice and is
    pushed a second time. README: "the same item in two feeds is one notice"; "ids a
    ledger gave earlier stay"."""
    from bot.reading.identity import earlier_feed_entry_id

    own, mirror = FeedServer(), FeedServer()
    guid = "https://jmj.example.org/n/7"
    try:
        own.body = rss_of([(guid, guid, "停水通知")])
        mirror.body = rss_of([])
        db = tmp_path / "db.sqlite"
        store = Store(db)
        from bot.ledger import Chat

        store.subscribe(Chat(101))
        with httpx.Client(timeout=5) as client:
            Scanner(store, Config(db=db, feeds=(own.url,)), owner=True).read_feeds(client)
            legacy = earlier_feed_entry_id(own.url, guid, guid, "停水通知")
            (row,) = store.db["articles"].rows
            # as the earlier release named it
            store.db.execute(
                "UPDATE articles SET id = ?, path = ? WHERE id = ?",
                [legacy, f"{own.url}#{legacy}", row["id"]],
            )
            store.db.conn.commit()
            both = Config(db=db, feeds=(own.url, mirror.url))
            store.clock = lambda: time.time() + INTERVAL  # type: ignore[method-assign]
            first = Scanner(store, both, owner=True).read_feeds(client)  # B's first read
            assert first.feed_errors == [], first.as_dict()
            mirror.body = rss_of([(guid, guid, "停水通知")])
            store.clock = lambda: time.time() + 3 * INTERVAL  # type: ignore[method-assign]
            report = Scanner(store, both, owner=True).read_feeds(client)
    finally:
        own.close()
        mirror.close()
    assert report.feed_errors == [] and report.new == [] and report.queued == 0, report.as_dict()


# --- the shell and the running bot --------------------------------------------------


async def test_a_shell_naming_the_bots_folder_relatively_loses_no_new_notice(
    tmp_path: Path, free: Emulator
) -> None:
    """The running bot reads ``<dir>/articles`` (absolute). A new notice is written; before
    the bot's next scan an admin runs `noticebot scan` from ``<dir>`` with
    NOTICEBOT_ARTICLES=articles. Sources.shared_with compares with os.path.abspath, so
    the shell owns the folder and scans it; but the baseline key is
    ``first_scan_done:articles`` (the root as spelled), which the bot never set: the
    shell's scan is a *first scan*, and records the new notice without queueing it.
    The bot's next scan finds the same content under its own path (rule 2): the notice
    is known and active, so it is never sent. The shell also reports the bot's own
    files as "withdrawal held: 2 notices of ?" (its paths are relative, the ledger's
    absolute).

    Expected: the shell's scan is the running bot's scan of the same folders (README:
    "scans only the folders and feeds they share"): the new notice is queued, by the
    shell or by the bot, and nothing is held."""
    async with archive(tmp_path, free, ["a.md"]) as env:
        env.write_article("new.md", title="新通知", body="<p>周五停电。</p>")
        shell = run_cli(
            "scan",
            cwd=tmp_path,
            NOTICEBOT_ARTICLES="articles",
            NOTICEBOT_DB=str(env.runtime.config.db),
        )
        assert shell.returncode == 0, shell.stderr
        env.clock.advance(60)  # the shell queued on the real clock; the bot's is a test's
        env.scan()
        await env.send()
        texts = shown_titles(free, 101)
        assert any("新通知" in t for t in texts), shell.stdout  # lost: never sent
        assert "held" not in shell.stdout, shell.stdout


# --- odd input ---------------------------------------------------------------------


async def test_a_file_name_that_is_not_utf8_stops_no_scan(tmp_path: Path, free: Emulator) -> None:
    """A zip made on Windows (GBK names) unpacked into the folder leaves a file whose
    name is not UTF-8 (here ``bad\\xff.md``). os.scandir gives it with a lone surrogate;
    path_id hashes ``value.encode("utf-8")`` and raises UnicodeEncodeError out of
    Scanner.scan: every scan fails from then on (the bot logs "the scan failed" at each
    interval; `noticebot scan` ends in a traceback), so no new notice from any folder
    is sent and no withdrawal happens until someone finds and renames the file.

    README "Hostile files": each is listed invalid with its reason, "the other files
    still load". Expected: the good notice is sent; the bad file is reported."""
    async with archive(tmp_path, free, ["a.md"]) as env:
        env.write_article("good.md", title="好通知")
        with open(os.fsencode(env.articles) + b"/bad\xff.md", "wb") as bad:
            bad.write(b"---\ntitle: x\n---\nbody\n")
        report = env.scan()
        await env.send()
        assert any("好通知" in t for t in shown_titles(free, 101))
        assert any("bad" in path for path, _ in report.invalid), report.as_dict()


async def test_a_file_moved_out_of_a_folder_is_no_held_withdrawal(
    tmp_path: Path, free: Emulator
) -> None:
    """The only post of the second folder is moved into the first (same content: rule
    2 keeps its notice, nothing will be withdrawn). The second folder is now "found
    empty", so the admins are told in private that "the files of 1 notices disappeared
    at once … run noticebot scan --withdraw" — a false alarm that invites an admin to
    confirm withdrawals that are not there (and counts a notice that lives on).

    Expected: a folder's files whose notices another file carries now are not a
    withdrawal to hold; no message to the admins."""
    second = tmp_path / "second"
    second.mkdir()
    folders = (tmp_path / "articles", second)
    admins = frozenset({ADMIN})
    async with running_bot(
        tmp_path, free, rate_limits=False, articles=folders, admins=admins
    ) as env:
        env.write_standing()
        env.scan()
        env.subscribe(101)
        (second / "x.md").write_text("---\ntitle: 移动的通知\n---\n正文\n", "utf-8")
        env.scan()
        await env.send()
        start = len(free.calls)
        (second / "x.md").rename(env.articles / "x.md")
        await scan_now(env.runtime)
        await env.send()
        assert deletes(free, start) == 0
        assert free.shown(ADMIN) == [], [m["text"] for m in free.shown(ADMIN)]


async def test_a_shell_with_fewer_folders_than_the_bot_withdraws_nothing(
    tmp_path: Path, free: Emulator
) -> None:
    """The running bot reads ``articles`` and ``second``. An admin runs `noticebot scan`
    (then `--withdraw`, as the first scan's output suggests) from a shell whose
    NOTICEBOT_ARTICLES names only ``articles``. Every folder of the shell is the bot's,
    so Sources.shared_with calls it complete, and the scan withdraws like the bot:
    ``second``'s files are in no folder the shell knows, folder "", "gone". The first
    scan holds them ("withdrawal held: 3 notices of ?"); `--withdraw` (or the same
    scan 10 minutes later) withdraws all three and retracts them from every chat.

    README: "a `noticebot scan` from a shell with other settings scans only the folders
    and feeds they share and withdraws nothing". Expected: nothing withdrawn."""
    second = tmp_path / "second"
    second.mkdir()
    folders = (tmp_path / "articles", second)
    async with running_bot(tmp_path, free, rate_limits=False, articles=folders) as env:
        env.write_standing()
        env.scan()
        env.subscribe(101)
        for i in range(3):
            (second / f"{i}.md").write_text(f"---\ntitle: 二{i}\n---\n正文{i}\n", "utf-8")
        env.clock.advance(60)  # dated by their files' time: not in the future
        sent = env.scan()
        await env.send()
        assert len(free.shown(101)) == 3, sent.as_dict()
        shell = {"NOTICEBOT_ARTICLES": str(folders[0]), "NOTICEBOT_DB": str(env.runtime.config.db)}
        first = run_cli("scan", cwd=tmp_path, **shell)
        confirm = run_cli("scan", "--withdraw", cwd=tmp_path, **shell)
        env.scan()
        await env.send()
        assert "held" not in first.stdout and "withdrawn 0" in first.stdout, first.stdout
        assert confirm.returncode == 2 and "running bot's folders" in confirm.stderr
        assert len(free.shown(101)) == 3
