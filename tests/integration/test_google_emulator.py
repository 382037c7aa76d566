"""The Google Calendar emulator, driven by the real google-api-python-client over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError

from tests.emulators.google_calendar import GoogleEmulator, User
from tests.emulators.google_calendar.keys import service_account_info
from tests.emulators.google_calendar.receiver import Receiver

ALICE = "alice@example.com"


@pytest.fixture
def google():
    with GoogleEmulator() as emulator:
        yield emulator


@pytest.fixture
def alice(google) -> User:
    return google.add_user(ALICE, time_zone="Europe/Berlin")


@pytest.fixture
def service(google, alice):
    resource = google.service(google.credentials(alice))
    yield resource
    resource.close()


def timed(day: int, hour: int = 10, *, month: int = 3) -> dict:
    return {
        "start": {"dateTime": f"2031-{month:02d}-{day:02d}T{hour:02d}:00:00+01:00"},
        "end": {"dateTime": f"2031-{month:02d}-{day:02d}T{hour + 1:02d}:00:00+01:00"},
    }


def reason(error: HttpError) -> str:
    return error.error_details[0]["reason"]


def insert(service, event_id: str | None = None, **fields):
    body = {"summary": "Meeting", **timed(3), **fields}
    if event_id:
        body["id"] = event_id
    return service.events().insert(calendarId="primary", body=body, sendUpdates="none").execute()


def list_all(service, **params) -> tuple[list[dict], str, int]:
    """Every page of events.list: (items, nextSyncToken, pages)."""
    items, token, pages = [], None, 0
    while True:
        page = service.events().list(calendarId="primary", pageToken=token, **params).execute()
        pages += 1
        items += page["items"]
        token = page.get("nextPageToken")
        if token is None:
            return items, page["nextSyncToken"], pages
        assert "nextSyncToken" not in page


def test_requests_reach_the_emulator_with_a_bearer_token(google, service):
    insert(service)
    assert google.requests[("POST", "/calendar/v3/calendars/primary/events")] == 1
    assert google.calls["oauth.token"] == 1
    request = urllib.request.Request(google.url + "/calendar/v3/calendars/primary/events")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request)
    assert missing.value.code == 401
    request.add_header("Authorization", "Bearer not-a-token")
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(request)
    assert unknown.value.code == 401


def test_insert_with_client_id_then_duplicate_is_409(google, service):
    created = insert(service, "crm0meeting0001", extendedProperties={"private": {"crm": "1"}})
    assert created["id"] == "crm0meeting0001"
    assert created["etag"] and created["updated"] and created["sequence"] == 0
    with pytest.raises(HttpError) as duplicate:
        insert(service, "crm0meeting0001")
    assert duplicate.value.resp.status == 409 and reason(duplicate.value) == "duplicate"
    for bad in ("UPPERCASE1", "abcw1", "abc"):
        with pytest.raises(HttpError) as invalid:
            insert(service, bad)
        assert invalid.value.resp.status == 400
    fetched = service.events().get(calendarId="primary", eventId="crm0meeting0001").execute()
    assert fetched["extendedProperties"]["private"] == {"crm": "1"}
    assert len(google.events(ALICE)) == 1


def test_paging_and_incremental_sync_including_deletions(google, service):
    ids = [insert(service, f"evt{i:03d}00")["id"] for i in range(7)]
    items, token, pages = list_all(service, maxResults=3)
    assert [e["id"] for e in items] == ids and pages == 3

    service.events().patch(calendarId="primary", eventId=ids[1], body={"summary": "New"}).execute()
    service.events().delete(calendarId="primary", eventId=ids[2], sendUpdates="none").execute()
    google.edit(ALICE, ids[3], location="Room 2")  # the user edits in Google's UI
    google.seed(ALICE, {"id": "fromphone1", "summary": "Phone", **timed(5)})

    changed, token2, _ = list_all(service, syncToken=token, maxResults=2)
    by_id = {e["id"]: e for e in changed}
    assert set(by_id) == {ids[1], ids[2], ids[3], "fromphone1"}
    assert by_id[ids[1]]["summary"] == "New"
    assert by_id[ids[2]]["status"] == "cancelled"
    assert list_all(service, syncToken=token2)[0] == []

    visible, _, _ = list_all(service)
    assert ids[2] not in {e["id"] for e in visible}
    shown, _, _ = list_all(service, showDeleted=True)
    assert ids[2] in {e["id"] for e in shown}
    with pytest.raises(HttpError) as gone:
        service.events().delete(calendarId="primary", eventId=ids[2]).execute()
    assert gone.value.resp.status == 410 and reason(gone.value) == "deleted"
    with pytest.raises(HttpError) as clash:
        service.events().list(calendarId="primary", syncToken=token2, q="x").execute()
    assert clash.value.resp.status == 400


def test_stale_or_unknown_sync_token_is_410_full_sync_required(google, service):
    insert(service)
    _, token, _ = list_all(service)
    google.expire_sync_tokens(ALICE)
    for stale in (token, "garbage"):
        with pytest.raises(HttpError) as gone:
            service.events().list(calendarId="primary", syncToken=stale).execute()
        assert gone.value.resp.status == 410 and reason(gone.value) == "fullSyncRequired"
    items, fresh, _ = list_all(service)
    assert len(items) == 1 and list_all(service, syncToken=fresh)[0] == []


def test_if_match_with_a_stale_etag_is_412(service):
    created = insert(service, "etag00001")
    request = service.events().patch(
        calendarId="primary", eventId="etag00001", body={"summary": "A"}
    )
    request.headers["If-Match"] = created["etag"]
    updated = request.execute()
    assert updated["etag"] != created["etag"] and updated["summary"] == "A"
    body = {"summary": "B", **timed(4)}
    stale = service.events().update(calendarId="primary", eventId="etag00001", body=body)
    stale.headers["If-Match"] = created["etag"]
    with pytest.raises(HttpError) as failed:
        stale.execute()
    assert failed.value.resp.status == 412 and reason(failed.value) == "conditionNotMet"
    current = service.events().get(calendarId="primary", eventId="etag00001").execute()
    assert current["summary"] == "A" and current["etag"] == updated["etag"]


def test_recurring_event_instances_and_a_moved_instance(google, service):
    master = insert(
        service,
        "rec0series1",
        start={"dateTime": "2031-03-03T10:00:00", "timeZone": "Europe/Berlin"},
        end={"dateTime": "2031-03-03T11:00:00", "timeZone": "Europe/Berlin"},
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;TZID=Europe/Berlin:20310310T100000"],
    )
    events = service.events()
    instances = events.instances(calendarId="primary", eventId=master["id"]).execute()["items"]
    assert [i["id"] for i in instances] == [
        "rec0series1_20310303T090000Z",
        "rec0series1_20310317T090000Z",
        "rec0series1_20310324T090000Z",
        "rec0series1_20310331T080000Z",  # summer time: still 10:00 in Berlin
    ]
    assert all(i["recurringEventId"] == master["id"] for i in instances)
    moved_id = instances[1]["id"]
    moved = events.patch(calendarId="primary", eventId=moved_id, body=timed(18, 15)).execute()
    assert moved["originalStartTime"]["dateTime"] == "2031-03-17T10:00:00+01:00"
    events.delete(calendarId="primary", eventId=instances[2]["id"], sendUpdates="none").execute()

    singles = events.list(calendarId="primary", singleEvents=True, orderBy="startTime").execute()
    starts = {i["id"]: i["start"]["dateTime"] for i in singles["items"]}
    assert starts == {
        "rec0series1_20310303T090000Z": "2031-03-03T10:00:00+01:00",
        moved_id: "2031-03-18T15:00:00+01:00",
        "rec0series1_20310331T080000Z": "2031-03-31T10:00:00+02:00",
    }
    raw = events.list(calendarId="primary").execute()["items"]
    assert {(e["id"], e["status"]) for e in raw} == {
        (master["id"], "confirmed"),
        (moved_id, "confirmed"),
        (instances[2]["id"], "cancelled"),  # Google lists cancelled instances here
    }
    window = events.list(
        calendarId="primary",
        singleEvents=True,
        timeMin="2031-03-18T00:00:00Z",
        timeMax="2031-03-30T00:00:00Z",
    ).execute()
    assert [e["id"] for e in window["items"]] == [moved_id]


def test_private_extended_property_filter(service):
    insert(service, "tagged0001", extendedProperties={"private": {"crmId": "42", "x": "1"}})
    insert(service, "tagged0002", extendedProperties={"private": {"crmId": "43"}})
    insert(service, "shared0003", extendedProperties={"shared": {"crmId": "42"}})
    found = (
        service.events().list(calendarId="primary", privateExtendedProperty="crmId=42").execute()
    )
    assert [e["id"] for e in found["items"]] == ["tagged0001"]
    both = (
        service.events()
        .list(calendarId="primary", privateExtendedProperty=["crmId=42", "x=2"])
        .execute()
    )
    assert both["items"] == []


def test_batch_of_fifty_inserts_is_one_http_request(google, service):
    google.reset_counters()
    results = {}
    batch = google.new_batch(lambda rid, response, error: results.update({rid: (response, error)}))
    for i in range(50):
        body = {"id": f"batch{i:04d}", "summary": f"n{i}", **timed(1 + i % 28)}
        batch.add(service.events().insert(calendarId="primary", body=body, sendUpdates="none"))
    batch.add(service.events().insert(calendarId="primary", body={"id": "batch0000", **timed(1)}))
    batch.execute()
    assert google.requests[("POST", "/batch/calendar/v3")] == 1
    assert sum(google.requests.values()) == 2  # the batch and one token refresh
    assert google.calls["events.insert"] == 51
    assert all(results[str(i + 1)][0]["id"] == f"batch{i:04d}" for i in range(50))
    assert results["51"][1].resp.status == 409 and reason(results["51"][1]) == "duplicate"
    assert len(google.events(ALICE)) == 50


def test_send_updates_is_recorded_for_every_write(google, service):
    insert(service, "mail00001")
    events = service.events()
    events.patch(calendarId="primary", eventId="mail00001", body={"summary": "x"}).execute()
    body = {"summary": "y", "attendees": [{"email": "ext@example.org"}], **timed(3)}
    events.update(calendarId="primary", eventId="mail00001", body=body, sendUpdates="all").execute()
    events.delete(calendarId="primary", eventId="mail00001", sendUpdates="none").execute()
    assert google.sent_updates == [
        ("insert", "mail00001", "none"),
        ("patch", "mail00001", None),
        ("update", "mail00001", "all"),
        ("delete", "mail00001", "none"),
    ]
    assert google.would_mail() == [("update", "mail00001", "all")]


def test_watch_delivers_notifications_and_stops(google, service):
    with Receiver() as hook:
        body = {"id": "chan-1", "type": "web_hook", "address": hook.url, "token": "secret"}
        channel = service.events().watch(calendarId="primary", body=body).execute()
        assert channel["id"] == "chan-1" and channel["resourceId"] and channel["expiration"]
        assert hook.wait_for(1)[0]["X-Goog-Resource-State"] == "sync"
        insert(service, "pushed001")
        second = hook.wait_for(2)[1]
        assert second["X-Goog-Channel-ID"] == "chan-1"
        assert second["X-Goog-Channel-Token"] == "secret"
        assert second["X-Goog-Resource-ID"] == channel["resourceId"]
        assert (second["X-Goog-Resource-State"], second["X-Goog-Message-Number"]) == ("exists", "2")
        service.channels().stop(
            body={"id": "chan-1", "resourceId": channel["resourceId"]}
        ).execute()
        insert(service, "pushed002")
        time.sleep(0.3)
        assert len(hook.received) == 2
    assert [d.status for d in google.notifications] == [200, 200]


def test_token_refresh_and_revoked_refresh_token(google, alice):
    credentials = google.credentials(alice)
    service = google.service(credentials)
    service.events().list(calendarId="primary").execute()
    assert credentials.token and google.calls["oauth.token"] == 1
    google.oauth.expire_access_tokens()
    service.events().list(calendarId="primary").execute()  # 401, refresh, retry
    assert google.calls["oauth.token"] == 2
    google.oauth.revoke(alice.refresh_token)
    google.oauth.expire_access_tokens()
    with pytest.raises(RefreshError) as revoked:
        google.service(google.credentials(alice)).events().list(calendarId="primary").execute()
    assert "invalid_grant" in str(revoked.value)


FAULTS = [
    ("rate_limit", {}, 403, "rateLimitExceeded"),
    ("rate_limit", {"user": True}, 403, "userRateLimitExceeded"),
    ("too_many_requests", {"retry_after": 7}, 429, "rateLimitExceeded"),
    ("server_error", {}, 500, "backendError"),
    ("server_error", {"status": 503}, 503, "backendError"),
]


@pytest.mark.parametrize(("kind", "options", "status", "why"), FAULTS)
def test_injected_faults(google, service, kind, options, status, why):
    insert(service, "fault0001")
    getattr(google.faults, kind)(times=2, api="events.get", **options)
    for _ in range(2):
        with pytest.raises(HttpError) as failed:
            service.events().get(calendarId="primary", eventId="fault0001").execute()
        assert failed.value.resp.status == status and reason(failed.value) == why
        if status == 429:
            assert failed.value.resp["retry-after"] == "7"
    assert service.events().get(calendarId="primary", eventId="fault0001").execute()
    assert google.faults.pending == []


def test_injected_sync_token_gone_and_delay(google, service):
    insert(service)
    _, token, _ = list_all(service)
    google.faults.sync_token_gone()
    with pytest.raises(HttpError) as gone:
        service.events().list(calendarId="primary", syncToken=token).execute()
    assert gone.value.resp.status == 410 and reason(gone.value) == "fullSyncRequired"
    assert service.events().list(calendarId="primary", syncToken=token).execute()["items"] == []
    google.faults.slow(0.5, path=r"/events$", method="GET")
    began = time.monotonic()
    service.events().list(calendarId="primary").execute()
    assert time.monotonic() - began >= 0.5


def test_import_upserts_by_ical_uid(google, service):
    body = {"iCalUID": "crm-7@crm.example", "summary": "Imported", **timed(9)}
    first = service.events().import_(calendarId="primary", body=body).execute()
    again = (
        service.events().import_(calendarId="primary", body={**body, "summary": "Again"}).execute()
    )
    assert again["id"] == first["id"] and again["etag"] != first["etag"]
    assert [e["summary"] for e in google.events(ALICE)] == ["Again"]
    assert google.sent_updates == [("import", first["id"], None)] * 2


def test_recurring_series_in_incremental_sync(google, service):
    rule = ["RRULE:FREQ=DAILY;COUNT=3"]
    master = insert(
        service,
        "alld0001",
        start={"date": "2031-05-01"},
        end={"date": "2031-05-02"},
        recurrence=rule,
    )
    _, token, _ = list_all(service, singleEvents=True)
    one = service.events().get(calendarId="primary", eventId="alld0001_20310502").execute()
    assert (
        one["originalStartTime"] == {"date": "2031-05-02"}
        and one["start"] == one["originalStartTime"]
    )
    google.edit(ALICE, one["id"], summary="Only this day")  # the user changes one occurrence
    changed, token, _ = list_all(service, syncToken=token, singleEvents=True)
    assert [(e["id"], e["summary"]) for e in changed] == [(one["id"], "Only this day")]
    service.events().delete(calendarId="primary", eventId=master["id"]).execute()
    gone, _, _ = list_all(service, syncToken=token)
    assert {(e["id"], e["status"]) for e in gone} == {
        (master["id"], "cancelled"),
        (one["id"], "cancelled"),
    }


def test_consent_code_exchange_gives_a_working_refresh_token(google):
    google.add_calendar("bob@example.com")
    query = urllib.parse.urlencode(
        {"login_hint": "bob@example.com", "redirect_uri": "http://127.0.0.1:1/cb", "state": "s1"}
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(f"{google.url}/o/oauth2/auth?{query}")
    location = urllib.parse.urlsplit(redirect.value.headers["Location"])
    params = dict(urllib.parse.parse_qsl(location.query))
    assert params["state"] == "s1"
    form = urllib.parse.urlencode(
        {"grant_type": "authorization_code", "code": params["code"], "client_id": "cid"}
    ).encode()
    with urllib.request.urlopen(google.token_uri, data=form) as answer:
        tokens = json.load(answer)
    credentials = Credentials(
        None,
        refresh_token=tokens["refresh_token"],
        token_uri=google.token_uri,
        client_id="cid",
        client_secret="x",
    )
    calendar = google.service(credentials).calendars().get(calendarId="primary").execute()
    assert calendar["id"] == "bob@example.com"


def test_service_account_with_delegation(google):
    from google.oauth2 import service_account

    google.add_calendar("carol@example.com")
    info = service_account_info(google.token_uri)
    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/calendar"], subject="carol@example.com"
    )
    calendar = google.service(credentials).calendars().get(calendarId="primary").execute()
    assert calendar["id"] == "carol@example.com"
