"""Every word a resident or admin reads is in their language."""

from __future__ import annotations

import re

import pytest

from bot import ledger as store
from bot.i18n import MESSAGES, format_statuses

STATUSES = [
    store.ACTIVE,
    store.WITHDRAWN,
    store.INVALID,
    store.ANNOUNCEMENT,
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
    assert zh == "失败 1，待发送 2，已发送 3" and not re.search("[A-Za-z]", zh)
    assert format_statuses(counts, "en") == "1 failed, 2 queued, 3 sent"
    assert format_statuses({}, "zh") == "无"
