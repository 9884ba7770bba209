"""Confirmations end to end: real python-telegram-bot polling the emulator (with
Telegram's flood limits), a real SQLite ledger, real article files.

Three groups of 50 members and 20 private subscribers get a notice that asks to be
confirmed; members press (some twice, some after a correction, some on a notice
withdrawn meanwhile); the counts on the buttons, in /acks, in the CSV and on /metrics
agree with the presses; the button edits keep each group's pace; the reminder reaches
exactly the private subscribers who had not confirmed, once.
"""

from __future__ import annotations

import csv
import io
import re
import signal
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from bot.cli import main
from bot.formatting.acks import ACK_DATA
from bot.ledger import Chat, Store
from tests import ledgers
from tests.botenv import ADMIN, LiveBot, live_bot, message_update, until
from tests.chaos import now_rfc, prepare_ledger, start_bot, wait_for
from tests.emulator import Emulator, Fault
from tests.in_process import command_state_kept
from tests.process import free_port

pytestmark = ledgers.each_backend

GROUPS = (-1_001_000_000_001, -1_001_000_000_002, -1_001_000_000_003)
PRIVATE = tuple(range(301, 321))
MEMBERS = 50
BEFORE = 40  # members of each group who press before the correction; the rest after
TWICE = 10  # of those, the first ones press twice
PRIVATE_CONFIRMING = PRIVATE[:12]  # the rest are reminded
# ack_by at first: no machine gets there, so the reminder waits for what it must follow;
# a correction then says ack_by: now (due at once), when the ledger has all of that.
FAR = "1h"
TICK = 1.0  # the clock's confirmation work (3 s in the bot): counts and reminders sooner


def _notice(title: str, body: str, extra: str = "", date: str | None = None) -> str:
    """A notice that asks to be confirmed; ``date``: a correction keeps the first's."""
    return (
        f"\n---\ntitle: '{title}'\ndate: {date or now_rfc()}\nack: true\n{extra}---\n\n"
        f"<p>{body}</p>\n"
    )


def _confirmed(store: Store, article_id: str) -> dict[int, int]:
    """Per chat the ledger records the notice as shown in: its confirmations this round
    (what a reminder made now would go by)."""
    return {row["id"]: row["confirmed"] for row in store.ack_chats(article_id) if row["reached"]}


def _member(group: int, n: int) -> int:
    return 10_000 * GROUPS.index(group) + 10_000 + n


def _card(emulator: Emulator, chat: int, title: str) -> int:
    """The message id of the notice's card in the chat."""
    for sent_to, call in emulator.delivered():
        if sent_to == chat and call.ok and title in str(call.params.get("text", "")):
            return call.message_ids[0]
    raise AssertionError(f"no card of {title} in {chat}")


def _button(emulator: Emulator, chat: int, message_id: int) -> str:
    markup = emulator.messages[(chat, message_id)].get("reply_markup") or {}
    keyboard = markup.get("inline_keyboard") or [[]]
    return keyboard[0][0]["text"] if keyboard[0] else ""


def _answers(emulator: Emulator) -> Counter[str]:
    return Counter(str(a.get("text")) for a in emulator.answered)


async def _press_all(bot: LiveBot, presses: list[tuple[int, int, int, str]]) -> None:
    before = len(bot.emulator.answered)
    for chat, message_id, user, data in presses:
        bot.emulator.press(chat, message_id, user, data, first_name=f"居民{user}")
    await until(
        lambda: len(bot.emulator.answered) >= before + len(presses),
        "answers to every press",
        timeout=30,
    )


async def test_three_groups_and_twenty_subscribers_confirm(
    tmp_path: Path,
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.app.ACKS_EVERY", TICK)
    port = free_port()
    async with live_bot(tmp_path, emulator, metrics_listen=("127.0.0.1", port)) as bot:
        store = bot.runtime.store
        await until(lambda: bot.runtime.scanned_at, "the first scan")  # the archive's baseline
        for group in GROUPS:
            store.subscribe(Chat(group, type="supergroup", title=f"{group % 10}号楼"))
        for chat in PRIVATE:
            store.subscribe(Chat(chat))
        notice = bot.articles / "test.md"
        date = now_rfc()
        notice.write_text(
            _notice("核酸检测通知", "明早8点5号楼全员核酸。", f"ack_by: {FAR}\n", date),
            encoding="utf-8",
        )
        other = bot.articles / "water.md"
        other.write_text(_notice("停水通知", "周六停水。"), encoding="utf-8")
        chats = (*GROUPS, *PRIVATE)
        await until(
            lambda: all(
                any(
                    c == chat and "停水通知" in str(call.params) for c, call in emulator.delivered()
                )
                for chat in chats
            ),
            "both notices in every chat",
            timeout=30,
        )
        article_id = store.recent_articles(5)[1]["id"]
        water_id = store.recent_articles(5)[0]["id"]
        assert {store.article(article_id)["title"], store.article(water_id)["title"]} == {
            "核酸检测通知",
            "停水通知",
        }
        if store.article(article_id)["title"] != "核酸检测通知":
            article_id, water_id = water_id, article_id
        cards = {chat: _card(emulator, chat, "核酸检测通知") for chat in chats}
        assert {_button(emulator, chat, cards[chat]) for chat in chats} == {"✅ 收到"}
        data = f"ack:{article_id}"

        # before the correction: 40 members of each group, 12 private subscribers; then
        # 10 of those members and 4 of those subscribers press again
        first = [(g, cards[g], _member(g, n), data) for g in GROUPS for n in range(BEFORE)]
        await _press_all(bot, first + [(c, cards[c], c, data) for c in PRIVATE_CONFIRMING])
        again = [(g, cards[g], _member(g, n), data) for g in GROUPS for n in range(TWICE)]
        await _press_all(bot, again + [(c, cards[c], c, data) for c in PRIVATE[:4]])
        await until(
            lambda: all(_button(emulator, g, cards[g]) == f"✅ 收到 · {BEFORE}" for g in GROUPS),
            "the count on each group's card",
            timeout=20,
        )
        answers = _answers(emulator)
        assert answers["已确认收到，谢谢！"] == 3 * BEFORE + len(PRIVATE_CONFIRMING)
        assert sum(n for text, n in answers.items() if text.startswith("已确认 ")) == 3 * TWICE + 4
        pressed = {c: int(c in PRIVATE_CONFIRMING) for c in PRIVATE}
        await until(
            lambda: _confirmed(store, article_id) == {**{g: BEFORE for g in GROUPS}, **pressed},
            "every copy and every first press in the ledger",
            timeout=30,
        )

        # a correction: confirmations kept, the rest press the corrected card; it moves
        # the reminder to now, so it goes out after the presses above, during those below
        notice.write_text(
            _notice("核酸检测通知", "改为明早9点5号楼全员核酸。", f"ack_by: {now_rfc()}\n", date),
            encoding="utf-8",
        )
        await until(
            lambda: all("9点" in str(emulator.messages[(c, cards[c])].get("text")) for c in chats),
            "the correction in every chat",
            timeout=30,
        )
        assert all(_button(emulator, g, cards[g]) == f"✅ 收到 · {BEFORE}" for g in GROUPS)
        await _press_all(
            bot,
            [(g, cards[g], _member(g, n), data) for g in GROUPS for n in range(BEFORE, MEMBERS)],
        )

        # a withdrawn notice: a press on it is answered so and counts nothing
        other.unlink()
        water = f"ack:{water_id}"
        await until(lambda: store.published(water_id) is None, "the withdrawal")
        await _press_all(
            bot, [(GROUPS[0], cards[GROUPS[0]], 1, water), (320, cards[320], 320, water)]
        )
        assert _answers(emulator)["此通知已撤回，无需确认。"] == 2

        await until(
            lambda: all(_button(emulator, g, cards[g]) == f"✅ 收到 · {MEMBERS}" for g in GROUPS),
            "every member counted on each card",
            timeout=20,
        )

        # the reminder: the 8 private subscribers who did not confirm, and each group
        reminded = PRIVATE[len(PRIVATE_CONFIRMING) :]

        def reminders() -> Counter[int]:
            return Counter(
                chat
                for chat, call in emulator.delivered()
                if str(call.params.get("text", "")).startswith("请确认已阅读")
            )

        await until(
            lambda: sum(reminders().values()) >= len(reminded) + len(GROUPS),
            "the reminders",
            timeout=30,
        )
        await bot.quiet(TICK + 0.5)  # one more round of the clock's work: nothing more
        assert reminders() == Counter({chat: 1 for chat in (*reminded, *GROUPS)})
        for group in GROUPS:
            (line,) = [
                call.params["text"]
                for chat, call in emulator.delivered()
                if chat == group and call.params.get("text", "").startswith("请确认已阅读")
            ]
            so_far = int(re.search(r"已有 (\d+) 人确认", line).group(1))  # when it went out
            assert BEFORE <= so_far <= MEMBERS, line

        # the admin's view, in private: the same counts, and names
        start = bot.mark()
        emulator.push(message_update(ADMIN, f"/acks {article_id}"))
        (listing,) = await bot.wait_calls(start, 1)
        text = listing.params["text"]
        confirmed = 3 * MEMBERS + len(PRIVATE_CONFIRMING)
        assert f"{confirmed} 人已确认" in text, text
        assert f"私聊订阅：{len(PRIVATE_CONFIRMING)}/{len(PRIVATE)} 已确认" in text, text
        for group in GROUPS:
            assert f"{group % 10}号楼：{MEMBERS} 人已确认" in text, text
        assert "居民" in text  # names, in the admin's private chat
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        start = bot.mark()
        emulator.push(message_update(ADMIN, "/stats"))
        (stats,) = await bot.wait_calls(start, 1)
        assert "确认提醒1" in stats.params["text"], stats.params["text"]  # the reminder's row

    assert f'noticebot_ack_confirmed{{notice="{article_id}"}} {confirmed}.0' in metrics
    assert f'noticebot_ack_reached{{notice="{article_id}"}} {len(chats)}.0' in metrics
    assert f"noticebot_acks_total {confirmed}.0" in metrics
    with command_state_kept():
        assert main(["acks", article_id, "--csv", "--db", str(ledgers.current(tmp_path))]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert len(rows) == confirmed
    assert Counter(row["chat_id"] for row in rows) == Counter(
        {**{str(g): MEMBERS for g in GROUPS}, **{str(c): 1 for c in PRIVATE_CONFIRMING}}
    )
    versions = Counter(row["version"] for row in rows)
    assert versions == {"1": 3 * BEFORE + len(PRIVATE_CONFIRMING), "2": 3 * (MEMBERS - BEFORE)}
    assert {row["name"] for row in rows if row["user_id"] == "301"} == {"居民301"}
    # every edit of a count kept each group's pace, and changed something
    assert emulator.too_many == 0
    assert emulator.not_modified_count() == 0
    edits = Counter(
        int(call.params["chat_id"])
        for call in emulator.calls
        if call.ok and call.method.startswith("editMessage")
    )
    assert all(edits[g] <= 12 for g in GROUPS), edits  # batched: not one edit a press
    assert not re.search(r"收到 · \d+", str([emulator.messages[(c, cards[c])] for c in PRIVATE]))


def test_a_kill_between_a_reminders_send_and_its_record_repeats_at_most_that_one(
    tmp_path: Path,
) -> None:
    """The bot is killed while Telegram holds the answer to one reminder: after the restart
    every subscriber who had not confirmed has the reminder, those who had have none, and
    only the reminder whose answer was lost may come twice (Telegram has no way to ask
    whether a message went out)."""
    chats = list(range(1, 11))
    confirming, cut = chats[:4], 5
    prepare_ledger(tmp_path, [Chat(chat) for chat in chats])
    notice, date = tmp_path / "articles" / "n.md", now_rfc()
    notice.write_text(_notice("停水通知", "周六停水。", f"ack_by: {FAR}\n", date), encoding="utf-8")
    log = tmp_path / "bot.log"
    store = Store(ledgers.current(tmp_path))  # the test's look at the bot's ledger
    with Emulator() as emulator:
        process = start_bot(tmp_path, emulator, log)
        try:
            wait_for(lambda: len(emulator.delivered()) >= len(chats), 30, "the notice")
            for chat in confirming:
                (card,) = [c for to, c in emulator.delivered() if to == chat]
                data = card.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
                emulator.press(chat, card.message_ids[0], chat, data)
            wait_for(lambda: len(emulator.answered) == len(confirming), 30, "the answers")
            article_id = data.removeprefix(ACK_DATA)
            pressed = {chat: int(chat in confirming) for chat in chats}
            wait_for(
                lambda: _confirmed(store, article_id) == pressed,
                30,
                "every copy and every press in the ledger",
            )
            emulator.fail(cut, "sendMessage", Fault.slow(30))  # the reminder's answer, held
            # the reminder due now, with the fault in place: a correction's ack_by moves it
            notice.write_text(
                _notice("停水通知", "周六停水。", f"ack_by: {now_rfc()}\n", date), encoding="utf-8"
            )

            def reminded(chat: int) -> int:
                return sum(
                    1
                    for c in emulator.calls
                    if c.method == "sendMessage"
                    and c.params.get("chat_id") == chat
                    and str(c.params.get("text", "")).startswith("请确认已阅读")
                )

            wait_for(lambda: reminded(cut) == 1, 30, "the reminder on its way")
            process.send_signal(signal.SIGKILL)
            process.wait()
            process = start_bot(tmp_path, emulator, log)
            unconfirmed = [chat for chat in chats if chat not in confirming]
            wait_for(lambda: all(reminded(c) >= 1 for c in unconfirmed), 30, "every reminder")
            time.sleep(4)  # a round of the clock's work after the last: nothing more
        finally:
            store.close()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert [reminded(chat) for chat in confirming] == [0] * len(confirming)
    assert [reminded(chat) for chat in unconfirmed if chat != cut] == [1] * 5
    assert reminded(cut) in (1, 2)  # the one whose answer the kill lost: once or twice
    assert emulator.too_many == 0
