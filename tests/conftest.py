from __future__ import annotations

import pytest

from bot.config import Config


@pytest.fixture
def config() -> Config:
    return Config()
