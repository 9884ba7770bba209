"""Confirmations in chat, end to end: what a press may record, who sees what of /acks,
asking again, the preview's choice, urgent notices, and the CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bot.cli import main
from bot.ledger import Chat
from tests import ledgers
from tests.botenv import ADMIN, LiveBot, live_bot, message_update, until
from tests.chaos import now_rfc
from tests.emulator import Emulator, Fault
from tests.in_process import command_state_kept

pytestmark = ledgers.each_backend

GROUP = -1_001_000_000_777


def _write(bot: LiveBot, name: str, title: str, extra: str = "ack: true\n") -> None:
    text = f"\n---\ntitle: '{title}'\ndate: {now_rfc()}\n{extra}---\n\n<p>{title}，请注意。</p>\n"
    (bot.articles / name).write_text(text, encoding="utf-8")


async def _card(bot: LiveBot, chat: int, title: str) -> tuple[int, dict]:
    """The notice's card in the chat, once sent: its id, and its first button."""

    def found() -> list[tuple[int, dict]]:
        return [
            (call.message_ids[0], call.params)
            for sent_to, call in bot.emulator.delivered()
            if sent_to == chat and title in str(call.params.get("text", ""))
        ]

    await until(found, f"the card of {title} in {chat}", timeout=15)
    message_id = found()[0][0]
    shown = bot.emulator.messages[(chat, message_id)]
    keyboard = (shown.get("reply_markup") or {}).get("inline_keyboard") or [[{}]]
    return message_id, keyboard[0][0]


async def _press(bot: LiveBot, chat: int, message_id: int, user: int, data: str) -> str:
    before = len(bot.emulator.answered)
    bot.emulator.press(chat, message_id, user, data)
    await until(lambda: len(bot.emulator.answered) > before, "the answer")
    return str(bot.emulator.answered[before].get("text"))


async def _reply(bot: LiveBot, chat: int, text: str, user: int = ADMIN) -> str:
    chat_type = "private" if chat > 0 else "supergroup"
    (said,) = await bot.say(message_update(chat, text, user_id=user, chat_type=chat_type))
    return said.params["text"]


async def test_what_a_press_records_and_who_sees_what(tmp_path: Path, emulator: Emulator) -> None:
    async with live_bot(tmp_path, emulator) as bot:
        store = bot.runtime.store
        await until(lambda: bot.runtime.scanned_at, "the first scan")  # the archive's baseline
        store.subscribe(Chat(GROUP, type="supergroup", title="5号楼"))
        other_group = -1_001_000_000_778  # gets only notices about 活动
        store.subscribe(Chat(other_group, type="supergroup", filters=("活动",)))
        _write(bot, "a.md", "停水通知")
        _write(bot, "plain.md", "社区活动", extra="")
        _write(bot, "old.md", "停电通知", extra="ack: true\nexpires: 2020-01-01\n")
        message_id, button = await _card(bot, GROUP, "停水通知")
        article_id = button["callback_data"].removeprefix("ack:")
        plain_id, plain_button = await _card(bot, GROUP, "社区活动")
        assert not plain_button.get("callback_data", "").startswith("ack:")

        # a press of data the card does not carry (Telegram does not check) on a notice
        # that does not ask, or that never reached this chat, records nothing
        assert await _press(bot, GROUP, plain_id, 8, "ack:nonexistent") == "这个按钮已失效。"
        plain_article = store.recent_articles(5)
        asks_not = next(r["id"] for r in plain_article if r["title"] == "社区活动")
        assert await _press(bot, GROUP, plain_id, 9, f"ack:{asks_not}") == "此通知无需确认。"
        elsewhere, _ = await _card(bot, other_group, "社区活动")
        forged = await _press(bot, other_group, elsewhere, 10, f"ack:{article_id}")
        assert forged == "这个按钮已失效。"  # the notice never reached that group
        expired_id = next(r["id"] for r in store.recent_articles(5) if r["title"] == "停电通知")
        assert await _press(bot, GROUP, message_id, 11, f"ack:{expired_id}") == (
            "此通知已过期，无需确认。"
        )
        assert store.ack_people(article_id) == [] and store.acks_total() == 0

        assert await _press(bot, GROUP, message_id, 7, f"ack:{article_id}") == "已确认收到，谢谢！"
        assert (await _press(bot, GROUP, message_id, 7, f"ack:{article_id}")).startswith("已确认 ")
        await until(
            lambda: store.deliveries(GROUP)[0].copy and _count(emulator, GROUP, message_id) == 1,
            "the count on the card",
        )

        # residents see no names; an admin sees counts in a group and names in private
        refused = await _reply(bot, GROUP, f"/acks {article_id}", user=7)
        assert refused.startswith("抱歉，此命令仅限社区工作人员"), refused
        in_group = await _reply(bot, GROUP, f"/acks {article_id}")
        assert "5号楼：1 人已确认" in in_group and "u（" not in in_group, in_group
        in_private = await _reply(bot, ADMIN, f"/acks {article_id}")
        assert "· u（5号楼" in in_private, in_private
        overview = await _reply(bot, ADMIN, "/acks")
        assert f"/acks {article_id}" in overview and "已确认 1 人" in overview, overview
        assert "社区活动" not in overview

        # asking again: the count starts from zero, on the card too
        renewed = await _reply(bot, ADMIN, f"/acks {article_id} 重新确认")
        assert "第 2 轮" in renewed, renewed
        await until(lambda: _count(emulator, GROUP, message_id) == 0, "the count reset")
        assert await _press(bot, GROUP, message_id, 7, f"ack:{article_id}") == "已确认收到，谢谢！"
        assert "用法" in await _reply(bot, ADMIN, f"/acks {article_id} please")
        assert emulator.too_many == 0 and emulator.not_modified_count() == 0


def _count(emulator: Emulator, chat: int, message_id: int) -> int:
    """The count the card's button shows (0: none)."""
    keyboard = emulator.messages[(chat, message_id)]["reply_markup"]["inline_keyboard"]
    text = keyboard[0][0]["text"]
    return int(text.split("·")[1]) if "·" in text else 0


@pytest.mark.parametrize("ask", [True, False])
async def test_the_preview_asks_whether_residents_confirm(
    tmp_path: Path, emulator: Emulator, ask: bool
) -> None:
    async with live_bot(tmp_path, emulator) as bot:
        bot.runtime.store.subscribe(Chat(601))
        start = bot.mark()
        emulator.push(message_update(ADMIN, "/announce 今晚停电\n请备好照明。"))
        await until(
            lambda: (
                len([c for c in emulator.calls[start:] if c.ok and "ask" in str(c.params)])
                or len(
                    [c for c in emulator.calls[start:] if c.ok and c.params.get("chat_id") == ADMIN]
                )
                >= 2
            ),
            "the question",
        )
        question = [c for c in emulator.calls[start:] if c.ok and c.params.get("chat_id") == ADMIN][
            -1
        ]
        keyboard = question.params["reply_markup"]["inline_keyboard"]
        yes, toggle = keyboard[0][0]["callback_data"], keyboard[1][0]["callback_data"]
        assert keyboard[1][0]["text"] == "需要确认：否"
        qid = question.message_ids[0]
        if ask:
            assert await _press(bot, ADMIN, qid, ADMIN, toggle) == "None"
            await until(
                lambda: (
                    emulator.messages[(ADMIN, qid)]["reply_markup"]["inline_keyboard"][1][0]["text"]
                    == "需要确认：是 ✅"
                ),
                "the choice shown",
            )
        await _press(bot, ADMIN, qid, ADMIN, yes)
        _, button = await _card(bot, 601, "今晚停电")
        assert button.get("text") == "✅ 收到" if ask else button.get("text") != "✅ 收到"
        files = list((tmp_path / "state" / "announcements").glob("*.md"))
        assert ("ack: true" in files[0].read_text(encoding="utf-8")) is ask


@pytest.mark.parametrize("ack_urgent", [True, False])
async def test_an_urgent_notice_asks_unless_told_not_to(
    tmp_path: Path, emulator: Emulator, ack_urgent: bool
) -> None:
    async with live_bot(tmp_path, emulator, ack_urgent=ack_urgent) as bot:
        await until(lambda: bot.runtime.scanned_at, "the first scan")
        bot.runtime.store.subscribe(Chat(701))
        _write(bot, "u.md", "紧急停水", extra="urgent: true\n")
        _, button = await _card(bot, 701, "紧急停水")
        assert (button.get("text") == "✅ 收到") is ack_urgent


def test_the_csv_keeps_a_name_that_looks_like_a_formula_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.ledger import ACTIVE, Store

    (tmp_path / "state").mkdir()
    db = ledgers.current(tmp_path)
    store = Store(db)
    store.save_article(
        {"id": "n1", "title": "T", "date": 1.0, "status": ACTIVE, "content_hash": "v1"}
    )
    store.save_version("n1", "v1", "{}")
    store.ask_to_confirm("n1")
    store.subscribe(Chat(5))
    store.record_ack("n1", 5, 5, '=HYPERLINK("http://x","点我")', "v1")
    store.record_ack("n1", 5, 6, "王小明", "v1")
    store.close()
    monkeypatch.setenv("NOTICEBOT_DB", str(db))
    with command_state_kept():
        assert main(["acks", "n1", "--csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\ufeffname,user_id,chat_id,chat,confirmed_at,round,version")
    rows = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("http://x","点我")', "王小明"]
    assert {r["version"] for r in rows} == {"1"} and {r["chat"] for r in rows} == {"private"}
    with command_state_kept():
        assert main(["acks", "nope"]) == 2
    assert "no notice 'nope'" in capsys.readouterr().err
    with command_state_kept():
        assert main(["acks"]) == 0
    assert "n1  T  round 1: confirmed by 2, reached 0 chats" in capsys.readouterr().out


async def test_a_press_waits_for_no_other_update_of_its_chat(
    tmp_path: Path, emulator: Emulator
) -> None:
    """A group's updates go one at a time; a press of ✅ 收到 only answers its presser,
    so it does not wait behind a reply Telegram is slow to take (or fifty members
    pressing at once would be answered after Telegram's 15 s)."""
    async with live_bot(tmp_path, emulator) as bot:
        await until(lambda: bot.runtime.scanned_at, "the first scan")
        bot.runtime.store.subscribe(Chat(GROUP, type="supergroup"))
        _write(bot, "a.md", "停水通知")
        message_id, button = await _card(bot, GROUP, "停水通知")
        emulator.fail(GROUP, "sendMessage", Fault.slow(3))
        emulator.push(message_update(GROUP, "/latest", user_id=41, chat_type="supergroup"))
        await until(
            lambda: any(
                c.method == "sendMessage" and "/read_" in str(c.params) for c in emulator.calls
            ),
            "the held reply",
        )
        held = next(c for c in emulator.calls if "/read_" in str(c.params))
        assert (
            await _press(bot, GROUP, message_id, 42, button["callback_data"])
            == "已确认收到，谢谢！"
        )
        answer = next(c for c in emulator.calls if c.method == "answerCallbackQuery")
        await until(lambda: held.answered_at, "the held reply's answer")
        assert answer.at < held.answered_at  # the press was answered while the reply was held


async def test_a_broadcast_of_a_notice_that_asks_says_so_in_its_question(
    tmp_path: Path, emulator: Emulator
) -> None:
    async with live_bot(tmp_path, emulator) as bot:
        await until(lambda: bot.runtime.scanned_at, "the first scan")
        bot.runtime.store.subscribe(Chat(801))
        _write(bot, "a.md", "停水通知")
        _, button = await _card(bot, 801, "停水通知")
        article_id = button["callback_data"].removeprefix("ack:")
        bot.runtime.store.subscribe(Chat(802))  # one chat still to have it
        start = bot.mark()
        emulator.push(message_update(ADMIN, f"/broadcast {article_id}"))
        await until(
            lambda: any("确定发送吗" in str(c.params) for c in emulator.calls[start:]),
            "the question",
        )
        question = next(c for c in emulator.calls[start:] if "确定发送吗" in str(c.params))
        keyboard = question.params["reply_markup"]["inline_keyboard"]
        assert keyboard[1][0]["text"] == "需要确认：是 ✅"
        toggle = keyboard[1][0]["callback_data"]
        answer = await _press(bot, ADMIN, question.message_ids[0], ADMIN, toggle)
        assert answer.startswith("这条通知已在征求确认"), answer
        assert not [c for c in emulator.calls[start:] if c.method == "editMessageReplyMarkup"]
