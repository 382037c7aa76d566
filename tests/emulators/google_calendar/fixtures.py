"""pytest fixture `google_emulator`; a conftest registers it by importing it from here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import GoogleEmulator


@pytest.fixture
def google_emulator() -> Iterator[GoogleEmulator]:
    with GoogleEmulator() as emulator:
        yield emulator
