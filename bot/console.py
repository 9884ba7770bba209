"""Console mode: the whole bot — handlers, jobs, ledger — with the terminal as Telegram.

python-telegram-bot accepts any :class:`BaseRequest`; this one answers the Bot
API in-process. ``getUpdates`` turns each line typed (or piped) on stdin into a
message from a local admin user, and every message the bot sends is printed as
``noticebot preview`` shows it. A number typed alone presses that button of the
last keyboard shown. At the end of piped input the bot finishes what it is
sending and stops.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.app import build_application, runtime_of
from bot.config import Config
from bot.formatting.outgoing import Outgoing, Part
from bot.formatting.preview import render_terminal
from bot.logs import shown_url
from bot.sending.delivery import SendPolicy

CONSOLE_USER = 1
CONSOLE_TOKEN = "0:console"
HEREDOC_END = "."
RAW_KEYS = frozenset({"text", "caption", "photo", "animation", "callback_data", "query"})
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendAnimation", "sendMediaGroup"})
# Seconds without output after the end of input: longer than a broadcast's progress edits.
QUIET_BEFORE_EXIT = 2.5


def banner(config: Config, sandbox: bool) -> str:
    ledger = shown_url(str(config.db))
    where = (
        f"ledger: {ledger} and announcements: {config.announce_dir}, both temporary "
        "(gone when you quit; `noticebot run --console --db FILE` uses a real ledger)"
        if sandbox
        else f"ledger: {ledger} (real, as asked); announcements: {config.announce_dir}"
    )
    return (
        "noticebot console mode — no TELEGRAM_BOT_TOKEN, so nothing is sent to Telegram.\n"
        f"Articles: {', '.join(map(str, config.articles))}; {where}.\n"
        "You are a local admin in a private chat: try /latest, /read_<id>, /subscribe,\n"
        "/search 关键词, /settings, /broadcast <id>. A number presses a button; Ctrl-D quits.\n"
        "/announce alone on a line starts a notice: its lines, with **bold**, *italic*,\n"
        "`code`, [links](https://…) and `- ` or `1. ` lists, until a line with a single '.'.\n"
        "To run for real: export TELEGRAM_BOT_TOKEN=… (from @BotFather) and run again.\n"
    )


def console_config(config: Config, real_db: Path | None, sandbox: Path) -> Config:
    """The configured bot with the console as its only admin chat. Its ledger and
    announcements folder are in ``sandbox`` unless a ledger was chosen on purpose:
    a console /announce must never land in the folder a running bot takes notices from."""
    admins = config.admins | {CONSOLE_USER}
    if real_db is not None:
        return replace(config, token=CONSOLE_TOKEN, db=real_db, admins=admins)
    return replace(
        config,
        token=CONSOLE_TOKEN,
        db=sandbox / "console.db",
        announce_dir=sandbox / "announcements",
        admins=admins,
    )


class ConsoleRequest(BaseRequest):
    """The Bot API, answered here: stdin in, rendered messages out."""

    def __init__(self, stdin: TextIO, stdout: TextIO, *, lang: str, color: bool) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.lang = lang
        self.color = color
        self.on_end: Callable[[], None] | None = None
        self._ids = itertools.count(1)
        self._updates = itertools.count(1)
        self._buttons: list[str] = []
        self._markup: dict[str, Any] | None = None  # the buttons last shown
        self._ended = False
        self._last_output = time.monotonic()
        self._lines: asyncio.Queue[str] | None = None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = None,
        write_timeout: object = None,
        connect_timeout: object = None,
        pool_timeout: object = None,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = _params(request_data)
        result = await self._answer(endpoint, params)
        return 200, json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode()

    async def _answer(self, endpoint: str, params: dict[str, Any]) -> Any:
        if endpoint == "getMe":
            return {"id": 4242, "is_bot": True, "first_name": "noticebot", "username": "noticebot"}
        if endpoint == "getUpdates":
            return await self._next_updates()
        if endpoint in SEND_METHODS:
            self._print(Outgoing(endpoint, params, _part(endpoint, params)), params.get("chat_id"))
            count = len(params["media"]) if endpoint == "sendMediaGroup" else 1
            messages = [self._message(params) for _ in range(count)]
            return messages if endpoint == "sendMediaGroup" else messages[0]
        if endpoint in ("editMessageText", "editMessageReplyMarkup", "editMessageCaption"):
            shown = {**params, "text": params.get("text", params.get("caption", ""))}
            self._print(Outgoing("sendMessage", shown, "text"), params.get("chat_id"), "edited")
            return {**self._message(params), "message_id": int(params.get("message_id", 0))}
        if endpoint == "editMessageMedia":
            self._write(f"  (message {params.get('message_id')}: picture replaced)\n")
            return {**self._message(params), "message_id": int(params.get("message_id", 0))}
        if endpoint == "deleteMessage":
            self._write(f"  (message {params.get('message_id')} deleted)\n")
        if endpoint == "answerCallbackQuery" and params.get("text"):
            self._write(f"  ({params['text']})\n")
        if endpoint == "getChatMember":
            user = {"id": int(params["user_id"]), "is_bot": False, "first_name": "you"}
            return {"status": "creator", "user": user, "is_anonymous": False}
        return True

    async def _next_updates(self) -> list[dict[str, Any]]:
        if self._ended:
            await asyncio.sleep(0.2)
            if time.monotonic() - self._last_output >= QUIET_BEFORE_EXIT and self.on_end:
                on_end, self.on_end = self.on_end, None
                on_end()
            return []
        try:  # return now and then, so that a stop request is not stuck behind input
            line = await asyncio.wait_for(self._read_line(), timeout=1.0)
        except TimeoutError:
            return []
        if not line:
            self._ended = True
            self._last_output = time.monotonic()
            return []
        text = line.strip()
        if not text:
            return []
        self._write(f"\n> {text}\n")
        if text == "/announce":
            self._write(
                f"  (the notice, line by line; a line with a single {HEREDOC_END} ends it)\n"
            )
            body = await self._here_document()
            return [self._update(f"/announce\n{body}" if body else text)]
        return [self._update(text)]

    async def _here_document(self) -> str:
        """Lines until one holding only the end mark (or the end of input), as typed."""
        lines: list[str] = []
        while (line := await self._read_line()) and line.strip() != HEREDOC_END:
            lines.append(line.rstrip("\r\n"))
        if not line:
            self._ended = True
            self._last_output = time.monotonic()
        return "\n".join(lines).strip("\n")

    async def _read_line(self) -> str:
        """The next line of stdin ('' at the end), read by a daemon thread so that
        Ctrl-C can end the program while it waits for input."""
        if self._lines is None:
            self._lines = asyncio.Queue()
            loop = asyncio.get_running_loop()

            def reader() -> None:
                for line in iter(self.stdin.readline, ""):
                    loop.call_soon_threadsafe(self._lines.put_nowait, line)  # type: ignore[union-attr]
                loop.call_soon_threadsafe(self._lines.put_nowait, "")  # type: ignore[union-attr]

            threading.Thread(target=reader, name="console-stdin", daemon=True).start()
        return await self._lines.get()  # cancelled by a timeout, the queue keeps the line

    def _update(self, text: str) -> dict[str, Any]:
        user = {
            "id": CONSOLE_USER,
            "is_bot": False,
            "first_name": "you",
            "language_code": self.lang,
        }
        chat = {"id": CONSOLE_USER, "type": "private", "first_name": "you"}
        update_id = next(self._updates)
        if text.isdigit() and 0 < int(text) <= len(self._buttons):
            return {
                "update_id": update_id,
                "callback_query": {
                    "id": str(update_id),
                    "from": user,
                    "chat_instance": "console",
                    "data": self._buttons[int(text) - 1],
                    "message": {
                        "message_id": 0,
                        "date": int(time.time()),
                        "chat": chat,
                        "text": "",
                        "reply_markup": self._markup,
                    },
                },
            }
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            rest, entities = markdown_entities(text[len(command) :], offset=_utf16(command))
            message["text"] = command + rest
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16(command)},
                *entities,
            ]
        return {"update_id": update_id, "message": message}

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params.get("chat_id", CONSOLE_USER))
        kind = "private" if chat_id > 0 else "supergroup"
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": kind},
            "text": params.get("text", ""),
        }

    def _print(self, message: Outgoing, chat_id: object, note: str = "") -> None:
        where = "you" if str(chat_id) == str(CONSOLE_USER) else f"chat {chat_id}"
        title = f"→ {where}" + (f" ({note})" if note else "")
        self._write(render_terminal(title, [message], color=self.color))
        self._remember_buttons(message.params.get("reply_markup"))

    def _remember_buttons(self, markup: Any) -> None:
        rows = (markup or {}).get("inline_keyboard") if isinstance(markup, dict) else None
        if not rows:
            return
        self._buttons = [b["callback_data"] for row in rows for b in row if "callback_data" in b]
        self._markup = markup  # a press comes on the message that shows these buttons
        if self._buttons:
            labels = [b["text"] for row in rows for b in row if "callback_data" in b]
            numbered = "  ".join(f"[{i}] {label}" for i, label in enumerate(labels, 1))
            self._write(f"  press: {numbered}\n")

    def _write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
        self._last_output = time.monotonic()


_INLINE = re.compile(
    r"\*\*(?P<bold>[^*\n]+?)\*\*"
    r"|__(?P<bold2>[^_\n]+?)__"
    r"|(?<!\*)\*(?P<italic>[^*\s][^*\n]*?)\*(?!\*)"
    r"|(?<!\w)_(?P<italic2>[^_\s][^_\n]*?)_(?!\w)"
    r"|`(?P<code>[^`\n]+)`"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>[^)\s]+)\)"
)
_KINDS = {"bold": "bold", "bold2": "bold", "italic": "italic", "italic2": "italic"}


def markdown_entities(text: str, offset: int = 0) -> tuple[str, list[dict[str, Any]]]:
    """Markdown typed in the terminal as a Telegram app sends it: the text without the
    marks, and entities (offsets in UTF-16 units, as the Bot API counts) for what they
    marked. A terminal has no bold key; the bot reads the entities as it does in chat."""
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    position = offset
    last = 0
    for match in _INLINE.finditer(text):
        before = text[last : match.start()]
        out.append(before)
        position += _utf16(before)
        kind = match.lastgroup or ""
        if kind in ("label", "url"):
            shown = match.group("label")
            entity: dict[str, Any] = {"type": "text_link", "url": match.group("url")}
        else:
            shown = match.group(kind)
            entity = {"type": _KINDS.get(kind, kind)}
        entities.append({**entity, "offset": position, "length": _utf16(shown)})
        out.append(shown)
        position += _utf16(shown)
        last = match.end()
    out.append(text[last:])
    return "".join(out), entities


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _part(method: str, params: dict[str, Any]) -> Part:
    """A picture with a caption or buttons is a card (a short notice's has no buttons);
    a bare picture belongs to an album."""
    if method == "sendMessage":
        return "text"
    return "card" if "caption" in params or "reply_markup" in params else "album"


def _params(request_data: RequestData | None) -> dict[str, Any]:
    return decode_params(request_data.json_parameters.items()) if request_data else {}


def decode_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Bot API parameters as python-telegram-bot sends them: text as it is, the rest JSON."""
    params: dict[str, Any] = {}
    for key, value in pairs:
        if key in RAW_KEYS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def run_console(
    config: Config,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    *,
    db: Path | None = None,
) -> None:
    """The bot with the terminal in place of Telegram, until Ctrl-D or the end of input.
    ``db``: a real ledger chosen on purpose; without it everything lives in a temporary
    folder removed at the end."""
    with tempfile.TemporaryDirectory(prefix="noticebot-console-") as sandbox:
        config = console_config(config, db, Path(sandbox))
        request = ConsoleRequest(stdin, stdout, lang=config.lang, color=stdout.isatty())
        stdout.write(banner(config, sandbox=db is None))
        application = build_application(
            config,
            policy=SendPolicy(),
            rate_limits=False,
            request=request,
        )
        request.on_end = application.stop_running
        runtime_of(application).scanner.scan()  # so the first command already sees them
        application.run_polling(allowed_updates=Update.ALL_TYPES, poll_interval=0.0, timeout=1)
