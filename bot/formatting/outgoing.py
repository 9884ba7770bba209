"""The formatter's output: one planned Bot API call, independent of any chat.

Kept apart from the formatter so that the sender, the preview and the tests can
depend on the shape of a message without depending on how it is made.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from functools import cached_property
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

    @cached_property
    def content_hash(self) -> str:
        """What the message shows, as a short hash: two calls that show the same have
        the same hash, wherever they are sent (a reply's target is not content)."""
        params = {k: v for k, v in self.params.items() if k != "reply_parameters"}
        blob = json.dumps([self.method, params], sort_keys=True, ensure_ascii=False)
        return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()

    def text_and_entities(self) -> tuple[str, list[dict[str, Any]]]:
        """The visible text of a message or caption, with its entities."""
        if self.method == "sendMessage":
            return self.params.get("text", ""), self.params.get("entities", [])
        return self.params.get("caption", ""), self.params.get("caption_entities", [])

    @property
    def limit(self) -> int:
        return TEXT_LIMIT if self.method == "sendMessage" else CAPTION_LIMIT

    @property
    def media_urls(self) -> list[str]:
        if self.method == "sendMediaGroup":
            return [item["media"] for item in self.params["media"]]
        for key in ("photo", "animation"):
            if key in self.params:
                return [self.params[key]]
        return []

    def with_fallback_media(self) -> Outgoing | None:
        """The same call with each picture's fallback URL, or None if there is none."""
        if not any(self.fallbacks):
            return None
        urls = [fb or url for url, fb in zip(self.media_urls, self.fallbacks, strict=False)]
        if self.method == "sendMediaGroup":
            media = [
                {**item, "media": url} for item, url in zip(self.params["media"], urls, strict=True)
            ]
            params = {**self.params, "media": media}
        else:
            key = "photo" if "photo" in self.params else "animation"
            params = {**self.params, key: urls[0]}
        return replace(self, params=params, fallbacks=())

    def as_text(self) -> Outgoing:
        """A photo card as a text message: what a chat gets when no picture can be sent."""
        text, entities = self.text_and_entities()
        params = {"text": text, "entities": entities, "link_preview_options": {"is_disabled": True}}
        if "reply_markup" in self.params:
            params["reply_markup"] = self.params["reply_markup"]
        return Outgoing("sendMessage", params, self.part)

    def without_entities(self) -> Outgoing:
        """Plain text: the last resort when Telegram refuses the formatting."""
        params = {k: v for k, v in self.params.items() if k not in ("entities", "caption_entities")}
        return replace(self, params=params)
