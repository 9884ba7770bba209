from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import Config
from tests.emulator import Emulator


@pytest.fixture
def config() -> Config:
    return Config()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A local Bot API emulator on a free loopback port."""
    with Emulator() as emu:
        yield emu
