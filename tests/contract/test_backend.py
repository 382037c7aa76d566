"""What every backend does for the engine, against its service (Google: the emulator;
CalDAV: a real Radicale): create, update and delete with etags, idempotent creates,
incremental lists with deletions, series, tags, silence. Moved from
test_google_backend.py; Google's own wire cases stay there."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bridge.backends.base import (
    Backend,
    BackendError,
    NotFound,
    PreconditionFailed,
    Rejected,
    RemoteAttendee,
    RemoteEvent,
    RemoteOverride,
    ResyncRequired,
)
from bridge.model import BusyStatus
from tests.contract.pull import is_deleted, listed
from tests.support.remote_events import at, meeting


@pytest.fixture
def backend(driver) -> Iterator[Backend]:
    made = driver.make_backend()
    yield made
    made.close()


def held(driver, remote_id: str) -> RemoteEvent:
    (found,) = [e for e in driver.events() if e.remote_id == remote_id]
    return found


def test_create_then_list_shows_it_tagged(driver, backend):
    created = backend.create(meeting(), idempotency_key="binding-1/m-1")
    assert created.remote_id and created.etag and created.crm_meeting_id == "m-1"
    assert created.content_hash() == meeting().content_hash()
    assert held(driver, created.remote_id).crm_meeting_id == "m-1"
    assert not held(driver, created.remote_id).attendees
    events, token = listed(backend, None)
    assert token
    assert [(e.remote_id, e.crm_meeting_id, e.subject) for e in events] == [
        (created.remote_id, "m-1", "Meeting m-1")
    ]
    assert events[0].content_hash() == created.content_hash()
    assert driver.mailed() == []


def test_create_twice_with_the_same_key_makes_one_event(driver, backend):
    first = backend.create(meeting(), idempotency_key="k")
    second = backend.create(meeting(), idempotency_key="k")
    assert second.remote_id == first.remote_id
    assert len(driver.events()) == 1


def test_update_with_a_stale_etag_fails_and_a_fresh_one_works(driver, backend):
    created = backend.create(meeting(), idempotency_key="k")
    driver.edit(created.remote_id, subject="changed in the calendar")
    with pytest.raises(PreconditionFailed):
        backend.update(created.remote_id, meeting(subject="CRM"), etag=created.etag)
    fresh = backend.get(created.remote_id)
    updated = backend.update(created.remote_id, meeting(subject="CRM"), etag=fresh.etag)
    assert updated.subject == "CRM" and updated.etag != fresh.etag
    assert held(driver, created.remote_id).subject == "CRM"


def test_update_keeps_attendees_the_user_added(driver, backend):
    made = driver.seed(
        subject="Made by the user", start=at(3), end=at(3, 11), attendees=("guest@example.org",)
    )
    etag = backend.get(made).etag
    updated = backend.update(made, meeting(subject="new"), etag=etag)
    assert [a.email for a in updated.attendees] == ["guest@example.org"]
    assert [a.email for a in held(driver, made).attendees] == ["guest@example.org"]
    assert driver.mailed() == []


def test_delete_and_not_found(driver, backend):
    created = backend.create(meeting(), idempotency_key="k")
    with pytest.raises(PreconditionFailed):
        backend.delete(created.remote_id, etag='"stale"')
    backend.delete(created.remote_id, etag=created.etag)
    assert driver.events() == []
    with pytest.raises(NotFound):
        backend.delete(created.remote_id, etag="")
    with pytest.raises(NotFound):
        backend.update("nosuchevent1", meeting(), etag="")
    with pytest.raises(NotFound):
        backend.delete("nosuchevent1", etag="")
    assert driver.mailed() == []


def test_incremental_list_returns_only_changes_and_deletions(driver, backend):
    a = backend.create(meeting("a"), idempotency_key="a")
    b = backend.create(meeting("b", day=4), idempotency_key="b")
    c = backend.create(meeting("c", day=5), idempotency_key="c")
    everything, token = listed(backend, None)
    assert {e.remote_id for e in everything} == {a.remote_id, b.remote_id, c.remote_id}
    idle, token = listed(backend, token)
    assert idle == []
    driver.edit(b.remote_id, subject="moved on the phone")
    driver.remove(c.remote_id)
    changes, token = listed(backend, token)
    by_id = {e.remote_id: e for e in changes}
    assert set(by_id) == {b.remote_id, c.remote_id}
    assert by_id[b.remote_id].subject == "moved on the phone"
    assert not is_deleted(by_id[b.remote_id])
    assert is_deleted(by_id[c.remote_id])
    assert listed(backend, token)[0] == []


def test_expired_cursor_raises_resync_required(driver, backend):
    backend.create(meeting(), idempotency_key="k")
    _, token = listed(backend, None)
    driver.expire_cursor()
    with pytest.raises(ResyncRequired):
        listed(backend, token)


def test_writing_a_series_with_overrides_round_trips(driver, backend):
    rule = ("EXDATE:20310324T090000Z", "RRULE:COUNT=5;FREQ=WEEKLY")
    moved = RemoteOverride(
        "2031-03-17T09:00:00+00:00",
        datetime(2031, 3, 17, 13, tzinfo=UTC),
        datetime(2031, 3, 17, 14, tzinfo=UTC),
        subject="moved",
    )
    event = meeting(start=at(3, 9), end=at(3, 10), recurrence=rule, overrides=(moved,))
    created = backend.create(event, idempotency_key="series")
    assert created.content_hash() == event.content_hash()
    listed_events, _ = listed(backend, None)
    assert [e.content_hash() for e in listed_events] == [event.content_hash()]
    # the override goes away again: the instance is put back to the master's values
    plain = replace(event, overrides=())
    updated = backend.update(created.remote_id, plain, etag=created.etag)
    assert updated.content_hash() == plain.content_hash()
    assert backend.find_by_meeting_id("m-1").content_hash() == plain.content_hash()
    assert driver.mailed() == []


def test_all_day_free_and_private_round_trip(driver, backend):
    all_day = meeting(
        "d",
        start=datetime(2031, 5, 2, tzinfo=UTC),
        end=datetime(2031, 5, 3, tzinfo=UTC),
        all_day=True,
        timezone="UTC",
        busy=BusyStatus.FREE,
        private=True,
        recurrence=("EXDATE;VALUE=DATE:20310509", "RRULE:FREQ=WEEKLY;COUNT=3"),
    )
    created = backend.create(all_day, idempotency_key="d")
    assert held(driver, created.remote_id).all_day
    listed_events = {e.crm_meeting_id: e for e in listed(backend, None)[0]}
    assert listed_events["d"].content_hash() == all_day.content_hash()


def test_find_by_meeting_id_ignores_invite_copies(driver, backend):
    copy = meeting("m-9", is_invite_copy=True, subject="invitation")
    backend.create(copy, idempotency_key="invite-m-9")
    assert backend.find_by_meeting_id("m-9") is None
    created = backend.create(meeting("m-9"), idempotency_key="sync-m-9")
    found = backend.find_by_meeting_id("m-9")
    assert found is not None and found.remote_id == created.remote_id
    assert not found.is_invite_copy
    everything = {e.remote_id: e for e in listed(backend, None)[0]}
    assert sum(e.is_invite_copy for e in everything.values()) == 1
    backend.delete(created.remote_id, etag="")
    assert backend.find_by_meeting_id("m-9") is None
    assert backend.find_by_meeting_id("unknown") is None


def test_no_write_ever_carries_attendees(driver, backend):
    guests = meeting("g", attendees=(RemoteAttendee("x@y.z"),))
    created = backend.create(guests, idempotency_key="g")
    backend.update(created.remote_id, guests, etag=created.etag)
    backend.create_many([(replace(guests, crm_meeting_id="h"), "h")])
    for event in driver.events():
        assert not event.attendees, event
    assert driver.mailed() == []


def test_updating_a_deleted_event_without_etag_is_not_found(driver, backend):
    created = backend.create(meeting(), idempotency_key="k")
    driver.remove(created.remote_id)
    with pytest.raises(NotFound):
        backend.update(created.remote_id, meeting(), etag="")
    assert driver.events() == []


@pytest.mark.parametrize(
    ("status", "rejected"), [(400, True), (403, True), (429, False), (503, False)]
)
def test_a_refusal_of_one_event_is_rejected_a_limit_or_outage_is_not(
    driver, backend, status, rejected
):
    """What the engine quarantines (Rejected) and what backs off the binding (any other
    BackendError), as the backend reports it after its retries."""
    made = backend.create(meeting(), idempotency_key="k")
    driver.fail_next("update", status, count=20)
    with pytest.raises(BackendError, match=str(status)) as error:
        backend.update(made.remote_id, replace(made, subject="Moved"), etag=made.etag)
    assert isinstance(error.value, Rejected) is rejected
    assert driver.events()[0].remote_id == made.remote_id
    assert backend.get(made.remote_id).remote_id == made.remote_id
