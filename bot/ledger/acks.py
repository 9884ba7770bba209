"""Confirmations: notices that ask residents to confirm they have read them, who did,
and the one reminder per round for those who have not.

Who confirmed is personal data: it is kept only for notices that ask, and forgotten
with them (:meth:`Acks.forget_acks`). A round starts when a notice first asks and
again when an admin asks anew; counts, lists and reminders are of the current round,
while every confirmation keeps the version of the notice it was given for.

A group's card shows its count. A press never edits a card itself: the card's row is
queued again when the count it shows (``acks_shown``) falls behind
(:meth:`Acks.queue_ack_counts`), and the reconciler edits it, paced like any message
to that chat, several presses in one edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.ledger.chats import Chat, Chats
from bot.ledger.deliveries import Deliveries
from bot.ledger.states import (
    ACTIVE,
    FAILED,
    HAS_COPY,
    QUEUED,
    REMINDER,
    REQUEUE,
    SENDING,
    SENT,
    SKIPPED,
    WITHDRAWN,
)


@dataclass(frozen=True)
class Asking:
    """A notice that asks to be confirmed, in its current round."""

    article_id: str
    round: int
    remind_at: float | None


NO_BUTTON = -1  # acks_shown of a copy that may have gone out before its notice asked


class Acks(Chats, Deliveries):
    # --- which notices ask ------------------------------------------------------------
    def ask_to_confirm(
        self,
        article_id: str,
        *,
        start: float | None = None,
        remind_at: float | None = None,
        remind_after: float | None = None,
        renew_version: str | None = None,
    ) -> int:
        """The notice asks (from now on, if it did not): its round. ``remind_at``: the
        file's ``ack_by``, for the first round (a later ``ack_by`` moves it while it has
        not gone out); else ``remind_after`` seconds after ``start`` (when it goes out),
        and after each new round's start. ``renew_version``: a corrected file that says
        ``ack: renew``, which starts a new round once per version."""
        now = self.clock()
        start = now if start is None else start
        after = max(remind_at - start, 60.0) if remind_at is not None else remind_after
        first = remind_at if remind_at is not None else (start + after if after else None)
        with self.transaction():
            if self._exec(
                "INSERT INTO ack_notices (article_id, asked_at, remind_at, remind_after,"
                " renewed_version) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [article_id, now, first, after, renew_version],
            ):  # the copies get the button: those delivered now, those on their way later
                self._exec(
                    "UPDATE deliveries SET acks_shown = ? WHERE article_id = ?",
                    [NO_BUTTON, article_id],
                )
                self._exec(
                    f"UPDATE deliveries SET {REQUEUE} WHERE article_id = ?"
                    f" AND (status = '{SENT}' OR (status = '{FAILED}' AND {HAS_COPY}))",
                    [QUEUED, now, now, article_id],
                )
            elif remind_at is not None:
                self._exec(
                    "UPDATE ack_notices SET remind_at = ? WHERE article_id = ? AND round = 1"
                    " AND reminded_round = 0",
                    [remind_at, article_id],
                )
            if renew_version is not None:
                renewed = self._exec(
                    "UPDATE ack_notices SET round = round + 1, renewed_version = ?, asked_at = ?"
                    " WHERE article_id = ? AND renewed_version IS DISTINCT FROM ?",
                    [renew_version, now, article_id, renew_version],
                )
                if renewed:
                    self._rearm(article_id, now)
            return self.ack_round(article_id) or 1

    def renew_acks(self, article_id: str) -> int | None:
        """An admin asks again: a new round (counts start at 0, the reminder is armed
        again). The new round, or None if the notice does not ask."""
        now = self.clock()
        with self.transaction():
            if not self._exec(
                "UPDATE ack_notices SET round = round + 1, asked_at = ? WHERE article_id = ?",
                [now, article_id],
            ):
                return None
            self._rearm(article_id, now)
            return self.ack_round(article_id)

    def _rearm(self, article_id: str, now: float) -> None:
        """A new round: its reminder as long after now as the first one was after its
        start; an earlier round's reminder still waiting (for quiet hours to end) is
        not sent; and every group's count brought back to the round's (none yet)."""
        self._exec(
            "UPDATE ack_notices SET remind_at = CASE WHEN remind_after IS NULL THEN NULL"
            " ELSE ? + remind_after END WHERE article_id = ?",
            [now, article_id],
        )
        self._exec(
            "UPDATE deliveries SET status = ?, last_error = 'asked again', updated_at = ?"
            f" WHERE status = '{QUEUED}' AND NOT {HAS_COPY} AND article_id IN"
            " (SELECT id FROM ack_reminders WHERE article_id = ?)",
            [SKIPPED, now, article_id],
        )
        self.queue_ack_counts(article_id)

    def ack_round(self, article_id: str) -> int | None:
        """The notice's current round; None: it does not ask to be confirmed."""
        rows = self._rows("SELECT round FROM ack_notices WHERE article_id = ?", [article_id])
        return rows[0]["round"] if rows else None

    def asking(self, article_id: str) -> Asking | None:
        rows = self._rows(
            "SELECT article_id, round, remind_at FROM ack_notices WHERE article_id = ?",
            [article_id],
        )
        return Asking(**rows[0]) if rows else None

    # --- presses ----------------------------------------------------------------------
    def record_ack(
        self, article_id: str, chat_id: int, user_id: int, name: str, version: str | None
    ) -> tuple[bool, float] | None:
        """One press: (new?, when this user confirmed in this chat this round), or None
        when the notice does not ask. A second press changes nothing."""
        now = self.clock()
        with self.transaction():
            round_ = self.ack_round(article_id)
            if round_ is None:
                return None
            added = self._exec(
                "INSERT INTO acks (article_id, chat_id, user_id, name, round, version, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [article_id, chat_id, user_id, name, round_, version, now],
            )
            at = self._rows(
                "SELECT at FROM acks WHERE article_id = ? AND round = ? AND chat_id = ?"
                " AND user_id = ?",
                [article_id, round_, chat_id, user_id],
            )[0]["at"]
        return bool(added), at

    def reached(self, article_id: str, chat_id: int) -> bool:
        """Whether the notice was shown in this chat, or is on its way there (its card may
        be in the chat before the reconciler records it): a press elsewhere is forged."""
        return bool(
            self._rows(
                "SELECT 1 FROM deliveries WHERE article_id = ? AND chat_id = ? AND (shown IS"
                f" NOT NULL OR {HAS_COPY} OR status IN ('{QUEUED}', '{SENDING}'))",
                [article_id, chat_id],
            )
        )

    def ack_count(self, article_id: str, chat_id: int) -> int:
        """Confirmations in this chat this round (what its card shows)."""
        return self._rows(
            "SELECT COUNT(*) AS n FROM acks WHERE article_id = ? AND chat_id = ?"
            " AND round = (SELECT round FROM ack_notices WHERE article_id = ?)",
            [article_id, chat_id, article_id],
        )[0]["n"]

    def note_acks_shown(self, delivery_id: int, count: int) -> None:
        """The count the chat's card now shows (0 in a private chat: the button alone)."""
        self._exec("UPDATE deliveries SET acks_shown = ? WHERE id = ?", [count, delivery_id])

    def queue_ack_counts(self, article_id: str | None = None) -> int:
        """Copies in groups and channels whose card shows another count than the chat's
        confirmations, and copies that went out without the button (being sent when the
        notice began to ask): queued to be edited (one edit for all presses since the
        last). A copy whose last edit failed is queued again only after a new press."""
        now = self.clock()
        where, params = ("AND d.article_id = ?", [article_id]) if article_id else ("", [])
        # a copy whose last change failed is tried again when someone presses after it
        pressed_since = (
            f"(d.status = '{FAILED}' AND {HAS_COPY} AND EXISTS (SELECT 1 FROM acks k"
            " WHERE k.article_id = d.article_id AND k.chat_id = d.chat_id"
            " AND k.round = n.round AND k.at > d.updated_at))"
        )
        stale = (
            "SELECT d.id FROM deliveries d JOIN ack_notices n ON n.article_id = d.article_id"
            f" JOIN chats c ON c.id = d.chat_id WHERE (d.status = '{SENT}' OR {pressed_since})"
            " AND c.active = 1"
            f" {where} AND (d.acks_shown = {NO_BUTTON} OR (c.type != 'private'"
            " AND COALESCE(d.acks_shown, 0) != (SELECT COUNT(*) FROM acks k"
            " WHERE k.article_id = d.article_id AND k.chat_id = d.chat_id"
            " AND k.round = n.round)))"
        )
        return self._exec(
            f"UPDATE deliveries SET {REQUEUE} WHERE id IN ({stale})",
            [QUEUED, now, now, *params],
        )

    # --- reminders --------------------------------------------------------------------
    def reminders_due(self, now: float) -> list[Asking]:
        """Published notices whose round's reminder time has come and not yet gone out."""
        rows = self._rows(
            "SELECT n.article_id, n.round, n.remind_at FROM ack_notices n"
            " JOIN articles a ON a.id = n.article_id"
            " WHERE n.remind_at <= ? AND n.reminded_round < n.round AND a.status = ?"
            " AND (a.expires IS NULL OR a.expires > ?)",
            [now, ACTIVE, now],
        )
        return [Asking(**row) for row in rows]

    def to_remind(self, article_id: str, round_: int) -> list[Chat]:
        """The chats a round's reminder goes to: private subscribers the notice reached
        who have not confirmed, and groups it reached (one line with their count)."""
        rows = self._rows(
            "SELECT c.* FROM chats c JOIN deliveries d ON d.chat_id = c.id"
            " WHERE d.article_id = ? AND d.shown IS NOT NULL AND c.active = 1"
            " AND c.subscribed = 1 AND (c.type IN ('group', 'supergroup') OR (c.type = 'private'"
            " AND NOT EXISTS (SELECT 1 FROM acks k WHERE k.article_id = d.article_id"
            " AND k.round = ? AND k.user_id = c.id)))",
            [article_id, round_],
        )
        return [Chat.from_row(row) for row in rows]

    def send_reminder(self, asking: Asking, not_before: Mapping[int, float]) -> int:
        """The round's reminder queued for each chat at its time, once: a second call
        for the same round queues nothing. The number queued."""
        reminder_id = f"{asking.article_id}#ack{asking.round}"
        now = self.clock()
        with self.transaction():
            if not self._exec(
                "UPDATE ack_notices SET reminded_round = ? WHERE article_id = ?"
                " AND reminded_round < ?",
                [asking.round, asking.article_id, asking.round],
            ):
                return 0
            title = (self.article(asking.article_id) or {}).get("title")
            self._exec(
                "INSERT INTO articles (id, title, date, status, categories, tags, first_seen,"
                " last_changed, content_hash) VALUES (?, ?, ?, ?, '[]', '[]', ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [reminder_id, title, now, REMINDER, now, now, reminder_id],
            )
            self._exec(
                "INSERT INTO ack_reminders (id, article_id, round) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [reminder_id, asking.article_id, asking.round],
            )
            queued = 0
            for at in sorted(set(not_before.values())):
                chats = [chat for chat, when in not_before.items() if when == at]
                queued += self.enqueue(reminder_id, chats, not_before=at, kind=REMINDER)
            return queued

    def reminder_of(self, reminder_id: str) -> tuple[str, int] | None:
        """The notice and round a reminder is for."""
        rows = self._rows("SELECT article_id, round FROM ack_reminders WHERE id = ?", [reminder_id])
        return (rows[0]["article_id"], rows[0]["round"]) if rows else None

    def has_confirmed(self, article_id: str, user_id: int, round_: int | None = None) -> bool:
        """Whether the user confirmed the notice this round, in any chat."""
        return bool(
            self._rows(
                "SELECT 1 FROM acks WHERE article_id = ? AND user_id = ? AND round = COALESCE(?,"
                " (SELECT round FROM ack_notices WHERE article_id = ?)) LIMIT 1",
                [article_id, user_id, round_, article_id],
            )
        )

    def withdraw_reminders(self, article_id: str) -> int:
        """The notice was withdrawn: its reminders go too. The copies queued to go."""
        ids = [
            r["id"]
            for r in self._rows("SELECT id FROM ack_reminders WHERE article_id = ?", [article_id])
        ]
        queued = 0
        for reminder_id in ids:
            self._exec("UPDATE articles SET status = ? WHERE id = ?", [WITHDRAWN, reminder_id])
            queued += self.retract_article(reminder_id, "notice withdrawn")
        return queued

    def restore_reminders(self, article_id: str) -> None:
        """Published again: the round's reminder, withdrawn with the notice, is due again
        (to whoever has still not confirmed)."""
        ids = "SELECT id FROM ack_reminders WHERE article_id = ?"
        with self.transaction():
            if self._exec(
                f"UPDATE articles SET status = ? WHERE id IN ({ids}) AND status = ?",
                [REMINDER, article_id, WITHDRAWN],
            ):
                self._exec(
                    "UPDATE ack_notices SET reminded_round = round - 1,"
                    " remind_at = COALESCE(remind_at, ?) WHERE article_id = ?"
                    " AND reminded_round = round",
                    [self.clock(), article_id],
                )

    # --- what admins see --------------------------------------------------------------
    def ack_overview(self, limit: int = 10) -> list[dict[str, Any]]:
        """The newest notices that ask: id, title, round, confirmed (people this round),
        reached (chats the notice reached), private (private chats reached)."""
        return self._rows(
            "SELECT a.id, a.title, a.status, a.date, n.round,"
            " (SELECT COUNT(DISTINCT user_id) FROM acks k WHERE k.article_id = a.id"
            " AND k.round = n.round) AS confirmed,"
            " (SELECT COUNT(*) FROM deliveries d WHERE d.article_id = a.id"
            " AND d.shown IS NOT NULL) AS reached"
            " FROM ack_notices n JOIN articles a ON a.id = n.article_id"
            " ORDER BY a.date DESC LIMIT ?",
            [limit],
        )

    def ack_chats(self, article_id: str) -> list[dict[str, Any]]:
        """Per chat the notice reached or someone confirmed in: chat id, type, title and
        this round's confirmations."""
        return self._rows(
            "SELECT c.id, c.type, c.title, (SELECT COUNT(*) FROM acks k"
            " WHERE k.article_id = :a AND k.chat_id = c.id AND k.round = n.round) AS confirmed,"
            " EXISTS (SELECT 1 FROM deliveries d WHERE d.article_id = :a AND d.chat_id = c.id"
            " AND d.shown IS NOT NULL) AS reached"
            " FROM chats c JOIN ack_notices n ON n.article_id = :a"
            " WHERE c.id IN (SELECT chat_id FROM deliveries WHERE article_id = :a"
            " AND shown IS NOT NULL UNION SELECT chat_id FROM acks WHERE article_id = :a)"
            " ORDER BY c.type != 'private', confirmed DESC, c.id",
            {"a": article_id},
        )

    def ack_people(self, article_id: str, *, every_round: bool = False) -> list[dict[str, Any]]:
        """Who confirmed (this round, or ``every_round``): name, user id, chat, time, round,
        and the version confirmed, by number (1: as first published) and hash."""
        current = (
            ""
            if every_round
            else " AND k.round = (SELECT round FROM ack_notices n"
            " WHERE n.article_id = k.article_id)"
        )
        return self._rows(
            "SELECT k.name, k.user_id, k.chat_id, c.title AS chat_title, c.type AS chat_type,"
            " k.at, k.round, k.version, (SELECT COUNT(*) FROM versions v"
            " WHERE v.article_id = k.article_id AND v.created_at <= (SELECT w.created_at"
            " FROM versions w WHERE w.article_id = k.article_id AND w.version = k.version))"
            " AS version_number"
            " FROM acks k LEFT JOIN chats c ON c.id = k.chat_id"
            f" WHERE k.article_id = ?{current} ORDER BY k.at, k.id",
            [article_id],
        )

    def acks_total(self) -> int:
        """Confirmations recorded since the ledger began (forgotten ones included)."""
        kept = self._rows("SELECT COUNT(*) AS n FROM acks")[0]["n"]
        return kept + int(self.get_meta("acks_forgotten") or 0)

    # --- privacy ----------------------------------------------------------------------
    def forget_acks(self, before: float) -> int:
        """Who confirmed notices that last asked before ``before`` is forgotten, and the
        notices stop asking. The confirmations removed."""
        old = "SELECT article_id FROM ack_notices WHERE asked_at < ?"
        with self.transaction():
            removed = self._exec(f"DELETE FROM acks WHERE article_id IN ({old})", [before])
            self._exec("DELETE FROM ack_notices WHERE asked_at < ?", [before])
            if removed:
                forgotten = int(self.get_meta("acks_forgotten") or 0) + removed
                self.set_meta("acks_forgotten", str(forgotten))
        return removed
