"""Rules of the splitter that mutation testing found no test for.

Each test holds one thing Telegram depends on: where a long text is cut, that no part
starts with a space or loses a character, that entities keep their url and language,
come in the order Telegram reads them (outer first) and are dropped when empty, and that
UTF-16 offsets stay right at the very end of a text.
"""

from __future__ import annotations

import pytest

from bot.reading.richtext import Entity, RichText, index_at, split, utf16_len, utf16_prefix
from tests.invariants import check_entities


def _texts(parts: list[RichText]) -> list[str]:
    return [p.text for p in parts]


def _spans(rich: RichText) -> list[tuple[str, int, int]]:
    return [(e.type, e.start, e.end) for e in rich.entities]


# --- UTF-16 offsets -------------------------------------------------------------------


def test_utf16_length_is_a_whole_number_of_units() -> None:
    # it goes into offsets and lengths sent as JSON: 4.0 is not an offset
    assert type(utf16_len("中a😀")) is int
    assert type(RichText("😀").utf16_len()) is int


def test_utf16_prefix_of_bmp_text_has_one_offset_per_boundary() -> None:
    assert list(utf16_prefix("中文ab")) == [0, 1, 2, 3, 4]
    assert list(utf16_prefix("")) == [0]


@pytest.mark.parametrize("text", ["中文ab", "a😀b😀"])
def test_an_offset_at_or_past_the_end_maps_to_the_end_of_the_text(text: str) -> None:
    prefix = utf16_prefix(text)
    assert index_at(prefix, utf16_len(text)) == len(text)
    assert index_at(prefix, utf16_len(text) + 5) == len(text)


# --- building and slicing -------------------------------------------------------------


def test_append_keeps_the_url_and_language_of_its_entity() -> None:
    rich = RichText().append("see ").append("here", "text_link", url="https://x.y/")
    rich.append("\n").append("print(1)", "pre", language="python")
    assert rich.entity_dicts() == [
        {"type": "text_link", "offset": 4, "length": 4, "url": "https://x.y/"},
        {"type": "pre", "offset": 9, "length": 8, "language": "python"},
    ]


def test_extend_moves_the_other_texts_entities_behind_this_one() -> None:
    head = RichText().append("😀 ").append("粗", "bold")
    tail = RichText().append("a ").append("link", "text_link", url="https://x.y/")
    out = head.extend(tail)
    assert out is head
    assert out.text == "😀 粗a link"
    assert _spans(out) == [("bold", 2, 3), ("text_link", 5, 9)]
    assert out.entities[1].url == "https://x.y/"
    assert out.entity_dicts()[1] == {
        "type": "text_link",
        "offset": 6,  # the emoji counts twice in UTF-16
        "length": 4,
        "url": "https://x.y/",
    }


def test_a_link_and_a_code_block_cut_in_two_keep_url_and_language_in_both_parts() -> None:
    link = "word " * 12
    code = "x = 1\n" * 12
    rich = RichText().append(link, "text_link", url="https://x.y/a").append("\n\n")
    rich.append(code, "pre", language="python")
    parts = split(rich, 40)
    assert len(parts) > 2
    for part in parts:
        check_entities(part.text, part.entity_dicts())
        for item in part.entity_dicts():
            if item["type"] == "text_link":
                assert item["url"] == "https://x.y/a"
                assert "language" not in item
            else:
                assert item["type"] == "pre"
                assert item["language"] == "python"
                assert "url" not in item
    types = [item["type"] for p in parts for item in p.entity_dicts()]
    assert types.count("text_link") >= 2 and types.count("pre") >= 2


# --- normalizing entities -------------------------------------------------------------


def test_leading_whitespace_is_trimmed_from_an_entity_in_the_middle_of_the_text() -> None:
    rich = RichText("intro  bold  tail", [Entity("bold", 5, 13)])
    assert _spans(rich.normalized()) == [("bold", 7, 11)]


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("abc", Entity("bold", 2, 2)),  # empty
        ("ab  ", Entity("bold", 2, 4)),  # only whitespace, at the end of the text
        ("a  b", Entity("italic", 1, 3)),  # only whitespace, inside
        ("", Entity("bold", 0, 0)),  # an empty span over an empty text
    ],
)
def test_an_entity_with_nothing_visible_is_dropped(text: str, entity: Entity) -> None:
    # Telegram rejects an entity of length 0
    assert RichText(text, [entity]).normalized().entities == []


def test_of_spans_starting_together_the_longer_one_comes_first() -> None:
    rich = RichText(
        "bold link rest",
        [Entity("bold", 0, 4), Entity("text_link", 0, 9, url="https://x.y/")],
    )
    assert _spans(rich.normalized()) == [("text_link", 0, 9), ("bold", 0, 4)]


def test_over_the_same_text_a_quote_holds_formatting_which_holds_code() -> None:
    same = [Entity(kind, 0, 4) for kind in ("code", "italic", "blockquote", "bold")]
    order = [e.type for e in RichText("text", same).normalized().entities]
    assert order == ["blockquote", "italic", "bold", "code"]
    check_entities("text", RichText("text", same).normalized().entity_dicts())


# --- where the cuts fall --------------------------------------------------------------


def test_every_part_but_the_last_fills_its_room_when_there_is_nowhere_better_to_cut() -> None:
    for limit in range(1, 40):
        for length in (limit + 1, 2 * limit + 3, 3 * limit):
            parts = split(RichText("字" * length), limit)
            assert [len(p) for p in parts[:-1]] == [limit] * (len(parts) - 1), (limit, length)
            assert "".join(_texts(parts)) == "字" * length


@pytest.mark.timeout(5)
def test_a_grapheme_longer_than_a_whole_part_is_cut_inside_without_loss() -> None:
    zalgo = "Z" + "\u0336" * 5000  # one user-perceived character of 5001 code points
    parts = split(RichText(zalgo + " end"), 4096)
    assert _texts(parts) == [zalgo[:4096], zalgo[4096:] + " end"]


def test_a_space_beats_a_hard_cut_however_early_it_comes() -> None:
    text = "甲，" + "乙" * 20
    assert _texts(split(RichText(text), 10)) == ["甲，", "乙" * 10, "乙" * 10]
    text = "ab " + "c" * 20
    assert _texts(split(RichText(text), 10)) == ["ab", "c" * 10, "c" * 10]


@pytest.mark.timeout(5)
def test_a_sentence_mark_left_at_the_start_of_a_part_is_not_sent_on_its_own() -> None:
    # the hard cut falls just before "。"; it goes on with the text that follows it
    text = "甲" * 10 + "。" + "乙" * 30
    parts = split(RichText(text), 10)
    assert _texts(parts) == ["甲" * 10, "。" + "乙" * 9, "乙" * 10, "乙" * 10, "乙"]


@pytest.mark.timeout(5)
def test_after_a_sentence_end_a_long_run_is_still_cut_and_nothing_is_lost() -> None:
    text = "甲" * 8 + "。" + "乙" * 30
    parts = split(RichText(text), 10)
    assert _texts(parts) == ["甲" * 8 + "。", "乙" * 10, "乙" * 10, "乙" * 10]


def test_a_sentence_end_at_half_the_room_beats_a_later_comma() -> None:
    text = "甲" * 5 + "。" + "乙" * 2 + "，" + "丙" * 10
    assert _texts(split(RichText(text), 10))[0] == "甲" * 5 + "。"


def test_a_later_part_also_fills_half_its_room_before_taking_a_better_break() -> None:
    first = "甲" * 19 + "。"
    second = "乙" * 3 + "\n" + "丙" * 10 + "，"
    text = first + second + "丁" * 20
    parts = split(RichText(text), 20)
    # the line break three characters in would leave a part of three: the comma wins
    assert _texts(parts)[:2] == [first, second]


@pytest.mark.timeout(5)
def test_the_next_part_starts_at_the_next_word_after_a_sentence_end() -> None:
    text = "Alpha beta gamma. Delta epsilon"
    assert _texts(split(RichText(text), 20)) == ["Alpha beta gamma.", "Delta epsilon"]
    text = "   Alpha beta gamma.  \n Delta epsilon"
    assert _texts(split(RichText(text), 20)) == ["Alpha beta gamma.", "Delta epsilon"]


# --- the entity cap -------------------------------------------------------------------


def test_exactly_as_many_entities_as_allowed_stay_in_one_part() -> None:
    rich = RichText()
    for word in ("one", "two", "three"):
        rich.append(word, "bold").append(" ")
    parts = split(rich, 4096, max_entities=3)
    assert _texts(parts) == ["one two three"]
    assert len(parts[0].entities) == 3


def test_entities_one_character_apart_still_respect_the_cap() -> None:
    rich = RichText("ab cd", [Entity("bold", 0, 1), Entity("italic", 1, 2)])
    parts = split(rich, 4096, max_entities=1)
    assert _texts(parts) == ["a", "b cd"]
    assert all(len(p.entities) <= 1 for p in parts)


def test_an_entity_that_ended_at_the_last_cut_does_not_count_against_the_next_part() -> None:
    rich = RichText("甲乙。丙丁戊己", [Entity("bold", 0, 3), Entity("italic", 5, 6)])
    parts = split(rich, 4096, max_entities=1)
    assert _texts(parts) == ["甲乙。", "丙丁戊己"]
    assert [_spans(p) for p in parts] == [[("bold", 0, 3)], [("italic", 2, 3)]]


@pytest.mark.timeout(5)
def test_more_entities_over_one_character_than_allowed_still_end_and_lose_nothing() -> None:
    # nothing can meet the cap here; the split must still move on, one character a part
    rich = RichText("abc", [Entity("bold", 0, 3), Entity("italic", 0, 3)])
    parts = split(rich, 4096, max_entities=1)
    assert _texts(parts) == ["a", "b", "c"]
