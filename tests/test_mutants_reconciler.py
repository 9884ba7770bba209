"""Corrections of an album's pictures, and what an upgraded group's pin becomes: the
reconciler's paths mutation testing (``make mutate``) found no test for. End to end,
as tests/test_converge.py drives the bot: a notice in full mode with an album, a
correction, the bot left to settle, and what the group shows."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from telegram import Update

from bot.formatting.formatter import removed_part, withdrawn_card
from bot.i18n import t
from tests import ledgers
from tests.botenv import running_bot
from tests.emulator import Emulator, Fault
from tests.test_converge import (
    GROUP,
    TITLE,
    A,
    album_items,
    delivered,
    older_than_48_hours,
    pictures,
    settle,
    shown,
    statuses,
    withdraw,
    write,
)

pytestmark = ledgers.each_backend

SUPER = -1_000_000_000_555


def _sends(emulator: Emulator, start: int) -> list[str]:
    return [c.method for c in emulator.calls[start:] if c.method.startswith("send")]


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "album edit refused" in r.getMessage()]


def _item_edits(emulator: Emulator, start: int) -> list[str]:
    """The pictures the bot asked album items to show since ``start``, in order."""
    return [
        c.params["media"]["media"] for c in emulator.calls[start:] if c.method == "editMessageMedia"
    ]


async def test_an_albums_changed_pictures_are_edited_alone_and_remembered(
    tmp_path: Path, free: Emulator
) -> None:
    """Only the picture that changed is edited; the next correction starts from what
    the album shows now, so it too edits only its own change."""
    async with delivered(tmp_path, free, A + pictures(0, 1, 2)) as env:
        mark = len(free.calls)
        write(env, A + pictures(0, 1, 5))
        env.scan()
        await settle(env)
        assert _item_edits(free, mark) == ["https://img.example/5.jpg"]
        mark = len(free.calls)
        write(env, A + pictures(0, 6, 5))
        env.scan()
        await settle(env)
        assert _item_edits(free, mark) == ["https://img.example/6.jpg"]
        assert _sends(free, mark) == []  # edited in place, not sent again
        assert album_items(free, GROUP) == [
            "https://img.example/6.jpg",
            "https://img.example/5.jpg",
        ]
        assert statuses(env, GROUP) == ["sent"]


async def test_a_picture_someone_deleted_is_not_left_missing(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A member's admin deleted one picture of the album; a correction then changed it.
    Its edit finds no message: the album is sent again whole, the rest of the old
    one removed."""
    async with delivered(tmp_path, free, A + pictures(0, 1, 2)) as env:
        first = next(m for m in shown(free, GROUP) if m.get("media") == "https://img.example/1.jpg")
        free.user_deletes(GROUP, first["message_id"])
        mark = len(free.calls)
        write(env, A + pictures(0, 3, 2))
        env.scan()
        await settle(env)
        deleted = [c.params["message_id"] for c in free.calls[mark:] if c.method == "deleteMessage"]
        assert first["message_id"] not in deleted  # known gone: not deleted again
        assert _refusals(caplog) == []
        assert album_items(free, GROUP) == [
            "https://img.example/3.jpg",
            "https://img.example/2.jpg",
        ]
        assert statuses(env, GROUP) == ["sent"]


async def test_a_refused_picture_edit_replaces_the_album_and_says_why(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    refusal = "Bad Request: wrong file identifier/HTTP URL specified"
    async with delivered(tmp_path, free, A + pictures(0, 1, 2)) as env:
        free.fail(GROUP, "editMessageMedia", Fault(400, refusal))
        write(env, A + pictures(0, 3, 4))
        env.scan()
        await settle(env)
        assert album_items(free, GROUP) == [
            "https://img.example/3.jpg",
            "https://img.example/4.jpg",
        ]
        assert statuses(env, GROUP) == ["sent"]
    said = _refusals(caplog)
    assert len(said) == 1 and said[0].startswith(f"chat {GROUP}: album edit refused (")
    assert said[0].endswith("; replaced") and "Wrong file identifier" in said[0]


async def test_an_item_telegram_calls_unchanged_does_not_stop_the_others(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """ "Message is not modified" for one picture (it shows the new one already: an
    answer lost before) and the next picture is still edited."""
    async with delivered(tmp_path, free, A + pictures(0, 1, 2)) as env:
        unchanged = Fault(
            400,
            "Bad Request: message is not modified: specified new message"
            " content and reply markup are exactly the same",
        )
        free.fail(GROUP, "editMessageMedia", unchanged)
        mark = len(free.calls)
        write(env, A + pictures(0, 3, 4))
        env.scan()
        await settle(env)
        assert _sends(free, mark) == [] and _refusals(caplog) == []  # nothing replaced
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
        assert album_items(free, GROUP)[1] == "https://img.example/4.jpg"
        assert statuses(env, GROUP) == ["sent"]


async def test_a_card_pinned_before_its_group_became_a_supergroup_is_not_unpinned(
    tmp_path: Path, free: Emulator
) -> None:
    """An urgent card was pinned in a group that then became a supergroup; a correction
    makes the notice ordinary. The pinned card stays in the old group, where Telegram
    refuses every change: the bot asks nothing there, and records the copy unpinned."""
    free.grant(GROUP, "can_pin_messages")
    async with delivered(tmp_path, free, A, mode="card", extra="priority: urgent\n") as env:
        assert free.pinned[GROUP]
        free.upgrade_group(GROUP, SUPER)
        said = {"message_id": 99, "date": 0, "chat": {"id": GROUP, "type": "group"}}
        upgraded = {"update_id": 1, "message": {**said, "migrate_to_chat_id": SUPER}}
        await env.app.process_update(Update.de_json(upgraded, env.app.bot))
        mark = len(free.calls)
        write(env, A.replace("周六", "周日"))
        env.scan()
        await settle(env)
        assert [c.method for c in free.calls[mark:] if "pin" in c.method.lower()] == []
        assert not any(d.pinned for d in env.runtime.store.deliveries(SUPER))


HELD = -1_000_000_000_804


async def test_the_admins_are_told_of_a_held_chat_by_name_in_their_language(
    tmp_path: Path, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Each admin in the language of their chat with the bot, the chat by its title,
    Telegram's reason in words (not TOPIC_CLOSED); an admin who blocked the bot is
    logged, the others told."""
    caplog.set_level(logging.WARNING)
    admins = frozenset({900, 901, 902})
    async with running_bot(tmp_path, emulator, admins=admins) as env:
        env.scan()
        env.subscribe(901, language="en")  # an admin who chose English, then unsubscribed
        env.runtime.store.unsubscribe(901)
        env.subscribe(HELD, type="supergroup", title="三号楼业主群", thread_id=7)
        emulator.close_topic(HELD, 7)
        emulator.fail(902, "sendMessage", Fault.blocked())
        env.write_article("a.md", title="停水通知")
        env.scan()
        await env.send()
        (held,) = [f for f in env.runtime.store.status()["last_failures"] if f["chat_id"] == HELD]
    # a hold is no failed attempt: its row waits with the reason, its attempts at 0
    assert held["attempts"] == 0 and "topic_closed" in held["last_error"].lower()
    assert f"chat {HELD} is held: Topic_closed" in [r.getMessage() for r in caplog.records]
    told = {
        c.params["chat_id"]: c.params["text"]
        for c in emulator.calls
        if c.ok and c.params.get("chat_id") in admins
    }
    assert told[900] == t("chat_held", "zh", chat="三号楼业主群", reason="该话题已关闭")
    assert told[901] == t("chat_held", "en", chat="三号楼业主群", reason="the topic is closed")
    assert 902 not in told
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("admin 902")]
    assert len(said) == 1 and said[0].startswith("admin 902 not told (held chat): ")


async def test_a_chat_held_again_after_it_recovered_is_told_again(
    tmp_path: Path, emulator: Emulator
) -> None:
    """Told once per hold, not once ever: the notice that gets through clears it."""
    async with running_bot(tmp_path, emulator, admins=frozenset({900})) as env:
        env.scan()
        env.subscribe(HELD, type="supergroup", title="三号楼业主群", thread_id=7)
        for n, closed in ((1, True), (2, False), (3, True)):
            emulator.close_topic(HELD, 7, closed=closed)
            env.write_article(f"{n}.md", title=f"第{n}号通知")
            env.scan()
            env.clock.advance(7200)  # past any hold's retry
            await env.send()
        told = [c for c in emulator.calls if c.ok and c.params.get("chat_id") == 900]
        assert len(told) == 2, [c.params["text"] for c in told]


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_what_can_no_longer_be_deleted_says_why_in_the_chats_language(
    tmp_path: Path, free: Emulator, lang: str
) -> None:
    """Past 48 hours a copy can only be edited: a correction that drops the text part
    leaves "removed by a correction" there; a withdrawal leaves the card's title struck
    through with "withdrawn", and the other parts "withdrawn", in the chat's language."""
    async with running_bot(tmp_path, free, rate_limits=False) as env:
        env.write_standing()  # the folder keeps a file: a withdrawal is not held
        env.scan()
        env.subscribe(GROUP, type="group", mode="full", language=lang)
        write(env, A)
        env.scan()
        await env.send()
        older_than_48_hours(env, free)
        write(env, "<p>本周六上午停水。</p>")  # short now: the card holds it all
        env.scan()
        await settle(env)
        _card, dropped = shown(free, GROUP)
        assert dropped["text"] == removed_part(lang).params["text"]
        withdraw(env)
        env.scan()
        await settle(env)
        assert [m["text"] for m in shown(free, GROUP)] == [
            withdrawn_card(TITLE, lang).params["text"],
            removed_part(lang, withdrawn=True).params["text"],
        ]


async def test_an_edit_telegram_refuses_is_replaced_and_said_so(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A correction's edit refused for a reason of Telegram's own: the part is sent
    anew (and the old one removed), and the log says which chat and why."""
    caplog.set_level(logging.WARNING)
    async with delivered(tmp_path, free, A, mode="card") as env:
        free.fail(GROUP, "editMessageText", Fault(400, "Bad Request: wrong parameter in request"))
        write(env, A.replace("周六", "周日"))
        env.scan()
        await settle(env)
        (card,) = shown(free, GROUP)
        assert "周日" in card["text"] and statuses(env, GROUP) == ["sent"]
    said = [r.getMessage() for r in caplog.records if "edit refused" in r.getMessage()]
    assert said == [f"chat {GROUP}: edit refused (Wrong parameter in request); replaced"]


async def test_a_part_someone_deleted_first_is_no_trouble_to_a_withdrawal(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Someone deleted the text part; the withdrawal's delete of it finds nothing, which
    is what it wanted: the rest goes, nothing is marked, nothing logged as an error."""
    caplog.set_level(logging.WARNING)
    async with delivered(tmp_path, free, A) as env:
        _card, text = shown(free, GROUP)
        free.user_deletes(GROUP, text["message_id"])
        withdraw(env)
        env.scan()
        await settle(env)
        assert shown(free, GROUP) == [] and statuses(env, GROUP) == ["retracted"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_part_the_bot_may_not_delete_is_marked_withdrawn(
    tmp_path: Path, free: Emulator
) -> None:
    async with delivered(tmp_path, free, A, mode="card") as env:
        rights = Fault(400, "Bad Request: not enough rights to delete a message")
        free.fail(GROUP, "deleteMessage", rights)
        withdraw(env)
        env.scan()
        await settle(env)
        (card,) = shown(free, GROUP)
        assert card["text"] == withdrawn_card(TITLE, "zh").params["text"]
        assert statuses(env, GROUP) == ["retracted"]


async def test_an_edit_telegram_calls_unchanged_is_done_not_replaced(
    tmp_path: Path, free: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """ "Message is not modified" (the edit went through before, its answer lost): the
    copy is current; nothing is sent again, nothing logged."""
    caplog.set_level(logging.WARNING)
    async with delivered(tmp_path, free, A, mode="card") as env:
        unchanged = Fault(400, "Bad Request: message is not modified")
        free.fail(GROUP, "editMessageText", unchanged)
        mark = len(free.calls)
        write(env, A.replace("周六", "周日"))
        env.scan()
        await settle(env)
        assert _sends(free, mark) == [] and statuses(env, GROUP) == ["sent"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
