"""The formatter's output: one planned Bot API call, independent of any chat.

Kept apart from the formatter so that the sender, the preview and the tests can
depend on the shape of a message without depending on how it is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Part = Literal["card", "text", "album"]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ENTITY_LIMIT = 100


@dataclass(frozen=True)
class Outgoing:
    """A Bot API call without ``chat_id``: ``method`` and JSON-ready ``params``.

    Entity offsets and lengths in ``params`` are UTF-16 code units, as Telegram counts.
    ``fallbacks`` holds, per photo/animation in the call, a second URL to try
    when Telegram cannot fetch the first (``None`` where there is none).
    """

    method: str
    params: dict[str, Any]
    part: Part
    fallbacks: tuple[str | None, ...] = field(default=())

    def text_and_entities(self) -> tuple[str, list[dict[str, Any]]]:
        """The visible text of a message or caption, with its entities."""
        if self.method == "sendMessage":
            return self.params.get("text", ""), self.params.get("entities", [])
        return self.params.get("caption", ""), self.params.get("caption_entities", [])

    @property
    def limit(self) -> int:
        return TEXT_LIMIT if self.method == "sendMessage" else CAPTION_LIMIT
