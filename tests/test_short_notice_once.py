"""A short notice whose card already holds its whole text comes once, as the card, to
a reader of ``/read`` (in a chat of any mode); a subscriber in full mode gets card and
text of a notice the card cannot hold.

End to end: real python-telegram-bot against the emulator, a real SQLite ledger,
real article files.
"""

from __future__ import annotations

from pathlib import Path

from bot.ledger import Chat
from tests import ledgers
from tests.botenv import live_bot, message_update, running_bot
from tests.emulator import Emulator

pytestmark = ledgers.each_backend

GROUP = -555
MORE = "<p>本周六上午五号楼停水，请提前储水。</p>" * 40


def _sends(emulator: Emulator, chat_id: int) -> list[str]:
    return [
        c.params.get("text") or c.params.get("caption") or ""
        for c in emulator.calls
        if c.method.startswith("send") and c.ok and c.params.get("chat_id") == chat_id
    ]


async def test_a_full_mode_subscriber_gets_card_and_text_of_a_long_notice(
    tmp_path: Path, free: Emulator
) -> None:
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.write_standing()
        env.scan()
        env.subscribe(GROUP, type="group", mode="full")
        env.write_article("n.md", title="停水通知", body=MORE)
        env.scan()
        await env.send()
        sent = _sends(free, GROUP)
        assert len(sent) == 2, sent
        assert "本周六上午五号楼停水" in sent[0]


async def test_read_in_a_full_mode_chat_sends_a_short_notice_once(
    tmp_path: Path, emulator: Emulator
) -> None:
    (tmp_path / "articles").mkdir()  # written before the bot watches: no half-written read
    (tmp_path / "articles" / "n.md").write_text(
        "---\ntitle: 停水通知\ndate: 2022-02-01 09:00:00\nid: water\n---\n\n"
        "本周六上午五号楼停水，请提前储水。\n",
        encoding="utf-8",
    )
    async with live_bot(tmp_path, emulator) as bot:
        bot.runtime.scanner.scan()  # too old to be pushed: only /read sends it
        bot.runtime.store.subscribe(Chat(61, mode="full"))
        (card,) = await bot.say(message_update(61, "/read_water"))
        assert "本周六上午五号楼停水" in card.params["text"]
        assert "reply_markup" not in card.params  # no read button: nothing more to read
        assert await bot.quiet() == []  # and not the same text again
