"""A stored binding of kind caldav makes its backend through the factory the scheduler uses
(the kind's own constructor, settings and password file as the config gives them)."""

from __future__ import annotations

from pathlib import Path

from bridge.backends.caldav.backend import CaldavBackend
from bridge.store import bindings as binding_store
from tests.contract.drivers.caldav import open_driver
from tests.support.sync_world import make_driver_world


def test_a_stored_caldav_binding_makes_a_working_backend(db_url: str, tmp_path: Path) -> None:
    with open_driver(tmp_path) as driver:
        world = make_driver_world(db_url, driver)
        try:
            row = world.binding()
            assert row.kind == "caldav" and world.remote is driver and world.google is None
            assert world.store.read(lambda c: binding_store.by_login(c, "alice", "caldav"))
            backend = world.backend()
            assert isinstance(backend, CaldavBackend) and backend.check() is None
            backend.close()
            assert "PROPFIND" in [r.method for r in driver.proxy.records]  # via the proxy
        finally:
            world.store.dispose()
