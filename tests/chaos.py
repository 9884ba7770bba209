"""Reliability scenarios shared by the fast tests (``make test``) and ``bench/chaos``.

Each scenario runs the real bot — a ``noticebot run`` process, or the same
application in-process with a clock the scenario moves — against the local Bot
API emulator, and returns a report of what was tried and what held.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.config import Config
from bot.ledger import Chat, Store
from bot.ledger.copies import loads
from bot.sending.delivery import SendPolicy
from bot.sources.scanner import Scanner
from tests import ledgers
from tests.botenv import TOKEN, BotEnv, running_bot
from tests.emulator import Emulator, Fault, counted
from tests.feedserver import FeedServer
from tests.process import BOT_COMMAND, clean_env, run_cli


def now_rfc() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())


# Longer than a card holds: card (with its read button) and text, as most tests want.
NOTICE_BODY = "<p>本周六停水，请提前储水。</p>" * 25


def article_text(title: str, body: str = NOTICE_BODY, extra: str = "") -> str:
    return f"\n---\ntitle: '{title}'\ndate: {now_rfc()}\n{extra}---\n\n{body}\n"


def wait_for(condition: Callable[[], bool], timeout: float, what: str = "progress") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.05)


def prepare_ledger(work: Path, chats: list[Chat]) -> Path:
    """An empty archive scanned once (so nothing old is pushed) and these chats subscribed."""
    articles = work / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    store = Store(ledgers.current(work))
    announcements = work / "state" / "announcements"
    Scanner(store, Config(articles=(articles,), announce_dir=announcements)).scan()
    for chat in chats:
        store.subscribe(chat)
    store.close()
    return articles


def start_bot(work: Path, emulator: Emulator, log: Path, **env: str) -> subprocess.Popen[bytes]:
    values = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": emulator.url,
        "NOTICEBOT_DB": str(ledgers.current(work)),
        "NOTICEBOT_ARTICLES": str(work / "articles"),
        "NOTICEBOT_SCAN_INTERVAL": "1",
        "NOTICEBOT_LOG_LEVEL": "DEBUG",
        **env,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [*BOT_COMMAND, "run"], cwd=work, env=clean_env(**values), stdout=out, stderr=out
        )


# --- crash ------------------------------------------------------------------------------------
NOTICE, CORRECTED, WITHDRAWN = "停水通知", "停电通知", "燃气检修"
OLD_TEXT, NEW_TEXT = "周六停电。", "停电改到周日。"


@dataclass
class CrashReport:
    chats: int
    kills: int
    missing: int  # chats without the notice, or without the corrected one
    duplicates: int  # copies a crash sent twice (the ledger knows one of them)
    stale: int  # copies the ledger knows left at the old version, or of the withdrawn one
    seconds: float
    clean_exit: bool
    too_many: int = 0  # 429s the emulator answered (flood control: sends and edits)
    edits: int = 0
    deletions: int = 0

    def lines(self) -> list[str]:
        return [
            f"crash: {self.chats} chats get a notice, then a broadcast while the first is"
            f" corrected and a third notice withdrawn; SIGKILL at {self.kills} random moments",
            f"  chats missing a notice: {self.missing} (target 0)",
            f"  duplicate copies: {self.duplicates} (target ≤ {self.kills}, one per kill)",
            "  copies the ledger knows left at the old version or of the withdrawn notice:"
            f" {self.stale} (target 0)",
            f"  {self.edits} edits and {self.deletions} deletions; 429s received: {self.too_many}",
            f"  time to finish: {self.seconds:.1f} s; clean exit on SIGTERM: {self.clean_exit}",
        ]


def _copies(emulator: Emulator, known: set[tuple[int, int]]) -> dict[str, Counter[int]]:
    """What every chat shows now, by notice and version. A copy the ledger knows must
    be current; one it does not know is a crash's duplicate (Telegram took the
    message, its answer died with the process), which nothing can edit or delete."""
    kinds = {key: Counter[int]() for key in ("notice", "new", "old", "withdrawn", "untracked")}
    for key, message in emulator.messages_now().items():
        text = message["text"] or ""
        if not text.startswith((NOTICE + "\n", CORRECTED + "\n", WITHDRAWN + "\n")):
            continue
        chat_id = key[0]
        if key not in known:
            kinds["untracked"][chat_id] += 1
        elif text.startswith(NOTICE + "\n"):
            kinds["notice"][chat_id] += 1
        elif text.startswith(CORRECTED + "\n"):
            kinds["new" if NEW_TEXT in text else "old"][chat_id] += 1
        else:
            kinds["withdrawn"][chat_id] += 1
    return kinds


def _ledger(work: Path) -> tuple[set[tuple[int, int]], int]:
    """The (chat, message id) pairs the ledger recorded, and how many rows are open."""
    store = Store(ledgers.current(work))
    try:
        rows = store._tuples("SELECT copy, status FROM deliveries")
    finally:
        store.close()
    known = {(part.chat, mid) for copy, _ in rows for part in loads(copy) for mid in part.ids}
    return known, sum(1 for _, status in rows if status in ("queued", "sending"))


def _settled(emulator: Emulator, work: Path, chats: int) -> bool:
    known, open_rows = _ledger(work)
    kinds = _copies(emulator, known)
    return not open_rows and len(kinds["notice"]) == chats and len(kinds["new"]) == chats


def crash_scenario(work: Path, chats: int, kills: int, seed: int = 1) -> CrashReport:
    """A notice goes to every chat; then a second one and a third (the broadcast),
    during which the first is corrected and the second withdrawn; the bot is killed at
    random moments throughout."""
    rng = random.Random(seed)
    articles = prepare_ledger(work, [Chat(i) for i in range(1, chats + 1)])
    corrected = articles / "corrected.md"
    corrected.write_text(article_text(CORRECTED, f"<p>{OLD_TEXT}</p>"), encoding="utf-8")

    def write(name: str, title: str) -> Callable[[], None]:
        return lambda: (articles / name).write_text(article_text(title), encoding="utf-8")

    def correct() -> None:
        corrected.write_text(article_text(CORRECTED, f"<p>{NEW_TEXT}</p>"), encoding="utf-8")

    moments = sorted(rng.sample(range(1, chats * 2), kills))
    changes = [  # in sends seen by the emulator
        (chats, write("withdrawn.md", WITHDRAWN)),
        (chats + chats // 4, write("notice.md", NOTICE)),
        (chats + chats // 2, correct),
        (chats + chats * 3 // 4, lambda: (articles / "withdrawn.md").unlink()),
    ]
    log = work / "bot.log"
    start = time.monotonic()
    with Emulator() as emulator:
        process = start_bot(work, emulator, log)
        for moment in sorted([*((m, None) for m in moments), *changes], key=lambda e: e[0]):
            at, change = moment
            wait_for(lambda m=at: len(emulator.delivered()) >= m, 300)
            if change is not None:
                change()
                continue
            process.send_signal(signal.SIGKILL)
            process.wait()
            process = start_bot(work, emulator, log)
        wait_for(lambda: _settled(emulator, work, chats), 900, "every copy current")
        seconds = time.monotonic() - start
        process.send_signal(signal.SIGTERM)
        clean = process.wait(timeout=30) == 0
    kinds = _copies(emulator, _ledger(work)[0])
    return CrashReport(
        chats=chats,
        kills=kills,
        missing=sum(
            1 for c in range(1, chats + 1) if not kinds["notice"][c] or not kinds["new"][c]
        ),
        duplicates=sum(kinds["untracked"].values())
        + sum(n - 1 for key in ("notice", "new") for n in kinds[key].values() if n),
        stale=sum(kinds["old"].values()) + sum(kinds["withdrawn"].values()),
        seconds=seconds,
        clean_exit=clean,
        too_many=emulator.too_many,
        edits=sum(1 for c in emulator.calls if c.ok and c.method.startswith("editMessage")),
        deletions=sum(1 for c in emulator.calls if c.ok and c.method == "deleteMessage"),
    )


# --- API faults ---------------------------------------------------------------------------------
FAULT_WEIGHTS = {
    "healthy": 46,
    "flood": 2,  # each one makes the whole bot wait, as Telegram's flood control does
    "server": 8,
    "drop": 6,
    "timeout": 4,
    "blocked": 5,
    "kicked": 5,
    "not_found": 5,
    "migrated": 5,
}
TRANSIENT = ("healthy", "flood", "server", "drop", "timeout")
GONE = ("blocked", "kicked", "not_found")
PROXY = "https://cors.zfour.workers.dev/?"
BAD_PHOTO = "http://img.example/lead.jpeg"


@dataclass
class FaultReport:
    injected: Counter[str] = field(default_factory=Counter)
    handled: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    photo_fallbacks: int = 0
    rounds: int = 0
    inside_retry_after: int = 0  # requests that arrived while a 429's wait ran

    def lines(self) -> list[str]:
        out = [
            f"API faults over one broadcast ({sum(self.injected.values())} chats, "
            f"lead photo URL failing for all, {self.rounds} dispatch rounds):"
        ]
        for kind in FAULT_WEIGHTS:
            verb = {"migrated": "moved", **dict.fromkeys(GONE, "deactivated")}.get(
                kind, "delivered"
            )
            out.append(
                f"  {kind:<10} injected {self.injected[kind]:>4}, {verb} {self.handled[kind]:>4}, "
                f"lost {self.lost[kind]}, duplicates {self.duplicates[kind]}"
            )
        out.append(f"  cards sent through the photo's fallback URL: {self.photo_fallbacks}")
        out.append(f"  requests inside a flood wait: {self.inside_retry_after}")
        return out


def _inject(kind: str, chat_id: int, emulator: Emulator, rng: random.Random) -> None:
    once = emulator.once[chat_id]
    if kind == "flood":
        once.append(Fault.flood(rng.randint(1, 3)))
    elif kind == "server":
        once.extend(Fault(rng.choice((500, 502)), "Bad Gateway") for _ in range(rng.randint(1, 3)))
    elif kind == "drop":
        once.append(Fault(drop=True))
    elif kind == "timeout":
        once.append(Fault.slow(1.0))
    elif kind == "blocked":
        emulator.always[chat_id] = Fault.blocked()
    elif kind == "kicked":
        emulator.always[chat_id] = Fault.kicked()
    elif kind == "not_found":
        emulator.always[chat_id] = Fault.chat_not_found()
    elif kind == "migrated":
        emulator.always[chat_id] = Fault.migrated(chat_id - 1_000_000_000_000)


async def fault_scenario(work: Path, chats: int, seed: int = 1) -> FaultReport:
    rng = random.Random(seed)
    kinds = rng.choices(list(FAULT_WEIGHTS), weights=list(FAULT_WEIGHTS.values()), k=chats)
    plan = {(-(i + 1) if kind == "migrated" else i + 1): kind for i, kind in enumerate(kinds)}
    report = FaultReport()
    # The bot's wait for an answer: long enough that a healthy answer is not taken for
    # lost on a busy machine (it would be sent twice); the injected late answers come
    # well after it, so each of them still is a time-out.
    timeout = 2.0
    with Emulator() as emulator:
        emulator.bad_urls.add(BAD_PHOTO)
        policy = SendPolicy(concurrency=32)
        async with running_bot(work, emulator, policy, timeout=timeout) as env:
            env.scan()
            for chat_id, kind in plan.items():
                env.subscribe(chat_id, type="group" if chat_id < 0 else "private")
                if kind == "timeout":
                    emulator.once[chat_id].append(Fault.slow(3 * timeout))
                else:
                    _inject(kind, chat_id, emulator, rng)
                report.injected[kind] += 1
            body = f'<p><img src="{PROXY}{BAD_PHOTO}" data-size="800,600">停水通知。</p>'
            env.write_article("notice.md", body=body)
            env.scan()
            while env.runtime.store.next_due_time() is not None and report.rounds < 500:
                await env.send()
                env.clock.advance(60)
                report.rounds += 1
            store = env.runtime.store
            cards = emulator.cards_per_chat()
            for chat_id, kind in plan.items():
                target = chat_id - 1_000_000_000_000 if kind == "migrated" else chat_id
                got = cards.get(target, 0)
                report.duplicates[kind] += max(0, got - 1)
                if kind in GONE:
                    chat = store.chat(chat_id)
                    report.handled[kind] += int(chat is not None and not chat.active and got == 0)
                elif got:
                    report.handled[kind] += 1
                else:
                    report.lost[kind] += 1
            report.inside_retry_after = emulator.inside_retry_after
            report.photo_fallbacks = sum(
                1 for _, c in emulator.delivered("sendPhoto") if c.params["photo"].startswith(PROXY)
            )
    return report


# --- bad input ----------------------------------------------------------------------------------
# Nine nested aliases: expanded, ``priority`` alone would be 10^9 strings.
ALIAS_BOMB = (
    "---\ntitle: 别名炸弹\na: &a [x,x,x,x,x,x,x,x,x,x]\n"
    + "".join(
        f"{n}: &{n} [{','.join(['*' + p] * 10)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "priority: *i\ndate: *i\nexpires: *i\n---\n\n<p>正文照常送达。</p>\n"
).encode()
SECRET = "TELEGRAM_BOT_TOKEN = '123456:SECRET-never-sent'\n"


def hostile_files(big_bytes: int) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(bad files that must be rejected, hostile files that must still be delivered)."""
    good = {
        "gb18030.md": article_text("国标编码通知").encode("gb18030"),
        "utf16.md": article_text("UTF-16 通知").encode("utf-16"),
        "no-front-matter.md": "# 没有前言的通知\n\n正文**加粗**。\n".encode(),
        "nested.md": article_text("嵌套", "<div>" * 10_000 + "深处" + "</div>" * 10_000).encode(),
        "unclosed.md": article_text("未闭合", "<p><b>粗<i>斜<div>块<span>尾").encode(),
        "scripts.md": article_text(
            "脚本",
            "<script>alert(1)</script><style>p{}</style><iframe src='https://v.example/e'>"
            "</iframe><svg><text>图</text></svg><p>可见</p>",
        ).encode(),
        "links.md": article_text(
            "链接",
            "<p><a href='javascript:alert(1)'>坏链接</a> <a href='data:text/html,x'>数据</a> "
            "<a href='https://ok.example'>好链接</a></p>",
        ).encode(),
        "images.md": article_text(
            "两百张图",
            "".join(
                f"<img src='https://img.example/{i}.jpg' data-size='800,600'>" for i in range(200)
            )
            + "<p>图片</p>",
        ).encode(),
        "invisible.md": article_text(
            "零宽\u200b与\u202e反向", "<p>文\u200d字\u202e反向\u2066</p>"
        ).encode(),
        "surrogate.md": article_text("代理", "<p>孤立代理&#xD800;字符&#xDFFF;结束</p>").encode(),
        "controls.md": article_text(
            "控制\x1b]0;pwned\x07字符", "<p>清屏\x1b[2J隐藏\x1b[8m剪贴板\x1b]52;c;eA==\x07\x9b</p>"
        ).encode(),
        "alias-bomb.md": ALIAS_BOMB,
    }
    bad = {
        "invalid-yaml.md": b"\n---\ntitle: [unclosed\ndate: x: y\n---\n\n<p>x</p>\n",
        "empty.md": b"",
        "binary.md": bytes(range(256)) * 8,
        "huge.md": article_text("巨大").encode() + b"<p>" + b"x" * big_bytes + b"</p>",
    }
    return bad, good


@dataclass
class BadInputReport:
    bad: int
    listed: int
    reasons: dict[str, str]
    good: int
    delivered: int
    crashed: bool
    leaked: int = 0  # requests that carried the secret a linked file points to
    controls: int = 0  # requests that carried a terminal control character

    def lines(self) -> list[str]:
        out = [
            f"bad input dropped beside good files while the bot runs: {self.bad} broken, "
            f"{self.good} hostile but valid",
            f"  crashes: {int(self.crashed)} (target 0)",
            f"  broken files listed by `noticebot scan` with a reason: {self.listed}/{self.bad}",
        ]
        out += [f"    {name}: {reason}" for name, reason in sorted(self.reasons.items())]
        out.append(f"  valid files delivered: {self.delivered}/{self.good}")
        out.append(
            f"  requests carrying a linked file's secret: {self.leaked}, a control character:"
            f" {self.controls} (targets 0)"
        )
        return out


def _notices_in(emulator: Emulator, chat_id: int) -> int:
    """Notices a card-only chat got: one message each (counted by message, since a card
    that holds a short notice whole has no read button to tell it by)."""
    return sum(1 for chat, _ in emulator.delivered() if chat == chat_id)


def bad_input_scenario(work: Path, big_bytes: int) -> BadInputReport:
    articles = prepare_ledger(work, [Chat(7)])
    bad, good = hostile_files(big_bytes)
    log = work / "bot.log"
    with Emulator() as emulator:
        process = start_bot(work, emulator, log, NOTICEBOT_LOG_LEVEL="INFO")
        wait_for(lambda: any(c.method == "getUpdates" for c in emulator.calls), 60, "start")
        for name, data in {**bad, **good}.items():
            (articles / name).write_bytes(data)
        (work / "noticebot.toml").write_text(SECRET, "utf-8")
        (articles / "linked.md").symlink_to(work / "noticebot.toml")
        with contextlib.suppress(AssertionError):
            wait_for(lambda: _notices_in(emulator, 7) >= len(good), 120, "deliveries")
        crashed = process.poll() is not None
        process.send_signal(signal.SIGTERM)
        crashed = crashed or process.wait(timeout=30) != 0
        delivered = _notices_in(emulator, 7)
        texts = [str(c.params) for c in emulator.calls]
        leaked = sum(1 for text in texts if "SECRET-never-sent" in text)
        controls = sum(1 for text in texts if re.search(r"[\x1b\x07\x9b]|\\x1b|\\u001b", text))
    scan = run_cli(
        "scan",
        "--json",
        cwd=work,
        NOTICEBOT_DB=str(ledgers.current(work)),
        NOTICEBOT_ARTICLES=str(articles),
    )
    invalid = {Path(i["path"]).name: i["reason"] for i in json.loads(scan.stdout)["invalid"]}
    names = [*bad, "linked.md"]
    return BadInputReport(
        bad=len(names),
        listed=sum(1 for name in names if name in invalid),
        reasons={name: invalid.get(name, "NOT LISTED") for name in names},
        good=len(good),
        delivered=delivered,
        crashed=crashed,
        leaked=leaked,
        controls=controls,
    )


# --- paths real chats take ------------------------------------------------------------------
@dataclass
class LifecycleReport:
    chats: int
    upgraded: int
    expected: int = 0
    lost: int = 0
    duplicates: int = 0
    actions: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"paths real chats take: {self.chats} chats ({self.upgraded} groups upgraded to"
            " supergroups mid-broadcast, half of them already known), 3 notices and a"
            " broadcast announcement, with " + ", ".join(self.actions) + " while sending",
            f"  deliveries expected {self.expected}: lost {self.lost} (target 0), "
            f"duplicates {self.duplicates} (target 0)",
        ]


async def lifecycle_scenario(work: Path, chats: int, seed: int = 1) -> LifecycleReport:
    """A broadcast and new notices while groups become supergroups (some already known to
    the ledger), a notice goes to draft and back, and notices are renamed or moved."""
    rng = random.Random(seed)
    groups = [-(i + 1) for i in range(max(2, chats // 10))]
    private = list(range(1, chats - len(groups) + 1))
    upgraded = {g: g - 1_000_000_000_000 for g in rng.sample(groups, len(groups) // 2)}
    report = LifecycleReport(chats=chats, upgraded=len(upgraded))
    with Emulator(limits=None) as emulator:
        async with running_bot(work, emulator, rate_limits=False) as env:
            store = env.runtime.store
            env.scan()
            env.subscribe(*private)
            env.subscribe(*groups, type="group")
            for old, new in upgraded.items():
                if rng.random() < 0.5:  # someone used the bot in the supergroup already
                    store.remember_chat(new, "supergroup", None)
                emulator.upgrade_group(old, new)
            for name in ("a", "b", "c"):
                env.write_article(f"{name}.md", title=f"通知{name.upper()}")
            env.scan()
            store.broadcast(store.add_announcement("今晚八点停电。", "公告"), by_user=None)
            dispatcher = asyncio.create_task(env.runtime.dispatcher.run(idle=0.05))

            async def after(sent: int) -> None:
                while len(emulator.delivered()) < sent:
                    await asyncio.sleep(0.005)

            total = 4 * chats
            await after(total // 8)
            env.write_article("b.md", title="通知B", extra="draft: true\n")
            env.scan()
            await after(total // 4)
            env.write_article("b.md", title="通知B", extra="draft: false\n")
            env.scan()
            report.actions.append("a draft toggled off and on")
            (env.articles / "c.md").rename(env.articles / "c-renamed.md")
            env.scan()
            await after(total // 2)
            (env.articles / "2022").mkdir()
            (env.articles / "a.md").rename(env.articles / "2022" / "a.md")
            env.scan()
            report.actions.append("two notices renamed or moved")
            while store.next_due_time() is not None:
                await asyncio.sleep(0.05)
            env.runtime.dispatcher.stop()
            await dispatcher
    finals = private + [upgraded.get(g, g) for g in groups]
    got: Counter[tuple[int, str]] = Counter()  # what each chat shows at the end: a draft
    for chat_id in finals:  # toggle deletes the copy and sends it anew, as it should
        for message in emulator.shown(chat_id):
            for item in ("通知A", "通知B", "通知C", "公告"):
                if (message["text"] or "").startswith(item + "\n"):
                    got[(chat_id, item)] += 1
    report.expected = 4 * len(finals)
    for chat_id in finals:
        for item in ("通知A", "通知B", "通知C", "公告"):
            n = got[(chat_id, item)]
            report.lost += n == 0
            report.duplicates += max(0, n - 1)
    return report


# --- sources that come and go -------------------------------------------------------------
@dataclass
class FlakySourcesReport:
    chats: int
    expected: int = 0
    lost: int = 0
    duplicates: int = 0
    wrongful_withdrawals: int = 0  # notices the ledger withdrew, or copies deleted or marked
    held: int = 0  # scans that held withdrawals instead of applying them
    feed_errors: int = 0
    actions: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"flaky sources: a broadcast of 4 notices to {self.chats} chats while "
            + ", ".join(self.actions),
            f"  deliveries expected {self.expected}: lost {self.lost} (target 0), duplicates "
            f"{self.duplicates} (target 0), wrongful withdrawals {self.wrongful_withdrawals} "
            f"(target 0); {self.held} scans held withdrawals, {self.feed_errors} feed reads"
            " failed",
        ]


OLD_NEWS = [(f"https://jmj.example.org/n/{i}", f"旧闻{i}") for i in range(3)]


def _rss(items: list[tuple[str, str]]) -> bytes:
    """An RSS feed of (guid, title) items, dated now; a guid that is a URL is the id."""
    now = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    body = "".join(
        f"<item><title>{title}</title><description>&lt;p&gt;{title}：请居民留意。&lt;/p&gt;"
        f"</description><link>{guid}</link><guid>{guid}</guid><pubDate>{now}</pubDate></item>"
        for guid, title in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>居委会</title><link>https://jmj.example.org/</link>{body}</channel></rss>"
    ).encode()


async def flaky_sources_scenario(work: Path, chats: int) -> FlakySourcesReport:
    """A broadcast of new notices from folders and feeds, while a folder cannot be
    listed, the articles folder is empty (a mount not there yet) and comes back, a feed
    times out and returns reordered with one of its items in a second feed too, and a
    file is renamed and its name reused for a new notice."""
    report = FlakySourcesReport(chats=chats)
    feed_a, feed_b = FeedServer(), FeedServer()
    feed_a.body = _rss(OLD_NEWS)
    feed_b.body = _rss([("tag:jd.example.org,2022:9", "街道旧闻")])
    client = httpx.Client(timeout=5)
    try:
        with Emulator(limits=None) as emulator:
            async with running_bot(
                work, emulator, rate_limits=False, feeds=(feed_a.url, feed_b.url), feed_deadline=0.5
            ) as env:
                report = await _flaky(env, emulator, client, feed_a, feed_b, report)
    finally:
        client.close()
        feed_a.close()
        feed_b.close()
    return report


async def _flaky(
    env: BotEnv,
    emulator: Emulator,
    client: httpx.Client,
    feed_a: FeedServer,
    feed_b: FeedServer,
    report: FlakySourcesReport,
) -> FlakySourcesReport:
    store, posts = env.runtime.store, env.articles
    for i in range(6):
        env.write_article(f"p{i}.md", title=f"存档{i}", date=env.clock.now - 86400 * 30)
    for i in range(3):
        env.write_article(f"sub/s{i}.md", title=f"子存档{i}", date=env.clock.now - 86400 * 30)

    def scan() -> None:
        result = env.scan()
        report.held += bool(result.held)

    async def read_feeds(advance: float = 301) -> None:
        env.clock.advance(advance)
        result = await asyncio.to_thread(env.runtime.scanner.read_feeds, client)
        report.feed_errors += len(result.feed_errors)

    scan()
    await read_feeds(0)  # the feeds' first read: taken in, not pushed
    private = list(range(1, report.chats + 1))
    env.subscribe(*private)
    env.write_article("n1.md", title="通知甲")
    env.write_article("sub/n2.md", title="通知乙")
    scan()
    news = ("https://jmj.example.org/n/9", "通知丁")
    feed_a.body = _rss([news, *OLD_NEWS])
    await read_feeds()
    dispatcher = asyncio.create_task(env.runtime.dispatcher.run(idle=0.05))

    async def after(sent: int) -> None:
        while len(emulator.delivered()) < sent:
            await asyncio.sleep(0.005)

    total = 4 * len(private)
    real_scandir = os.scandir
    hidden = os.path.abspath(posts / "sub")

    def stale(path: str | os.PathLike[str] = ".") -> object:
        if os.path.abspath(path) == hidden:
            raise OSError(errno.ESTALE, os.strerror(errno.ESTALE), str(path))
        return real_scandir(path)

    await after(total // 8)
    os.scandir = stale  # type: ignore[assignment]
    try:
        scan()
        report.actions.append("a subfolder cannot be listed (ESTALE)")
        await after(total // 4)
        away = posts.with_name("away")
        posts.rename(away)
        posts.mkdir()
        scan()
        posts.rmdir()
        away.rename(posts)
        scan()
        report.actions.append("the articles folder is empty, then back")
        feed_a.mode = "slow"
        await read_feeds()
        feed_a.mode = "ok"
        feed_a.body = _rss([*reversed(OLD_NEWS), news])
        feed_b.body = _rss([news, ("tag:jd.example.org,2022:9", "街道旧闻")])
        await read_feeds(601)
        report.actions.append(
            "a feed times out, returns reordered and its news is in a second feed too"
        )
        await after(total // 2)
        (posts / "p0.md").rename(posts / "p0-renamed.md")
        env.write_article("p0.md", title="通知丙")
        scan()
        report.actions.append("a file renamed and its name reused for a new notice")
    finally:
        os.scandir = real_scandir  # type: ignore[assignment]
    scan()
    while (due := store.next_due_time()) is not None:
        # the test's clock stands still: a send the network cut (a busy machine) is tried
        # again when its backoff ends, as the real clock would bring it
        env.clock.advance(max(0.0, due - env.clock.now))
        await asyncio.sleep(0.05)
    env.runtime.dispatcher.stop()
    await dispatcher
    items = ("通知甲", "通知乙", "通知丙", "通知丁")
    got: Counter[tuple[int, str]] = Counter()
    for chat_id in private:
        for message in emulator.shown(chat_id):
            for item in items:
                if (message["text"] or message.get("caption") or "").startswith(item + "\n"):
                    got[(chat_id, item)] += 1
    report.expected = len(items) * len(private)
    for chat_id in private:
        for item in items:
            n = got[(chat_id, item)]
            report.lost += n == 0
            report.duplicates += max(0, n - 1)
    withdrawn = store._rows("SELECT COUNT(*) AS n FROM articles WHERE status = 'withdrawn'")
    report.wrongful_withdrawals = withdrawn[0]["n"] + sum(
        1 for c in emulator.calls if c.ok and c.method == "deleteMessage"
    )
    return report


# --- confirmations during a broadcast ------------------------------------------------------------
@dataclass
class AcksReport:
    chats: int
    presses: int = 0  # pressed, second presses included
    people: int = 0  # distinct (chat, person): what the ledger must hold
    recorded: int = 0
    answered: int = 0
    thanked: int = 0  # first presses
    already: int = 0  # second presses, answered with the first time
    counts_right: int = 0  # groups whose card shows its members' count
    groups: int = 0
    seconds: float = 0.0  # the broadcast: first card to last card
    rate: float = 0.0  # cards a second over that time
    calls_rate: float = 0.0  # every message Telegram counts (cards, count edits) a second then
    best_second: int = 0  # the most counted messages Telegram took in one second
    too_many: int = 0
    not_modified: int = 0
    answer_ms: tuple[float, float] = (0.0, 0.0)  # the API's answer to a card: median, p90

    def lines(self) -> list[str]:
        return [
            f"confirmations: an urgent notice to {self.chats:,} chats ({self.groups} groups),"
            f" {self.presses:,} presses during it",
            f"  recorded {self.recorded:,} of {self.people:,} people (each once);"
            f" answered {self.answered:,}: {self.thanked:,} thanked,"
            f" {self.already:,} second presses told the first time",
            f"  group cards showing their count: {self.counts_right} of {self.groups}",
            f"  broadcast: {self.chats:,} cards in {self.seconds:.1f} s = {self.rate:.1f} msg/s"
            f" ({self.calls_rate:.1f} msg/s with the count edits; best second"
            f" {self.best_second}); 429s {self.too_many},"
            f" 'not modified' {self.not_modified}; the API answered a card in"
            f" {self.answer_ms[0]:.0f} ms (median), {self.answer_ms[1]:.0f} ms (p90)",
        ]


def acks_scenario(work: Path, chats: int, presses: int, groups: int = 100) -> AcksReport:
    """An urgent notice (which asks to be confirmed) from a ``noticebot run`` process to
    ``chats`` chats, ``groups`` of them supergroups; as each card arrives its chat's
    people press ✅ 收到 (a private subscriber once, a tenth of them twice; a group's
    members until ``presses`` are made)."""
    private = chats - groups
    per_group = max(1, (presses - private - private // 10) // groups)
    group_ids = [-1_001_900_000_000 - n for n in range(groups)]
    report = AcksReport(chats=chats, groups=groups)
    subscribers = [Chat(chat) for chat in range(1, private + 1)]
    subscribers += [Chat(chat, type="supergroup", title=str(chat)) for chat in group_ids]
    articles = prepare_ledger(work, subscribers)
    with Emulator() as emulator:
        process = start_bot(work, emulator, work / "bot.log", NOTICEBOT_LOG_LEVEL="WARNING")
        try:
            (articles / "urgent.md").write_text(
                article_text("紧急通知", "<p>今晚8点起全楼封控，请勿外出。</p>", "urgent: true\n"),
                encoding="utf-8",
            )
            pressed: set[int] = set()
            seconds: list[int] = []
            looked = 0  # the emulator's calls looked at so far
            in_flight: list = []  # calls not answered yet when looked at

            def press_new_cards() -> bool:
                nonlocal looked
                calls = [*in_flight, *emulator.calls[looked:]]
                looked += len(calls) - len(in_flight)
                in_flight.clear()
                for call in calls:
                    if not call.ok and call.error is None:
                        in_flight.append(call)
                        continue
                    chat = int(call.params.get("chat_id") or 0)
                    text = str(call.params.get("text", ""))
                    if not call.ok or chat in pressed or "紧急通知" not in text:
                        continue
                    if not call.method.startswith("send"):
                        continue
                    pressed.add(chat)
                    data = call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
                    people = [chat] if chat > 0 else [chat * -1000 + n for n in range(per_group)]
                    for person in people:
                        emulator.press(chat, call.message_ids[0], person, data)
                        report.presses += 1
                    if chat > 0 and chat % 10 == 0:
                        seconds.append(chat)  # pressed again, once the first is answered
                return len(pressed) == chats

            wait_for(press_new_cards, 600, "every card")
            wait_for(lambda: len(emulator.answered) >= report.presses, 120, "answers")
            for chat in seconds:
                card = next(c for t, c in emulator.delivered() if t == chat)
                data = card.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
                emulator.press(chat, card.message_ids[0], chat, data)
                report.presses += 1
            wait_for(lambda: len(emulator.answered) >= report.presses, 120, "answers")

            def count(chat: int) -> str:
                card = next(c for t, c in emulator.delivered() if t == chat)
                shown = emulator.messages[(chat, card.message_ids[0])]
                return shown["reply_markup"]["inline_keyboard"][0][0]["text"]

            with contextlib.suppress(AssertionError):
                wait_for(
                    lambda: all(count(g) == f"✅ 收到 · {per_group}" for g in group_ids),
                    120,
                    "every group's count",
                )
            report.counts_right = sum(count(g) == f"✅ 收到 · {per_group}" for g in group_ids)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    report.people = private + groups * per_group
    store = Store(ledgers.current(work))
    report.recorded = store.acks_total()
    store.close()
    cards = sorted(c.at for _, c in emulator.delivered() if "紧急通知" in str(c.params))
    report.seconds = cards[-1] - cards[0]
    report.rate = (len(cards) - 1) / report.seconds if report.seconds else 0.0
    counted_calls = [
        c for c in emulator.calls if c.ok and counted(c.method) and cards[0] <= c.at <= cards[-1]
    ]
    report.calls_rate = (len(counted_calls) - 1) / report.seconds if report.seconds else 0.0
    report.best_second = emulator.max_per_second()
    took = sorted(
        (c.answered_at - c.at) * 1000
        for _, c in emulator.delivered()
        if c.answered_at and "紧急通知" in str(c.params)
    )
    report.answer_ms = (took[len(took) // 2], took[len(took) * 9 // 10]) if took else (0.0, 0.0)
    texts = Counter(str(a.get("text")) for a in emulator.answered)
    report.answered = len(emulator.answered)
    report.thanked = texts["已确认收到，谢谢！"]
    report.already = sum(n for text, n in texts.items() if text.startswith("已确认 "))
    report.too_many = emulator.too_many
    report.not_modified = emulator.not_modified_count()
    return report
