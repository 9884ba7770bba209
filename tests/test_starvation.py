"""One user's flood must not hold up anyone else's reply.

One resident (or a script) sends 300 plain messages and 300 commands at once in a
private chat, another the same in a group; meanwhile ten other residents each send
/help in their own private chat. Each of them must have their answer while the
flooders' own replies are still going out at their chats' pace (one a second in a
private chat): the flood is dropped over the flooder's budget, and what is let
through waits for its chat without holding one of the library's concurrency slots,
so nobody else's reply queues behind it. How long the answers took is printed, not
asserted (0.5 s on an idle machine, 3 s beside five other test workers on two
cores: most of it the bot reading the 1,200 updates that came before, in order, as
Telegram hands them over). (Both floods in one test: the flooders' own replies,
paced as Telegram paces a chat, take a few seconds to drain, once.)
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Update

from bot.chat.throttle import Admission, Budget
from bot.chat.update_order import OrderPerChat
from bot.i18n import t
from tests.botenv import LiveBot, callback_update, live_bot, member_update, message_update
from tests.emulator import Emulator
from tests.paths import SEED

PRIVATE_FLOODER = 7001
GROUP_FLOODER = 7002
GROUP = -1007001
OTHERS = tuple(range(7101, 7111))
WAIT = 10.0  # how long the test waits for the answers at most


@pytest.fixture
async def bot(tmp_path: Path, emulator: Emulator) -> AsyncIterator[LiveBot]:
    (tmp_path / "articles").mkdir()
    shutil.copy(SEED, tmp_path / "articles")
    async with live_bot(tmp_path, emulator) as live:
        live.runtime.scanner.scan()
        yield live


def _flood(count: int) -> list[dict]:
    """``count`` plain messages and ``count`` commands from each flooder, interleaved."""
    updates = []
    for i in range(count):
        command = ("/help", "/latest", "/start")[i % 3]
        for chat, user, kind in (
            (PRIVATE_FLOODER, PRIVATE_FLOODER, "private"),
            (GROUP, GROUP_FLOODER, "supergroup"),
        ):
            updates.append(message_update(chat, f"hello {i}", user_id=user, chat_type=kind))
            updates.append(message_update(chat, command, user_id=user, chat_type=kind))
    return updates


async def _answers(bot: LiveBot) -> tuple[dict[int, float], dict[int, float]]:
    """Half the flood, five /help, the other half, five more /help: when each other user
    asked, and when the answer went out (``inf``: none within ``WAIT``), as the
    emulator's clock records it."""
    flood = _flood(300)
    half = len(flood) // 2
    asked: dict[int, float] = {}
    for part, users in ((flood[:half], OTHERS[:5]), (flood[half:], OTHERS[5:])):
        for update in part:
            bot.emulator.push(update)
        for user in users:
            asked[user] = time.monotonic()  # the emulator's clock (Call.at)
            bot.emulator.push(message_update(user, "/help"))
    answered: dict[int, float] = {}
    deadline = time.monotonic() + WAIT
    while len(answered) < len(OTHERS) and time.monotonic() < deadline:
        for call in list(bot.emulator.calls):
            chat = call.params.get("chat_id")
            if call.ok and call.method == "sendMessage" and chat in asked:
                answered.setdefault(int(chat), call.at)
        await asyncio.sleep(0.02)
    return asked, {user: answered.get(user, float("inf")) for user in OTHERS}


def _texts(bot: LiveBot, chat_id: int) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in bot.emulator.calls
        if c.ok and c.method == "sendMessage" and c.params.get("chat_id") == chat_id
    ]


async def test_floods_in_a_private_chat_and_a_group_do_not_delay_other_users(
    bot: LiveBot,
) -> None:
    asked, answered = await _answers(bot)
    slowest = max(answered[user] - asked[user] for user in OTHERS)
    print(f"slowest other user's reply: {slowest:.2f} s")
    await bot.quiet(4.5)  # the flooders' own replies, one a second (private), 4 s (group)
    flooders = [
        c.at
        for c in bot.emulator.calls
        if c.ok
        and c.method == "sendMessage"
        and c.params.get("chat_id") in (PRIVATE_FLOODER, GROUP)
    ]
    assert all(at < max(flooders) for at in answered.values()), (answered, flooders)
    hint = t("free_text", "zh")
    private, group = _texts(bot, PRIVATE_FLOODER), _texts(bot, GROUP)
    assert private.count(hint) == 1  # however many plain messages arrive in a window
    assert len(private) <= 1 + 5 + 1, private  # the hint, five answers, "too many"
    assert len(group) <= 5 + 1, group  # no hints in groups


def _update(chat_id: int, user_id: int, text: str, update_id: int) -> Update:
    kind = "private" if chat_id > 0 else "supergroup"
    data = message_update(chat_id, text, user_id=user_id, chat_type=kind)
    return Update.de_json({"update_id": update_id, **data}, None)


async def test_waiting_for_a_chat_holds_no_slot_and_a_long_queue_sheds_its_own_plain_text() -> None:
    """Two slots: a busy chat's 30 updates (over its queue of 10) do not take the second
    one from another chat; what the busy chat sheds is its sender's oldest plain text,
    never another user's update; each user's updates run in the order they came, and
    another user's go next after the one running, not behind the flood."""
    processor = OrderPerChat(2, budget=Budget(updates=100, plain=100))
    release = asyncio.Event()
    ran: list[tuple[int, str]] = []

    async def handle(update: Update, wait: bool) -> None:
        if wait:
            await release.wait()
        assert update.message is not None
        ran.append((update.message.chat.id, str(update.message.text)))

    def process(update: Update, wait: bool = False) -> asyncio.Task:
        return asyncio.create_task(processor.process_update(update, handle(update, wait)))

    group, ids = -100200, iter(range(1, 1000))
    tasks = [process(_update(group, 1, "/latest", next(ids)), wait=True)]
    tasks += [process(_update(group, 1, f"text {i}", next(ids))) for i in range(5)]
    tasks += [process(_update(group, 1, f"/help {i}", next(ids))) for i in range(5)]
    tasks += [process(_update(group, 1, f"/start {i}", next(ids))) for i in range(20)]
    tasks.append(process(_update(group, 2, "/help from 2", next(ids))))  # another user
    await asyncio.sleep(0.05)
    assert processor.current_concurrent_updates == 1  # the waiting hold no slot
    await processor.process_update(
        _update(3, 3, "/help", next(ids)), handle(_update(3, 3, "/help", 0), False)
    )
    assert ran == [(3, "/help")]  # another chat ran at once
    release.set()
    await asyncio.gather(*tasks)
    texts = [text for chat, text in ran if chat == group]
    assert texts == [  # the other user next, after the one running; each user's in order
        "/latest",
        "/help from 2",
        *[f"/help {i}" for i in range(5)],
        *[f"/start {i}" for i in range(5)],
    ]
    assert processor.admission.dropped == 20  # five plain messages shed, fifteen commands
    assert processor._chats == {}


def test_every_kind_of_update_counts_against_the_budget() -> None:
    """Commands, button presses and edits share one budget a window; plain text gets
    through once a window (one hint); news of the bot's membership always gets through;
    admins are exempt; a quiet window restores the budget."""
    now = [0.0]
    admission = Admission(
        Budget(updates=6, window=10.0), exempt=frozenset({900}), clock=lambda: now[0]
    )

    def update(data: dict) -> Update:
        return Update.de_json({"update_id": 1, **data}, None)

    command = update(message_update(5, "/help"))
    edit = update(message_update(5, "/latest", kind="edited_message"))
    press = update(callback_update(5, 5, "set:x"))
    plain = update(message_update(5, "hello"))
    member = update(member_update(-77, "group", "member", "left"))  # from user 1
    assert [admission.admit(u) for u in (command, edit, press, plain, plain)] == [True] * 4 + [
        False
    ]
    assert admission.admit(command) is True  # the sixth
    assert [admission.admit(u) for u in (command, press, edit)] == [False] * 3
    assert all(admission.admit(update(message_update(900, "/help"))) for _ in range(50))
    assert all(admission.admit(member) for _ in range(50))
    now[0] = 20.0
    assert admission.admit(press) and admission.admit(plain)
