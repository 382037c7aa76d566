"""Series, zones and paging on the EWS emulator: a DST-crossing weekly series in a Windows
zone, exceptions made by the user in Outlook read back as overrides and EXDATE, and
SyncFolderItems paging with the cursor on the last page only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bridge.backends.exchange.backend import ExchangeBackend
from bridge.backends.exchange.settings import ExchangeSettings
from tests.contract.pull import WINDOW, listed
from tests.emulators.ews import EwsEmulator
from tests.support.remote_events import meeting

BERLIN = ZoneInfo("Europe/Berlin")
ALICE = "alice@corp.test"


@pytest.fixture
def ews() -> Iterator[EwsEmulator]:
    with EwsEmulator() as server:
        server.add_mailbox(ALICE)
        server.add_account("alice", "pw", mailboxes=(ALICE,))
        yield server


@pytest.fixture
def backend(ews) -> Iterator[ExchangeBackend]:
    made = ExchangeBackend(
        ExchangeSettings(ews.url, ALICE, "alice", "pw", auth_type="basic", page_size=2)
    )
    yield made
    made.close()


def test_a_dst_crossing_series_keeps_its_wall_time_in_the_windows_zone(ews, backend):
    start = datetime(2031, 3, 24, 9, tzinfo=BERLIN)  # CET; CEST from 30 March
    series = meeting(
        start=start,
        end=start.replace(hour=10),
        timezone="Europe/Berlin",
        recurrence=("RRULE:FREQ=WEEKLY;COUNT=3",),
    )
    created = backend.create(series, idempotency_key="s")
    stored = ews.mailbox(ALICE).item(created.remote_id)
    assert stored["start_tz"] == "W. Europe Standard Time"
    starts = ews.mailbox(ALICE).occurrence_starts(created.remote_id)
    assert [s.astimezone(BERLIN).hour for s in starts] == [9, 9, 9]
    assert [s.astimezone(UTC).hour for s in starts] == [8, 7, 7]
    (back,) = listed(backend, None)[0]
    assert back.timezone == "Europe/Berlin" and back.content_hash() == series.content_hash()


def test_exceptions_made_in_outlook_are_overrides_and_exdates(ews, backend):
    start = datetime(2031, 3, 3, 9, tzinfo=UTC)
    created = backend.create(
        meeting(start=start, end=start.replace(hour=10), timezone="UTC",
                recurrence=("RRULE:FREQ=WEEKLY;COUNT=4",)),
        idempotency_key="s",
    )  # fmt: skip
    user = ews.mailbox(ALICE)
    second, third = user.occurrence_starts(created.remote_id)[1:3]
    user.modify_occurrence(
        created.remote_id,
        second,
        subject="moved in Outlook",
        start=second.replace(hour=14),
        end=second.replace(hour=15),
    )
    user.delete_occurrence(created.remote_id, third)
    (event,) = listed(backend, None)[0]
    (override,) = event.overrides
    assert override.recurrence_id == second.astimezone(UTC).isoformat()
    assert override.subject == "moved in Outlook" and override.start.hour == 14
    assert "EXDATE:20310317T090000Z" in event.recurrence
    # written back unchanged, nothing moves
    again = backend.update(created.remote_id, event, etag=event.etag)
    assert again.content_hash() == event.content_hash()


def test_sync_pages_carry_the_cursor_on_the_last_page_only(backend):
    for n in range(5):
        backend.create(meeting(f"p-{n}", day=3 + n), idempotency_key=f"p-{n}")
    pages = list(backend.list_changes(None, WINDOW))
    assert len(pages) == 3 and [len(p.changes) for p in pages] == [2, 2, 1]
    assert [p.cursor is not None for p in pages] == [False, False, True]
    assert sorted(e.crm_meeting_id for p in pages for e in p.changes) == [
        f"p-{n}" for n in range(5)
    ]


def test_an_occurrence_edited_in_outlook_changes_the_series_changekey(ews, backend):
    """Exchange gives the master a new ChangeKey when one of its occurrences changes: our
    write with the ChangeKey we had fails (ErrorIrresolvableConflict), a fresh one works."""
    from bridge.backends.base import PreconditionFailed

    start = datetime(2031, 3, 3, 9, tzinfo=UTC)
    series = meeting(start=start, end=start.replace(hour=10), timezone="UTC",
                     recurrence=("RRULE:FREQ=DAILY;COUNT=3",))  # fmt: skip
    created = backend.create(series, idempotency_key="s")
    second = ews.mailbox(ALICE).occurrence_starts(created.remote_id)[1]
    ews.mailbox(ALICE).modify_occurrence(created.remote_id, second, subject="mine")
    with pytest.raises(PreconditionFailed, match="ErrorIrresolvableConflict"):
        backend.update(created.remote_id, series, etag=created.etag)
    fresh = backend.get(created.remote_id)
    assert [o.subject for o in fresh.overrides] == ["mine"]
    written = backend.update(created.remote_id, series, etag=fresh.etag)
    assert written.etag != fresh.etag
    assert backend.get(created.remote_id).content_hash() == series.content_hash()
    assert all(value == "SendToNone" for _, _, value in ews.sends)
