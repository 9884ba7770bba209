"""Confirmations as a Hypothesis state machine over the real ledger: presses (again,
in another chat, while the card is being edited), asking again, corrections,
withdrawal and publication, the clock's count check, and the reconciler's turn on a
card, in any order. Whatever the order, once the work is done every group's card
shows its count of this round, each person counts once a round, and no private card
is queued for a count."""

from __future__ import annotations

import asyncio
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bot.ledger import ACTIVE, QUEUED, SENT, WITHDRAWN, Chat, Store
from bot.ledger.copies import Part
from tests import ledgers
from tests.botenv import Clock

GROUPS = (-101, -102)
PRIVATE = (1, 2)
USERS = (1, 2, 3, 4)


class Confirming(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = TemporaryDirectory()
        self.store = Store(ledgers.fresh(Path(self.folder.name)), Clock(1_700_000_000.0))
        self.store.save_article(
            {"id": "n", "title": "T", "date": 1.0, "status": ACTIVE, "content_hash": "v1"}
        )
        self.store.ask_to_confirm("n")
        self.round = 1
        self.version = 1
        self.confirmed: set[tuple[int, int, int]] = set()  # (round, chat, user)
        self.rows: dict[int, int] = {}
        for chat in (*GROUPS, *PRIVATE):
            kind = "supergroup" if chat < 0 else "private"
            self.store.subscribe(Chat(chat, type=kind))
            self.store.enqueue("n", [chat])
            (row,) = self.store.deliveries(chat)
            self.rows[chat] = row.id
            self._turn(chat)

    def teardown(self) -> None:
        try:
            self.check_done()
        finally:
            self.store.close()
            self.folder.cleanup()

    def _status(self, chat: int) -> str:
        return next(d.status for d in self.store.deliveries(chat))

    def _turn(self, chat: int, press: tuple[int, int] | None = None) -> None:
        """The reconciler's turn on the chat's card: claimed, the count read, (a press
        meanwhile), the card edited to that count and the row settled."""
        row = self.rows[chat]
        if not self.store.claim([row]):
            return
        count = self.store.ack_count("n", chat) if chat < 0 else None
        if press is not None:
            self.press(*press)
        part = Part(0, chat, (7,), "sendMessage", f"h{count}", self.store.clock())
        asyncio.run(self.store.settle(row, SENT, f"v{self.version}", copy=(part,)))
        if count is not None:
            self.store.note_acks_shown(row, count)

    @rule(chat=st.sampled_from((*GROUPS, *PRIVATE)), user=st.sampled_from(USERS))
    def press(self, chat: int, user: int) -> None:
        user = chat if chat > 0 else user  # a private chat's only person is its owner
        if self.store.article("n")["status"] != ACTIVE:
            return  # the handler answers "withdrawn" and records nothing
        recorded = self.store.record_ack("n", chat, user, f"u{user}", f"v{self.version}")
        assert recorded is not None
        key = (self.round, chat, user)
        assert recorded[0] is (key not in self.confirmed)
        self.confirmed.add(key)

    @rule(chat=st.sampled_from(GROUPS), user=st.sampled_from(USERS))
    def press_while_the_card_is_edited(self, chat: int, user: int) -> None:
        if self._status(chat) == QUEUED:
            self._turn(chat, press=(chat, user))

    @rule()
    def ask_again(self) -> None:
        assert self.store.renew_acks("n") == self.round + 1
        self.round += 1

    @rule()
    def correct(self) -> None:
        self.version += 1
        self.store.save_article(
            {
                "id": "n",
                "title": "T",
                "date": 1.0,
                "status": ACTIVE,
                "content_hash": f"v{self.version}",
            }
        )
        self.store.retarget("n", f"v{self.version}", edit_sent=True)

    @rule()
    def clock_checks_counts(self) -> None:
        private = {chat: self._status(chat) for chat in PRIVATE}
        self.store.queue_ack_counts()
        assert {chat: self._status(chat) for chat in PRIVATE} == private

    @rule(chat=st.sampled_from((*GROUPS, *PRIVATE)))
    def turn(self, chat: int) -> None:
        if self._status(chat) == QUEUED:
            self._turn(chat)

    @precondition(lambda self: self.store.article("n")["status"] == ACTIVE)
    @rule()
    def withdraw_and_publish_again(self) -> None:
        row = self.store.article("n")
        self.store.save_article({**row, "status": WITHDRAWN})
        self.store.retract_article("n", "withdrawn")
        for chat in (*GROUPS, *PRIVATE):  # retracted: nothing of it left
            if self._status(chat) == QUEUED and self.store.claim([self.rows[chat]]):
                asyncio.run(self.store.settle(self.rows[chat], "retracted", None, copy=()))
        self.store.save_article({**row, "status": ACTIVE})
        self.store.enqueue("n", [*GROUPS, *PRIVATE])
        for chat in (*GROUPS, *PRIVATE):
            self._turn(chat)

    @invariant()
    def each_person_counts_once_a_round(self) -> None:
        for chat in (*GROUPS, *PRIVATE):
            mine = {u for r, c, u in self.confirmed if r == self.round and c == chat}
            assert self.store.ack_count("n", chat) == len(mine)
        people = {(c, u) for r, c, u in self.confirmed if r == self.round}
        assert len(self.store.ack_people("n")) == len(people)

    def check_done(self) -> None:
        """The work done: every group's card shows this round's count."""
        for _ in range(3):
            self.store.queue_ack_counts()
            for chat in (*GROUPS, *PRIVATE):
                if self._status(chat) == QUEUED:
                    self._turn(chat)
        for chat in GROUPS:
            (row,) = self.store.deliveries(chat)
            shown = self.store._rows("SELECT acks_shown FROM deliveries WHERE id = ?", [row.id])
            assert row.status == SENT
            assert shown[0]["acks_shown"] == self.store.ack_count("n", chat)
        assert self.store.queue_ack_counts() == 0


def test_confirmations_converge(ledger_at: object) -> None:
    run_state_machine_as_test(
        Confirming, settings=settings(max_examples=60, stateful_step_count=15, deadline=None)
    )
