"""Flood control's rules, one at a time, on a virtual clock: what counts, the bot-wide
second, a private chat's and a group's pace, the wait after a 429, retries after network
trouble, and what a restart remembers. The rules mutation testing (``make mutate``)
found no test for; the end-to-end tests hold them together against the emulator.

Each request here is a stand-in for Telegram that notes when it arrived and answers a
round trip later; the clock jumps over every wait, so times are exact.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.sending.flood import LEDGER, Caller, FloodControl, FloodRules, counted, request_of
from tests.virtual_time import VirtualLoop

RTT = 0.2  # a round trip: Telegram takes a request half-way, answers at the end
TOLERANCE = 0.05  # the real time the loop takes between jumps
PRIVATE, GROUP = 7, -1007
T = TypeVar("T")


def at(expected: float | list[float]) -> Any:
    """Times as the virtual clock gives them: exact but for the loop's own work."""
    return pytest.approx(expected, abs=TOLERANCE)


def virtual(main: Callable[[], Awaitable[T]]) -> T:
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


class Telegram:
    """Notes each arrival (time, method, chat); answers with the next planned fault, if any."""

    def __init__(self, flood: FloodControl) -> None:
        self.flood = flood
        self.arrivals: list[tuple[float, str, Any]] = []
        self.faults: list[Exception] = []
        self.start = asyncio.get_running_loop().time()

    def times(self, chat: Any = None) -> list[float]:
        return [t - self.start for t, _, c in self.arrivals if chat in (None, c)]

    async def call(
        self, method: str, chat: Any = None, *, caller: Caller | None = None, **data: Any
    ) -> Any:
        if chat is not None:
            data["chat_id"] = chat

        async def request(endpoint: str, *, data: dict[str, Any]) -> bool:
            """As python-telegram-bot calls it: the method, and its parameters by name."""
            loop = asyncio.get_running_loop()
            await asyncio.sleep(RTT / 2)
            self.arrivals.append((loop.time(), endpoint, data.get("chat_id")))
            await asyncio.sleep(RTT / 2)
            if self.faults:
                raise self.faults.pop(0)
            return True

        args, kwargs = (method,), {"data": data}
        return await self.flood.process_request(request, args, kwargs, method, data, caller)

    async def calls(self, *calls: tuple[str, Any]) -> None:
        await asyncio.gather(*(self.call(method, chat) for method, chat in calls))


def test_telegram_counts_sends_edits_copies_and_forwards_only() -> None:
    for method in ("sendMessage", "sendPhoto", "sendMediaGroup", "editMessageText"):
        assert counted(method), method
    for method in ("editMessageCaption", "editMessageMedia", "copyMessage", "forwardMessage"):
        assert counted(method), method
    for method in ("sendChatAction", "answerCallbackQuery", "deleteMessage", "getUpdates"):
        assert not counted(method), method
    for method in ("pinChatMessage", "getChatMember", "copyMessages", "setMyCommands"):
        assert not counted(method), method


def test_what_telegram_took_is_counted_per_message_an_album_per_picture() -> None:
    async def main() -> int:
        flood = FloodControl()
        telegram = Telegram(flood)
        await telegram.call("sendMessage", PRIVATE)
        await telegram.call("sendMediaGroup", GROUP, media=[{}, {}, {}])
        await telegram.call("editMessageText", GROUP)
        await telegram.call("deleteMessage", GROUP)
        await telegram.call("answerCallbackQuery", callback_query_id="1")
        await telegram.call("getMe")
        return flood.sent

    assert virtual(main) == 5


def test_the_31st_message_arrives_a_second_after_the_first_answer() -> None:
    """30 at once to 30 chats, then the next as soon as a unit comes back: one second
    after the answer that held it, not before and not later."""

    async def main() -> list[float]:
        telegram = Telegram(FloodControl())
        await telegram.calls(*(("sendMessage", -100 - n) for n in range(61)))
        return telegram.times()

    times = virtual(main)
    assert times[:30] == at([RTT / 2] * 30)
    assert times[30:60] == at([RTT / 2 + RTT + 1.0] * 30)
    assert times[60] == at(RTT / 2 + 2 * (RTT + 1.0))


def test_an_album_takes_a_unit_per_picture() -> None:
    """Three albums of ten fill the second: a message to another chat waits for them."""

    async def main() -> list[float]:
        telegram = Telegram(FloodControl())
        albums = [telegram.call("sendMediaGroup", -200 - n, media=[{}] * 10) for n in range(3)]
        await asyncio.gather(*albums)
        await telegram.call("sendMessage", -300)
        return telegram.times()

    assert virtual(main) == at([RTT / 2] * 3 + [RTT + 1.0 + RTT / 2])


def test_an_album_larger_than_the_second_still_goes() -> None:
    async def main() -> list[float]:
        telegram = Telegram(FloodControl(FloodRules(per_second=5)))
        await telegram.call("sendMediaGroup", GROUP, media=[{}] * 10)
        return telegram.times()

    assert virtual(main) == at([RTT / 2])


def _paced(times: list[float], burst: int, interval: float) -> None:
    """A burst at once (one at a time: each after the answer before it), then one per
    interval measured from the answers."""
    assert times[:burst] == at([RTT / 2 + n * RTT for n in range(burst)])
    first_answer = RTT
    later = [first_answer + (n + 1) * interval + RTT / 2 for n in range(len(times) - burst)]
    assert times[burst:] == at(later)


def test_a_private_chat_gets_3_at_once_then_one_a_second() -> None:
    async def main() -> list[float]:
        telegram = Telegram(FloodControl())
        await telegram.calls(*(("sendMessage", PRIVATE) for _ in range(6)))
        return telegram.times()

    times = virtual(main)
    _paced(times, 3, 1.0)


@pytest.mark.parametrize("chat", [GROUP, "@channel"])
def test_a_group_or_channel_gets_5_at_once_then_one_every_4_s(chat: Any) -> None:
    async def main() -> list[float]:
        telegram = Telegram(FloodControl())
        await telegram.calls(*(("sendMessage", chat) for _ in range(7)))
        return telegram.times()

    _paced(virtual(main), 5, 4.0)


def test_a_chat_id_given_as_text_is_the_same_chat() -> None:
    async def main() -> list[float]:
        telegram = Telegram(FloodControl())
        await telegram.calls(*(("sendMessage", chat) for chat in (PRIVATE, str(PRIVATE)) * 2))
        return telegram.times()

    _paced(virtual(main), 3, 1.0)


def test_a_429_holds_every_request_then_sends_the_refused_one_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Deliveries, replies and answers to other chats all wait out retry_after."""

    async def main() -> tuple[list, FloodControl]:
        flood = FloodControl()
        telegram = Telegram(flood)
        telegram.faults.append(RetryAfter(timedelta(seconds=3)))
        first = asyncio.create_task(telegram.call("sendMessage", GROUP))
        await asyncio.sleep(RTT * 2)  # the 429 came back
        await asyncio.gather(
            telegram.call("answerCallbackQuery", callback_query_id="1"),
            telegram.call("sendMessage", PRIVATE, caller=LEDGER),
            first,
        )
        return telegram.arrivals, flood

    caplog.set_level(logging.WARNING)
    arrivals, flood = virtual(main)
    start = arrivals[0][0]
    assert arrivals[0][1] == "sendMessage"
    assert (
        sorted(method for _, method, _ in arrivals[1:])
        == ["answerCallbackQuery"] + ["sendMessage"] * 2
    )
    # the 429 answered a round trip after the first arrival, the wait counted from there
    assert [t - start for t, _, _ in arrivals[1:]] == at([3.0 + RTT] * 3)
    assert (flood.flood_waits, flood.sent) == (1, 2)
    assert [r.getMessage() for r in caplog.records] == [
        f"flood control: Telegram asked to wait 3 s (sendMessage to chat {GROUP});"
        " every request waits"
    ]


def test_a_shorter_429_does_not_cut_a_longer_wait_short() -> None:
    async def main() -> list[float]:
        telegram = Telegram(FloodControl())
        telegram.faults += [RetryAfter(5), RetryAfter(1)]
        await telegram.calls(("sendMessage", -1), ("sendMessage", -2))
        return telegram.times()

    assert virtual(main) == at([RTT / 2] * 2 + [RTT + 5.0 + RTT / 2] * 2)


@pytest.mark.parametrize("as_timedelta", ["true", "false"])
@pytest.mark.filterwarnings("ignore:.*PTB_TIMEDELTA")  # what "false" is told
def test_a_429_is_waited_out_in_seconds_or_as_a_timedelta(
    as_timedelta: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot asks python-telegram-bot for durations as timedelta; an operator's
    PTB_TIMEDELTA=false gives seconds instead, and the wait is the same."""
    monkeypatch.setenv("PTB_TIMEDELTA", as_timedelta)

    async def main() -> list[float]:
        telegram = Telegram(FloodControl())
        telegram.faults.append(RetryAfter(2))
        await telegram.call("sendMessage", GROUP)
        return telegram.times()

    assert virtual(main) == at([RTT / 2, RTT + 2.0 + RTT / 2])


def test_a_request_gives_up_after_its_429s_run_out() -> None:
    """Each 429 is waited out to its end, even one of a second, and counted."""

    async def main(faults: int) -> list[float]:
        flood = FloodControl(FloodRules(flood_retries=2))
        telegram = Telegram(flood)
        telegram.faults += [RetryAfter(1)] * faults
        try:
            await telegram.call("sendMessage", GROUP)
        finally:
            assert flood.flood_waits == faults
        return telegram.times()

    times = virtual(lambda: main(2))
    assert times == at([RTT / 2 + n * (RTT + 1.0) for n in range(3)])
    with pytest.raises(RetryAfter):
        virtual(lambda: main(3))


def test_a_429_on_a_request_outside_a_chats_turn_is_logged_with_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        telegram = Telegram(FloodControl())
        telegram.faults.append(RetryAfter(2))
        await telegram.call("sendPhoto", GROUP, caller=LEDGER)

    caplog.set_level(logging.WARNING)
    virtual(main)
    assert [r.getMessage() for r in caplog.records] == [
        f"flood control: Telegram asked to wait 2 s (sendPhoto to chat {GROUP});"
        " every request waits"
    ]


def test_deletes_pins_and_answers_do_not_wait_for_a_chats_pace() -> None:
    """Telegram does not count them: once a chat's burst is spent, they still go at once."""

    async def main() -> list[tuple[str, float]]:
        telegram = Telegram(FloodControl())
        await telegram.calls(*(("sendMessage", PRIVATE) for _ in range(3)))
        for method in ("deleteMessage", "pinChatMessage", "sendChatAction"):
            await telegram.call(method, PRIVATE)
        await telegram.call("answerCallbackQuery", callback_query_id="1")
        return [(m, t - telegram.start) for t, m, _ in telegram.arrivals[3:]]

    answered = 3 * RTT  # the third message's answer
    assert virtual(main) == [
        ("deleteMessage", at(answered + RTT / 2)),
        ("pinChatMessage", at(answered + RTT + RTT / 2)),
        ("sendChatAction", at(answered + 2 * RTT + RTT / 2)),
        ("answerCallbackQuery", at(answered + 3 * RTT + RTT / 2)),
    ]


def test_a_reply_is_sent_again_after_network_trouble_with_growing_pauses() -> None:
    async def main() -> list[float]:
        telegram = Telegram(FloodControl(FloodRules(network_retries=3, network_backoff=1.0)))
        telegram.faults += [TimedOut(), NetworkError("connection reset"), TimedOut()]
        await telegram.call("sendMessage", PRIVATE)
        return telegram.times()

    # each attempt waits for its chat's pace too: 1, then 2, then 4 s after a failure
    times = virtual(main)
    assert len(times) == 4
    assert [b - a for a, b in itertools.pairwise(times)] == at([RTT + 1.0, RTT + 2.0, RTT + 4.0])


def test_network_trouble_gives_up_after_its_retries() -> None:
    async def main() -> None:
        telegram = Telegram(FloodControl(FloodRules(network_retries=2)))
        telegram.faults += [TimedOut()] * 3
        await telegram.call("sendMessage", PRIVATE)

    with pytest.raises(TimedOut):
        virtual(main)


@pytest.mark.parametrize(
    ("caller", "fault"),
    [(LEDGER, TimedOut()), (None, BadRequest("Message is too long"))],
    ids=["the ledger retries itself", "a bad request is not network trouble"],
)
def test_no_retry_where_retrying_is_not_ours(caller: Caller | None, fault: Exception) -> None:
    async def main() -> int:
        telegram = Telegram(FloodControl())
        telegram.faults.append(fault)
        with pytest.raises(type(fault)) as raised:
            await telegram.call("sendMessage", PRIVATE, caller=caller)
        assert request_of(raised.value) == f"sendMessage to chat {PRIVATE}"
        return len(telegram.arrivals)

    assert virtual(main) == 1


def test_an_error_names_its_request_for_the_log() -> None:
    async def main() -> BaseException:
        telegram = Telegram(FloodControl())
        telegram.faults.append(BadRequest("Unauthorized"))
        try:
            await telegram.call("getMe")
        except BadRequest as error:
            return error
        raise AssertionError("no error")

    assert request_of(virtual(main)) == "getMe"
    assert request_of(ValueError("not from Telegram")) is None


def test_the_ledger_sends_in_the_turn_it_holds_and_others_wait_for_it() -> None:
    async def main() -> list[tuple[float, str, Any]]:
        flood = FloodControl()
        telegram = Telegram(flood)
        async with flood.chat_turn(PRIVATE):
            reply = asyncio.create_task(telegram.call("sendMessage", PRIVATE))
            await telegram.call("sendPhoto", PRIVATE, caller=LEDGER)
            await asyncio.sleep(0.5)
        await reply
        return telegram.arrivals

    arrivals = virtual(main)
    assert [method for _, method, _ in arrivals] == ["sendPhoto", "sendMessage"]
    assert arrivals[1][0] - arrivals[0][0] == at(RTT / 2 + 0.5 + RTT / 2)


def test_a_restart_remembers_what_a_chat_just_got() -> None:
    """Three messages to a private chat half a second before the restart: its burst is
    spent, the next waits; what a chat got long ago holds nothing back."""

    async def main() -> tuple[list[float], list[float]]:
        flood = FloodControl()
        flood.resume_pace(PRIVATE, [(0.5, 1), (0.6, 1), (0.7, 1)])
        flood.resume_pace(GROUP, [(300.0, 10)])
        telegram = Telegram(flood)
        await telegram.call("sendMessage", PRIVATE)
        await telegram.call("sendMessage", GROUP)
        return telegram.times(PRIVATE), telegram.times(GROUP)

    private, group = virtual(main)
    # answered 0.7, 0.6 and 0.5 s ago: the next is due 3 s after the first of them (0.7 s
    # ago), less the burst's tolerance of 2 s: 0.3 s from now
    assert private == at([0.3 + RTT / 2])
    assert group == at([0.3 + RTT + RTT / 2])


def test_a_chat_with_an_album_just_sent_waits_a_pace_per_picture() -> None:
    async def main() -> list[float]:
        flood = FloodControl()
        flood.resume_pace(GROUP, [(0.0, 10)])
        telegram = Telegram(flood)
        await telegram.call("sendMessage", GROUP)
        return telegram.times()

    # ten units of 4 s, less the burst's tolerance of 16 s: 24 s
    assert virtual(main) == at([24.0 + RTT / 2])


def test_ten_thousand_chats_are_forgotten_when_idle_but_not_a_busy_one() -> None:
    async def main() -> tuple[int, list[float]]:
        flood = FloodControl()
        telegram = Telegram(flood)
        await telegram.calls(*(("sendMessage", PRIVATE) for _ in range(4)))  # paced now
        for chat in range(10_000, 19_999):
            async with flood.chat_turn(chat):
                pass
        await telegram.call("sendMessage", 20_000)  # the 10,001st: idle ones go
        kept = len(flood._chats)
        await telegram.call("sendMessage", PRIVATE)  # still paced
        return kept, telegram.times(PRIVATE)

    kept, times = virtual(main)
    assert kept == 2
    assert times[4] - times[3] == at(1.0)
