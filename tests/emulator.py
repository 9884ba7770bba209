"""A local Telegram Bot API emulator for tests and benchmarks: real HTTP on loopback.

It answers in Telegram's JSON shapes, including errors
(``{"ok": false, "error_code", "description", "parameters": {...}}``), records
every call, and injects faults per chat (queued once-only faults or permanent
ones) and per photo URL. Optional overall rate limit answers 429 like Telegram.
Run alone: ``python -m tests.emulator --port 8081``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from bot.console import decode_params

BOT_ID = 4242
SEND_METHODS = {"sendMessage", "sendPhoto", "sendAnimation", "sendMediaGroup"}


@dataclass(frozen=True)
class Fault:
    code: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    migrate_to: int | None = None
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
        return cls(
            400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to=new_id
        )

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Deliver, but answer late: past the client's timeout, a delivered message looks lost."""
        return cls(200, "OK", delay=seconds)

    @classmethod
    def bad_photo(cls) -> Fault:
        return cls(400, "Bad Request: wrong file identifier/HTTP URL specified")


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


class Emulator:
    def __init__(self, *, rate_limit: float | None = None, port: int = 0) -> None:
        self.rate_limit = rate_limit
        self.calls: list[Call] = []
        self.once: dict[int, deque[Fault]] = defaultdict(deque)  # chat id → next faults
        self.always: dict[int, Fault] = {}  # chat id → permanent fault
        self.bad_urls: set[str] = set()
        self.updates: deque[dict[str, Any]] = deque()
        self.members: dict[tuple[int, int], str] = {}  # (chat, user) → status; default member
        self.chats: dict[str, dict[str, Any]] = {}  # "@name" → Chat, for getChat
        self._update_ids = itertools.count(1)
        self._new_update = threading.Event()
        self.too_many = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self.server = _Server(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Emulator:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what tests send ------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for the bot's next getUpdates; returns its update_id."""
        with self._lock:
            update = {"update_id": next(self._update_ids), **update}
            self.updates.append(update)
        self._new_update.set()
        return update["update_id"]

    # --- what tests read -----------------------------------------------------------
    def delivered(self, method: str | None = None) -> list[tuple[int, Call]]:
        with self._lock:
            return [
                (int(c.params["chat_id"]), c)
                for c in self.calls
                if c.ok and c.method in SEND_METHODS and (method is None or c.method == method)
            ]

    def cards_per_chat(self) -> dict[int, int]:
        """How many cards (the first part of every notice) each chat got."""
        counts: dict[int, int] = defaultdict(int)
        for chat_id, call in self.delivered():
            if _is_card(call):
                counts[chat_id] += 1
        return dict(counts)

    def stats(self) -> dict[str, int]:
        """For a benchmark in another process: what arrived and what was refused."""
        with self._lock:
            ok = sum(1 for c in self.calls if c.ok and c.method in SEND_METHODS)
            return {"calls": len(self.calls), "delivered": ok, "too_many": self.too_many}

    # --- the HTTP side ---------------------------------------------------------------
    def answer(
        self, method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], Fault | None]:
        call = Call(method, params, time.monotonic())
        with self._lock:
            self.calls.append(call)
            fault = self._fault_for(method, params)
            if fault is None and method in SEND_METHODS and self._over_rate():
                self.too_many += 1
                fault = Fault.flood(1)
        if fault is not None and fault.code != 200:
            return fault.code, _error(fault), fault
        try:
            result = self._result(method, params)
        except _Refused as refused:
            return refused.fault.code, _error(refused.fault), refused.fault
        call.ok = True
        if method in SEND_METHODS:
            results = result if isinstance(result, list) else [result]
            call.message_ids = [r["message_id"] for r in results]
        return 200, {"ok": True, "result": result}, fault

    def _fault_for(self, method: str, params: dict[str, Any]) -> Fault | None:
        if method not in SEND_METHODS:
            return None
        chat_id = int(params.get("chat_id", 0))
        if chat_id in self.always:
            return self.always[chat_id]
        if self.once[chat_id]:
            return self.once[chat_id].popleft()
        if any(url in self.bad_urls for url in _media_urls(params)):
            return Fault.bad_photo()
        return None

    def _over_rate(self) -> bool:
        if not self.rate_limit:
            return False
        now = time.monotonic()
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        if len(self._window) >= self.rate_limit:
            return True
        self._window.append(now)
        return False

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
            return self._get_updates(params)
        if method == "getChatMember":
            return self._member(params["chat_id"], int(params["user_id"]))
        if method == "getChat":
            found = self.chats.get(str(params["chat_id"]))
            if found is None:
                raise _Refused(Fault(400, "Bad Request: chat not found"))
            return {"accent_color_id": 0, "max_reaction_count": 11, **found}
        if method in ("editMessageText", "editMessageReplyMarkup"):
            return {**self._message(params, None), "message_id": int(params["message_id"])}
        if method == "sendMediaGroup":
            return [self._message(params, item) for item in params["media"]]
        if method in SEND_METHODS:
            return self._message(params, None)
        return True

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 0.5)
        while True:
            with self._lock:
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
        return member

    def _message(self, params: dict[str, Any], media: dict[str, Any] | None) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": _chat_type(chat_id)},
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


def _is_card(call: Call) -> bool:
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
            params = _parse(self.rfile.read(length), self.headers.get("Content-Type", ""))
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
    parser.add_argument("--rate-limit", type=float, default=None)
    args = parser.parse_args()
    with Emulator(rate_limit=args.rate_limit, port=args.port) as emulator:
        print(f"Bot API emulator on {emulator.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
