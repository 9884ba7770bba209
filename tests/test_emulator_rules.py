"""The emulator itself, over raw HTTP: it must be at least as strict as Telegram
(``../shared/telegram-rules.md``), or the bot's tests prove nothing."""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulator import UPGRADED, Emulator, Fault, Limits

TOKEN = "123:rules"
GROUP = -42  # a basic group
SUPER = -1001234  # a supergroup
OTHER_SUPER = -1005678
PHOTO = "https://example.com/a.jpg"
GIF = "https://example.com/a.gif"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(limits=None) as emulator:
        yield emulator


CLIENT = httpx.Client(timeout=5)  # one pool for the module: a new client a call is slow


def call(emulator: Emulator, method: str, **params: Any) -> dict[str, Any]:
    """One request as the bot makes it; the JSON answer, errors included."""
    answer = CLIENT.post(f"{emulator.url}/bot{TOKEN}/{method}", json=params)
    return answer.json()


def send(emulator: Emulator, chat_id: int, text: str = "hi", **params: Any) -> int:
    answer = call(emulator, "sendMessage", chat_id=chat_id, text=text, **params)
    assert answer["ok"], answer
    return answer["result"]["message_id"]


def refused(answer: dict[str, Any], description: str) -> bool:
    return not answer["ok"] and answer["description"] == description


def album(chat_id: int, items: int) -> dict[str, Any]:
    media = [{"type": "photo", "media": f"{PHOTO}?{i}"} for i in range(items)]
    return {"chat_id": chat_id, "media": media}


def test_private_chats_and_basic_groups_share_one_sequence(emu: Emulator) -> None:
    assert [send(emu, 1), send(emu, GROUP), send(emu, 2), send(emu, 1)] == [1, 2, 3, 4]


def test_each_supergroup_numbers_its_own_messages(emu: Emulator) -> None:
    send(emu, 1)
    assert [send(emu, SUPER), send(emu, OTHER_SUPER), send(emu, SUPER)] == [1, 1, 2]
    answer = call(emu, "sendMediaGroup", **album(SUPER, 2))
    assert [m["message_id"] for m in answer["result"]] == [3, 4]
    assert send(emu, 2) == 2  # the shared sequence did not move


def test_upgrade_numbers_service_messages_per_chat(emu: Emulator) -> None:
    send(emu, 1)
    emu.upgrade_group(GROUP, SUPER)
    pushed = call(emu, "getUpdates")["result"]
    ids = {u["message"]["chat"]["id"]: u["message"]["message_id"] for u in pushed}
    assert ids == {GROUP: 2, SUPER: 1}
    assert send(emu, SUPER) == 2


def test_upgraded_group_refuses_every_message_method(emu: Emulator) -> None:
    old = send(emu, GROUP)
    emu.grant(GROUP, "can_pin_messages")
    emu.upgrade_group(GROUP, SUPER)
    for method, params in (
        ("sendMessage", {"text": "x"}),
        ("editMessageText", {"message_id": old, "text": "y"}),
        ("editMessageReplyMarkup", {"message_id": old}),
        ("deleteMessage", {"message_id": old}),
        ("pinChatMessage", {"message_id": old}),
        ("unpinChatMessage", {"message_id": old}),
    ):
        answer = call(emu, method, chat_id=GROUP, **params)
        assert refused(answer, UPGRADED), method
        assert answer["parameters"]["migrate_to_chat_id"] == SUPER
    assert [m["message_id"] for m in emu.shown(GROUP)] == [old]
    assert emu.shown(SUPER) == []


def test_fail_hits_any_method_the_given_number_of_times(emu: Emulator) -> None:
    first = send(emu, 1)
    emu.fail(1, "deleteMessage", Fault.cannot_delete(), times=2)
    emu.fail(1, "pinChatMessage", Fault.bad_gateway())
    assert refused(call(emu, "pinChatMessage", chat_id=1, message_id=first), "Bad Gateway")
    assert call(emu, "pinChatMessage", chat_id=1, message_id=first)["ok"]
    for _ in range(2):
        answer = call(emu, "deleteMessage", chat_id=1, message_id=first)
        assert refused(answer, "Bad Request: message can't be deleted")
    assert call(emu, "sendMessage", chat_id=1, text="other methods untouched")["ok"]
    assert call(emu, "deleteMessage", chat_id=1, message_id=first)["ok"]


def test_fault_presets_word_as_telegram() -> None:
    assert Fault.no_media_rights("animations").description == (
        "Bad Request: not enough rights to send animations to the chat"
    )
    assert Fault.topic_closed().description == "Bad Request: TOPIC_CLOSED"
    assert (Fault.bad_gateway().code, Fault.cannot_delete().code) == (502, 400)


@pytest.mark.parametrize("method", ["sendMessage", "editMessageText", "deleteMessage"])
def test_lost_takes_effect_but_never_answers(emu: Emulator, method: str) -> None:
    message_id = send(emu, 1, "before")
    emu.fail(1, method, Fault.lost())
    params: dict[str, Any] = {"chat_id": 1, "text": "after"}
    if method != "sendMessage":
        params["message_id"] = message_id
    with pytest.raises(httpx.TransportError):
        call(emu, method, **params)
    texts = [m["text"] for m in emu.shown(1)]
    assert texts == {"sendMessage": ["before", "after"], "editMessageText": ["after"]}.get(
        method, []
    )


def test_drop_loses_the_request_itself(emu: Emulator) -> None:
    emu.fail(1, "sendMessage", Fault(drop=True))
    with pytest.raises(httpx.TransportError):
        call(emu, "sendMessage", chat_id=1, text="x")
    assert emu.shown(1) == []


def test_restricted_media_refuses_pictures_not_text(emu: Emulator) -> None:
    text = send(emu, GROUP, "plain")
    photo = call(emu, "sendPhoto", chat_id=GROUP, photo=PHOTO)["result"]["message_id"]
    emu.restrict_media(GROUP)
    photos = "Bad Request: not enough rights to send photos to the chat"
    assert refused(call(emu, "sendPhoto", chat_id=GROUP, photo=PHOTO), photos)
    assert refused(call(emu, "sendMediaGroup", **album(GROUP, 2)), photos)
    assert refused(
        call(emu, "sendAnimation", chat_id=GROUP, animation=GIF),
        "Bad Request: not enough rights to send animations to the chat",
    )
    media = {"type": "photo", "media": f"{PHOTO}?new"}
    assert refused(
        call(emu, "editMessageMedia", chat_id=GROUP, message_id=photo, media=media), photos
    )
    assert send(emu, GROUP, "still fine")
    assert call(emu, "editMessageText", chat_id=GROUP, message_id=text, text="edited")["ok"]
    emu.restrict_media(GROUP, restricted=False)
    assert call(emu, "sendPhoto", chat_id=GROUP, photo=PHOTO)["ok"]


def test_closed_topic_until_reopened_and_deleted_topic(emu: Emulator) -> None:
    emu.close_topic(SUPER, 7)
    closed = call(emu, "sendMessage", chat_id=SUPER, text="x", message_thread_id=7)
    assert refused(closed, "Bad Request: TOPIC_CLOSED")
    assert send(emu, SUPER, message_thread_id=8)  # other topics stay open
    emu.close_topic(SUPER, 7, closed=False)
    assert send(emu, SUPER, message_thread_id=7)
    emu.delete_topic(SUPER, 7)
    gone = call(emu, "sendPhoto", chat_id=SUPER, photo=PHOTO, message_thread_id=7)
    assert refused(gone, "Bad Request: message thread not found")


def test_album_takes_one_place_per_picture_in_a_groups_minute() -> None:
    with Emulator(limits=Limits()) as emu:
        for _ in range(5):  # 5 albums of 4: the group's 20 for this minute
            assert call(emu, "sendMediaGroup", **album(SUPER, 4))["ok"]
        answer = call(emu, "sendMessage", chat_id=SUPER, text="21st")
        assert answer.get("error_code") == 429, answer
        # until the first album's places free, a minute after it (however slow the calls)
        waited = emu.calls[-1].at - emu.calls[0].at
        assert answer["parameters"]["retry_after"] == max(1, math.ceil(60.0 - waited))


def test_album_over_the_groups_minute_is_refused_whole() -> None:
    with Emulator(limits=Limits()) as emu:
        for _ in range(18):
            send(emu, GROUP)
        assert call(emu, "sendMediaGroup", **album(GROUP, 3))["error_code"] == 429
        assert emu.shown(GROUP)[-1]["message_id"] == 18


def test_a_members_message_is_not_the_bots(emu: Emulator) -> None:
    mine = send(emu, SUPER, "bot")
    theirs = emu.user_posts(SUPER, "member")
    assert theirs == mine + 1
    assert [(m["text"], m["from_bot"]) for m in emu.shown(SUPER)] == [
        ("bot", True),
        ("member", False),
    ]
    edit = call(emu, "editMessageText", chat_id=SUPER, message_id=theirs, text="x")
    assert refused(edit, "Bad Request: message can't be edited")
    delete = call(emu, "deleteMessage", chat_id=SUPER, message_id=theirs)
    assert refused(delete, "Bad Request: message can't be deleted")
    assert emu.tampered() == []
    emu.grant(SUPER, "can_delete_messages")
    assert call(emu, "deleteMessage", chat_id=SUPER, message_id=theirs)["ok"]
    assert [c.method for c in emu.tampered()] == ["deleteMessage"]


def test_tampered_shows_an_id_taken_from_another_chat(emu: Emulator) -> None:
    emu.grant(OTHER_SUPER, "can_pin_messages")
    emu.user_posts(OTHER_SUPER, "someone's")  # id 1 there
    mine = send(emu, SUPER)  # id 1 here
    assert call(emu, "pinChatMessage", chat_id=OTHER_SUPER, message_id=mine)["ok"]
    assert [(c.params["chat_id"], c.method) for c in emu.tampered()] == [
        (OTHER_SUPER, "pinChatMessage")
    ]


def test_private_members_message_may_be_deleted(emu: Emulator) -> None:
    theirs = emu.user_posts(1, "hello")
    assert call(emu, "deleteMessage", chat_id=1, message_id=theirs)["ok"]
    assert len(emu.tampered()) == 1


def test_anyone_may_press_a_button_on_the_bots_message(emu: Emulator) -> None:
    post = send(
        emu, SUPER, reply_markup={"inline_keyboard": [[{"text": "r", "callback_data": "r"}]]}
    )
    for presser in (5, 6):
        emu.push(
            {
                "callback_query": {
                    "id": str(presser),
                    "from": {"id": presser, "is_bot": False, "first_name": "u"},
                    "chat_instance": "ci",
                    "data": "anything:at-all",
                    "message": {"message_id": post, "date": 0, "chat": {"id": SUPER}},
                }
            }
        )
    pressed = call(emu, "getUpdates")["result"]
    assert [u["callback_query"]["from"]["id"] for u in pressed] == [5, 6]
    assert [m["from_bot"] for m in emu.shown(SUPER)] == [True]


def test_a_press_is_answered_once_with_at_most_200_characters(emu: Emulator) -> None:
    message_id = send(emu, 7)
    first = emu.press(7, message_id, 7, "ack:x")
    second = emu.press(7, message_id, 7, "ack:x")
    query_ids = [u["callback_query"]["id"] for u in list(emu.updates)]
    assert first != second and len(set(query_ids)) == 2
    long = call(emu, "answerCallbackQuery", callback_query_id=query_ids[0], text="字" * 201)
    assert long == {"ok": False, "error_code": 400, "description": "Bad Request: MESSAGE_TOO_LONG"}
    assert call(emu, "answerCallbackQuery", callback_query_id=query_ids[0], text="已确认")["ok"]
    again = call(emu, "answerCallbackQuery", callback_query_id=query_ids[0])
    assert again["description"].startswith("Bad Request: query is too old"), again
    made_up = call(emu, "answerCallbackQuery", callback_query_id="12345")
    assert made_up["description"].startswith("Bad Request: query is too old"), made_up
    emu.queries[query_ids[1]] -= 16  # delivered 16 seconds ago
    late = call(emu, "answerCallbackQuery", callback_query_id=query_ids[1])
    assert late["description"].startswith("Bad Request: query is too old"), late


def test_a_request_cut_off_before_its_body_is_no_message(emulator: Emulator) -> None:
    """A process frozen (or killed) between a request's headers and its body sent
    Telegram nothing: nothing is recorded, and nothing counts toward the flood limits."""
    host, port = emulator.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port))) as cut:
        cut.sendall(
            f"POST /bot{TOKEN}/sendMessage HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nContent-Length: 50\r\n\r\n".encode()
        )
    time.sleep(0.3)
    assert emulator.calls == []
