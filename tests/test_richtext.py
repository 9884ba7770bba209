"""Splitting text with entities into parts Telegram accepts."""

from __future__ import annotations

import pytest

from bot.reading.richtext import Entity, RichText, index_at, split, utf16_len, utf16_prefix
from tests.invariants import check_entities


def _check(parts: list[RichText], limit: int) -> None:
    for part in parts:
        assert part.text and part.text == part.text.strip()
        assert part.utf16_len() <= limit
        check_entities(part.text, part.entity_dicts())


def test_utf16_counts_astral_characters_twice() -> None:
    assert utf16_len("中a😀") == 4
    prefix = utf16_prefix("a😀b")
    assert prefix == [0, 1, 3, 4]
    assert index_at(prefix, 2) == 2  # inside the pair: the next character
    assert index_at(prefix, 3) == 2


def test_prefers_paragraph_then_sentence_then_comma() -> None:
    para = "甲" * 30 + "。" + "乙" * 30 + "\n\n" + "丙" * 30
    assert [p.text for p in split(RichText(para), 70)] == ["甲" * 30 + "。" + "乙" * 30, "丙" * 30]
    sentence = "甲" * 40 + "。" + "乙" * 10 + "，" + "丙" * 30
    parts = split(RichText(sentence), 70)
    assert [p.text for p in parts] == ["甲" * 40 + "。", "乙" * 10 + "，" + "丙" * 30]
    short_sentence = "甲" * 20 + "。" + "乙" * 30 + "，" + "丙" * 30
    parts = split(RichText(short_sentence), 70)
    assert [p.text for p in parts] == ["甲" * 20 + "。" + "乙" * 30 + "，", "丙" * 30]
    comma = "甲" * 40 + "，" + "乙" * 40
    assert [p.text for p in split(RichText(comma), 60)] == ["甲" * 40 + "，", "乙" * 40]


def test_a_break_that_begins_before_half_the_part_still_counts() -> None:
    """A blank line with a space in it, or a sentence end with two closing quotes, may
    begin before the part's first half ends: it is still the better cut."""
    blank = "a" * 5 + "\n \n" + "bbb" + "\n" + "c" * 20
    assert split(RichText(blank), 15)[0].text == "a" * 5
    quoted = "甲" * 5 + "。」』" + "乙乙" + "，" + "丙" * 20
    assert split(RichText(quoted), 15)[0].text == "甲" * 5 + "。」』"


def test_parts_too_small_for_a_character_are_refused_not_looped_over() -> None:
    with pytest.raises(ValueError, match="cannot hold '😀'"):
        split(RichText("😀abc"), 1)
    assert [p.text for p in split(RichText("😀abc"), 2)] == ["😀", "ab", "c"]


def test_hard_cut_without_punctuation_loses_nothing() -> None:
    text = "字" * 10_000
    parts = split(RichText(text), 4096)
    assert [len(p.text) for p in parts] == [4096, 4096, 1808]
    assert "".join(p.text for p in parts) == text


def test_never_splits_a_surrogate_pair_or_emoji_sequence() -> None:
    family = "👨\u200d👩\u200d👧"
    text = "a" * 4093 + family + "b" * 10
    parts = split(RichText(text), 4096)
    _check(parts, 4096)
    assert parts[0].text == "a" * 4093
    assert parts[1].text.startswith(family)


@pytest.mark.parametrize(
    "cluster",
    [
        "1\ufe0f\u20e3",  # keycap: the enclosing mark is not "combining" to unicodedata
        "🇨🇳",  # a flag: two regional indicators
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # a tag sequence
        "👍🏽",  # a skin tone
        "e\u0301\u0323",  # marks
        "\u1100\u1161\u11a8",  # Hangul jamo making one syllable
    ],
)
def test_a_hard_cut_never_splits_a_grapheme(cluster: str) -> None:
    for before in range(4096 - len(cluster) - 1, 4097):
        text = "a" * before + cluster + "b" * 10
        parts = split(RichText(text), 4096)
        _check(parts, 4096)
        assert "".join(p.text for p in parts) == text
        assert any(cluster in p.text for p in parts), (before, [p.text[-4:] for p in parts])


def test_entity_crossing_a_cut_continues_in_the_next_part() -> None:
    text = "x" * 50 + " " + "y" * 50
    rich = RichText(text, [Entity("bold", 40, 70)])
    parts = split(rich, 60)
    assert [p.text for p in parts] == ["x" * 50, "y" * 50]
    assert parts[0].entity_dicts() == [{"type": "bold", "offset": 40, "length": 10}]
    assert parts[1].entity_dicts() == [{"type": "bold", "offset": 0, "length": 19}]


def test_offsets_are_utf16_after_astral_characters() -> None:
    rich = RichText().append("😀 ").append("粗", "bold")
    assert rich.entity_dicts() == [{"type": "bold", "offset": 3, "length": 1}]


def test_at_most_100_entities_per_part() -> None:
    rich = RichText()
    for i in range(250):
        rich.append(f"w{i}", "bold").append(" ")
    parts = split(rich, 4096)
    assert [len(p.entities) for p in parts] == [100, 100, 50]
    _check(parts, 4096)
    assert " ".join(p.text for p in parts).split() == [f"w{i}" for i in range(250)]


def test_nested_entities_stay_nested_when_trimmed() -> None:
    rich = RichText(" ab  ", [Entity("text_link", 0, 5, url="https://x.y"), Entity("bold", 1, 4)])
    out = rich.normalized()
    assert [(e.type, e.start, e.end) for e in out.entities] == [
        ("text_link", 1, 3),
        ("bold", 1, 3),
    ]
