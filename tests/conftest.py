from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulators.google_calendar.fixtures import google_emulator  # noqa: F401 - a fixture
from tests.support.databases import database

BACKENDS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]


#: Fixtures that migrate the store to head before the test body runs (`bridge serve` at
#: start-up, ``Store(url)``): a test using one gets its MariaDB database already migrated
#: (a copy of a template, see tests/support/databases.py), which it cannot tell apart.
#: "world": every fixture of that name that takes ``db_url`` opens ``Store(db_url)`` first
#: (tests/support/sync_world.make_world, make_driver_world; tests/contract/world.py). A
#: test whose own first step migrates (`bridge db upgrade`) says so with the
#: ``migrated_first`` mark.
MIGRATED_FIRST = {"bridge_server", "world_with", "world", "crowded", "fleet_of"}


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database, SQLite and MariaDB in turn: empty, or, for a test that uses a
    fixture of MIGRATED_FIRST, at head already."""
    at_head = not MIGRATED_FIRST.isdisjoint(request.fixturenames) or (
        request.node.get_closest_marker("migrated_first") is not None
    )
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


@pytest.fixture(autouse=True)
def _forget_graph_writes() -> Iterator[None]:
    """Each test's Graph emulator is a new service, but the OS may give it the port an
    earlier test's emulator had: the Graph backend's process-wide record of ids written per
    mailbox URL (bridge.backends.graph.delta.WRITTEN) would then carry the earlier service's
    ids into this one, whose pull reports them as deleted. Cleared after every test that
    loaded the Graph backend."""
    yield
    delta = sys.modules.get("bridge.backends.graph.delta")
    if delta is not None:
        delta.WRITTEN.clear()
