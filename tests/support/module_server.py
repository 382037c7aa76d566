"""One `bridge serve` per database for a whole test module (SQLite, then MariaDB).

For tests that make many requests against one seeded world (the authorisation matrix,
the read paths of redaction): starting a server per test would dominate their run time.
Import the fixture into the test module: ``from tests.support.module_server import
module_server  # noqa: F401``, or build another with ``running_server``.

A module of tests that each need the store as start-up left it (the per-test
``bridge_server`` and ``db_url`` of tests/conftest.py) shares one server instead with
``from tests.support.module_server import fresh_bridge_server, module_server,
shared_db_url  # noqa: F401``: ``bridge_server`` is then the module's server with its
store put back first (tests/support/store_snapshot.py), ``db_url`` its database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import server as support
from tests.support.databases import database
from tests.support.store_snapshot import Snapshot

BACKENDS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]


@dataclass
class ModuleServer:
    url: str
    db_url: str
    backend: str
    server: support.Server
    snapshot: Snapshot

    def reset(self) -> support.Server:
        """The store back to what start-up left; the server, which must still run."""
        if self.server.process.poll() is not None:
            raise RuntimeError(f"the shared bridge serve exited:\n{self.server.output()}")
        self.snapshot.restore()
        return self.server


@contextmanager
def running_server(
    backend: str, directory: Path, *, server_extra: str = ""
) -> Iterator[ModuleServer]:
    """A `bridge serve` with the example users on a fresh ``backend`` database."""
    with database(backend, directory, at_head=True) as db_url:
        port = support.free_port()
        config = support.write_config(directory, db_url, port, server_extra=server_extra)
        running = support.start(config, port, cwd=directory)
        try:
            yield ModuleServer(running.url, db_url, backend, running, Snapshot.take(db_url))
        finally:
            running.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def module_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleServer]:
    directory = tmp_path_factory.mktemp(f"server-{request.param}")
    with running_server(request.param, directory) as running:
        yield running


@pytest.fixture(name="bridge_server")
def fresh_bridge_server(module_server: ModuleServer) -> support.Server:  # noqa: F811
    """The module's `bridge serve`, its store as start-up left it."""
    return module_server.reset()


@pytest.fixture(name="db_url")
def shared_db_url(module_server: ModuleServer) -> str:  # noqa: F811
    """The database of the module's `bridge serve`."""
    return module_server.db_url
