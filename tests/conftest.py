from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulators.google_calendar.fixtures import google_emulator  # noqa: F401 - a fixture
from tests.support.databases import database

BACKENDS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]


#: Fixtures that migrate the store to head before the test body runs (`bridge serve` at
#: start-up, ``Store(url)``): a test using one gets its MariaDB database already migrated
#: (a copy of a template, see tests/support/databases.py), which it cannot tell apart.
MIGRATED_FIRST = {"bridge_server", "world_with", "crowded", "fleet_of"}


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database, SQLite and MariaDB in turn: empty, or, for a test that uses a
    fixture of MIGRATED_FIRST, at head already."""
    at_head = not MIGRATED_FIRST.isdisjoint(request.fixturenames)
    with database(request.param, tmp_path, at_head=at_head) as url:
        yield url


@pytest.fixture
def bridge_server(db_url: str, tmp_path: Path):
    """A running `bridge serve` with the example users, on SQLite and on MariaDB."""
    from tests.support import server as support

    port = support.free_port()
    config = support.write_config(tmp_path, db_url, port)
    running = support.start(config, port, cwd=tmp_path)
    yield running
    running.stop()
