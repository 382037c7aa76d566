"""GoogleBackend against the Google Calendar emulator, through the real
google-api-python-client: Google's own wire cases (what every backend does is in
tests/contract/test_backend.py)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bridge.backends.base import (
    AuthError,
    BackendError,
    BaseBackend,
    ChangePage,
    Deleted,
    NotFound,
    PreconditionFailed,
    Rejected,
    RemoteEvent,
    RemoteOverride,
    ResyncRequired,
    Window,
)
from bridge.backends.google.backend import (
    GoogleAuthError,
    GoogleBackend,
    GoogleSettings,
    event_id_for,
    service_account_credentials,
    user_credentials,
)
from bridge.model import BusyStatus
from tests.emulators.google_calendar.keys import service_account_info
from tests.support.remote_events import at, meeting

ALICE = "alice@example.com"


@pytest.fixture
def alice(google_emulator):
    return google_emulator.add_user(ALICE, time_zone="Europe/Berlin")


def settings_for(google, **overrides) -> GoogleSettings:
    values = dict(
        api_endpoint=google.api_endpoint,
        batch_uri=google.batch_uri,
        token_uri=google.token_uri,
        requests_per_second=1000,
        burst=1000,
        max_retries=3,
        backoff_base=0.01,
        timeout=2.0,
    )
    values.update(overrides)
    return GoogleSettings(**values)


EVERYTHING = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def listed(backend, cursor: str | None = None) -> tuple[list, str | None]:
    """Every page of list_changes: (the changes, the cursor the last page carries)."""
    changes: list = []
    pages = list(backend.list_changes(cursor, EVERYTHING))
    for page in pages:
        changes += page.changes
    return changes, pages[-1].cursor if pages else None


def make_backend(google, user, **overrides) -> GoogleBackend:
    creds = user_credentials(user.refresh_token, "client-id", "secret", google.token_uri)
    return GoogleBackend(creds, settings_for(google, **overrides))


@pytest.fixture
def backend(google_emulator, alice):
    made = make_backend(google_emulator, alice)
    yield made
    made.close()


def stored(google, event_id: str) -> dict:
    found = google.event(ALICE, event_id)
    assert found is not None
    return found


def assert_silent(google) -> None:
    """Every write was sendUpdates=none and no stored event carries an attendee we wrote."""
    assert google.sent_updates, "expected writes"
    assert all(w.send_updates == "none" for w in google.sent_updates)
    assert google.would_mail() == []


def test_create_tags_with_a_private_extended_property(google_emulator, backend):
    """Google's wire for what tests/contract/test_backend.py checks on every backend."""
    created = backend.create(meeting(), idempotency_key="binding-1/m-1")
    assert created.remote_id == event_id_for("binding-1/m-1")
    raw = stored(google_emulator, created.remote_id)
    assert raw["extendedProperties"]["private"] == {"crmMeetingId": "m-1"}
    assert "attendees" not in raw
    assert_silent(google_emulator)


def test_event_id_is_a_valid_google_id():
    event_id = event_id_for("any key at all")
    assert len(event_id) >= 26
    assert set(event_id) <= set("abcdefghijklmnopqrstuv0123456789")
    assert event_id == event_id_for("any key at all") != event_id_for("another key")


def test_create_after_a_lost_answer_adopts_the_existing_event(google_emulator, backend):
    # the event exists already (an earlier attempt got through, its answer was lost) ...
    google_emulator.seed(
        ALICE,
        {
            "id": event_id_for("k"),
            "summary": "older text",
            "start": {"dateTime": "2031-03-03T10:00:00Z"},
            "end": {"dateTime": "2031-03-03T11:00:00Z"},
            "extendedProperties": {"private": {"crmMeetingId": "m-1"}},
        },
    )
    created = backend.create(meeting(), idempotency_key="k")  # ... so insert answers 409
    assert google_emulator.calls["events.insert"] == 1
    assert len(google_emulator.events(ALICE)) == 1
    assert created.subject == "Meeting m-1"
    assert stored(google_emulator, created.remote_id)["summary"] == "Meeting m-1"


def test_create_with_a_key_of_a_foreign_event_fails(google_emulator, backend):
    google_emulator.seed(
        ALICE,
        {
            "id": event_id_for("k"),
            "start": {"date": "2031-03-03"},
            "end": {"date": "2031-03-04"},
            "extendedProperties": {"private": {"crmMeetingId": "other"}},
        },
    )
    with pytest.raises(Rejected, match="another event"):
        backend.create(meeting(), idempotency_key="k")


def test_create_after_a_timeout_makes_no_second_copy(google_emulator, alice):
    backend = make_backend(google_emulator, alice, timeout=0.5)
    google_emulator.faults.slow(1.0, api="events.insert")
    created = backend.create(meeting(), idempotency_key="k")
    assert len(google_emulator.events(ALICE)) == 1
    assert created.remote_id == event_id_for("k")


def test_paging_through_a_full_and_an_incremental_list(google_emulator, alice):
    backend = make_backend(google_emulator, alice, page_size=7)
    results = backend.create_many([(meeting(f"p{i}"), f"p{i}") for i in range(20)])
    assert all(isinstance(r, RemoteEvent) for r in results)
    pages = list(backend.list_changes(None, EVERYTHING))
    assert all(isinstance(p, ChangePage) for p in pages)
    assert [len(p.changes) for p in pages] == [7, 7, 6]  # one page at a time
    assert [p.cursor for p in pages[:-1]] == [None, None] and pages[-1].cursor
    assert google_emulator.calls["events.list"] == 3
    google_emulator.edit(ALICE, results[3].remote_id, summary="edited")
    changes, _ = listed(backend, pages[-1].cursor)
    assert [(e.remote_id, e.subject) for e in changes] == [(results[3].remote_id, "edited")]


def test_a_410_on_a_sync_token_list_raises_resync_required(google_emulator, backend):
    """(An expired cursor on every backend: tests/contract/test_backend.py.)"""
    backend.create(meeting(), idempotency_key="k")
    google_emulator.faults.sync_token_gone()
    _, token = listed(backend, None)
    with pytest.raises(ResyncRequired):
        listed(backend, token)


def seed_series(google) -> dict:
    return google.seed(
        ALICE,
        {
            "id": "series00001",
            "summary": "Weekly",
            "start": {"dateTime": "2031-03-03T10:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2031-03-03T11:00:00+01:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5"],
        },
    )


def test_recurring_series_with_moved_and_cancelled_instance(google_emulator, backend):
    seed_series(google_emulator)
    _, token = listed(backend, None)
    # the user moves the 17 March instance by an hour and cancels the 24 March one
    google_emulator.edit(
        ALICE,
        "series00001_20310317T090000Z",
        start={"dateTime": "2031-03-17T11:00:00+01:00", "timeZone": "Europe/Berlin"},
        end={"dateTime": "2031-03-17T12:00:00+01:00", "timeZone": "Europe/Berlin"},
        summary="Weekly (moved)",
    )
    google_emulator.remove(ALICE, "series00001_20310324T090000Z")
    changes, token = listed(backend, token)
    assert len(changes) == 1
    series = changes[0]
    assert series.remote_id == "series00001"
    assert series.timezone == "Europe/Berlin"
    assert series.recurrence == ("EXDATE:20310324T090000Z", "RRULE:COUNT=5;FREQ=WEEKLY")
    assert series.overrides == (
        RemoteOverride(
            recurrence_id="2031-03-17T09:00:00+00:00",
            start=datetime(2031, 3, 17, 10, tzinfo=UTC),
            end=datetime(2031, 3, 17, 11, tzinfo=UTC),
            subject="Weekly (moved)",
        ),
    )
    # a full list folds the same way
    full, _ = listed(backend, None)
    assert [e.content_hash() for e in full] == [series.content_hash()]
    # a change to the master alone still yields the whole series
    google_emulator.edit(ALICE, "series00001", location="Room 2")
    changes, _ = listed(backend, token)
    assert [(e.location, len(e.overrides), len(e.recurrence)) for e in changes] == [
        ("Room 2", 1, 2)
    ]


def test_all_day_dates_and_busy_statuses_round_trip(google_emulator, backend):
    """(All-day, free and private on every backend: tests/contract/test_backend.py.)"""
    all_day = meeting(
        "d",
        start=datetime(2031, 5, 2, tzinfo=UTC),
        end=datetime(2031, 5, 3, tzinfo=UTC),
        all_day=True,
        timezone="UTC",
    )
    created = backend.create(all_day, idempotency_key="d")
    assert stored(google_emulator, created.remote_id)["start"] == {"date": "2031-05-02"}
    tentative = backend.create(meeting("t", busy=BusyStatus.TENTATIVE), idempotency_key="t")
    oof = backend.create(meeting("o", busy=BusyStatus.OUT_OF_OFFICE), idempotency_key="o")
    found = {e.crm_meeting_id: e for e in listed(backend, None)[0]}
    assert found["d"].content_hash() == all_day.content_hash()
    assert found["t"].busy is BusyStatus.TENTATIVE == tentative.busy
    assert found["o"].busy is BusyStatus.OUT_OF_OFFICE == oof.busy


def test_create_many_batches_fifty_per_request(google_emulator, backend):
    google_emulator.reset_counters()
    pairs = [(meeting(f"b{i}", day=1 + i % 28), f"key-{i}") for i in range(120)]
    results = backend.create_many(pairs)
    assert all(isinstance(r, RemoteEvent) for r in results)
    assert [r.crm_meeting_id for r in results] == [f"b{i}" for i in range(120)]
    assert google_emulator.http_requests("POST", "/batch") == 3
    assert google_emulator.http_requests("POST", "/calendar/v3/") == 0
    assert len(google_emulator.events(ALICE)) == 120
    assert_silent(google_emulator)
    # the same keys again: every part answers 409 and the existing events are adopted
    again = backend.create_many(pairs[:5])
    assert [r.remote_id for r in again] == [r.remote_id for r in results[:5]]
    assert len(google_emulator.events(ALICE)) == 120


def test_create_many_retries_rate_limited_parts(google_emulator, backend):
    google_emulator.faults.rate_limit(times=2, api="events.insert")
    google_emulator.faults.server_error(times=1, status=503, api="batch")
    results = backend.create_many([(meeting(f"r{i}"), f"r{i}") for i in range(5)])
    assert all(isinstance(r, RemoteEvent) for r in results), results
    assert len(google_emulator.events(ALICE)) == 5


def test_create_many_reports_per_part_errors(google_emulator, backend):
    bad = meeting("bad", end=at(3, 9))  # ends before it starts
    results = backend.create_many([(meeting("ok"), "ok"), (bad, "bad")])
    assert isinstance(results[0], RemoteEvent)
    assert isinstance(results[1], Rejected) and "400" in str(results[1])


@pytest.mark.parametrize(
    "inject",
    [
        lambda f: f.rate_limit(times=2, api="events.insert"),
        lambda f: f.rate_limit(times=2, user=True, api="events.insert"),
        lambda f: f.too_many_requests(times=1, retry_after=0, api="events.insert"),
        lambda f: f.server_error(times=2, status=503, api="events.insert"),
        lambda f: f.server_error(times=1, status=500, api="events.insert"),
    ],
    ids=["403-rate", "403-user-rate", "429", "503", "500"],
)
def test_transient_faults_are_retried(google_emulator, backend, inject):
    inject(google_emulator.faults)
    backend.create(meeting(), idempotency_key="k")
    assert len(google_emulator.events(ALICE)) == 1
    assert google_emulator.faults.pending == []


def test_retry_after_is_honoured(google_emulator, backend):
    google_emulator.faults.too_many_requests(times=1, retry_after=1, api="events.list")
    began = time.monotonic()
    listed(backend, None)
    assert time.monotonic() - began >= 0.9


def test_persistent_fault_raises_backend_error_naming_the_reason(google_emulator, backend):
    google_emulator.faults.rate_limit(times=10, user=True, api="events.list")
    with pytest.raises(BackendError, match="403 userRateLimitExceeded"):
        listed(backend, None)
    assert google_emulator.calls["events.list"] == 4  # max_retries=3
    google_emulator.faults.clear()
    google_emulator.faults.error(403, "quotaExceeded", times=1, api="events.list")
    with pytest.raises(BackendError, match="403 quotaExceeded"):
        listed(backend, None)  # not a rate limit: no retry


def test_client_side_rate_limit_paces_requests(google_emulator, alice):
    backend = make_backend(google_emulator, alice, requests_per_second=20, burst=1)
    began = time.monotonic()
    for _ in range(6):
        listed(backend, None)
    assert time.monotonic() - began >= 5 / 20 * 0.9


def test_check_reports_revoked_tokens_and_missing_calendars(google_emulator, alice):
    assert make_backend(google_emulator, alice).check() is None
    missing = make_backend(google_emulator, alice, calendar_id="nobody@example.com")
    assert missing.check() == "calendar not found: nobody@example.com"
    google_emulator.oauth.revoke(alice.refresh_token)
    problem = make_backend(google_emulator, alice).check()
    assert problem is not None and "refresh token revoked" in problem
    with pytest.raises(AuthError):  # the seam's one AuthError, whatever the backend
        listed(make_backend(google_emulator, alice), None)
    assert issubclass(GoogleAuthError, AuthError)


def test_is_a_google_backend_with_the_seams_defaults(backend):
    assert backend.kind == "google"
    assert isinstance(backend, BaseBackend)
    assert backend.create_many([]) == []


def test_set_tag_writes_the_tag_alone_silently(google_emulator, backend):
    made = google_emulator.seed(
        ALICE,
        {
            "summary": "Made on the phone",
            "description": "keep me",
            "start": {"dateTime": "2031-03-03T10:00:00Z"},
            "end": {"dateTime": "2031-03-03T11:00:00Z"},
            "attendees": [{"email": "guest@example.org"}],
            "extendedProperties": {"private": {"other": "kept"}},
        },
    )
    before, token = listed(backend, None)
    event = before[0]
    assert event.crm_meeting_id is None
    tagged = backend.set_tag(event.remote_id, "m-42", etag=event.etag)
    assert tagged.crm_meeting_id == "m-42" and tagged.etag != event.etag
    assert tagged.content_hash() == event.content_hash()  # the tag is not content
    raw = stored(google_emulator, made["id"])
    assert raw["extendedProperties"]["private"] == {"other": "kept", "crmMeetingId": "m-42"}
    assert raw["description"] == "keep me" and raw["attendees"][0]["email"] == "guest@example.org"
    patch = google_emulator.sent_updates[-1]
    assert (patch.method, patch.event_id, patch.send_updates)[1:] == (made["id"], "none")
    with pytest.raises(PreconditionFailed):
        backend.set_tag(event.remote_id, "m-43", etag=event.etag)
    google_emulator.remove(ALICE, made["id"])
    with pytest.raises(NotFound):
        backend.set_tag(event.remote_id, "m-44", etag="")
    changes, _ = listed(backend, token)
    assert changes == [Deleted(made["id"], changes[0].deleted_at)]
    assert backend.get(made["id"]) == changes[0]
    assert backend.get("nosuchevent1") is None


def test_watch_and_stop_channel(google_emulator, backend):
    push = backend.push()
    assert push is not None and push.renew(None, timedelta(hours=1)) is None  # no renewal
    channel = push.open("http://127.0.0.1:9/hook", "chan-1", "secret-token", timedelta(hours=1))
    assert channel.id == "chan-1" and channel.resource_id
    assert channel.expires_at is not None
    assert channel.expires_at - datetime.now(UTC) <= timedelta(seconds=3601)
    push.stop(channel)
    with pytest.raises(NotFound):
        push.stop(channel)


def test_service_account_with_domain_wide_delegation(google_emulator, alice):
    # The key file names Google's real token endpoint; the backend is pointed elsewhere.
    info = service_account_info("https://oauth2.googleapis.com/token")
    creds = service_account_credentials(info, ALICE, google_emulator.token_uri)
    backend = GoogleBackend(creds, settings_for(google_emulator))
    assert backend.check() is None
    created = backend.create(meeting(), idempotency_key="sa")
    assert google_emulator.event(ALICE, created.remote_id) is not None


@pytest.mark.parametrize(
    ("status", "reason", "rejected"),
    [
        (403, "forbiddenForNonOrganizer", True),
        (403, "quotaExceeded", False),
        (403, "userRateLimitExceeded", False),
    ],
)
def test_a_refusal_of_one_event_is_rejected_a_limit_or_outage_is_not(
    google_emulator, backend, status, reason, rejected
):
    """What the engine quarantines (Rejected) and what backs off the binding (any other
    BackendError), as the Google backend reports it after its retries: Google's 403
    reasons (400, 403, 429 and 503 on every backend: tests/contract/test_backend.py)."""
    made = backend.create(meeting(), idempotency_key="k")
    google_emulator.faults.error(status, reason, times=10, api="events.patch")
    with pytest.raises(BackendError, match=f"{status} {reason}") as error:
        backend.update(made.remote_id, replace(made, subject="Moved"), etag=made.etag)
    assert isinstance(error.value, Rejected) is rejected


def test_an_instance_the_series_does_not_have_is_rejected(google_emulator, backend):
    """Google answers 404 for the id of an instance outside the rule: the series exists,
    so the event is refused as it stands, not gone."""
    start = at(2, 9)
    series = meeting(
        "s", start=start, end=start + timedelta(hours=1), recurrence=("RRULE:FREQ=WEEKLY;COUNT=3",)
    )
    made = backend.create(series, idempotency_key="s")
    stray = RemoteOverride(
        "2031-03-03T10:00:00+00:00", start + timedelta(days=1), start + timedelta(days=1, hours=1)
    )
    with pytest.raises(Rejected, match="is not an occurrence of the series"):
        backend.update(made.remote_id, replace(series, overrides=(stray,)), etag=made.etag)
    assert backend.get(made.remote_id).remote_id == made.remote_id
    assert backend.get("nosuchevent0123") is None
