"""The contract suite's fixtures: ``driver`` (one per backend kind whose driver module
exists; test_registry.py fails for a registered kind without one) and ``contract_world``
(a store on SQLite and MariaDB with alice's binding of that kind)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge.sync.rules import SyncRules
from tests.contract import drivers
from tests.contract.driver import Driver
from tests.contract.world import ContractWorld, make_contract_world


def driver_kinds() -> list[str]:
    """The kinds with a module in tests/contract/drivers/."""
    return sorted(m.name for m in pkgutil.iter_modules(drivers.__path__))


@pytest.fixture(params=driver_kinds())
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Driver]:
    module = importlib.import_module(f"tests.contract.drivers.{request.param}")
    with module.open_driver(tmp_path) as made:
        yield made


@pytest.fixture
def world_with(db_url: str, driver: Driver) -> Iterator[Callable[..., ContractWorld]]:
    """Make the world with other rules: ``world_with(SyncRules(...))``."""
    made: list[ContractWorld] = []

    def make(rules: SyncRules | None = None, **settings: object) -> ContractWorld:
        made.append(make_contract_world(db_url, driver, rules, **settings))
        return made[-1]

    yield make
    for world in made:
        world.close()


@pytest.fixture
def contract_world(world_with: Callable[..., ContractWorld]) -> ContractWorld:
    return world_with()
