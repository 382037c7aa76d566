"""The storage plugin under Radicale's own Application, in process: what it reads and parses."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from radicale import Application
from radicale import item as radicale_item

from bridge.config import parse_config
from bridge.server import radicale_configuration
from bridge.wiring import open_store
from tests.support.http import vevent

FILTER = """<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter name="VCALENDAR">
<C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter>
</C:comp-filter></C:filter>"""


@pytest.fixture
def storage(db_url: str, tmp_path: Path):
    settings = parse_config(
        {
            "server": {"auth": "none"},
            "store": {"url": db_url},
            "users": [
                {"login": "alice", "email": "alice@example.com", "can_see": ["bob"]},
                {"login": "bob", "email": "bob@example.com"},
            ],
        },
        file="test",
        base_dir=tmp_path,
    )
    store = open_store(settings)
    app = Application(radicale_configuration(settings))
    yield app._storage
    store.dispose()


def upload(storage, path: str, text: str, *, prepare: bool = True) -> None:
    """Upload as Radicale's PUT does (the item prepared first); ``prepare=False`` hands the
    storage the item unprepared, for refusals the storage must make whatever Radicale did
    before (plain Radicale's own preparation of a never-occurring rule runs dateutil to year
    9999: seconds of CPU that are Radicale's, not the storage's)."""
    collection = next(iter(storage.discover(path)))
    vobject_item = radicale_item.read_components(text)[0]
    item = radicale_item.Item(collection_path=collection.path, vobject_item=vobject_item)
    if prepare:
        item.prepare()
    with storage.acquire_lock("w", "alice"):
        collection.upload(item.uid + ".ics", item)


def test_time_range_reads_are_answered_without_parsing(storage):
    upload(
        storage, "/alice/meetings/", vevent("one", start="20261201T100000Z", end="20261201T110000Z")
    )
    upload(
        storage, "/alice/meetings/", vevent("two", start="20261215T100000Z", end="20261215T110000Z")
    )
    upload(
        storage,
        "/alice/meetings/",
        vevent(
            "weekly", start="20261102T090000Z", end="20261102T100000Z", extra="RRULE:FREQ=WEEKLY"
        ),
    )
    collection = next(iter(storage.discover("/alice/meetings/")))
    window = ET.fromstring(FILTER.format(start="20261201T000000Z", end="20261208T000000Z"))
    found = list(collection.get_filtered([window]))
    assert sorted(item.uid for item, _ in found) == ["one", "weekly"]
    assert all(matched for _, matched in found)  # Radicale need not filter them again
    assert all(item._vobject_item is None for item, _ in found)  # nothing was parsed
    assert collection.has_uid("two") and not collection.has_uid("three")


def test_discover_depth_one_lists_items_and_colleague_views_lazily(storage):
    upload(storage, "/alice/meetings/", vevent("m"))
    home = list(storage.discover("/alice/", depth="1"))
    paths = sorted(getattr(obj, "path", "") for obj in home)
    assert "alice/meetings" in paths and "alice/meetings-bob" in paths
    listed = list(storage.discover("/alice/meetings/", depth="1"))
    items = [obj for obj in listed if isinstance(obj, radicale_item.Item)]
    assert [i.uid for i in items] == ["m"] and items[0]._vobject_item is None


def test_unknown_paths_discover_nothing(storage):
    assert list(storage.discover("/nobody/cal/")) == []
    assert list(storage.discover("/alice/meetings-carol/")) == []  # not allowed to see
    assert list(storage.discover("/alice/meetings/missing.ics")) == []
