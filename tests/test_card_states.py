"""The card tells its state (urgent, corrected with its date, expired, withdrawn) and,
when it holds the whole notice, is all a reader gets: one tap, one copy.

Pure formatter tests on articles built here; the same seen end to end, through the
bot and the Bot API emulator, are in tests/test_card_states_live.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.formatting.formatter import MODE_CARD, MODE_FULL, format_article, withdrawn_card
from bot.formatting.outgoing import CAPTION_LIMIT
from bot.reading.articles import Article, Image
from bot.reading.richtext import utf16_len
from tests import ledgers
from tests.invariants import check_messages

pytestmark = ledgers.each_backend

TZ = ZoneInfo("Asia/Shanghai")
SHORT = "<p>本周六上午五号楼停水，请<strong>提前储水</strong>。</p>"
LONG = "<p>本周六上午五号楼停水，请提前储水。</p>" * 30
PHOTO = (Image("https://x.cn/p.jpg"),)


def _article(body: str = SHORT, **fields: object) -> Article:
    values: dict = {
        "id": "water",
        "title": "停水通知",
        "date": datetime(2026, 12, 4, 1, 30, tzinfo=UTC),  # 09:30 in Shanghai
        "updated": None,
        "categories": ("公告",),
        "tags": (),
        "author": "居委会",
        "link": None,
        "draft": False,
        "images": (),
        "body_html": body,
        "path": Path("n.md"),
        "content_hash": "0",
    }
    return Article(**{**values, **fields})


def _shown(article: Article, **kw: object) -> tuple[str, list[list[dict]]]:
    card = format_article(article, "zh", TZ, **kw).card  # type: ignore[arg-type]
    text, _ = card.text_and_entities()
    return text, card.params.get("reply_markup", {}).get("inline_keyboard", [])


def _read_buttons(keyboard: list[list[dict]]) -> list[dict]:
    return [b for row in keyboard for b in row if "callback_data" in b]


# --- the card tells its state --------------------------------------------------------


def test_an_urgent_card_starts_with_the_mark_in_bold() -> None:
    card = format_article(_article(urgent=True), "zh", TZ).card
    text, entities = card.text_and_entities()
    assert text.startswith("🔴 紧急 停水通知\n2026年12月4日 09:30 · 居委会")
    assert entities[0] == {"type": "bold", "offset": 0, "length": utf16_len("🔴 紧急 停水通知")}
    assert (
        format_article(_article(urgent=True), "en", TZ)
        .card.params["text"]
        .startswith("🔴 Urgent 停水通知")
    )
    assert not _shown(_article())[0].startswith("🔴")


def test_an_urgent_notice_says_so_in_its_full_text_too() -> None:
    """The full text read alone, in private after a tap, still says it is urgent."""
    formatted = format_article(_article(LONG, urgent=True), "zh", TZ)
    assert formatted.text[0].params["text"].startswith("🔴 紧急 停水通知\n")


def test_a_corrected_card_says_the_date_and_time_of_the_correction() -> None:
    when = datetime(2026, 12, 5, 1, 12, tzinfo=UTC)
    text, _ = _shown(_article(), updated_at=when)
    assert text.split("\n")[:3] == [
        "停水通知",
        "2026年12月4日 09:30 · 居委会",
        "🔄 已于12月5日 09:12更新",
    ]


def test_an_expired_card_says_so_and_is_no_longer_urgent() -> None:
    text, _ = _shown(_article(urgent=True), expired=True)
    assert text.split("\n")[:3] == [
        "停水通知",
        "2026年12月4日 09:30 · 居委会",
        "⏰ 此通知已过期，仅供查阅。",
    ]
    assert "紧急" not in text
    assert "⏰" not in _shown(_article())[0]
    full = format_article(_article(LONG, urgent=True), "zh", TZ, expired=True)
    assert not full.text[0].params["text"].startswith("🔴")


def test_a_withdrawn_card_strikes_its_title_and_says_to_follow_the_latest() -> None:
    card = withdrawn_card("停水通知", "zh")
    assert card.params["text"] == "停水通知\n\n⚠️ 此通知已撤回，请以最新通知为准。"
    assert card.params["entities"] == [{"type": "strikethrough", "offset": 0, "length": 4}]
    assert "reply_markup" not in card.params


def test_the_marks_come_out_of_the_summary_never_over_the_caption_limit() -> None:
    huge = _article(
        "<p>" + "字。" * 3000 + "</p>",
        title="标" * 3000,
        author="作" * 300,
        categories=tuple(f"类{i}" for i in range(60)),
        images=PHOTO,
        urgent=True,
    )
    when = datetime(2027, 1, 5, 1, 12, tzinfo=UTC)
    for expired in (False, True):
        formatted = format_article(huge, "zh", TZ, when, expired=expired)
        check_messages(formatted.all())
        caption = formatted.card.params["caption"]
        assert utf16_len(caption) <= CAPTION_LIMIT
        assert "🔄 已于2027年1月5日 09:12更新" in caption
        assert ("⏰ 此通知已过期" in caption) is expired
    plain = format_article(replace(huge, urgent=False), "zh", TZ).card.params["caption"]
    marked = format_article(huge, "zh", TZ, when, expired=True).card.params["caption"]
    assert marked.count("字") < plain.count("字")  # the summary made room


# --- one tap, one copy ---------------------------------------------------------------


def test_a_card_that_holds_the_whole_text_is_all_a_reader_gets() -> None:
    """A short notice keeps its own formatting on the card, has no read button (nothing
    more to read), and full mode gets no text part that says the same again."""
    article = _article(images=(*PHOTO, Image("https://x.cn/2.jpg"), Image("https://x.cn/3.jpg")))
    formatted = format_article(article, "zh", TZ)
    card = formatted.card
    caption = card.params["caption"]
    assert "本周六上午五号楼停水，请提前储水。" in caption
    start = utf16_len(caption[: caption.index("提前储水")])
    assert {"type": "bold", "offset": start, "length": 4} in card.params["caption_entities"]
    assert "reply_markup" not in card.params  # no read button, and no page to link
    assert formatted.card_holds_text
    assert [m.part for m in formatted.for_mode(MODE_FULL)] == ["card", "album"]
    assert formatted.for_mode(MODE_CARD) == [card]
    assert formatted.text[0].params["text"].endswith("本周六上午五号楼停水，请提前储水。")


def test_the_web_page_button_stays_on_a_card_that_holds_the_text() -> None:
    _, keyboard = _shown(_article(link="https://example.org/n"))
    assert keyboard == [[{"text": "🔗 网页版", "url": "https://example.org/n"}]]


def test_a_card_that_does_not_hold_the_text_keeps_its_read_button_and_the_text() -> None:
    long_body = _article(LONG)
    long_title = _article(title="很长的标题" * 50)
    excerpt = _article(excerpt="五号楼停水。")
    for article in (long_body, long_title, excerpt):
        formatted = format_article(article, "zh", TZ)
        assert not formatted.card_holds_text, article.title
        assert _read_buttons(_shown(article)[1]) == [
            {"text": "阅读全文", "callback_data": "read:water"}
        ]
        assert [m.part for m in formatted.for_mode(MODE_FULL)] == ["card", "text"]


def test_a_corrected_or_expired_card_that_holds_the_text_is_still_one_message() -> None:
    when = datetime(2026, 12, 5, 1, 12, tzinfo=UTC)
    for kw in ({"updated_at": when}, {"expired": True}):
        formatted = format_article(_article(), "zh", TZ, **kw)  # type: ignore[arg-type]
        assert formatted.card_holds_text and formatted.for_mode(MODE_FULL) == [formatted.card]


def test_an_excerpt_that_is_the_whole_text_holds_it() -> None:
    article = _article("<p>五号楼停水。</p>", excerpt="五号楼停水。")
    assert format_article(article, "zh", TZ).card_holds_text


def test_a_short_notice_in_paragraphs_with_a_bold_word_is_held_whole() -> None:
    """Its blank lines are not shown on a card: 10 short paragraphs with a bold word are
    228 characters, 246 with their blank lines; the card holds it, with its bold, once."""
    paragraphs = ["<p><strong>第一段</strong>" + "水" * 24 + "</p>"]
    paragraphs += ["<p>" + "水" * 22 + "</p>"] * 9
    formatted = format_article(_article("".join(paragraphs)), "zh", TZ)
    text, keyboard = _shown(_article("".join(paragraphs)))
    assert formatted.card_holds_text and not _read_buttons(keyboard)
    assert "第一段" + "水" * 24 + "\n" + "水" * 22 + "\n" in text
    assert [m.part for m in formatted.for_mode(MODE_FULL)] == ["card"]


def test_a_full_mode_card_has_no_read_button_its_text_follows() -> None:
    formatted = format_article(_article(LONG, link="https://example.org/n"), "zh", TZ)
    card, _full_text = formatted.for_mode(MODE_FULL)
    assert card.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "🔗 网页版", "url": "https://example.org/n"}]]
    }
    assert _read_buttons(formatted.for_mode(MODE_CARD)[0].params["reply_markup"]["inline_keyboard"])
