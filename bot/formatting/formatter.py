"""Article → the Telegram messages that carry it. Pure: no I/O, no clock.

A subscriber gets the *card* (lead photo, bold title, date and author, a short
summary, hashtags, buttons); the *full text* follows in the modes that ask for it,
split into messages Telegram accepts; the *albums* carry the remaining pictures.
Text travels as ``text`` + ``entities`` (see :mod:`bot.reading.htmltext` for why the
HTML is walked directly rather than through html2text's Markdown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
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
    """``text`` is always the full text (an announcement's preview shows its first part);
    ``card_holds_text``: the card already shows all of it, so no chat gets it twice."""

    card: Outgoing
    text: list[Outgoing]
    albums: list[Outgoing]
    card_holds_text: bool = False

    def all(self) -> list[Outgoing]:
        """Every message a reader of the whole notice gets: one tap, one copy."""
        text = [] if self.card_holds_text else self.text
        return [self.card, *text, *self.albums]

    def for_mode(self, mode: str) -> list[Outgoing]:
        """What a subscriber gets: the card, plus the text and albums in ``full`` mode,
        where the card needs no 阅读全文 (the text is right below it)."""
        if mode != MODE_FULL:
            return [self.card]
        return [_without_read_button(self.card), *self.all()[1:]]


def _without_read_button(card: Outgoing) -> Outgoing:
    rows = (card.params.get("reply_markup") or {}).get("inline_keyboard") or []
    kept = [
        b for row in rows for b in row if not str(b.get("callback_data", "")).startswith("read:")
    ]
    params = {k: v for k, v in card.params.items() if k != "reply_markup"}
    if kept:
        params["reply_markup"] = {"inline_keyboard": [kept]}
    return replace(card, params=params)


def format_article(
    article: Article,
    lang: str,
    tz: ZoneInfo,
    updated_at: datetime | None = None,
    *,
    expired: bool = False,
) -> Formatted:
    """``updated_at``: the card of a corrected notice, edited in place, says when.
    ``expired``: the card of a notice read after it expired says so (and no longer
    that it is urgent)."""
    lead = lead_image(article)
    shown = _card(article, lead, lang, tz, updated_at, expired=expired)
    return Formatted(
        card=shown[0],
        text=full_text(article, lang, tz, expired=expired),
        albums=albums([i for i in article.usable_images if i != lead]),
        card_holds_text=shown[1],
    )


def lead_image(article: Article) -> Image | None:
    """The first usable picture, a still one if there is any."""
    usable = article.usable_images
    return next((i for i in usable if not i.is_gif), usable[0] if usable else None)


def _card(
    article: Article,
    lead: Image | None,
    lang: str,
    tz: ZoneInfo,
    updated_at: datetime | None = None,
    *,
    expired: bool = False,
    urgent: bool | None = None,
    summaries: dict[tuple[int, int], tuple[RichText, bool]] | None = None,
) -> tuple[Outgoing, bool]:
    """The card, and whether it holds the whole text (then it has no read button: there
    is nothing more to read). Its state lines (urgent, corrected, expired) come out of
    the summary's room, so the caption never grows past Telegram's limit. ``urgent``:
    the card as if the notice were (not) urgent, for the preview page; ``summaries``:
    summaries by their room, made once for the cards of one notice."""
    urgent = article.urgent if urgent is None else urgent
    header = _header(article, lang, tz, urgent=urgent and not expired)
    if updated_at is not None:
        when = format_datetime(updated_at, lang, tz, now=article.date)
        header.append("\n" + t("updated_at", lang, time=when))
    if expired:
        header.append("\n" + t("expired_notice", lang))
    tags = hashtags(article.categories)
    room = CAPTION_LIMIT - header.utf16_len() - utf16_len(tags) - 4
    key = (min(SUMMARY_LIMIT, room), ENTITY_LIMIT - len(header.entities))
    memo = summaries if summaries is not None else {}
    if key not in memo:
        memo[key] = _summary(article, *key)
    summary, whole = memo[key]
    holds = whole and _short_title(article.title, TITLE_LIMIT) == article.title
    rich = header
    if summary.text:
        rich.append("\n\n").extend(summary)
    if tags:
        rich.append("\n\n" + tags)
    buttons = _buttons(article, lang, read=not holds)
    markup = {"reply_markup": {"inline_keyboard": [buttons]}} if buttons else {}
    if lead is None:
        params = {
            "text": rich.text,
            "entities": rich.entity_dicts(),
            "link_preview_options": _NO_PREVIEW,
            **markup,
        }
        return Outgoing("sendMessage", params, "card"), holds
    kind = "animation" if lead.is_gif else "photo"
    params = {
        kind: lead.url,
        "caption": rich.text,
        "caption_entities": rich.entity_dicts(),
        **markup,
    }
    return Outgoing(f"send{kind.capitalize()}", params, "card", (lead.fallback,)), holds


def _summary(article: Article, limit: int, entity_room: int) -> tuple[RichText, bool]:
    """The card's summary, and whether it is the whole text. A body short enough is
    shown whole, with its own formatting (a short notice with a bold word or a link is
    still one message); else the excerpt or the body's opening, as plain text."""
    body, excerpt = article.body, article.excerpt
    opening, complete = _opening(body.text, limit)
    fits = complete and utf16_len(opening) <= limit
    if fits and (excerpt is None or _squeezed(excerpt) == opening):
        whole = _squeezed_rich(body.stripped())
        if whole.utf16_len() <= limit and len(whole.entities) <= entity_room:
            return whole, True
        if not body.entities:  # plain text: the opening is all of it
            return RichText(opening), True
    return RichText(summarize(excerpt or opening, limit)), False


def _squeezed_rich(rich: RichText) -> RichText:
    """:func:`_squeezed` keeping the formatting: the body as the card's summary shows it."""
    out, position = RichText(), 0
    for gap in re.finditer(r"\s*\n\s*", rich.text):
        out.extend(rich.slice(position, gap.start())).append("\n")
        position = gap.end()
    return out.extend(rich.slice(position, len(rich.text)))


def _opening(text: str, limit: int) -> tuple[str, bool]:
    """``text`` as a summary reads it (no blank space around line breaks) as far as a
    summary of ``limit`` can reach, and whether that is all of it: a long body is not
    squeezed whole for each card (the preview page makes five of each)."""
    text = text.strip()
    size = 4 * max(limit, 0) + 64
    while size < len(text):
        head = _squeezed(text[:size])  # what precedes its last blank run is exact
        if utf16_len(head) > limit + 1:
            return head, False
        size *= 4
    return _squeezed(text), True


def _squeezed(text: str) -> str:
    """Text as the card's summary has it: no blank space around line breaks."""
    return re.sub(r"\s*\n\s*", "\n", text.strip())


def withdrawn_card(title: str, lang: str) -> Outgoing:
    """What a delivered card says when its notice is withdrawn and Telegram no longer
    lets the bot delete it: the title, struck through, and the word; no buttons."""
    rich = RichText().append(_short_title(title, TITLE_LIMIT), "strikethrough")
    (message,) = text_messages(rich.append("\n\n" + t("withdrawn_notice", lang)))
    return message


def state_cards(article: Article, lang: str, tz: ZoneInfo) -> list[tuple[str, Outgoing]]:
    """The card as it reads in each state a notice can come to, for an editor to check
    before it goes out (the preview page): urgent, corrected (at its ``updated`` time,
    else a day later), withdrawn where it can no longer be deleted, and expired."""
    lead = lead_image(article)
    later = article.date + timedelta(days=1)
    corrected_at = article.updated if article.updated and article.updated > article.date else later
    made: dict[tuple[int, int], tuple[RichText, bool]] = {}
    as_sent = _card(article, lead, lang, tz, summaries=made)[0]
    return [
        ("urgent", _card(article, lead, lang, tz, urgent=True, summaries=made)[0]),
        ("corrected", _card(article, lead, lang, tz, corrected_at, summaries=made)[0]),
        ("withdrawn", withdrawn_state(as_sent, article.title, lang)),
        ("expired", _card(article, lead, lang, tz, expired=True, summaries=made)[0]),
    ]


def withdrawn_state(card: Outgoing, title: str, lang: str) -> Outgoing:
    """A delivered card marked withdrawn (what the reconciler's edit leaves): a text card
    is the note alone; a picture keeps its picture, the note as its caption. No buttons."""
    note = withdrawn_card(title, lang)
    if card.method == "sendMessage":
        return replace(note, part="card")
    text, entities = note.text_and_entities()
    kept = {k: v for k, v in card.params.items() if k not in ("caption_entities", "reply_markup")}
    return replace(card, params={**kept, "caption": text, "caption_entities": entities})


def removed_part(lang: str, *, withdrawn: bool = False) -> Outgoing:
    """What a part of a delivered copy says when it should be gone and Telegram no
    longer lets the bot delete it: its notice was withdrawn, or a correction dropped it."""
    text = t("withdrawn_notice", lang) if withdrawn else t("removed_part", lang)
    (message,) = text_messages(RichText().append(text, "italic"))
    return message


def full_text(
    article: Article, lang: str, tz: ZoneInfo, *, expired: bool = False
) -> list[Outgoing]:
    """The whole notice; an urgent one says so here too, since a reader who asked for
    the text in private reads it apart from the card."""
    rich = _header(article, lang, tz, title_limit=None, urgent=article.urgent and not expired)
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
    article: Article,
    lang: str,
    tz: ZoneInfo,
    title_limit: int | None = TITLE_LIMIT,
    *,
    urgent: bool = False,
) -> RichText:
    """Bold title (after the urgent mark: the first words a notification shows), then
    date and author."""
    title = article.title if title_limit is None else _short_title(article.title, title_limit)
    if urgent:
        title = f"{t('urgent_mark', lang)} {title}"
    byline = " · ".join(filter(None, [format_datetime(article.date, lang, tz), article.author]))
    return RichText().append(title, "bold").append("\n" + byline)


def _short_title(title: str, limit: int) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + ELLIPSIS


def _buttons(article: Article, lang: str, *, read: bool = True) -> list[dict[str, str]]:
    """阅读全文 unless the card holds the whole text; the web page when there is one."""
    buttons: list[dict[str, str]] = []
    if read:
        buttons.append({"text": t("read_full", lang), "callback_data": f"read:{article.id}"})
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
