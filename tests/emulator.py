"""A local Telegram Bot API emulator for tests and benchmarks: real HTTP on loopback.

It answers in Telegram's JSON shapes, including errors
(``{"ok": false, "error_code", "description", "parameters": {...}}``), records
every call, and injects faults per chat (queued once-only faults or permanent
ones) and per photo URL.

It is at least as strict as Telegram about flood control (``../shared/telegram-rules.md``),
unless built with ``limits=None``:

- 30 counted requests in any sliding second, counted as they arrive (an album counts
  one per item); the 31st gets ``429 Too Many Requests: retry after 1``;
- a private chat: a burst of 3, then one a second; a group or channel: 20 a minute,
  an album taking one place per picture;
- any 429, injected or earned, starts a wait for the whole bot: every request but
  ``getUpdates`` that arrives inside it gets 429 again, lengthens the wait by a second,
  and is counted in ``inside_retry_after`` (a polite bot makes none);
- an edit that changes nothing gets 400 "message is not modified"; an edit of a
  message that is gone, "message to edit not found"; a text edit of a photo (or a
  caption edit of a text), "there is no text (caption) in the message to edit";
- a bot deletes its own messages only for 48 hours ("message can't be deleted"
  after; ``advance`` moves the emulator's clock), in a channel only with
  ``can_delete_messages``; it pins in groups only with ``can_pin_messages``, in
  channels with ``can_edit_messages`` (``grant``; else "not enough rights to
  manage pinned messages in the chat");
- message ids: private chats and basic groups share one sequence of the bot's; every
  supergroup and channel (``-100…``) numbers its own messages from 1;
- a group upgraded to a supergroup refuses sends, edits, deletes and pins at its old id
  with ``migrate_to_chat_id``; its messages stay under the old id;
- a chat may forbid media (``restrict_media``: text still goes through) and close or
  delete forum topics (``close_topic``, ``delete_topic``);
- a member's messages (``user_posts``) are not the bot's: it cannot edit them, deletes
  them in a group only with ``can_delete_messages``; ``tampered`` lists the calls that
  changed a message the bot did not send (a bot that mixes up chats shows there);
- buttons: Telegram does not check callback data against a message's buttons, so
  ``press`` forges a callback query from anyone who can see a message (a private chat's
  owner, a group's or channel's member or admin), with any data; in a channel its
  ``from`` is the pressing user. ``getChatMember`` answers what ``set_member`` said per
  chat (member by default; "left" and "kicked" cannot see the chat's messages).

Webhook: once ``setWebhook`` is called, each pushed update is POSTed to the webhook (through
``webhook_routes``), one at a time and in order. As Telegram keeps an update and retries
while the bot's server is unreachable, a refused connection is retried with a short
backoff for up to ``WEBHOOK_RETRY_FOR`` seconds: a bot sets its webhook before its server
listens (python-telegram-bot does), and an update pushed in between still arrives.

Faults: ``fail(chat, method, fault, times)`` on any method; ``once`` (sends only) and
``always`` (sends; a migration also refuses edits, deletes and pins). ``Fault.drop``
loses the request (no effect, no answer), ``Fault.lost`` the answer (the call takes
effect), ``Fault.slow`` answers late.

Run alone: ``python -m tests.emulator --port 8081`` (``--no-limits`` for raw speed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.console import decode_params

BOT_ID = 4242
SEND_METHODS = {"sendMessage", "sendPhoto", "sendAnimation", "sendMediaGroup"}
NO_PIN_RIGHTS = "Bad Request: not enough rights to manage pinned messages in the chat"
MESSAGE_METHODS = {
    "editMessageText",
    "editMessageCaption",
    "editMessageMedia",
    "editMessageReplyMarkup",
    "deleteMessage",
    "pinChatMessage",
    "unpinChatMessage",
}
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
MEMBER_STATUSES = ("creator", "administrator", "member", "left", "kicked")
MEDIA_KINDS = {"photo": "photos", "video": "videos", "animation": "animations"}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


def counted(method: str) -> bool:
    """What Telegram's flood control counts: sends, copies, forwards and edits."""
    return (
        method.startswith(("send", "editMessage")) and method != "sendChatAction"
    ) or method in ("copyMessage", "forwardMessage")


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits as the emulator enforces them."""

    per_second: int = 30  # counted requests in any sliding second, the whole bot
    private_burst: int = 3  # a private chat: this many at once ...
    private_per_second: float = 1.0  # ... then this many a second
    group_per_minute: int = 20  # a group or channel: in any sliding minute


@dataclass(frozen=True)
class Fault:
    code: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    migrate_to: int | None = None
    # ``drop`` and ``delay`` are what the network does to the answer. With an error code
    # the call is refused first (a request lost on the way there); with 200 it takes
    # effect as usual and only then is its answer late or lost (``slow``, ``lost``).
    drop: bool = False  # close the connection without an answer
    delay: float = 0.0  # answer this late (beyond the client's timeout: a time-out)

    @classmethod
    def flood(cls, seconds: int = 1) -> Fault:
        return cls(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)

    @classmethod
    def blocked(cls) -> Fault:
        return cls(403, "Forbidden: bot was blocked by the user")

    @classmethod
    def kicked(cls) -> Fault:
        return cls(403, "Forbidden: bot was kicked from the group chat")

    @classmethod
    def chat_not_found(cls) -> Fault:
        return cls(400, "Bad Request: chat not found")

    @classmethod
    def migrated(cls, new_id: int) -> Fault:
        return cls(400, UPGRADED, migrate_to=new_id)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Deliver, but answer late: past the client's timeout, a delivered message looks lost."""
        return cls(200, "OK", delay=seconds)

    @classmethod
    def bad_photo(cls) -> Fault:
        return cls(400, "Bad Request: wrong file identifier/HTTP URL specified")

    @classmethod
    def lost(cls) -> Fault:
        """The call takes effect, then the connection closes unanswered: a crash or a
        network cut after the request. The client cannot tell it from ``drop``."""
        return cls(200, "OK", drop=True)

    @classmethod
    def bad_gateway(cls) -> Fault:
        return cls(502, "Bad Gateway")

    @classmethod
    def cannot_delete(cls) -> Fault:
        return cls(400, "Bad Request: message can't be deleted")

    @classmethod
    def no_media_rights(cls, kind: str = "photos") -> Fault:
        """A chat that forbids its members (the bot too) this kind of media: not a gone chat."""
        return cls(400, f"Bad Request: not enough rights to send {kind} to the chat")

    @classmethod
    def topic_closed(cls) -> Fault:
        return cls(400, "Bad Request: TOPIC_CLOSED")

    @classmethod
    def thread_not_found(cls) -> Fault:
        return cls(400, "Bad Request: message thread not found")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away (a killed bot, a dropped connection) is not news."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            super().handle_error(request, client_address)


class _Refused(Exception):
    def __init__(self, fault: Fault) -> None:
        self.fault = fault


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    ok: bool = False
    message_ids: list[int] = field(default_factory=list)
    error: str | None = None
    answered_at: float | None = None  # when the answer was written back (monotonic)


_CURRENT = threading.local()  # the call a server thread is answering
QUERY_ANSWER_WITHIN = 15.0  # seconds a callback query may wait for its answer
WEBHOOK_RETRY_FOR = 30.0  # seconds an update is retried while the bot's port refuses it


class Emulator:
    def __init__(
        self, *, limits: Limits | None = Limits(), jitter: float = 0.0, port: int = 0
    ) -> None:
        self.limits = limits
        self.jitter = jitter  # up to this many seconds on the way, at random, per request
        self.webhook: dict[str, str] | None = None  # url and secret, once setWebhook was called
        # The TLS-terminating proxy in front of a bot: its public https URL → where it listens.
        self.webhook_routes: dict[str, str] = {}
        # What the bot's server answered each update delivered to the webhook (0: no answer,
        # or nobody listening within WEBHOOK_RETRY_FOR); refused connections are not answers,
        # they are retried and counted in webhook_refused.
        self.webhook_answers: list[int] = []
        self.webhook_refused = 0
        self._outbox: deque[dict[str, Any]] = deque()  # updates on their way to the webhook
        self._delivering = False  # a thread is emptying the outbox
        self._closed = threading.Event()  # the emulator is shut: no more retries
        self.calls: list[Call] = []
        self.once: dict[int, deque[Fault]] = defaultdict(deque)  # chat id → next faults
        self.always: dict[int, Fault] = {}  # chat id → permanent fault
        self.bad_urls: set[str] = set()
        self.updates: deque[dict[str, Any]] = deque()
        self.members: dict[tuple[int, int], str] = {}  # (chat, user) → status; default member
        self.chats: dict[str, dict[str, Any]] = {}  # "@name" → Chat, for getChat
        self._update_ids = itertools.count(1)
        self._new_update = threading.Event()
        self._polling = 0  # the latest getUpdates: Telegram answers one at a time
        self.too_many = 0  # 429 answers, injected or earned
        self.inside_retry_after = 0  # requests that arrived while a 429's wait ran
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # what edits compare with
        self.sent_at: dict[tuple[int, int], float] = {}  # on the emulator's clock
        self.deleted: set[tuple[int, int]] = set()
        self.pinned: dict[int, set[int]] = defaultdict(set)  # chat → pinned message ids
        self.rights: dict[int, set[str]] = defaultdict(set)  # chat → the bot's admin rights
        self.channels: set[int] = set()  # chat ids that are channels (ids alone do not say)
        self.offset = 0.0  # seconds the emulator's clock is ahead of the real one
        self.failing: dict[tuple[int, str], deque[Fault]] = defaultdict(deque)  # see ``fail``
        self.media_restricted: set[int] = set()  # chats that forbid media to members
        self.closed_topics: set[tuple[int, int]] = set()  # (chat, message_thread_id)
        self.deleted_topics: set[tuple[int, int]] = set()
        self.bots_own: set[tuple[int, int]] = set()  # messages the bot sent (or a press says so)
        self.queries: dict[str, float] = {}  # callback query id → when it was delivered
        self.answered: list[dict[str, Any]] = []  # answerCallbackQuery params, in order
        self._tampered: list[Call] = []
        self._ids = itertools.count(1)  # the bot's one sequence: private chats, basic groups
        self._chat_ids: dict[int, itertools.count[int]] = {}  # supergroup/channel → its own
        self._lock = threading.Lock()
        self._window: deque[float] = deque()  # arrival times of counted requests, last second
        self._private: dict[int, tuple[float, float]] = {}  # chat → (tokens, when)
        self._groups: dict[int, deque[float]] = defaultdict(deque)  # chat → arrivals, last minute
        self._wait_until = 0.0  # the whole bot's flood wait
        self.server = _Server(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown waits for one poll: keep tests quick
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Emulator:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._closed.set()
        self.server.shutdown()
        self.server.server_close()
        # the suite's token check expects the bot's requests in the DEBUG log when it made any
        logging.getLogger(__name__).debug("emulator served %d calls", len(self.calls))

    # --- what tests send ------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for the bot's next getUpdates; returns its update_id.

        A button pressed under a message the emulator never sent (a test's made-up
        one) makes that message exist, as the press says it does."""
        with self._lock:
            pressed = (update.get("callback_query") or {}).get("message")
            if pressed:
                key = (int(pressed["chat"]["id"]), int(pressed["message_id"]))
                if key not in self.messages:  # only the bot's messages carry buttons
                    self.messages[key] = {"text": pressed.get("text"), "entities": None}
                    self.bots_own.add(key)
            query = update.get("callback_query")
            if query:
                self.queries[str(query["id"])] = time.monotonic()
            update = {"update_id": next(self._update_ids), **update}
            deliver = False
            if self.webhook is None and not self._outbox:
                self.updates.append(update)
            else:  # as Telegram does: a POST to the bot's webhook, after those before it
                self._outbox.append(update)
                deliver, self._delivering = not self._delivering, True
        if deliver:
            threading.Thread(target=self._deliver, daemon=True).start()
        self._new_update.set()
        return update["update_id"]

    def _deliver(self) -> None:
        """POST the outbox's updates to the webhook one at a time, oldest first."""
        while True:
            with self._lock:
                if not self._outbox:
                    self._delivering = False
                    return
                update = self._outbox[0]
            status = self._post(update)
            with self._lock:
                self._outbox.popleft()
                if status is not None:
                    self.webhook_answers.append(status)

    def _post(self, update: dict[str, Any]) -> int | None:
        """One update to the current webhook: the status answered, 0 for none; None if the
        webhook was deleted meanwhile (the update then waits for getUpdates). A refused
        connection is retried, backing off from 0.05 s, for up to WEBHOOK_RETRY_FOR."""
        deadline = time.monotonic() + WEBHOOK_RETRY_FOR
        pause = 0.05
        while True:
            with self._lock:
                webhook = self.webhook
                if webhook is None:
                    self.updates.append(update)
                    self._new_update.set()
                    return None
            request = urllib.request.Request(
                self.webhook_routes.get(webhook["url"], webhook["url"]),
                data=json.dumps(update).encode(),
                headers={
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": webhook["secret"],
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return answer.status
            except urllib.error.HTTPError as error:
                return error.code
            except urllib.error.URLError as error:  # the connection or the request's sending
                if not isinstance(error.reason, ConnectionRefusedError):
                    return 0
            except OSError:
                return 0  # connected, but no answer: the bot may have it, so not sent again
            with self._lock:
                self.webhook_refused += 1
            left = deadline - time.monotonic()
            if left <= 0 or self._closed.wait(min(pause, left)):
                return 0  # nobody listening
            pause = min(pause * 2, 0.5)

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        """The user's status in a group or channel, as getChatMember answers it: "creator",
        "administrator", "member", "left" or "kicked"."""
        assert status in MEMBER_STATUSES, status
        with self._lock:
            self.members[(chat_id, user_id)] = status

    def can_see(self, chat_id: int, user_id: int) -> bool:
        """Whether the user sees the chat's messages: a private chat its owner only, a
        group or channel anyone in it."""
        if chat_id > 0:
            return chat_id == user_id
        return self.members.get((chat_id, user_id), "member") not in ("left", "kicked")

    def pressed(
        self,
        chat_id: int,
        message_id: int,
        user_id: int,
        data: str,
        *,
        language: str = "zh-hans",
        first_name: str = "u",
    ) -> int:
        """The update Telegram delivers when ``user_id`` presses ``data`` on
        the bot's message: any data, whatever buttons the message shows (Telegram does not
        check), the message as it is now, ``from`` the presser (in a channel too).

        Only someone who sees the message can press: a test that forges a press nobody
        could make is wrong, and says so."""
        key = (chat_id, message_id)
        with self._lock:
            shown = self.messages.get(key)
            kind = self._chat_kind(chat_id)
        assert shown is not None and key in self.bots_own, f"no message of the bot's at {key}"
        assert self.can_see(chat_id, user_id), f"user {user_id} cannot see chat {chat_id}"
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = f"chat {chat_id}"
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time() + self.offset),
            "chat": chat,
        }
        if shown.get("media"):
            message["photo"] = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
            if shown.get("text") is not None:
                message["caption"] = shown["text"]
        else:
            message["text"] = shown.get("text") or "…"
        if kind == "channel":
            message["sender_chat"] = chat
        if shown.get("reply_markup"):
            message["reply_markup"] = shown["reply_markup"]
        query = {
            "id": str(time.time_ns()),
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name,
                "language_code": language,
            },
            "chat_instance": f"ci{chat_id}",
            "data": data,
            "message": message,
        }
        return {"callback_query": query}

    def press(self, chat_id: int, message_id: int, user_id: int, data: str, **who: str) -> int:
        """:meth:`pressed`, delivered to the bot."""
        return self.push(self.pressed(chat_id, message_id, user_id, data, **who))

    def _chat_kind(self, chat_id: int) -> str:
        """A chat's type: the emulator knows its channels (ids alone do not say)."""
        return "channel" if chat_id in self.channels else _chat_type(chat_id)

    def upgrade_group(self, old: int, new: int) -> None:
        """A group becomes a supergroup, as Telegram does it: sends, edits, deletes and pins
        at the old id are refused with the new one (its messages stay there), and each chat
        gets its migration service message, numbered as that chat numbers its messages."""
        with self._lock:
            self.always[old] = Fault.migrated(new)
            ids = {old: self._next_id(old), new: self._next_id(new)}
        for chat, kind, other, key in (
            (old, "group", new, "migrate_to_chat_id"),
            (new, "supergroup", old, "migrate_from_chat_id"),
        ):
            self.push(
                {
                    "message": {
                        "message_id": ids[chat],
                        "date": int(time.time()),
                        "chat": {"id": chat, "type": kind, "title": "group"},
                        "from": {"id": 5, "is_bot": False, "first_name": "admin"},
                        key: other,
                    }
                }
            )

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock (message dates, the 48-hour delete window)."""
        self.offset += seconds

    def grant(self, chat_id: int, *rights: str) -> None:
        """Make the bot an administrator of a group or channel with these rights."""
        self.rights[chat_id].update(rights)

    def fail(self, chat_id: int, method: str, fault: Fault, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` to ``chat_id`` get ``fault``, whatever the
        method (unlike ``once``, which only sends consult)."""
        with self._lock:
            self.failing[(chat_id, method)].extend([fault] * times)

    def restrict_media(self, chat_id: int, restricted: bool = True) -> None:
        """The chat forbids media to members, the bot included: photos, albums, animations
        and media edits are refused, text goes through. The chat is not gone."""
        with self._lock:
            (self.media_restricted.add if restricted else self.media_restricted.discard)(chat_id)

    def close_topic(self, chat_id: int, thread_id: int, closed: bool = True) -> None:
        """Close a forum topic (sends to it: TOPIC_CLOSED), or reopen it."""
        with self._lock:
            topic = (chat_id, thread_id)
            (self.closed_topics.add if closed else self.closed_topics.discard)(topic)

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Delete a forum topic for good: sends to it find no thread."""
        with self._lock:
            self.deleted_topics.add((chat_id, thread_id))

    def user_posts(self, chat_id: int, text: str) -> int:
        """A member posts a message (no update is pushed): it takes the chat's next id, as
        the bot's would, so an id the bot mixes up can name it. Returns its id."""
        with self._lock:
            message_id = self._next_id(chat_id)
            key = (chat_id, message_id)
            self.messages[key] = {"text": text, "entities": None, "reply_markup": None}
            self.sent_at[key] = time.monotonic() + self.offset
        return message_id

    def user_deletes(self, chat_id: int, message_id: int) -> None:
        """Someone in the chat deleted the bot's message."""
        with self._lock:
            self.messages.pop((chat_id, message_id), None)
            self.pinned[chat_id].discard(message_id)

    def messages_now(self) -> dict[tuple[int, int], dict[str, Any]]:
        """Every message every chat shows now, by (chat, message id)."""
        with self._lock:
            return dict(self.messages)

    def shown(self, chat_id: int) -> list[dict[str, Any]]:
        """What the chat shows now, oldest first: each message's text and entities, and
        ``from_bot`` (False: a member's, see ``user_posts``)."""
        with self._lock:
            keys = sorted(k for k in self.messages if k[0] == chat_id)
            return [
                {"message_id": k[1], **self.messages[k], "from_bot": k in self.bots_own}
                for k in keys
            ]

    # --- what tests read -----------------------------------------------------------
    def delivered(self, method: str | None = None) -> list[tuple[int, Call]]:
        with self._lock:
            return [
                (int(c.params["chat_id"]), c)
                for c in self.calls
                if c.ok and c.method in SEND_METHODS and (method is None or c.method == method)
            ]

    def tampered(self) -> list[Call]:
        """Successful edits, deletes, pins and unpins of a message the bot did not send in
        that chat: a member's, or an id the bot took from another chat."""
        with self._lock:
            return list(self._tampered)

    def cards_per_chat(self) -> dict[int, int]:
        """How many cards (the first part of every notice) each chat got."""
        counts: dict[int, int] = defaultdict(int)
        for chat_id, call in self.delivered():
            if _is_card(call):
                counts[chat_id] += 1
        return dict(counts)

    def stats(self) -> dict[str, int]:
        """For a benchmark in another process: what arrived and what was refused."""
        return {
            "calls": len(self.calls),
            "delivered": len(self.delivered()),
            "too_many": self.too_many,
            "inside_retry_after": self.inside_retry_after,
            "not_modified": self.not_modified_count(),
            "max_per_second": self.max_per_second(),
        }

    def not_modified_count(self) -> int:
        return sum(1 for c in self.calls if c.error == NOT_MODIFIED)

    def max_per_second(self) -> int:
        """The most counted requests that arrived in any one-second window."""
        with self._lock:
            times = sorted(c.at for c in self.calls if c.ok and counted(c.method))
        start = best = 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    # --- the HTTP side ---------------------------------------------------------------
    def answer(
        self, method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], Fault | None]:
        """The answer's code and body, and the injected fault whose ``drop`` or ``delay``
        the HTTP side then applies to it."""
        now = time.monotonic()
        call = Call(method, params, now)
        _CURRENT.call = call
        with self._lock:
            self.calls.append(call)
            fault = self._still_waiting(method, now) or self._fault_for(method, params)
            network = fault if fault is not None and (fault.drop or fault.delay) else None
            if fault is not None and fault.code == 200:
                fault = None  # it goes through like any call; only its answer suffers
            if fault is None:
                fault = self._chat_refuses(method, params)
            if fault is None and self.limits and counted(method):
                fault = self._over_limit(params, now)
            if fault is not None and fault.retry_after:
                self.too_many += 1
                self._wait_until = max(self._wait_until, now + fault.retry_after)
            if fault is None:
                fault = _malformed(method, params)
            if fault is None and method in MESSAGE_METHODS:
                fault = self._refused_on_message(method, params, now + self.offset)
            if fault is None and method.startswith("editMessage"):
                fault = self._unchanged(method, params)
            foreign = (
                method in MESSAGE_METHODS
                and "message_id" in params
                and (_chat_key(params.get("chat_id")), int(params["message_id"]))
                not in self.bots_own
            )
        if fault is not None:
            call.error = fault.description
            return fault.code, _error(fault), network
        try:
            result = self._result(method, params)
        except _Refused as refused:
            call.error = refused.fault.description
            return refused.fault.code, _error(refused.fault), network
        call.ok = True
        if method in SEND_METHODS:
            results = result if isinstance(result, list) else [result]
            call.message_ids = [r["message_id"] for r in results]
        if foreign:
            with self._lock:
                self._tampered.append(call)
        return 200, {"ok": True, "result": result}, network

    def _fault_for(self, method: str, params: dict[str, Any]) -> Fault | None:
        """Injected faults: ``fail``'s for any method first, then the chat's permanent one
        (a migration refuses every message method, others sends only), then ``once``."""
        chat_id = _chat_key(params.get("chat_id", 0))
        failing = self.failing.get((chat_id, method))
        if failing:
            return failing.popleft()
        permanent = self.always.get(chat_id)
        if permanent is not None and method in MESSAGE_METHODS and permanent.migrate_to:
            return permanent
        if method not in SEND_METHODS:
            return None
        if permanent is not None:
            return permanent
        if self.once[chat_id]:
            return self.once[chat_id].popleft()
        if any(url in self.bad_urls for url in _media_urls(params)):
            return Fault.bad_photo()
        return None

    def _chat_refuses(self, method: str, params: dict[str, Any]) -> Fault | None:
        """What the chat's own settings forbid: media to members, closed or deleted topics."""
        chat_id = _chat_key(params.get("chat_id", 0))
        if chat_id in self.media_restricted:
            kind = _media_kind(method, params)
            if kind is not None:
                return Fault.no_media_rights(kind)
        thread = params.get("message_thread_id")
        if method in SEND_METHODS and thread is not None:
            topic = (chat_id, int(thread))
            if topic in self.deleted_topics:
                return Fault.thread_not_found()
            if topic in self.closed_topics and "can_manage_topics" not in self.rights[chat_id]:
                return Fault.topic_closed()
        return None

    def _still_waiting(self, method: str, now: float) -> Fault | None:
        """Inside the bot's flood wait every request is refused, and the wait grows."""
        if method == "getUpdates" or now >= self._wait_until:
            return None
        self.inside_retry_after += 1
        self._wait_until += 1.0
        return Fault.flood(math.ceil(self._wait_until - now))

    def _over_limit(self, params: dict[str, Any], now: float) -> Fault | None:
        """The whole bot's second, then the chat's own limit; only accepted calls count."""
        assert self.limits is not None
        limits = self.limits
        items = len(params["media"]) if isinstance(params.get("media"), list) else 1
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        if len(self._window) + items > limits.per_second:
            return Fault.flood(1)
        chat_id = _chat_key(params.get("chat_id"))
        if chat_id > 0:
            tokens, then = self._private.get(chat_id, (float(limits.private_burst), now))
            tokens = min(limits.private_burst, tokens + (now - then) * limits.private_per_second)
            if tokens < 1.0:
                return Fault.flood(math.ceil((1.0 - tokens) / limits.private_per_second))
            self._private[chat_id] = (tokens - 1.0, now)
        else:
            minute = self._groups[chat_id]  # an album takes one place per picture
            while minute and now - minute[0] >= 60.0:
                minute.popleft()
            over = len(minute) + items - limits.group_per_minute
            if over > 0:
                oldest = minute[min(over, len(minute)) - 1] if minute else now
                return Fault.flood(max(1, math.ceil(60.0 - (now - oldest))))
            minute.extend([now] * items)
        self._window.extend([now] * items)
        return None

    def _refused_on_message(self, method: str, params: dict[str, Any], now: float) -> Fault | None:
        """Edits, deletes and pins of one message: gone, too old, the wrong kind, no rights."""
        chat_id = _chat_key(params.get("chat_id"))
        key = (chat_id, int(params.get("message_id") or 0))
        before = self.messages.get(key)
        rights = self.rights[chat_id]
        if method.startswith("editMessage"):
            if before is None:
                return Fault(400, "Bad Request: message to edit not found")
            if key not in self.bots_own:
                return Fault(400, "Bad Request: message can't be edited")
            if method == "editMessageText" and before.get("media"):
                return Fault(400, "Bad Request: there is no text in the message to edit")
            if method == "editMessageCaption" and not before.get("media"):
                return Fault(400, "Bad Request: there is no caption in the message to edit")
            return None
        if method == "deleteMessage":
            if before is None:
                return Fault(400, "Bad Request: message to delete not found")
            too_old = now - self.sent_at.get(key, now) >= 48 * 3600
            needs_right = chat_id in self.channels or (chat_id < 0 and key not in self.bots_own)
            if too_old or (needs_right and "can_delete_messages" not in rights):
                return Fault.cannot_delete()
            return None
        needed = "can_edit_messages" if chat_id in self.channels else "can_pin_messages"
        if chat_id < 0 and needed not in rights:
            return Fault(400, NO_PIN_RIGHTS)
        if method == "pinChatMessage" and before is None:
            return Fault(400, "Bad Request: message to pin not found")
        return None

    def _unchanged(self, method: str, params: dict[str, Any]) -> Fault | None:
        """An edit of a message we know, to exactly what it already shows."""
        key = (_chat_key(params.get("chat_id")), int(params.get("message_id") or 0))
        before = self.messages.get(key)
        after = _content(params)
        if before is not None and method == "editMessageMedia":
            after = {**_content(_media(params)), "reply_markup": params.get("reply_markup")}
        elif before is not None and method != "editMessageReplyMarkup":
            after = {**after, "reply_markup": params.get("reply_markup")}
        elif before is not None:
            after = {**before, "reply_markup": params.get("reply_markup")}
        if before is not None and before.get("media") and method != "editMessageMedia":
            after = {**after, "media": before["media"]}
        if before == after:
            return Fault(400, NOT_MODIFIED)
        if before is not None:
            self.messages[key] = after
        return None

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "noticebot",
                "username": "noticebot_test_bot",
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method == "getUpdates":
            if self.webhook is not None:
                raise _Refused(
                    Fault(
                        409,
                        "Conflict: can't use getUpdates method while webhook"
                        " is active; use deleteWebhook to delete the webhook first",
                    )
                )
            with self._lock:  # a newer request ends the one being answered
                self._polling += 1
                poll = self._polling
                self._new_update.set()
            return self._get_updates(params, poll)
        if method == "setWebhook":
            return self._set_webhook(params)
        if method == "deleteWebhook":
            self.webhook = None
            return True
        if method == "getWebhookInfo":
            url = self.webhook["url"] if self.webhook else ""
            return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}
        if method == "getChatMember":
            return self._member(params["chat_id"], int(params["user_id"]))
        if method == "answerCallbackQuery":
            return self._answer_query(params)
        if method == "getChat":
            found = self.chats.get(str(params["chat_id"]))
            if found is None:
                raise _Refused(Fault(400, "Bad Request: chat not found"))
            return {"accent_color_id": 0, "max_reaction_count": 11, **found}
        if method.startswith("editMessage"):
            return self._message(params, None, message_id=int(params["message_id"]))
        if method == "deleteMessage":
            key = (int(params["chat_id"]), int(params["message_id"]))
            with self._lock:
                self.messages.pop(key, None)
                self.deleted.add(key)
                self.pinned[key[0]].discard(key[1])
            return True
        if method == "pinChatMessage":
            with self._lock:
                self.pinned[int(params["chat_id"])].add(int(params["message_id"]))
            return True
        if method == "unpinChatMessage":
            with self._lock:
                pinned = self.pinned[int(params["chat_id"])]
                if "message_id" in params:
                    pinned.discard(int(params["message_id"]))
                else:
                    pinned.clear()
            return True
        if method == "sendMediaGroup":
            return [self._message(params, item) for item in params["media"]]
        if method in SEND_METHODS:
            return self._message(params, None)
        return True

    def _answer_query(self, params: dict[str, Any]) -> bool:
        """A query is answered once, within about 15 seconds of its delivery; the toast's
        text is at most 200 characters."""
        if len(str(params.get("text") or "")) > 200:
            raise _Refused(Fault(400, "Bad Request: MESSAGE_TOO_LONG"))
        with self._lock:
            delivered = self.queries.pop(str(params.get("callback_query_id")), None)
            if delivered is None or time.monotonic() - delivered > QUERY_ANSWER_WITHIN:
                raise _Refused(
                    Fault(
                        400,
                        "Bad Request: query is too old and response timeout expired"
                        " or query ID is invalid",
                    )
                )
            self.answered.append(params)
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url, secret = str(params.get("url") or ""), str(params.get("secret_token") or "")
        if not url:
            self.webhook = None
            return True
        if not url.startswith("https://"):
            raise _Refused(
                Fault(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
            )
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _Refused(Fault(400, "Bad Request: secret token contains unallowed characters"))
        with self._lock:
            self.webhook = {"url": url, "secret": secret}
            if params.get("drop_pending_updates"):
                self.updates.clear()
        return True

    def _get_updates(self, params: dict[str, Any], poll: int) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 0.5)
        while True:
            with self._lock:
                if poll != self._polling:
                    raise _Refused(
                        Fault(
                            409,
                            "Conflict: terminated by other getUpdates request; make sure"
                            " that only one bot instance is running",
                        )
                    )
                while self.updates and self.updates[0]["update_id"] < offset:
                    self.updates.popleft()
                if self.updates:
                    return list(self.updates)
                self._new_update.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._new_update.wait(remaining)

    def _member(self, chat_id: Any, user_id: int) -> dict[str, Any]:
        default = "administrator" if user_id == BOT_ID else "member"
        status = self.members.get(
            (int(chat_id) if str(chat_id).lstrip("-").isdigit() else 0, user_id), default
        )
        user = {"id": user_id, "is_bot": user_id == BOT_ID, "first_name": "user"}
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "administrator":
            rights = (
                "can_be_edited can_manage_chat can_delete_messages can_manage_video_chats "
                "can_restrict_members can_promote_members can_change_info can_invite_users "
                "can_post_stories can_edit_stories can_delete_stories is_anonymous"
            )
            member.update(dict.fromkeys(rights.split(), False))
        if status == "creator":
            member["is_anonymous"] = False
        if status == "kicked":
            member["until_date"] = 0
        return member

    def _next_id(self, chat_id: int) -> int:
        """The id of the chat's next message (under the lock): a supergroup or channel
        counts its own from 1, private chats and basic groups share the bot's sequence."""
        if chat_id < 0 and (str(chat_id).startswith("-100") or chat_id in self.channels):
            return next(self._chat_ids.setdefault(chat_id, itertools.count(1)))
        return next(self._ids)

    def _message(
        self, params: dict[str, Any], media: dict[str, Any] | None, message_id: int | None = None
    ) -> dict[str, Any]:
        """A sent message (remembered for edits), or the edited one when ``message_id`` is set."""
        chat_id = int(params["chat_id"])
        if message_id is None:
            with self._lock:
                message_id = self._next_id(chat_id)
                self.messages[(chat_id, message_id)] = {
                    **_content(media or params),
                    "reply_markup": params.get("reply_markup"),
                }
                self.sent_at[(chat_id, message_id)] = time.monotonic() + self.offset
                self.bots_own.add((chat_id, message_id))
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time() + self.offset),
            "chat": {"id": chat_id, "type": self._chat_kind(chat_id)},
        }
        if "text" in params:
            message["text"] = params["text"]
        if "caption" in params:
            message["caption"] = params["caption"]
        if media is not None or "photo" in params:
            message["photo"] = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
        if "animation" in params:
            message["animation"] = {
                "file_id": "a",
                "file_unique_id": "a",
                "width": 1,
                "height": 1,
                "duration": 1,
            }
        return message


def _malformed(method: str, params: dict[str, Any]) -> Fault | None:
    """What Telegram refuses in a message itself: empty or too long text, a long caption,
    entities outside the text, button data over 64 bytes, an album of 1 or over 10."""
    if method == "sendMediaGroup" and not 2 <= len(params.get("media") or []) <= 10:
        return Fault(400, "Bad Request: media group must have 2 to 10 items")  # our wording
    if method in ("sendMessage", "editMessageText"):
        text, limit, entities = params.get("text") or "", 4096, params.get("entities")
        if not text.strip():
            return Fault(400, "Bad Request: message text is empty")
        if _utf16(text) > limit:
            return Fault(400, "Bad Request: message is too long")
    elif "caption" in params:
        text, limit, entities = params["caption"] or "", 1024, params.get("caption_entities")
        if _utf16(text) > limit:
            return Fault(400, "Bad Request: message caption is too long")
    else:
        return None
    for entity in entities or []:
        if entity["offset"] < 0 or entity["offset"] + entity["length"] > _utf16(text):
            return Fault(400, "Bad Request: can't parse entities: entity beyond the end of text")
    markup = params.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if len(str(button.get("callback_data", "")).encode()) > 64:
                return Fault(400, "Bad Request: BUTTON_DATA_INVALID")
            if "url" in button and not _button_url(str(button["url"])):
                return Fault(400, "Bad Request: BUTTON_URL_INVALID")
    return None


def _button_url(url: str) -> bool:
    """What Telegram opens from a button: http(s) or tg links with a real host name
    (not a path, not localhost), without spaces."""
    parts = urlsplit(url)
    if parts.scheme == "tg":
        return bool(parts.netloc) and not re.search(r"\s", url)
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and "." in host and not re.search(r"\s", url)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _chat_key(chat_id: Any) -> int:
    """A chat id as a number; an @username (channels only) counts as a group."""
    text = str(chat_id)
    return int(text) if text.lstrip("-").isdigit() else -abs(hash(text))


def _content(params: dict[str, Any]) -> dict[str, Any]:
    """What a message shows, as edits compare it (``media``: its picture's URL)."""
    media = params.get("photo") or params.get("animation") or params.get("media")
    content = {
        "text": params.get("text", params.get("caption")),
        "entities": params.get("entities", params.get("caption_entities")) or None,
    }
    if isinstance(media, str):
        content["media"] = media
    return content


def _media(params: dict[str, Any]) -> dict[str, Any]:
    """An editMessageMedia's new content as a send's params."""
    media = params.get("media")
    if isinstance(media, str):
        media = json.loads(media)
    media = media or {}
    return {
        media.get("type", "photo"): media.get("media"),
        "caption": media.get("caption"),
        "caption_entities": media.get("caption_entities"),
    }


def _media_kind(method: str, params: dict[str, Any]) -> str | None:
    """The kind of media a call sends, as Telegram's rights name it (None: text only)."""
    if method == "sendPhoto":
        return "photos"
    if method == "sendAnimation":
        return "animations"
    if method == "sendMediaGroup":
        types = [m.get("type", "photo") for m in params.get("media") or [] if isinstance(m, dict)]
        return MEDIA_KINDS.get(types[0], f"{types[0]}s") if types else "photos"
    if method == "editMessageMedia":
        kind = next(iter(_media(params)), "photo")
        return MEDIA_KINDS.get(kind, f"{kind}s")
    return None


def _is_card(call: Call) -> bool:
    """A notice's card: it has the read button, or (a card that holds the whole notice
    has none) it is a picture with a caption, which no other part has."""
    if call.method in ("sendPhoto", "sendAnimation") and call.params.get("caption"):
        return True
    markup = call.params.get("reply_markup") or {}
    buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
    return any(str(b.get("callback_data", "")).startswith("read:") for b in buttons)


def _media_urls(params: dict[str, Any]) -> list[str]:
    urls = [params[k] for k in ("photo", "animation") if isinstance(params.get(k), str)]
    urls += [m.get("media") for m in params.get("media", []) if isinstance(m, dict)]
    return urls


def _chat_type(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


def _error(fault: Fault) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": fault.code, "description": fault.description}
    parameters = {}
    if fault.retry_after is not None:
        parameters["retry_after"] = fault.retry_after
    if fault.migrate_to is not None:
        parameters["migrate_to_chat_id"] = fault.migrate_to
    if parameters:
        body["parameters"] = parameters
    return body


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        return json.loads(body)
    return decode_params(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


def _handler(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to every answer

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if len(raw) < length:  # the client went away mid-request: Telegram saw nothing
                self.close_connection = True
                return
            params = _parse(raw, self.headers.get("Content-Type", ""))
            if emulator.jitter:  # the network: requests bunch up and spread out on the way
                time.sleep(random.uniform(0, emulator.jitter))
            parts = self.path.strip("/").split("/")
            if len(parts) != 2 or not parts[0].startswith("bot"):
                self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            code, body, fault = emulator.answer(parts[1], params)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.drop:
                self.close_connection = True
                self.connection.close()
                return
            self._reply(code, body)
            call, _CURRENT.call = getattr(_CURRENT, "call", None), None
            if call is not None:
                call.answered_at = time.monotonic()

        def do_GET(self) -> None:
            if self.path == "/stats":
                self._reply(200, emulator.stats())
            else:
                self.do_POST()

        def _reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--no-limits", action="store_true", help="no flood control at all")
    parser.add_argument("--jitter", type=float, default=0.0, help="seconds on the way, at most")
    args = parser.parse_args()
    limits = None if args.no_limits else Limits()
    with Emulator(limits=limits, jitter=args.jitter, port=args.port) as emulator:
        print(f"Bot API emulator on {emulator.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
