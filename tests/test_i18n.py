"""Every word a resident or admin reads is in their language."""

from __future__ import annotations

import re

import pytest

from bot import ledger as store
from bot.i18n import MESSAGES, format_statuses, t

STATUSES = [
    store.ACTIVE,
    store.WITHDRAWN,
    store.INVALID,
    store.ANNOUNCEMENT,
    store.REMINDER,
    store.QUEUED,
    store.SENDING,
    store.SENT,
    store.FAILED,
    store.SKIPPED,
]


@pytest.mark.parametrize("status", STATUSES)
def test_every_ledger_status_has_a_word_in_both_languages(status: str) -> None:
    assert set(MESSAGES[f"status_{status}"]) == {"zh", "en"}


def test_status_counts_read_as_sentences() -> None:
    counts = {store.SENT: 3, store.FAILED: 1, store.QUEUED: 2}
    zh = format_statuses(counts, "zh")
    assert zh == "已发送3，待发送2，失败1" and not re.search("[A-Za-z]", zh)
    assert format_statuses(counts, "en") == "sent 3, waiting 2, failed 1"
    assert format_statuses({}, "zh") == "无"


def test_every_string_is_in_both_languages() -> None:
    for key, texts in MESSAGES.items():
        assert {"zh", "en"} <= set(texts), key
        assert set(texts) <= {"zh", "en", "en_one"}, key
        for variant, text in texts.items():
            wanted = set(re.findall(r"{(\w+)}", texts["zh"]))
            assert set(re.findall(r"{(\w+)}", text)) <= wanted | {"count"}, (key, variant)


# What may stay in Latin letters inside Chinese: a command (/subscribe), a command line
# (noticebot scan --withdraw), and a placeholder filled in with a name or a number.
_NOT_WORDS = re.compile(r"/[a-z_]+|noticebot(?: [a-z]+)*(?: --[a-z]+)?|{\w+}")


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_chinese_has_no_english_words_and_one_vocabulary(key: str) -> None:
    text = MESSAGES[key]["zh"]
    assert not re.search("[A-Za-z]", _NOT_WORDS.sub("", text)), text
    # 发送 for sending (not 推送, 投递, 送达); “” for quotes; no 卡片 jargon; no "today"
    # for a list that spans a day; no half-width colon after Chinese
    assert not re.search("推送|投递|送达|「|」|卡片|今日|[\u4e00-\u9fff]:", text), text


@pytest.mark.parametrize("key", sorted(k for k, v in MESSAGES.items() if "{count}" in v["en"]))
def test_english_says_one_thing_not_one_things(key: str) -> None:
    values = dict.fromkeys(re.findall(r"{(\w+)}", MESSAGES[key]["en"]), "x")
    said = t(key, "en", **{**values, "count": 1})
    assert not re.search(r"\b1 [a-z]+s\b", said), said
