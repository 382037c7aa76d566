"""One `bridge serve` per database for a whole test module (SQLite, then MariaDB).

For tests that make many requests against one seeded world (the authorisation matrix,
the read paths of redaction): starting a server per test would dominate their run time.
Import the fixture into the test module: ``from tests.support.module_server import
module_server  # noqa: F401``, or build another with ``running_server``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import server as support
from tests.support.databases import database

BACKENDS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]


@dataclass
class ModuleServer:
    url: str
    db_url: str
    backend: str
    server: support.Server


@contextmanager
def running_server(
    backend: str, directory: Path, *, server_extra: str = ""
) -> Iterator[ModuleServer]:
    """A `bridge serve` with the example users on a fresh ``backend`` database."""
    with database(backend, directory) as db_url:
        port = support.free_port()
        config = support.write_config(directory, db_url, port, server_extra=server_extra)
        running = support.start(config, port, cwd=directory)
        try:
            yield ModuleServer(running.url, db_url, backend, running)
        finally:
            running.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def module_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleServer]:
    directory = tmp_path_factory.mktemp(f"server-{request.param}")
    with running_server(request.param, directory) as running:
        yield running
