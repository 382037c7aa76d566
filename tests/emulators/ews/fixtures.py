"""pytest fixture `ews_emulator` (import it into a conftest or test module to use it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import EwsEmulator


@pytest.fixture
def ews_emulator() -> Iterator[EwsEmulator]:
    with EwsEmulator() as emulator:
        yield emulator
