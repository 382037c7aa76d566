"""The set-up of a push test: the real webhook app serving a world's store on a free port
(the fixture ``hook``, over the test module's ``world``: tests/support/sync_world.py),
and what push tests read and change of the world's binding and its channel.

Import the fixture into the test module: ``from tests.support.push_hook import
webhook_hook  # noqa: F401``; a test then asks for ``hook``, the app's base URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Row, update

from bridge.api.runner import start_in_thread
from bridge.api.webhooks import webhook_app
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.store.schema import bindings

FAR = 4_000_000_000.0  # a next_run_at long after the test


@pytest.fixture(name="hook")
def webhook_hook(world) -> Iterator[str]:
    """The webhook app serving world.store, notifications not coalesced; its base URL."""
    _, url, stop = start_in_thread(webhook_app(world.store, coalesce_seconds=0), "127.0.0.1", 0)
    yield url
    stop()


def channel_row(world) -> Row | None:
    """The push channel of the world's binding, if one is open."""
    return world.store.read(lambda c: channel_store.for_binding(c, world.binding_id))


def next_run_at(world) -> float:
    return world.store.read(lambda c: binding_store.get(c, world.binding_id)).next_run_at


def postpone(world) -> None:
    """The binding is not due (as after a successful round)."""
    world.store.write(
        lambda tx: tx.conn.execute(
            update(bindings).where(bindings.c.id == world.binding_id).values(next_run_at=FAR)
        )
    )


def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """Whether ``predicate`` came true within ``timeout`` seconds (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
