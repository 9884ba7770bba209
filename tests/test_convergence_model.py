"""Model-based test of convergence: random sequences of what happens to notices and
chats, against the real bot and the emulator, and after the bot settles, what each
chat SHOWS is what the notice says now (or the documented best copy).

A Hypothesis ``RuleBasedStateMachine`` publishes, corrects (text, pictures, urgency,
expiry), withdraws and republishes two notices; subscribes and unsubscribes four
chats (private, basic group, supergroup, channel); upgrades the group once; injects
faults on any Bot API method (5xx, an answer lost after the call took effect, "can't
be deleted", no media rights); lets 7 or 49 hours pass; kills the dispatcher at a
chosen Bot API call (before the call takes effect, or after it, its answer lost) and
restarts it. After each ``settle`` and at the end of every sequence it checks, with
the emulator as the oracle (:meth:`ConvergenceModel.check`):

- nothing is left queued, sending or failed;
- a chat that should have the notice shows, slot by slot, the current version's
  planned messages (text, caption, picture, buttons), with the ledger's content hash
  of each part; an album the chat refused pictures for may be left out;
- nothing else of the notice stays visible where the bot can reach it, except parts
  marked withdrawn/removed (what can no longer be deleted); a withdrawn notice
  leaves only such marks;
- an urgent notice that has not expired is pinned (its card, alone) in groups and
  channels that let the bot pin; nothing else of the notice is pinned;
- every bot message visible in these chats is known to the ledger, except at most
  one send per kill and per lost answer (Telegram took it, the bot never heard);
- no message of someone else was touched (``emulator.tampered()``).

Messages left in the basic group after its upgrade stay there, out of the bot's
reach: they are checked against the ledger, not counted against the supergroup.

One bot and one emulator serve every example (fresh chats and notices each), on one
event loop; the dispatcher runs with one worker, so a sequence replays exactly.
``make test`` runs the ``model`` profile; ``NOTICEBOT_MODEL_EXAMPLES`` selects the
``chaos`` profile with that many examples; ``bench/chaos.py --only model`` calls
:func:`model_run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from telegram import Update

from bot.formatting.outgoing import Outgoing
from bot.formatting.revisions import MEDIA_METHODS
from bot.i18n import t
from bot.ledger import Chat, Store
from bot.ledger.copies import DROPPED, GONE, LIVE, MARKED, Part, visible
from bot.sending.delivery import Dispatcher
from bot.sending.policy import SendPolicy
from bot.sending.reconciler import PINNABLE, Reconciler
from bot.sending.sender import Sender
from tests import ledgers
from tests.botenv import BotEnv, running_bot
from tests.emulator import SEND_METHODS, Emulator, Fault

pytestmark = ledgers.each_backend

EXAMPLES_VAR = "NOTICEBOT_MODEL_EXAMPLES"
settings.register_profile(  # make test: no shrinking (minutes); the database keeps the find
    "model",
    max_examples=200,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.register_profile(
    "chaos",
    max_examples=int(os.environ.get(EXAMPLES_VAR) or 5000),
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# One worker: the calls of a sequence come in one order, so a kill at "the n-th call"
# is the same moment when Hypothesis replays it. Retries never give up: giving up is
# policy, not convergence.
POLICY = SendPolicy(concurrency=1, retry_window=10 * 365 * 86400.0)
HOUR = 3600.0
SETTLE_STEP = 1000.0  # past any backoff (capped at 600 s, jittered by ±50 %)
METHODS = (
    "sendMessage",
    "sendPhoto",
    "sendMediaGroup",
    "editMessageText",
    "editMessageCaption",
    "editMessageMedia",
    "deleteMessage",
    "pinChatMessage",
    "unpinChatMessage",
)
FAULTS: tuple[tuple[str, str], ...] = (
    *((m, "bad_gateway") for m in METHODS),
    *((m, "lost") for m in METHODS),
    ("deleteMessage", "cannot_delete"),
    *((m, "no_media_rights") for m in ("sendPhoto", "sendMediaGroup", "editMessageMedia")),
)
TEXTS = {"short": 0, "long": 200, "longer": 330}  # paragraphs: 1, 2 and 3 text parts
WITHDRAWN_NOTE = t("withdrawn_notice", "zh")
REMOVED_NOTE = t("removed_part", "zh")
DROPPED_ANSWER = (500, {"ok": False, "error_code": 500, "description": "killed"})


# --- the emulator, with a kill switch ---------------------------------------------------
class Gate:
    """The moment of a kill: the ``at``-th Bot API call from now (0: the next one). It
    takes effect or not (``effect``); its answer, and every later call, waits for the
    kill, then goes nowhere."""

    def __init__(self, at: int, effect: bool, tripped: threading.Event) -> None:
        self.left = at
        self.effect = effect
        self.tripped = tripped
        self.release = threading.Event()
        self.method: str | None = None  # the call the kill cut
        self._lock = threading.Lock()

    def arrive(self, method: str) -> str:
        """``pass``, ``kill`` (this call is the moment) or ``held`` (after it)."""
        with self._lock:
            if self.method is not None:
                return "held"
            if self.left > 0:
                self.left -= 1
                return "pass"
            self.method = method
        self.tripped.set()
        return "kill"


class GatedEmulator(Emulator):
    """The emulator, whose answers a :class:`Gate` may hold back (a process killed
    while its call is on the way)."""

    gate: Gate | None = None

    def answer(
        self, method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], Fault | None]:
        gate = self.gate
        if gate is None or method == "getUpdates":
            return super().answer(method, params)
        verdict = gate.arrive(method)
        if verdict == "pass":
            return super().answer(method, params)
        result = super().answer(method, params) if verdict == "kill" and gate.effect else None
        gate.release.wait(10)
        if result is not None:
            return result  # to a client that is gone
        return (*DROPPED_ANSWER, Fault(drop=True))


# --- one bot for every example ------------------------------------------------------------
@dataclass
class World:
    loop: asyncio.AbstractEventLoop
    emulator: GatedEmulator
    env: BotEnv
    serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    examples: int = 0
    tally: Counter[str] = field(default_factory=Counter)  # what the sequences did

    @property
    def store(self) -> Store:
        return self.env.runtime.store

    def restart(self) -> None:
        """What a restart does: sending rows queued again; new sender, reconciler and
        dispatcher (nothing in memory survives but the HTTP client and the ledger)."""
        runtime = self.env.runtime
        runtime.store.requeue_interrupted()
        sender = Sender(runtime.store, runtime.sender.transport, runtime.config, 1)
        runtime.sender = sender
        reconciler = Reconciler(runtime.store, sender, runtime.config, POLICY)
        runtime.dispatcher = Dispatcher(runtime.store, reconciler, POLICY.concurrency)


@contextlib.contextmanager
def shared_world(tmp: Path) -> Iterator[World]:
    """The bot running in-process against the emulator, on its own event loop; warnings
    and errors logged only (thousands of sequences at DEBUG would bury a failure)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    loop = asyncio.new_event_loop()
    with GatedEmulator(limits=None) as emulator:
        stack = contextlib.AsyncExitStack()
        bot = running_bot(tmp, emulator, policy=POLICY, rate_limits=False, max_age_days=3650.0)
        env = loop.run_until_complete(stack.enter_async_context(bot))
        env.write_standing()  # deleting every notice must not empty the folder
        env.scan()  # the archive's baseline
        world = World(loop, emulator, env)
        world.restart()  # the runtime's own dispatcher, with the model's policy
        ConvergenceModel.world = world
        try:
            yield world
        finally:
            ConvergenceModel.world = None
            loop.run_until_complete(stack.aclose())
            loop.close()
            root.setLevel(level)


# --- the model ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Content:
    """What a notice's file says."""

    text: str = "short"
    rev: int = 1
    lead: int | None = None  # the lead picture's variant
    album: int = 0  # pictures after the lead
    album_rev: int = 1
    urgent: bool = False
    expires: float | None = None


@dataclass
class NoticeModel:
    tag: str
    name: str  # its file
    date: float
    content: Content = field(default_factory=Content)
    article_id: str | None = None
    exists: bool = False  # the file is there (published)
    eligible: set[str] = field(default_factory=set)  # chats it must reach (see ``check``)
    ever: set[str] = field(default_factory=set)  # chats it was ever queued for
    lapsed: set[str] = field(default_factory=set)  # unsubscribed since their last requeue

    def expired(self, now: float) -> bool:
        return self.content.expires is not None and now >= self.content.expires


@dataclass
class ChatModel:
    name: str
    id: int  # as Telegram knows it now (the supergroup's, once the group was upgraded)
    type: str
    mode: str
    pin_right: str
    subscribed: bool = True
    refusable: bool = True  # the bot lacked the right to pin here at some moment
    old_id: int | None = None  # the basic group, once upgraded

    @property
    def ids(self) -> list[int]:
        return [self.id] if self.old_id is None else [self.old_id, self.id]


def expires_at(choice: str | None, now: float) -> float | None:
    return {None: None, "past": now - HOUR, "future": now + 6 * HOUR}[choice]


CONTENTS = st.builds(
    Content,
    text=st.sampled_from(list(TEXTS)),
    lead=st.sampled_from([None, 1, 2]),
    album=st.integers(0, 3),
    urgent=st.booleans(),
)
EXPIRY = st.sampled_from([None, None, None, "past", "future"])
ASPECTS = st.sets(st.sampled_from(["text", "lead", "album", "urgent", "expires"]), min_size=1)


class ConvergenceModel(RuleBasedStateMachine):
    """Notices and chats, changed at random; the bot settles; each chat shows what the
    notice says now."""

    world: ClassVar[World | None] = None

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        assert world is not None, "run inside shared_world()"
        world.examples += 1
        n = next(world.serial)
        self.w = world
        self.start = len(world.emulator.calls)
        self.chats = {
            "private": ChatModel("private", 10_000_000 + n, "private", "card", ""),
            "group": ChatModel("group", -(20_000_000 + n), "group", "full", "can_pin_messages"),
            "super": ChatModel(
                "super", -1_003_000_000_000 - n, "supergroup", "full", "can_pin_messages"
            ),
            "channel": ChatModel(
                "channel", -1_005_000_000_000 - n, "channel", "full", "can_edit_messages"
            ),
        }
        self.upgrade_to = -1_004_000_000_000 - n
        now = world.env.clock.now
        self.notices = [NoticeModel(f"{n}{k}", f"m{n:05d}{k}.md", now) for k in "ab"]
        self.kills = 0
        self.lost_sends = 0
        self.pending_updates: list[dict[str, Any]] = []
        self.excused: dict[str, set[tuple[int, int]]] = {}  # someone deleted, by notice
        self.snapshot: dict[tuple[int, int], dict[str, Any]] = {}  # the chats, at a check

    # --- helpers ----------------------------------------------------------------------
    @property
    def env(self) -> BotEnv:
        return self.w.env

    def run(self, coroutine: Any) -> Any:
        return self.w.loop.run_until_complete(coroutine)

    def ledger_id(self, chat: ChatModel) -> int:
        """The chat's id in the ledger: the group's old one until the bot learns."""
        if chat.old_id is not None and self.w.store.chat(chat.id) is None:
            return chat.old_id
        return chat.id

    def all_ids(self) -> list[int]:
        return [i for chat in self.chats.values() for i in chat.ids]

    def write(self, notice: NoticeModel) -> bool:
        """Write the notice's file and scan: whether its version changed."""
        c = notice.content
        tag = notice.tag
        lead = f"<img src='https://img.example/{tag}/lead{c.lead}.jpg'>" if c.lead else ""
        paragraphs = "".join(
            f"<p>第{c.rev}版第{i}段：本周六上午停水，请提前储水，注意安全。</p>"
            for i in range(TEXTS[c.text])
        )
        album = "".join(
            f"<img src='https://img.example/{tag}/a{c.album_rev}-{i}.jpg'>" for i in range(c.album)
        )
        extra = "priority: urgent\n" if c.urgent else ""
        if c.expires is not None:
            extra += f"expires: '{datetime.fromtimestamp(c.expires, UTC).isoformat()}'\n"
        path = self.env.write_article(
            notice.name,
            title=f"{tag}号通知",
            date=notice.date,
            body=f"{lead}<p>{tag}号通知第{c.rev}版：本周六停水。</p>{paragraphs}{album}",
            extra=extra,
        )
        before = self.w.store.article(notice.article_id) if notice.article_id else None
        self.env.scan()
        state = self.w.store.file_states()[str(path)]
        assert state.error is None, state.error
        notice.article_id = state.article_id
        notice.exists = True
        return before is None or before["content_hash"] != state.content_hash

    def queued_for_subscribers(self, notice: NoticeModel) -> None:
        """A publication queues the notice for every subscriber, unless it expired."""
        if notice.expired(self.env.clock.now):
            return
        for chat in self.chats.values():
            if chat.subscribed:
                notice.eligible.add(chat.name)
                notice.ever.add(chat.name)
                notice.lapsed.discard(chat.name)

    def after_run(self) -> None:
        """A notice that expired while rows were pending may have skipped them."""
        for notice in self.notices:
            if notice.expired(self.env.clock.now):
                notice.eligible.clear()

    def learn_upgrade(self) -> None:
        """The bot reads Telegram's word of the upgrade (before anything the supergroup
        says later: updates come in order)."""
        for update in self.pending_updates:
            self.run(self.env.app.process_update(Update.de_json(update, self.env.app.bot)))
        self.pending_updates.clear()

    # --- rules ------------------------------------------------------------------------
    @initialize(
        modes=st.tuples(*[st.sampled_from(["card", "full"])] * 4),
        rights=st.tuples(st.booleans(), st.booleans(), st.booleans()),
        channel_deletes=st.booleans(),
        first=CONTENTS,
    )
    def setup(
        self,
        modes: tuple[str, ...],
        rights: tuple[bool, ...],
        channel_deletes: bool,
        first: Content,
    ) -> None:
        """Four chats subscribed, and the first notice published (without expiry)."""
        emulator = self.w.emulator
        channel = self.chats["channel"]
        emulator.channels.add(channel.id)
        emulator.grant(channel.id, "can_post_messages")
        if channel_deletes:
            emulator.grant(channel.id, "can_delete_messages")
        for chat, mode in zip(self.chats.values(), modes, strict=True):
            chat.mode = mode
            self.env.subscribe(chat.id, type=chat.type, mode=mode, title=chat.name)
        for name, granted in zip(("group", "super", "channel"), rights, strict=True):
            if granted:
                self.grant(name)
            self.chats[name].refusable = not granted
        self.notices[0].content = first
        self.write(self.notices[0])
        self.queued_for_subscribers(self.notices[0])

    @precondition(lambda self: any(not n.exists for n in self.notices))
    @rule(data=st.data())
    def publish(self, data: st.DataObject) -> None:
        """A new notice, or a withdrawn one written back as it was."""
        notice = data.draw(st.sampled_from([n for n in self.notices if not n.exists]))
        self.w.tally["republished" if notice.article_id else "published"] += 1
        if notice.article_id is None:
            content = data.draw(CONTENTS)
            expiry = data.draw(EXPIRY, label="expires")
            now = self.env.clock.now
            notice.content = replace(content, expires=expires_at(expiry, now))
        self.write(notice)
        self.queued_for_subscribers(notice)

    @precondition(lambda self: any(n.exists for n in self.notices))
    @rule(data=st.data())
    def correct(self, data: st.DataObject) -> None:
        notice = data.draw(st.sampled_from([n for n in self.notices if n.exists]))
        new = notice.content
        for aspect in sorted(data.draw(ASPECTS, label="aspects")):
            if aspect == "text":
                new = replace(new, text=data.draw(st.sampled_from(list(TEXTS))), rev=new.rev + 1)
            elif aspect == "lead":
                new = replace(new, lead=data.draw(st.sampled_from([None, 1, 2])))
            elif aspect == "album":
                same = st.just(new.album)  # new pictures, as many: edited item by item
                count = data.draw(same | st.integers(0, 3), label="album")
                new = replace(new, album=count, album_rev=new.album_rev + 1)
            elif aspect == "urgent":
                new = replace(new, urgent=not new.urgent)
            else:
                expiry = data.draw(EXPIRY, label="expires")
                new = replace(new, expires=expires_at(expiry, self.env.clock.now))
        notice.content = new
        self.w.tally["corrections"] += 1
        if self.write(notice):  # every copy is queued to be brought to the new version
            for chat in self.chats.values():
                if chat.subscribed:
                    notice.lapsed.discard(chat.name)

    @precondition(lambda self: any(n.exists for n in self.notices))
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        notice = data.draw(st.sampled_from([n for n in self.notices if n.exists]))
        (self.env.articles / notice.name).unlink()
        self.w.tally["withdrawals"] += 1
        self.env.scan()
        notice.exists = False
        notice.eligible.clear()

    @rule(name=st.sampled_from(["private", "group", "super", "channel"]))
    def toggle_subscription(self, name: str) -> None:
        chat = self.chats[name]
        self.learn_upgrade()
        chat_id = self.ledger_id(chat)
        if chat.subscribed:
            self.w.store.unsubscribe(chat_id)
            for notice in self.notices:
                notice.eligible.discard(name)
                notice.lapsed.add(name)
        else:
            known = self.w.store.chat(chat_id)
            self.env.subscribe(chat_id, type=known.type if known else chat.type, title=name)
        chat.subscribed = not chat.subscribed

    @precondition(lambda self: self.chats["group"].old_id is None)
    @rule(tell_now=st.booleans())
    def upgrade(self, tell_now: bool) -> None:
        """The basic group becomes a supergroup; the bot hears of it now, or at its next
        call there (Telegram's update waits until someone speaks in the chat)."""
        group = self.chats["group"]
        emulator = self.w.emulator
        self.w.tally["upgrades"] += 1
        before = len(emulator.updates)
        emulator.upgrade_group(group.id, self.upgrade_to)
        self.pending_updates = [
            emulator.updates.pop() for _ in range(len(emulator.updates) - before)
        ]
        self.pending_updates.reverse()
        group.old_id, group.id = group.id, self.upgrade_to
        group.type = "supergroup"
        group.refusable = True
        if tell_now:
            self.learn_upgrade()

    @rule(name=st.sampled_from(["group", "super", "channel"]))
    def grant(self, name: str) -> None:
        """The bot is given the right to pin."""
        chat = self.chats[name]
        self.w.emulator.grant(chat.id, chat.pin_right)

    @rule(name=st.sampled_from(["group", "super", "channel"]))
    def member_posts(self, name: str) -> None:
        self.w.emulator.user_posts(self.chats[name].id, "大家好")

    @rule(name=st.sampled_from(["private", "group", "super", "channel"]), data=st.data())
    def someone_deletes(self, name: str, data: st.DataObject) -> None:
        """An admin deletes one of the bot's messages (in the old group too): it is not
        sent again, and nothing else of the notice may be left behind for it."""
        emulator, chat = self.w.emulator, self.chats[name]
        # Drawn the same way whatever the chat holds: what the bot sent depends on timing
        # and on earlier examples in the shared world, and a draw shaped by it makes a
        # replayed sequence draw differently (Hypothesis: "inconsistent data generation").
        pick = data.draw(st.integers(0, 63), label="deleted")
        mine = sorted(
            k for k in emulator.messages_now() if k[0] in chat.ids and k in emulator.bots_own
        )
        if not mine:
            return
        key = mine[pick % len(mine)]
        emulator.user_deletes(*key)
        self.w.tally["someone deleted a message"] += 1
        notices = {n.article_id: n for n in self.notices}
        for chat_id in chat.ids:
            for row in self.w.store.deliveries(chat_id):
                if any(p.chat == key[0] and key[1] in p.ids for p in row.copy):
                    self.excused.setdefault(notices[row.article_id].tag, set()).add(key)

    @rule(
        name=st.sampled_from(["private", "group", "super", "channel"]),
        fault=st.sampled_from(FAULTS),
    )
    def inject(self, name: str, fault: tuple[str, str]) -> None:
        """The next call of this method to this chat fails."""
        method, kind = fault
        self.w.tally[f"faults: {kind}"] += 1
        self.w.emulator.fail(self.ledger_id(self.chats[name]), method, getattr(Fault, kind)())
        if kind == "lost" and method in SEND_METHODS:
            self.lost_sends += 1

    @rule(hours=st.sampled_from([7, 49]))
    def time_passes(self, hours: int) -> None:
        seconds = hours * HOUR
        self.w.tally[f"{hours} hours"] += 1
        self.w.emulator.advance(seconds)
        self.env.clock.advance(seconds)

    @rule(calls=st.integers(0, 12), effect=st.booleans())
    def deliver(self, calls: int, effect: bool) -> None:
        """The dispatcher runs, faults and all, and is killed at its ``calls``-th Bot API
        call (which took effect or not), then the bot restarts; or it runs out of work
        before."""
        self.run(self._deliver(calls, effect))
        self.after_run()

    async def _deliver(self, calls: int, effect: bool) -> None:
        emulator = self.w.emulator
        tripped = threading.Event()
        gate = emulator.gate = Gate(calls, effect, tripped)
        dispatcher = self.env.runtime.dispatcher
        task = asyncio.ensure_future(dispatcher.run_until_idle())
        try:
            while not task.done() and not tripped.is_set():
                await asyncio.wait({task}, timeout=0.002)
            if not tripped.is_set():
                await task
                return
            doomed = [task, *dispatcher._tasks]
            for victim in doomed:
                victim.cancel()
            await asyncio.gather(*doomed, return_exceptions=True)
        finally:
            emulator.gate = None
            gate.release.set()  # the held answer goes to a client that is gone
        self.kills += 1
        self.w.tally["kills" + (f" after {gate.method}" if effect else "")] += 1
        self.w.restart()

    @rule()
    def settle(self) -> None:
        self.run(self._settle())
        self.check()

    async def _settle(self) -> None:
        """Faults cleared, then scans and sends, the clock moved past any backoff, until
        nothing of this example is queued or sending."""
        emulator = self.w.emulator
        ids = set(self.all_ids())
        with emulator._lock:
            for key in [k for k in emulator.failing if k[0] in ids]:
                del emulator.failing[key]
        for _ in range(40):
            self.env.scan()  # as the bot does every minute: expired pins are queued
            await self.env.runtime.dispatcher.run_until_idle()
            self.after_run()
            if not self.open_rows():
                return
            self.env.clock.advance(SETTLE_STEP)
        raise AssertionError(f"never settled: {self.open_rows()}")

    def open_rows(self) -> list[str]:
        return [
            f"{d.article_id}@{d.chat_id}: {d.status}"
            for chat_id in self.all_ids()
            for d in self.w.store.deliveries(chat_id)
            if d.status in ("queued", "sending")
        ]

    def teardown(self) -> None:
        try:
            if sys.exc_info()[0] is None:  # a sequence that ran: settled and checked
                self.settle()
        finally:
            self.w.emulator.gate = None
            ids = set(self.all_ids())
            with self.w.emulator._lock:
                for key in [k for k in self.w.emulator.failing if k[0] in ids]:
                    del self.w.emulator.failing[key]
            for chat_id in ids:  # the next example's notices are not theirs
                if self.w.store.chat(chat_id) is not None:
                    self.w.store.deactivate_chat(chat_id, "example over")

    # --- the oracle -------------------------------------------------------------------
    def check(self) -> None:
        """What every chat shows, against what every notice says now."""
        problems: list[str] = []
        store, emulator = self.w.store, self.w.emulator
        ids = set(self.all_ids())
        self.snapshot = {k: v for k, v in emulator.messages_now().items() if k[0] in ids}
        rows = {(d.article_id, d.chat_id): d for i in ids for d in store.deliveries(i)}
        for (article_id, chat_id), row in rows.items():
            if row.status in ("queued", "sending", "failed"):
                error = store._rows("SELECT last_error FROM deliveries WHERE id = ?", [row.id])[0]
                problems.append(f"{article_id}@{chat_id}: {row.status} ({error})")
        for notice in self.notices:
            if notice.article_id is None:
                continue
            for chat in self.chats.values():
                chat_id = self.ledger_id(chat)
                row = rows.get((notice.article_id, chat_id))
                where = f"notice {notice.tag} in {chat.name} ({chat_id})"
                copy = row.copy if row else ()
                problems += [f"{where}: {p}" for p in self.check_copy(notice, chat, copy)]
        problems += self.check_unknown(rows)
        for call in emulator.tampered():
            if _chat_id(call) in ids:
                problems.append(f"touched someone else's message: {call.method} {call.params}")
        assert not problems, "\n".join(problems)

    def check_copy(self, notice: NoticeModel, chat: ChatModel, copy: tuple[Part, ...]) -> list[str]:
        """One chat's copy of one notice: the ledger against the chat, the chat against
        the notice."""
        store = self.w.store
        problems: list[str] = []
        known = store.chat(self.ledger_id(chat))
        assert known is not None
        here = known.id
        excused = self.excused.get(notice.tag, set())
        shows = bool(visible(copy))
        if known.subscribed != chat.subscribed:
            problems.append(f"the ledger says subscribed={known.subscribed}")
        if shows and chat.name not in notice.ever:
            problems.append("holds a copy, though the notice was never queued for it")
        pinned = {m for p in copy if p.chat == here for m in p.ids if m in self.pins(here)}
        for part in copy:
            there = part.chat == here and part.ids and (part.chat, part.ids[0]) in self.snapshot
            if there and part.state in (LIVE, MARKED) and part.pinned != (part.ids[0] in pinned):
                problems.append(f"the ledger says pinned={part.pinned}, the chat disagrees")
            if part.pin_unsure:
                problems.append(f"settled with a pin unsure ({part.ids})")
        if not notice.exists:
            for part in copy:
                problems += self.check_gone(part, here, excused, withdrawn=True)
            if pinned:
                problems.append(f"withdrawn, yet pinned: {sorted(pinned)}")
            return problems
        article = store.article(notice.article_id)  # type: ignore[arg-type]
        assert article is not None
        plans = [
            self.env.runtime.sender.plan_for(
                notice.article_id,  # type: ignore[arg-type]
                article["content_hash"],
                known,
                edited=edited,
            )
            for edited in (False, True)
        ]
        assert plans[0] is not None and plans[1] is not None, "the version cannot be planned"
        wanted = plans[0].messages
        assert plans[0].urgent == notice.content.urgent, "the ledger's urgency is not the file's"
        card_text = wanted[0].text_and_entities()[0]
        assert f"第{notice.content.rev}版" in card_text, "the ledger's version is not the file's"
        slots = [p.slot for p in copy if p.slot is not None]
        if len(slots) != len(set(slots)):
            problems.append(f"two parts stand for one slot: {slots}")
        holders = {p.slot: p for p in copy if p.slot is not None and p.slot < len(wanted)}
        expired = notice.expired(self.env.clock.now)
        must = (
            known.subscribed
            and known.active
            and chat.name not in notice.lapsed
            and (shows or (chat.name in notice.eligible and not expired))
        )
        for slot in range(len(wanted)):
            part = holders.get(slot)
            if part is None:
                if must:
                    problems.append(f"slot {slot} ({wanted[slot].method}) is missing")
                continue
            options = {p.messages[slot].content_hash: p.messages[slot] for p in plans if p}
            message = options.get(part.hash)
            keys = {(part.chat, m) for m in part.ids}
            if part.state == GONE:
                if not keys & excused:
                    problems.append(f"slot {slot} is gone, though nobody deleted it")
                elif message is None and keys & set(self.snapshot):
                    problems.append(f"slot {slot}: someone deleted part of it, the rest is stale")
            elif part.chat != here and (message is None or part.state != LIVE):
                if must:  # out of reach, yet the chat wants it: sent anew to the supergroup
                    problems.append(f"slot {slot} was left out of reach in {part.chat}")
            elif message is None:
                problems.append(f"slot {slot} is {part.state} at another version ({part.hash})")
            elif part.state == DROPPED:
                if message.part != "album":
                    problems.append(f"slot {slot} ({message.part}) was dropped")
            elif part.state != LIVE:
                problems.append(f"slot {slot} is {part.state}")
            else:
                problems += [f"slot {slot}: {p}" for p in self.check_shows(part, message, excused)]
        for part in copy:
            if holders.get(part.slot) is not part:  # type: ignore[arg-type]
                problems += self.check_gone(part, here, excused, withdrawn=False)
        problems += self.check_pins(plans[0].urgent and not expired, known, holders.get(0), pinned)
        return problems

    def pins(self, chat_id: int) -> set[int]:
        return set(self.w.emulator.pinned.get(chat_id, ()))

    def check_pins(
        self, urgent: bool, known: Chat, card: Part | None, pinned: set[int]
    ) -> list[str]:
        """Urgent (not expired): the card alone pinned where the bot may pin; else nothing."""
        if not (urgent and known.type in PINNABLE and card is not None):
            return [f"not urgent now, yet pinned: {sorted(pinned)}"] if pinned else []
        if card.chat != known.id or card.state != LIVE:
            return [f"pinned {sorted(pinned)}, but the card is out of reach"] if pinned else []
        if (card.chat, card.ids[0]) not in self.snapshot:
            return []  # someone deleted the card
        if card.pin_refused:
            chat = next(c for c in self.chats.values() if known.id in c.ids)
            if not chat.refusable:
                return ["pin refused, though the bot always had the right"]
            return [f"pin refused, yet pinned: {sorted(pinned)}"] if pinned else []
        if pinned != {card.ids[0]}:
            return [f"urgent: pinned {sorted(pinned)}, not the card {card.ids}"]
        return []

    def check_gone(
        self, part: Part, here: int, excused: set[tuple[int, int]], *, withdrawn: bool
    ) -> list[str]:
        """A part that must not show the notice: deleted, out of reach, or marked (a
        withdrawn notice's marks say so; a correction's say removed, or withdrawn if
        they were marked while the notice was)."""
        if not part.ids or part.chat != here or part.state == DROPPED:
            return []  # nothing left, or in the old group, out of the bot's reach
        keys = [(part.chat, m) for m in part.ids]
        left = [k for k in keys if k in self.snapshot]
        if part.state == GONE:
            if not set(keys) & excused:
                return [f"a part is gone ({part.ids}), though nobody deleted it"]
            return [f"someone deleted part of it; {left} still show, left alone"] if left else []
        if part.state == LIVE:
            return [f"a part that should be gone still shows ({part.slot}, {part.ids})"]
        if part.state != MARKED:
            return [f"a part is {part.state} ({part.ids})"]
        shown = self.snapshot.get(keys[0])
        if shown is None:
            return [] if keys[0] in excused else [f"marked part {part.ids} is not in the chat"]
        text = shown.get("text") or ""
        notes = (WITHDRAWN_NOTE,) if withdrawn else (WITHDRAWN_NOTE, REMOVED_NOTE)
        if not any(note in text for note in notes):
            return [f"a marked part shows {text[:40]!r}, not {' or '.join(notes)}"]
        if shown.get("reply_markup"):
            return ["a marked part still has buttons"]
        return []

    def check_shows(
        self, part: Part, message: Outgoing, excused: set[tuple[int, int]]
    ) -> list[str]:
        """The part's messages show ``message``: its text or caption with their
        formatting, its pictures, its buttons (a card refused its picture: as text);
        those someone deleted excepted."""
        keys = [(part.chat, m) for m in part.ids]
        shown = [self.snapshot.get(k) for k in keys]
        missing = [k[1] for k, s in zip(keys, shown, strict=True) if s is None and k not in excused]
        if missing:
            return [f"messages {missing} are not in the chat"]
        if part.kind == "sendMessage" != message.method and message.part != "card":
            return [f"a {message.method} shows as a text message: {_short(shown)}"]
        if message.method == "sendMediaGroup":
            expected = [_look(item, item["media"]) for item in message.params["media"]]
        elif message.method == "sendMessage" or part.kind == "sendMessage":
            text, entities = message.text_and_entities()
            expected = [_look({"text": text, "entities": entities}, None)]
        else:
            expected = [_look(message.params, message.params[MEDIA_METHODS[message.method]])]
        actual = [None if s is None else _look(s, s.get("media")) for s in shown]
        if len(actual) != len(expected) or any(
            a is not None and a != e for a, e in zip(actual, expected, strict=False)
        ):
            return [f"shows {_short(actual)}, not {_short(expected)}"]
        markup = message.params.get("reply_markup")
        if shown[0] is not None and shown[0].get("reply_markup") != markup:
            return [f"buttons {shown[0].get('reply_markup')}, not {markup}"]
        return []

    def check_unknown(self, rows: dict[tuple[str, int], Any]) -> list[str]:
        """Bot messages the ledger does not know: at most one send per kill or lost answer."""
        emulator = self.w.emulator
        ids = set(self.all_ids())
        known = {(p.chat, m) for row in rows.values() for p in row.copy for m in p.ids}
        sent_by: dict[tuple[int, int], int] = {}
        for index, call in enumerate(emulator.calls[self.start :]):
            if call.ok and call.method in SEND_METHODS and _chat_id(call) in ids:
                for message_id in call.message_ids:
                    sent_by[(_chat_id(call), message_id)] = index
        unknown = [k for k in self.snapshot if k in emulator.bots_own and k not in known]
        calls = {sent_by.get(key, -1) for key in unknown}
        allowed = self.kills + self.lost_sends
        if len(calls) > allowed:
            texts = [(k, (self.snapshot[k].get("text") or "")[:30]) for k in unknown]
            return [f"{len(calls)} sends unknown to the ledger (allowed {allowed}): {texts}"]
        return []


def _chat_id(call: Any) -> int:
    try:
        return int(call.params.get("chat_id", 0))
    except (TypeError, ValueError):
        return 0


def _look(params: dict[str, Any], media: str | None) -> tuple[str, list[Any], str | None]:
    """What a message shows: text (or caption), its formatting, its picture."""
    text = params.get("text", params.get("caption")) or ""
    entities = params.get("entities", params.get("caption_entities")) or []
    return text, sorted(json.dumps(e, sort_keys=True) for e in entities), media


def _short(looks: list[Any]) -> str:
    """Messages, shortened for a report: (text, picture); None: not in the chat."""
    pairs = []
    for look in looks:
        if isinstance(look, tuple):
            pairs.append((look[0], look[2]))
        elif look is not None:
            pairs.append((look.get("text"), look.get("media")))
        else:
            pairs.append(("(deleted)", None))
    return str([(str(text or "")[:30], media) for text, media in pairs])


def profile() -> settings:
    return settings.get_profile("chaos" if os.environ.get(EXAMPLES_VAR) else "model")


def test_convergence_model(tmp_path: Path) -> None:
    started = time.monotonic()
    with shared_world(tmp_path) as world:
        run_state_machine_as_test(ConvergenceModel, settings=profile())
    seconds = time.monotonic() - started
    print(f"\nconvergence model: {world.examples} examples in {seconds:.1f} s; {world.tally}")


def model_run(examples: int, seed_value: int) -> list[str]:
    """The machine (``chaos`` profile) with ``examples`` sequences from ``seed_value``:
    what ``bench/chaos.py --only model`` reports."""
    started = time.monotonic()
    machine = seed(seed_value)(type("SeededConvergenceModel", (ConvergenceModel,), {}))
    verdict = "passed"
    chaos = settings(settings.get_profile("chaos"), max_examples=examples, database=None)
    with tempfile.TemporaryDirectory() as tmp, shared_world(Path(tmp)) as world:
        try:
            run_state_machine_as_test(machine, settings=chaos)
        except Exception as error:  # the failing sequence is in its notes
            notes = "\n".join(getattr(error, "__notes__", []))
            verdict = f"FAILED: {error}\n{notes}"
    seconds = time.monotonic() - started
    tally = ", ".join(f"{what} {count}" for what, count in sorted(world.tally.items()))
    return [
        f"convergence model (Hypothesis state machine, seed {seed_value}): "
        f"{world.examples:,} sequences of up to {chaos.stateful_step_count} steps run"
        f" ({examples:,} asked), {verdict} in {seconds:.0f} s",
        f"  they did: {tally}",
        "  invariants: each chat shows the notice as it is now (or the documented best copy),"
        " the urgent card alone pinned, every visible bot message known to the ledger but one"
        " per kill or lost answer, nobody else's message touched",
    ]


# --- what the machine found, kept as plain tests ------------------------------------------
GROUP = -1_006_000_000_001
PARAGRAPHS = "".join(f"<p>第{i}段：本周六上午停水，请提前储水，注意安全。</p>" for i in range(200))
LEAD = "<img src='https://img.example/lead.jpg'>"
SECOND = "<img src='https://img.example/second.jpg'>"
# One text message, longer than a card holds (a short notice would be its card alone).
DETAILS = "<p>停水期间请关好水龙头，如有疑问请联系居委会。</p>" * 14


async def settled(env: BotEnv) -> None:
    """Scans and sends, the clock past every backoff, until nothing is open."""
    for _ in range(20):
        env.scan()
        await env.send()
        rows = env.runtime.store.deliveries(GROUP)
        if not any(d.status in ("queued", "sending") for d in rows):
            return
        env.clock.advance(SETTLE_STEP)
    raise AssertionError("never settled")


def group_shows(emulator: Emulator) -> list[tuple[str, str | None]]:
    """The group's messages, oldest first: (text or caption, picture)."""
    return [(m.get("text") or "", m.get("media")) for m in emulator.shown(GROUP)]


def older_than_48_hours(env: BotEnv, emulator: Emulator) -> None:
    emulator.advance(49 * HOUR)
    env.clock.advance(49 * HOUR)


async def test_a_shorter_text_leaves_the_second_picture_not_a_text_saying_brackets(
    tmp_path: Path,
) -> None:
    """A full-text group had a notice with two pictures (the card's and one more) and a
    text of two messages. The correction shortened the text to one message; the
    picture's place (the third part) was held by the second text message, which the
    bot edited to the picture's caption as text: the group saw a message "[]" where
    the picture should be, and the picture never came. Wanted: card, text, picture."""
    with Emulator(limits=None) as emulator:
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.scan()
            env.subscribe(GROUP, type="supergroup", mode="full")
            env.write_article("n.md", body=f"{LEAD}<p>第1版。</p>{PARAGRAPHS}{SECOND}")
            await settled(env)
            assert len(emulator.shown(GROUP)) == 4  # card, two text parts, the picture
            env.write_article("n.md", body=f"{LEAD}<p>第2版。</p>{DETAILS}{SECOND}")
            await settled(env)
            shows = group_shows(emulator)
            assert ("[]", None) not in shows, shows
            assert [media for _, media in shows] == [
                "https://img.example/lead.jpg",
                None,
                "https://img.example/second.jpg",
            ], shows


async def test_published_again_an_album_picture_gets_no_brackets_caption(tmp_path: Path) -> None:
    """After 48 hours a withdrawal could only mark the full-text group's copy: the card
    and the text "此通知已撤回", the second picture's caption too. The file was written
    back: the picture was edited back to no caption, and the group saw it captioned
    "[]" (an empty caption, sent through python-telegram-bot with Defaults, goes out as
    "[]"). Wanted: the picture without a caption."""
    with Emulator(limits=None) as emulator:
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.write_standing()
            env.scan()
            env.subscribe(GROUP, type="supergroup", mode="full")
            path = env.write_article("n.md", body=f"{LEAD}<p>本周六停水。</p>{DETAILS}{SECOND}")
            content = path.read_text(encoding="utf-8")
            await settled(env)
            older_than_48_hours(env, emulator)
            path.unlink()
            await settled(env)
            assert all(WITHDRAWN_NOTE in text for text, _ in group_shows(emulator))
            path.write_text(content, encoding="utf-8")
            await settled(env)
            shows = group_shows(emulator)
            assert shows[-1] == ("", "https://img.example/second.jpg"), shows


@pytest.mark.parametrize("why", ["unsubscribed", "expired"])
async def test_published_again_a_copy_marked_withdrawn_shows_the_notice(
    tmp_path: Path, why: str
) -> None:
    """After 48 hours a withdrawal could only mark the group's card "此通知已撤回". Then
    the group unsubscribed (or the notice expired) and the file was written back: the
    card kept saying the notice was withdrawn, for good, since only the rows of
    subscribers and of notices not expired are queued when a notice comes back.
    Wanted (README: a chat that left keeps its copy corrected; published again, a
    marked copy is edited back): the card shows the notice again."""
    expires = datetime.fromtimestamp(time.time() + 6 * HOUR, UTC).isoformat()
    extra = f"expires: '{expires}'\n" if why == "expired" else ""
    with Emulator(limits=None) as emulator:
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.write_standing()
            env.scan()
            env.subscribe(GROUP, type="supergroup", mode="card")
            path = env.write_article("n.md", title="停水通知", extra=extra)
            content = path.read_text(encoding="utf-8")
            await settled(env)
            older_than_48_hours(env, emulator)
            path.unlink()
            await settled(env)
            assert WITHDRAWN_NOTE in group_shows(emulator)[0][0]
            if why == "unsubscribed":
                env.runtime.store.unsubscribe(GROUP)
            path.write_text(content, encoding="utf-8")
            await settled(env)
            (card,) = group_shows(emulator)
            assert WITHDRAWN_NOTE not in card[0], f"the card still says withdrawn: {card[0]!r}"
            assert card[0].startswith("停水通知")


@pytest.mark.parametrize("then", ["expired", "no longer urgent"])
async def test_a_pin_whose_answer_was_lost_is_undone_when_the_notice_stops_being_urgent(
    tmp_path: Path, then: str
) -> None:
    """An urgent notice's card was pinned in the group, but the answer to the pin was
    lost (a network cut; a kill just after the call does the same): the ledger says
    "not pinned". Before the pin was tried again, the notice expired (or a correction
    made it not urgent): the bot no longer wanted the pin, found nothing pinned in
    its record, and the card stayed pinned for good. Wanted: nothing pinned."""
    expires = datetime.fromtimestamp(time.time() + 6 * HOUR, UTC).isoformat()
    with Emulator(limits=None) as emulator:
        emulator.grant(GROUP, "can_pin_messages")
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.scan()
            env.subscribe(GROUP, type="supergroup", mode="card")
            emulator.fail(GROUP, "pinChatMessage", Fault.lost())
            env.write_article("n.md", extra=f"priority: urgent\nexpires: '{expires}'\n")
            env.scan()
            await env.send()
            assert emulator.pinned[GROUP]  # pinned, though the bot did not hear so
            if then == "expired":
                env.clock.advance(7 * HOUR)
                emulator.advance(7 * HOUR)
            else:
                env.write_article("n.md", extra=f"expires: '{expires}'\n")
            await settled(env)
            assert emulator.pinned[GROUP] == set(), "the card is still pinned"


async def test_an_unpin_whose_answer_was_lost_does_not_keep_an_urgent_card_unpinned(
    tmp_path: Path,
) -> None:
    """An urgent notice's card was pinned in the group. A correction made it not
    urgent; the unpin went through but its answer was lost (or the bot was killed just
    after it): the ledger still says "pinned". Before the unpin was tried again, a
    second correction made the notice urgent again: the bot took the card for pinned
    and the urgent notice stayed unpinned for good. Wanted: the card pinned."""
    with Emulator(limits=None) as emulator:
        emulator.grant(GROUP, "can_pin_messages")
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.scan()
            env.subscribe(GROUP, type="supergroup", mode="card")
            env.write_article("n.md", body="<p>第1版。</p>", extra="priority: urgent\n")
            await settled(env)
            (card,) = emulator.shown(GROUP)
            assert emulator.pinned[GROUP] == {card["message_id"]}
            emulator.fail(GROUP, "unpinChatMessage", Fault.lost())
            env.write_article("n.md", body="<p>第2版。</p>")
            env.scan()
            await env.send()
            assert emulator.pinned[GROUP] == set()  # unpinned, though the bot did not hear so
            env.write_article("n.md", body="<p>第3版。</p>", extra="priority: urgent\n")
            await settled(env)
            assert emulator.pinned[GROUP] == {card["message_id"]}, "the urgent card is not pinned"


async def test_published_again_a_marked_album_loses_its_withdrawn_caption(tmp_path: Path) -> None:
    """After 48 hours a withdrawal could only mark the full-text group's copy; the
    album's first picture got the caption "此通知已撤回". The file was written back:
    the card and the text were edited back, but the album, whose pictures had not
    changed, was recorded as restored without a call, and its first picture still
    said the notice was withdrawn. Wanted: the album without a caption."""
    album = "".join(f"<img src='https://img.example/{n}.jpg'>" for n in (1, 2))
    with Emulator(limits=None) as emulator:
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.write_standing()
            env.scan()
            env.subscribe(GROUP, type="supergroup", mode="full")
            path = env.write_article("n.md", body=f"{LEAD}<p>本周六停水。</p>{DETAILS}{album}")
            content = path.read_text(encoding="utf-8")
            await settled(env)
            older_than_48_hours(env, emulator)
            path.unlink()
            await settled(env)
            assert WITHDRAWN_NOTE in group_shows(emulator)[2][0]  # the album's first picture
            path.write_text(content, encoding="utf-8")
            await settled(env)
            shows = group_shows(emulator)
            assert not [text for text, _ in shows if WITHDRAWN_NOTE in text], shows
            assert shows[2:] == [
                ("", "https://img.example/1.jpg"),
                ("", "https://img.example/2.jpg"),
            ]


async def test_an_album_someone_cut_is_not_left_behind(tmp_path: Path) -> None:
    """A full-text group had a notice with an album of two pictures, and an admin deleted
    the album's first picture. A correction changed both pictures: editing the album
    picture by picture, the bot found the first gone and took the whole album for gone,
    so the second picture kept showing the old one. The notice was then withdrawn: that
    picture stayed for good, and the ledger no longer knew it. Wanted: no old picture
    after the correction, nothing of the notice after the withdrawal."""
    old = "".join(f"<img src='https://img.example/old{n}.jpg'>" for n in (1, 2))
    new = "".join(f"<img src='https://img.example/new{n}.jpg'>" for n in (1, 2))
    with Emulator(limits=None) as emulator:
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.write_standing()
            env.scan()
            env.subscribe(GROUP, type="supergroup", mode="full")
            path = env.write_article("n.md", body=f"{LEAD}<p>第1版。</p>{DETAILS}{old}")
            await settled(env)
            album = emulator.shown(GROUP)[2:]
            assert [m["media"] for m in album] == [
                f"https://img.example/old{n}.jpg" for n in (1, 2)
            ]
            emulator.user_deletes(GROUP, album[0]["message_id"])
            env.write_article("n.md", body=f"{LEAD}<p>第2版。</p>{DETAILS}{new}")
            await settled(env)
            shows = group_shows(emulator)
            assert not [media for _, media in shows if media and "old" in media], shows
            path.unlink()
            await settled(env)
            assert group_shows(emulator) == [], "left in the group after the withdrawal"


async def test_a_lead_picture_changed_back_after_a_lost_media_edit_is_changed_back(
    tmp_path: Path,
) -> None:
    """A channel (the bot may post, not delete) had a card with picture lead2. A
    correction made the lead picture lead1: editMessageMedia took effect, but its
    answer was lost (a kill just after the call does the same). Before the edit was
    tried again, a second correction made the lead lead2 again: the ledger still said
    the card shows lead2, so only the caption was edited, and the channel kept lead1
    for good. Wanted: lead2."""
    lead = "<img src='https://img.example/lead{}.jpg'>"
    with Emulator(limits=None) as emulator:
        emulator.channels.add(GROUP)
        emulator.grant(GROUP, "can_post_messages")  # not can_delete_messages
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.scan()
            env.subscribe(GROUP, type="channel", mode="card")
            env.write_article("n.md", body=f"{lead.format(2)}<p>第1版。</p>")
            await settled(env)
            assert [m for _, m in group_shows(emulator)] == ["https://img.example/lead2.jpg"]
            emulator.fail(GROUP, "editMessageMedia", Fault.lost())
            env.write_article("n.md", body=f"{lead.format(1)}<p>第2版。</p>")
            env.scan()
            await env.send()  # the edit took effect; the bot never heard
            assert [m for _, m in group_shows(emulator)] == ["https://img.example/lead1.jpg"]
            env.write_article("n.md", body=f"{lead.format(2)}<p>第3版。</p>")
            await settled(env)
            shows = group_shows(emulator)
            assert [m for _, m in shows] == ["https://img.example/lead2.jpg"], shows


async def test_an_album_changed_back_after_a_lost_picture_edit_is_changed_back(
    tmp_path: Path,
) -> None:
    """A full-text group had an album of two pictures. A correction changed both: the
    first picture's editMessageMedia took effect, but its answer was lost. A second
    correction brought the old pictures back: the ledger still said the first picture
    was the old one, so the bot skipped it, and the group kept the new one. Wanted:
    the old pictures."""
    old = "".join(f"<img src='https://img.example/old{n}.jpg'>" for n in (1, 2))
    new = "".join(f"<img src='https://img.example/new{n}.jpg'>" for n in (1, 2))
    with Emulator(limits=None) as emulator:
        async with running_bot(tmp_path, emulator, rate_limits=False) as env:
            env.scan()
            env.subscribe(GROUP, type="supergroup", mode="full")
            env.write_article("n.md", body=f"{LEAD}<p>第1版。</p>{DETAILS}{old}")
            await settled(env)
            emulator.fail(GROUP, "editMessageMedia", Fault.lost())
            env.write_article("n.md", body=f"{LEAD}<p>第2版。</p>{DETAILS}{new}")
            env.scan()
            await env.send()
            assert group_shows(emulator)[2][1] == "https://img.example/new1.jpg"
            env.write_article("n.md", body=f"{LEAD}<p>第3版。</p>{DETAILS}{old}")
            await settled(env)
            shows = group_shows(emulator)
            assert [m for _, m in shows[2:]] == [
                f"https://img.example/old{n}.jpg" for n in (1, 2)
            ], shows
