"""A first pull on Exchange reads the window, not the whole calendar folder: SyncFolderItems
IdOnly to reach the SyncState, CalendarView for what the window holds (a series once, by
its master), GetItem of those alone; incremental pulls stay on SyncFolderItems."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bridge.backends.base import Deleted, RemoteEvent, ResyncRequired, Window
from bridge.backends.exchange.backend import ExchangeBackend
from bridge.backends.exchange.settings import ExchangeSettings
from tests.contract.drivers.exchange import recurrence_spec
from tests.emulators.ews import EwsEmulator
from tests.support.remote_events import meeting

ALICE = "alice@corp.test"
WINDOW = Window(datetime(2031, 1, 1, tzinfo=UTC), datetime(2031, 6, 1, tzinfo=UTC))


@pytest.fixture
def ews() -> Iterator[EwsEmulator]:
    with EwsEmulator() as server:
        server.add_mailbox(ALICE)
        server.add_account("alice", "pw", mailboxes=(ALICE,))
        yield server


def _backend(ews: EwsEmulator, **extra: int) -> ExchangeBackend:
    settings = ExchangeSettings(ews.url, ALICE, "alice", "pw", auth_type="basic", **extra)
    return ExchangeBackend(settings)


@pytest.fixture
def backend(ews) -> Iterator[ExchangeBackend]:
    made = _backend(ews, page_size=50)
    yield made
    made.close()


def _seed(ews: EwsEmulator, subject: str, start: datetime, **more: object) -> str:
    return ews.mailbox(ALICE).create(
        subject=subject, start=start, end=start + timedelta(hours=1),
        start_tz="UTC", end_tz="UTC", **more,
    )  # fmt: skip


def _pull(
    backend: ExchangeBackend, cursor: str | None, window: Window = WINDOW
) -> tuple[list, str | None]:
    changes, new_cursor = [], None
    for page in backend.list_changes(cursor, window):
        changes.extend(page.changes)
        new_cursor = page.cursor or new_cursor
    return changes, new_cursor


def _calls(ews: EwsEmulator, since: int) -> Counter:
    return Counter(operation for operation, _ in ews.calls[since:])


def _alone(ews: EwsEmulator, start: datetime) -> Counter:
    """The requests of a first pull of a mailbox holding one item at ``start``."""
    ews.add_mailbox("solo@corp.test")
    ews.add_account("solo", "pw", mailboxes=("solo@corp.test",))
    ews.mailbox("solo@corp.test").create(
        subject="solo", start=start, end=start + timedelta(hours=1), start_tz="UTC", end_tz="UTC"
    )
    settings = ExchangeSettings(ews.url, "solo@corp.test", "solo", "pw", auth_type="basic")
    solo = ExchangeBackend(settings)
    try:
        solo.folder  # noqa: B018 - GetFolder before counting
        before = len(ews.calls)
        assert len(_pull(solo, None)[0]) == 1
        return _calls(ews, before)
    finally:
        solo.close()


def test_old_events_far_outside_the_window_are_not_read_on_the_first_pull(ews, backend):
    old = [_seed(ews, f"old {n}", datetime(2019, 1, 1, 9, tzinfo=UTC) + timedelta(days=n))
           for n in range(300)]  # fmt: skip
    inside = _seed(ews, "inside", datetime(2031, 2, 3, 9, tzinfo=UTC))
    before = len(ews.calls)
    changes, cursor = _pull(backend, None)
    assert [c.remote_id for c in changes] == [inside]
    calls = _calls(ews, before)
    # 301 items: 7 IdOnly SyncFolderItems pages of 50, one CalendarView, and one read of
    # the window's item (the same GetItem requests as for a mailbox of that item alone)
    assert calls["SyncFolderItems"] == 7 and calls["FindItem"] == 1
    assert calls["GetItem"] == _alone(ews, datetime(2031, 2, 3, 9, tzinfo=UTC))["GetItem"]
    assert cursor is not None
    # the old events are not reported deleted, and an idle listing from the cursor is quiet
    assert not any(isinstance(c, Deleted) for c in changes)
    assert _pull(backend, cursor)[0] == []
    assert len(old) == 300


def test_our_own_creation_outside_the_window_is_not_reported_deleted(ews, backend):
    made = backend.create(
        meeting("long ago", start=datetime(2020, 5, 4, 9, tzinfo=UTC),
                end=datetime(2020, 5, 4, 10, tzinfo=UTC)),
        idempotency_key="k",
    )  # fmt: skip
    changes, cursor = _pull(backend, None)
    assert changes == []
    assert _pull(backend, cursor)[0] == []
    ews.mailbox(ALICE).delete(made.remote_id)
    assert _pull(backend, cursor)[0] == [Deleted(made.remote_id)]


def test_a_series_starting_before_the_window_arrives_once_by_its_master(ews, backend):
    start = datetime(2030, 11, 4, 9, tzinfo=UTC)  # weekly, 30 weeks: into March 2031
    spec = recurrence_spec("RRULE:FREQ=WEEKLY;COUNT=30", start)
    master = _seed(ews, "weekly", start, recurrence=spec)
    single = _seed(ews, "single", datetime(2031, 3, 2, 9, tzinfo=UTC))
    before = len(ews.calls)
    changes, _ = _pull(backend, None)
    events = [c for c in changes if isinstance(c, RemoteEvent)]
    assert sorted(e.remote_id for e in events) == sorted([master, single])
    (series,) = [e for e in events if e.remote_id == master]
    assert series.start == start and any("COUNT=30" in line for line in series.recurrence)
    # masters and singles in one batch: the GetItem requests of reading one item
    assert (
        _calls(ews, before)["GetItem"] == _alone(ews, datetime(2031, 3, 2, tzinfo=UTC))["GetItem"]
    )


def test_a_view_with_more_entries_than_a_page_is_read_in_pages(ews):
    backend = _backend(ews, page_size=50, view_size=4)
    try:
        start = datetime(2031, 1, 5, 9, tzinfo=UTC)
        daily = _seed(
            ews, "daily", start, recurrence=recurrence_spec("RRULE:FREQ=DAILY;COUNT=9", start)
        )
        singles = [_seed(ews, f"s{n}", start + timedelta(days=n, hours=3)) for n in range(5)]
        before = len(ews.calls)
        changes, _ = _pull(backend, None)
        assert sorted(c.remote_id for c in changes) == sorted([daily, *singles])
        assert _calls(ews, before)["FindItem"] >= 4  # 14 entries, 4 a view
    finally:
        backend.close()


def test_an_event_moved_into_the_window_later_arrives(ews, backend):
    old = _seed(ews, "old", datetime(2024, 6, 1, 9, tzinfo=UTC))
    changes, cursor = _pull(backend, None)
    assert changes == []
    moved = datetime(2031, 4, 1, 9, tzinfo=UTC)
    ews.mailbox(ALICE).update(old, start=moved, end=moved + timedelta(hours=1))
    changes, cursor = _pull(backend, cursor)
    (event,) = changes
    assert event.remote_id == old and event.start == moved
    assert _pull(backend, cursor)[0] == []


def test_an_untouched_event_arrives_when_time_brings_it_into_the_window(ews, backend):
    later = _seed(ews, "later", datetime(2031, 7, 10, 9, tzinfo=UTC))
    _seed(ews, "inside", datetime(2031, 3, 1, 9, tzinfo=UTC))
    changes, cursor = _pull(backend, None)
    assert [c.subject for c in changes] == ["inside"]
    moved_on = Window(WINDOW.start + timedelta(days=60), WINDOW.end + timedelta(days=60))
    before = len(ews.calls)
    changes, cursor = _pull(backend, cursor, moved_on)
    assert [c.remote_id for c in changes] == [later]
    assert _calls(ews, before)["FindItem"] == 1  # only the slice that came in
    before = len(ews.calls)
    assert _pull(backend, cursor, moved_on)[0] == []
    assert dict(_calls(ews, before)) == {"SyncFolderItems": 1}  # idle: one request


def test_a_window_grown_by_more_than_a_view_reads_asks_for_a_resync(ews, backend):
    """A slice over two years is not expanded: the engine lists from None (every item)."""
    _seed(ews, "inside", datetime(2031, 3, 1, 9, tzinfo=UTC))
    _, cursor = _pull(backend, None)
    grown = Window(WINDOW.start, WINDOW.end + timedelta(days=1000))
    with pytest.raises(ResyncRequired):
        _pull(backend, cursor, grown)
    moved = Window(WINDOW.start + timedelta(days=1000), WINDOW.end + timedelta(days=1000))
    far = _seed(ews, "far", moved.start + timedelta(days=3))
    assert [c.remote_id for c in _pull(backend, cursor, moved)[0]] == [far]


def test_a_window_moved_by_an_hour_keeps_an_idle_pull_at_one_request(ews, backend):
    _seed(ews, "inside", datetime(2031, 3, 1, 9, tzinfo=UTC))
    _, cursor = _pull(backend, None)
    hour = Window(WINDOW.start + timedelta(hours=1), WINDOW.end + timedelta(hours=1))
    before = len(ews.calls)
    assert _pull(backend, cursor, hour)[0] == []
    assert dict(_calls(ews, before)) == {"SyncFolderItems": 1}
