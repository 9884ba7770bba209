"""The pure parts of keeping copies current: what an article says about its life
(urgent, expiry, withdrawal), and which Bot API call changes a delivered message."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config
from bot.formatting.formatter import format_article, withdrawn_card
from bot.formatting.outgoing import Outgoing
from bot.formatting.revisions import as_reply_to, edit_to, mark_withdrawn
from bot.reading.articles import article_from_json, article_to_json, parse_article
from tests import ledgers

pytestmark = ledgers.each_backend

TZ = ZoneInfo("Asia/Shanghai")


def _article(front: str) -> object:
    raw = f"---\ntitle: 停水通知\ndate: 2022-02-01 10:00:00\n{front}---\n<p>本周六停水。</p>\n"
    return parse_article(raw.encode(), Path("a/n.md"), Path("a"), Config())


@pytest.mark.parametrize(
    ("front", "urgent"),
    [
        ("urgent: true\n", True),
        ("priority: urgent\n", True),
        ("priority: Urgent\n", True),
        ("urgent: false\n", False),
        ("priority: low\n", False),
        ("", False),
    ],
)
def test_urgent(front: str, urgent: bool) -> None:
    assert _article(front).urgent is urgent  # type: ignore[attr-defined]


def test_expiry_a_bare_date_lasts_the_whole_day() -> None:
    day = _article("expires: 2022-02-03\n")
    assert day.expires == datetime(2022, 2, 4, tzinfo=TZ)  # type: ignore[attr-defined]
    moment = _article("expires: 2022-02-03 18:00:00\n")
    assert moment.expires == datetime(2022, 2, 3, 18, tzinfo=TZ)  # type: ignore[attr-defined]
    nonsense = _article("expires: someday\n")
    assert nonsense.expires is None  # type: ignore[attr-defined]
    assert any("expires" in w for w in nonsense.warnings)  # type: ignore[attr-defined]


def test_withdrawn_true_withdraws() -> None:
    assert _article("withdrawn: true\n").draft  # type: ignore[attr-defined]
    assert not _article("withdrawn: false\n").draft  # type: ignore[attr-defined]


def test_a_version_keeps_urgency_and_expiry() -> None:
    article = _article("urgent: true\nexpires: 2022-02-03\n")
    again = article_from_json(article_to_json(article))  # type: ignore[arg-type]
    assert (again.urgent, again.expires) == (True, datetime(2022, 2, 4, tzinfo=TZ))


def _text(text: str) -> Outgoing:
    return Outgoing(
        "sendMessage", {"text": text, "entities": [], "link_preview_options": {}}, "text"
    )


def _photo(url: str, caption: str) -> Outgoing:
    params = {"photo": url, "caption": caption, "caption_entities": [], "reply_markup": {"k": 1}}
    return Outgoing("sendPhoto", params, "card")


def test_text_is_edited_as_text() -> None:
    edit = edit_to(_text("new"), 7, "sendMessage", None)
    assert edit is not None and edit.method == "editMessageText"
    assert edit.params == {
        "message_id": 7,
        "text": "new",
        "entities": [],
        "link_preview_options": {},
    }


def test_a_card_with_the_same_picture_gets_its_caption_edited() -> None:
    edit = edit_to(_photo("u1", "new"), 7, "sendPhoto", "u1")
    assert edit is not None and edit.method == "editMessageCaption"
    assert edit.params["caption"] == "new" and edit.params["reply_markup"] == {"k": 1}


def test_a_new_picture_is_a_media_edit_with_its_caption() -> None:
    edit = edit_to(_photo("u2", "new"), 7, "sendPhoto", "u1")
    assert edit is not None and edit.method == "editMessageMedia"
    assert edit.params["media"] == {"type": "photo", "media": "u2", "caption": "new"}


def test_what_cannot_be_edited_in_place_is_replaced() -> None:
    album = Outgoing("sendMediaGroup", {"media": [{"type": "photo", "media": "u"}] * 2}, "album")
    assert edit_to(album, 7, "sendMediaGroup", None) is None
    assert edit_to(_text("now text"), 7, "sendPhoto", "u1") is None


def test_a_card_sent_as_text_is_edited_as_text() -> None:
    edit = edit_to(_photo("u1", "new"), 7, "sendMessage", None)
    assert edit is not None and edit.method == "editMessageText" and edit.params["text"] == "new"


def test_an_extra_part_replies_to_the_card() -> None:
    reply = as_reply_to(_text("more"), 5)
    assert reply.params["reply_parameters"] == {
        "message_id": 5,
        "allow_sending_without_reply": True,
    }
    assert as_reply_to(_text("more"), None).params.get("reply_parameters") is None


def test_a_withdrawn_card_keeps_its_title_struck_through_without_buttons() -> None:
    note = withdrawn_card("停水通知", "zh")
    for caption, method, key in (
        (True, "editMessageCaption", "caption"),
        (False, "editMessageText", "text"),
    ):
        edit = mark_withdrawn(note, 9, caption=caption)
        assert edit.method == method
        assert edit.params[key] == "停水通知\n\n⚠️ 此通知已撤回，请以最新通知为准。"
        entities = edit.params["caption_entities" if caption else "entities"]
        assert entities == [{"type": "strikethrough", "offset": 0, "length": 4}]
        assert "reply_markup" not in edit.params
    assert "This notice was withdrawn" in withdrawn_card("Water", "en").params["text"]


def test_a_corrected_card_says_when() -> None:
    """The date and time of the correction; the year only when it is not the notice's."""
    article = _article("")
    when = datetime(2022, 2, 5, 14, 5, tzinfo=TZ)
    card = format_article(article, "zh", TZ, when).card  # type: ignore[arg-type]
    text, _ = card.text_and_entities()
    assert text.split("\n")[:3] == ["停水通知", "2022年2月1日 10:00", "🔄 已于2月5日 14:05更新"]
    assert "更新" not in format_article(article, "zh", TZ).card.text_and_entities()[0]  # type: ignore[arg-type]
    english = format_article(article, "en", TZ, when).card.text_and_entities()[0]  # type: ignore[arg-type]
    assert "🔄 Updated 5 Feb, 14:05" in english
    next_year = datetime(2023, 1, 3, 9, 12, tzinfo=TZ)
    late = format_article(article, "zh", TZ, next_year).card.text_and_entities()[0]  # type: ignore[arg-type]
    assert "🔄 已于2023年1月3日 09:12更新" in late
