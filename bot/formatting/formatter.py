"""Article → the Telegram messages that carry it. Pure: no I/O, no clock.

A subscriber gets the *card* (lead photo, bold title, date and author, a short
summary, hashtags, buttons); the *full text* follows in the modes that ask for it,
split into messages Telegram accepts; the *albums* carry the remaining pictures.
Text travels as ``text`` + ``entities`` (see :mod:`bot.reading.htmltext` for why the
HTML is walked directly rather than through html2text's Markdown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.formatting.outgoing import CAPTION_LIMIT, ENTITY_LIMIT, TEXT_LIMIT, Outgoing
from bot.i18n import format_datetime, t
from bot.reading.articles import Article, Image
from bot.reading.richtext import RichText, split, utf16_len

MODE_CARD, MODE_FULL, MODE_DIGEST = "card", "full", "digest"
DIGEST_TIMES = ("08:00", "20:00")  # when a digest chat may get its list; the first by default
SUMMARY_LIMIT = 240
TITLE_LIMIT = 200
MEDIA_GROUP_MAX = 10
ELLIPSIS = "…"
_SENTENCE_END = re.compile(r"[。！？!?](?:[”’」』）)\"']*)|[.](?=\s|$)")
_NO_PREVIEW = {"is_disabled": True}


@dataclass(frozen=True)
class Formatted:
    card: Outgoing
    text: list[Outgoing]
    albums: list[Outgoing]

    def all(self) -> list[Outgoing]:
        return [self.card, *self.text, *self.albums]

    def for_mode(self, mode: str) -> list[Outgoing]:
        """What a subscriber gets: the card, plus the text and albums in ``full`` mode."""
        return self.all() if mode == MODE_FULL else [self.card]


def format_article(
    article: Article, lang: str, tz: ZoneInfo, updated_at: datetime | None = None
) -> Formatted:
    """``updated_at``: the card of a corrected notice, edited in place, says when."""
    lead = lead_image(article)
    return Formatted(
        card=card(article, lead, lang, tz, updated_at),
        text=full_text(article, lang, tz),
        albums=albums([i for i in article.usable_images if i != lead]),
    )


def lead_image(article: Article) -> Image | None:
    """The first usable picture, a still one if there is any."""
    usable = article.usable_images
    return next((i for i in usable if not i.is_gif), usable[0] if usable else None)


def card(
    article: Article,
    lead: Image | None,
    lang: str,
    tz: ZoneInfo,
    updated_at: datetime | None = None,
) -> Outgoing:
    header = _header(article, lang, tz)
    if updated_at is not None:
        header.append("\n" + t("updated_at", lang, time=f"{updated_at.astimezone(tz):%H:%M}"))
    tags = hashtags(article.categories)
    room = CAPTION_LIMIT - header.utf16_len() - utf16_len(tags) - 4
    summary = summarize(article.excerpt or article.body.text, min(SUMMARY_LIMIT, room))
    rich = header
    if summary:
        rich.append("\n\n" + summary)
    if tags:
        rich.append("\n\n" + tags)
    markup = {"inline_keyboard": [_buttons(article, lang)]}
    if lead is None:
        params = {
            "text": rich.text,
            "entities": rich.entity_dicts(),
            "link_preview_options": _NO_PREVIEW,
            "reply_markup": markup,
        }
        return Outgoing("sendMessage", params, "card")
    kind = "animation" if lead.is_gif else "photo"
    params = {
        kind: lead.url,
        "caption": rich.text,
        "caption_entities": rich.entity_dicts(),
        "reply_markup": markup,
    }
    return Outgoing(f"send{kind.capitalize()}", params, "card", (lead.fallback,))


def without_repeated_text(messages: list[Outgoing]) -> list[Outgoing]:
    """The parts without the full text when the card already holds all of it (a short
    notice, plain text and a title not shortened): a reader should not get it twice."""
    cards = [m for m in messages if m.part == "card"]
    texts = [m for m in messages if m.part == "text"]
    if len(cards) == 1 and len(texts) == 1 and _holds(cards[0], texts[0]):
        return [m for m in messages if m.part != "text"]
    return messages


def _holds(card: Outgoing, text: Outgoing) -> bool:
    params, full = card.params, text.params
    shown = str(params.get("caption", params.get("text", "")))
    if not _squeezed(shown).startswith(_squeezed(str(full.get("text", "")))):
        return False
    card_spans = _spans(shown, params.get("caption_entities", params.get("entities", [])))
    # formatting or links only the full text carries
    return _spans(str(full.get("text", "")), full.get("entities", [])) <= card_spans


def _squeezed(text: str) -> str:
    """Text as the card's summary has it: no blank space around line breaks."""
    return re.sub(r"\s*\n\s*", "\n", text.strip())


def _spans(text: str, entities: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """What each entity marks (kind, the text under it, its address): comparable between
    two messages whose offsets differ."""
    units = text.encode("utf-16-le")
    return {
        (
            str(e.get("type")),
            units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le", "replace"),
            str(e.get("url", "")),
        )
        for e in entities
    }


def withdrawn_card(title: str, lang: str) -> Outgoing:
    """What a delivered card says when its notice is withdrawn and Telegram no longer
    lets the bot delete it: the title, struck through, and the word; no buttons."""
    rich = RichText().append(_short_title(title, TITLE_LIMIT), "strikethrough")
    (message,) = text_messages(rich.append("\n\n" + t("withdrawn_notice", lang)))
    return message


def removed_part(lang: str, *, withdrawn: bool = False) -> Outgoing:
    """What a part of a delivered copy says when it should be gone and Telegram no
    longer lets the bot delete it: its notice was withdrawn, or a correction dropped it."""
    text = t("withdrawn_notice", lang) if withdrawn else t("removed_part", lang)
    (message,) = text_messages(RichText().append(text, "italic"))
    return message


def full_text(article: Article, lang: str, tz: ZoneInfo) -> list[Outgoing]:
    rich = _header(article, lang, tz, title_limit=None)
    if article.body.text:
        rich.append("\n\n").extend(article.body)
    return text_messages(rich)


def announcement(title: str, text: str) -> list[Outgoing]:
    """A free-text notice from an admin: bold title, then the text, split like an article."""
    return text_messages(RichText().append(title, "bold").append("\n\n" + text.strip()))


def text_messages(rich: RichText) -> list[Outgoing]:
    """Rich text as the text messages Telegram accepts, link previews off."""
    return [
        Outgoing(
            "sendMessage",
            {
                "text": part.text,
                "entities": part.entity_dicts(),
                "link_preview_options": _NO_PREVIEW,
            },
            "text",
        )
        for part in split(rich, TEXT_LIMIT, ENTITY_LIMIT)
    ]


def albums(images: list[Image]) -> list[Outgoing]:
    """Stills in media groups of 2–10 (evenly filled); each GIF as an animation, in place."""
    out: list[Outgoing] = []
    stills: list[Image] = []
    for image in images:
        if image.is_gif:
            out.extend(_media_groups(stills))
            stills = []
            out.append(
                Outgoing("sendAnimation", {"animation": image.url}, "album", (image.fallback,))
            )
        else:
            stills.append(image)
    out.extend(_media_groups(stills))
    return out


def _media_groups(stills: list[Image]) -> list[Outgoing]:
    if len(stills) == 1:
        only = stills[0]
        return [Outgoing("sendPhoto", {"photo": only.url}, "album", (only.fallback,))]
    groups = -(-len(stills) // MEDIA_GROUP_MAX)
    out = []
    for g in range(groups):
        chunk = stills[g * len(stills) // groups : (g + 1) * len(stills) // groups]
        media = [{"type": "photo", "media": image.url} for image in chunk]
        fallbacks = tuple(image.fallback for image in chunk)
        out.append(Outgoing("sendMediaGroup", {"media": media}, "album", fallbacks))
    return out


def _header(
    article: Article, lang: str, tz: ZoneInfo, title_limit: int | None = TITLE_LIMIT
) -> RichText:
    title = article.title if title_limit is None else _short_title(article.title, title_limit)
    byline = " · ".join(filter(None, [format_datetime(article.date, lang, tz), article.author]))
    return RichText().append(title, "bold").append("\n" + byline)


def _short_title(title: str, limit: int) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + ELLIPSIS


def _buttons(article: Article, lang: str) -> list[dict[str, str]]:
    buttons = [{"text": t("read_full", lang), "callback_data": f"read:{article.id}"}]
    if article.link:
        buttons.append({"text": t("original", lang), "url": article.link})
    return buttons


def summarize(text: str, limit: int) -> str:
    """The opening of ``text``, cut at a sentence end within ``limit``, with ``…``."""
    text = re.sub(r"\s*\n\s*", "\n", text.strip())
    if limit <= len(ELLIPSIS):
        return ""
    if utf16_len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    head = text[:room]
    while utf16_len(head) > room:
        head = head[:-1]
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() >= len(head) // 3]
    if ends:
        head = head[: ends[-1]]
    else:
        pause = max(head.rfind(" "), head.rfind("，"), head.rfind(","))
        head = head[:pause] if pause >= len(head) * 2 // 3 else head
    return head.rstrip() + ELLIPSIS


def hashtags(categories: tuple[str, ...]) -> str:
    """Categories as hashtags, keeping only what Telegram links (letters, digits, ``_``)."""
    tags = []
    for name in categories:
        tag = re.sub(r"\W+", "_", name).strip("_")
        if tag and not tag.isdigit() and f"#{tag}" not in tags:
            tags.append(f"#{tag}")
    return " ".join(tags)
