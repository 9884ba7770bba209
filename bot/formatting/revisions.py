"""The Bot API calls that change a message already delivered: edit it to a new
version, mark it withdrawn, delete it, pin or unpin it. Pure: no I/O.

An edit keeps the message where it is. What cannot be edited in place (an album,
or a part that changed kind, text to photo) is replaced: the new part is sent as
a reply to the card, then the old one is deleted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.formatting.outgoing import Outgoing

MEDIA_METHODS = {"sendPhoto": "photo", "sendAnimation": "animation"}


def edit_to(new: Outgoing, message_id: int, kind: str, media: str | None) -> Outgoing | None:
    """The edit that makes message ``message_id`` (sent by method ``kind``, showing
    picture ``media``; None or "" for unknown: the picture is set again) show ``new``;
    None if it must be replaced instead (an album, or a part that changed kind)."""
    kind = kind or new.method
    markup = {"reply_markup": new.params["reply_markup"]} if "reply_markup" in new.params else {}
    if kind == "sendMessage":  # a text, or a card that went out as text (its picture refused)
        text = new if new.method == "sendMessage" else new.as_text()
        params = {key: text.params[key] for key in ("text", "entities", "link_preview_options")}
        return _edit("editMessageText", message_id, {**params, **markup}, new)
    media_key = MEDIA_METHODS.get(new.method)
    if media_key is None or kind != new.method:
        return None
    caption = _caption(new)
    if media == new.params[media_key]:
        return _edit("editMessageCaption", message_id, {**caption, **markup}, new)
    edited = {"type": media_key, "media": new.params[media_key], **caption}
    return _edit("editMessageMedia", message_id, {"media": edited, **markup}, new)


def _caption(new: Outgoing) -> dict[str, Any]:
    """The caption's params, none for a picture without one: an empty caption with an
    empty entity list is shown by some clients as "[]"; leaving both out removes it."""
    caption = {"caption": new.params.get("caption") or None}
    if new.params.get("caption_entities"):
        caption["caption_entities"] = new.params["caption_entities"]
    return {k: v for k, v in caption.items() if v}


def album_item(message_id: int, url: str) -> Outgoing:
    """One picture of an album, changed in place."""
    media = {"type": "photo", "media": url}
    return Outgoing("editMessageMedia", {"message_id": message_id, "media": media}, "album")


def media_of(message: Outgoing) -> str | None:
    """The picture a card or photo shows (what decides a caption edit from a media edit)."""
    key = MEDIA_METHODS.get(message.method)
    return message.params.get(key) if key else None


def mark_withdrawn(note: Outgoing, message_id: int, *, caption: bool) -> Outgoing:
    """The card edited to say its notice was withdrawn (``note``: the formatter's
    text); ``caption`` when the card is a picture. Without a keyboard: no buttons."""
    if not caption:
        edit = edit_to(note, message_id, "sendMessage", None)
        assert edit is not None
        return edit
    text, entities = note.text_and_entities()
    params = {"caption": text, "caption_entities": entities}
    return _edit("editMessageCaption", message_id, params, note)


def as_reply_to(message: Outgoing, card_id: int | None) -> Outgoing:
    """A part sent after the others (a longer version): under the card it belongs to."""
    if card_id is None:
        return message
    reply = {"message_id": card_id, "allow_sending_without_reply": True}
    return replace(message, params={**message.params, "reply_parameters": reply})


def delete(message_id: int) -> Outgoing:
    return Outgoing("deleteMessage", {"message_id": message_id}, "card")


def pin(message_id: int) -> Outgoing:
    """Pinned without a second notification: the notice itself already rang."""
    return Outgoing(
        "pinChatMessage", {"message_id": message_id, "disable_notification": True}, "card"
    )


def unpin(message_id: int) -> Outgoing:
    return Outgoing("unpinChatMessage", {"message_id": message_id}, "card")


def _edit(method: str, message_id: int, params: dict[str, Any], new: Outgoing) -> Outgoing:
    return Outgoing(method, {"message_id": message_id, **params}, new.part, new.fallbacks)
