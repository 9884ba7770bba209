"""A broadcast queues a notice for chats that lack it; it does not change the version a
copy already on its way keeps (NOTICEBOT_EDITS=off: a copy keeps the version it
started with).

End to end: real python-telegram-bot against the emulator, a real SQLite ledger,
real article files.
"""

from __future__ import annotations

from pathlib import Path

from tests import ledgers
from tests.botenv import running_bot
from tests.emulator import Emulator, Fault
from tests.test_converge import (
    GROUP,
    LEAD,
    A,
    B,
    broadcast,
    cards,
    full_texts,
    settle,
    shown,
    statuses,
    texts,
    words,
    write,
)

pytestmark = ledgers.each_backend


async def test_edits_off_a_broadcast_leaves_a_half_sent_copy_at_its_version(
    tmp_path: Path, free: Emulator
) -> None:
    """Edits off. The notice's card reached the group, its text got a 502 (queued to
    retry). A correction came (edits off: the copy keeps its version), then an admin
    broadcast the notice. Wanted: the group's copy is finished in the version it
    started with: the card is not edited, the text is the first version's."""
    async with running_bot(tmp_path, free, rate_limits=False, edits=False) as env:
        env.write_standing()
        env.scan()
        env.subscribe(GROUP, type="group", mode="full")
        free.fail(GROUP, "sendMessage", Fault.bad_gateway())
        write(env, LEAD + A, "abbrlink: water-1\n")
        env.scan()
        await env.send()
        assert len(shown(free, GROUP)) == 1 and statuses(env, GROUP) == ["queued"]
        write(env, LEAD + B, "abbrlink: water-1\n")  # a correction
        env.scan()
        broadcast(env, "water_1")
        await settle(env)
        (card,) = cards(free, GROUP)
        assert "本周六上午停水" in words(card), f"the card was edited: {words(card)!r}"
        (text,) = full_texts(free, GROUP)
        assert "本周六上午停水" in words(text), f"the text: {texts(free, GROUP)}"
        assert not [e for e in free.calls if e.method.startswith("edit")]
