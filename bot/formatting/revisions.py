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


def edit_of(new: Outgoing, message_id: int, old: Outgoing | None) -> Outgoing | None:
    """The edit that makes message ``message_id`` (sent as ``old``) show ``new``;
    None if it must be replaced instead."""
    if old is not None and old.method != new.method:
        return None
    markup = {"reply_markup": new.params["reply_markup"]} if "reply_markup" in new.params else {}
    if new.method == "sendMessage":
        params = {key: new.params[key] for key in ("text", "entities", "link_preview_options")}
        return _edit("editMessageText", message_id, {**params, **markup}, new)
    kind = MEDIA_METHODS.get(new.method)
    if kind is None:
        return None  # an album: Telegram edits one item at a time; replace it whole
    caption = {
        "caption": new.params.get("caption", ""),
        "caption_entities": new.params.get("caption_entities", []),
    }
    if old is not None and old.params.get(kind) == new.params[kind]:
        return _edit("editMessageCaption", message_id, {**caption, **markup}, new)
    media = {"type": kind, "media": new.params[kind], **caption}
    return _edit("editMessageMedia", message_id, {"media": media, **markup}, new)


def edit_as_text(new: Outgoing, message_id: int) -> Outgoing:
    """The card's edit when Telegram has it as text (its picture could not be sent)."""
    edit = edit_of(new.as_text(), message_id, None)
    assert edit is not None
    return edit


def mark_withdrawn(note: Outgoing, message_id: int, *, caption: bool) -> Outgoing:
    """The card edited to say its notice was withdrawn (``note``: the formatter's
    text); ``caption`` when the card is a picture. Without a keyboard: no buttons."""
    if not caption:
        edit = edit_of(note, message_id, None)
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
