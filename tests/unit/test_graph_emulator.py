"""The Graph emulator through msal and plain HTTP: tokens, events CRUD, etags, ids, delta."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.emulators.graph import GraphEmulator
from tests.emulators.graph.fixtures import (  # noqa: F401 - fixtures
    ALICE,
    BOB,
    DOMAIN,
    Client,
    app_token,
    client_fixture,
    event_json,
    graph_fixture,
)

WINDOW = "startDateTime=2026-12-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z"


def test_client_credentials_token_and_errors(graph: GraphEmulator) -> None:
    ok = app_token(graph, DOMAIN, "app-id", "app-secret")
    assert ok["token_type"] == "Bearer" and ok["access_token"]
    bad_secret = app_token(graph, DOMAIN, "app-id", "wrong")
    assert bad_secret["error"] == "invalid_client"
    assert "AADSTS7000215" in bad_secret["error_description"]
    unknown = app_token(graph, DOMAIN, "nobody", "x")
    assert unknown["error"] == "unauthorized_client"
    assert "AADSTS700016" in unknown["error_description"]
    with pytest.raises(ValueError, match="authority configuration"):
        app_token(graph, "fabrikam.onmicrosoft.com", "app-id", "app-secret")
    config = f"{graph.url}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(config)
    assert refused.value.code == 400 and b"AADSTS90002" in refused.value.read()


def test_missing_permission_is_403(graph: GraphEmulator) -> None:
    tenant = graph.identity.find_tenant(DOMAIN)
    assert tenant is not None
    graph.add_app(tenant, "no-cal", "s", roles=("User.Read.All",))
    token = app_token(graph, tenant.id, "no-cal", "s")["access_token"]
    answer = Client(graph.graph_url, token)("GET", f"/users/{ALICE}/events")
    assert answer.status == 403 and answer["error"]["code"] == "ErrorAccessDenied"


def test_unknown_user_and_mailbox_without_exchange(graph: GraphEmulator, client: Client) -> None:
    assert client("GET", "/users/zoe@contoso.onmicrosoft.com/events")["error"]["code"] == (
        "ErrorInvalidUser"
    )
    graph.add_mailbox(f"nolicense@{DOMAIN}", enabled=False)
    answer = client("GET", f"/users/nolicense@{DOMAIN}/events")
    assert answer.status == 404 and answer["error"]["code"] == "MailboxNotEnabledForRESTAPI"
    assert client("GET", f"/users/{ALICE}/events/AAkALgAAnope")["error"]["code"] == (
        "ErrorItemNotFound"
    )


def test_bad_and_expired_tokens_are_401(graph: GraphEmulator, client: Client) -> None:
    assert Client(graph.graph_url, "garbage")("GET", f"/users/{ALICE}/events").status == 401
    graph.expire_tokens()
    answer = client("GET", f"/users/{ALICE}/events")
    assert answer.status == 401 and answer["error"]["code"] == "InvalidAuthenticationToken"


def test_me_needs_a_delegated_token(client: Client) -> None:
    answer = client("GET", "/me/events")
    assert answer.status == 400


def test_create_get_patch_delete_with_etags(graph: GraphEmulator, client: Client) -> None:
    body = {"contentType": "text", "content": "Agenda\nline two"}
    created = client("POST", f"/users/{ALICE}/events", event_json(body=body, showAs="tentative"))
    assert created.status == 201
    event_id, etag = created["id"], created["@odata.etag"]
    assert event_id.startswith("AAkALgAA")  # immutable id asked for in Prefer
    assert 'IdType="ImmutableId"' in created.headers["Preference-Applied"]
    assert created["start"] == {"dateTime": "2026-12-03T09:00:00.0000000", "timeZone": "UTC"}
    assert created["originalStartTimeZone"] == "Europe/Berlin"
    assert created["body"]["contentType"] == "html"  # stored text, shown as HTML by default
    assert created["showAs"] == "tentative" and created["type"] == "singleInstance"
    texty = Client(graph.graph_url, client.token, ('outlook.body-content-type="text"',))
    assert texty("GET", f"/users/{ALICE}/events/{event_id}")["body"] == body
    zoned = Client(graph.graph_url, client.token, ('outlook.timezone="Pacific Standard Time"',))
    start = zoned("GET", f"/users/{ALICE}/events/{event_id}")["start"]
    assert start == {"dateTime": "2026-12-03T01:00:00.0000000", "timeZone": "Pacific Standard Time"}
    patched = client(
        "PATCH", f"/users/{ALICE}/events/{event_id}", {"subject": "B"}, {"If-Match": etag}
    )
    assert patched.status == 200 and patched["@odata.etag"] != etag
    stale = client(
        "PATCH", f"/users/{ALICE}/events/{event_id}", {"subject": "C"}, {"If-Match": etag}
    )
    assert stale.status == 412 and stale["error"]["code"] == "ErrorIrresolvableConflict"
    assert (
        client("DELETE", f"/users/{ALICE}/events/{event_id}", headers={"If-Match": etag}).status
        == 412
    )
    assert client("DELETE", f"/users/{ALICE}/events/{event_id}").status == 204
    assert client("GET", f"/users/{ALICE}/events/{event_id}").status == 404
    assert graph.mailed == [] and graph.attendees_written == []


def test_bad_writes_are_400(client: Client) -> None:
    path = f"/users/{ALICE}/events"
    assert client("POST", path, event_json(colour="red"))["error"]["code"] == "RequestBodyRead"
    assert client("POST", path, event_json(sensitivity="secret")).status == 400
    zone = {"dateTime": "2026-12-03T10:00:00", "timeZone": "Mars/Olympus"}
    assert client("POST", path, {**event_json(), "start": zone}).status == 400
    all_day = event_json(isAllDay=True)
    assert client("POST", path, all_day).status == 400  # not at midnight
    assert client("POST", path, {"subject": "no times"}).status == 400


def test_all_day_and_windows_zone(client: Client) -> None:
    day = {
        "subject": "Holiday",
        "isAllDay": True,
        "start": {"dateTime": "2026-12-24T00:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-12-25T00:00:00", "timeZone": "W. Europe Standard Time"},
    }
    created = client("POST", f"/users/{ALICE}/events", day)
    assert created.status == 201 and created["isAllDay"] is True
    assert created["start"]["dateTime"].startswith("2026-12-24T00:00:00")
    assert created["originalStartTimeZone"] == "W. Europe Standard Time"


def test_transaction_id_deduplicates(client: Client) -> None:
    path = f"/users/{ALICE}/events"
    first = client("POST", path, event_json(transactionId="tx-1"))
    again = client("POST", path, event_json("Other", transactionId="tx-1"))
    assert again["id"] == first["id"] and again["subject"] == "Meeting"
    assert len(client("GET", path)["value"]) == 1
    client("DELETE", f"{path}/{first['id']}")
    ghost = client("POST", path, event_json(transactionId="tx-1"))
    assert ghost["id"] == first["id"]  # the key is spent: nothing new is created
    assert client("GET", path)["value"] == []
    assert client("POST", path, event_json(transactionId="tx-2")).status == 201
    assert len(client("GET", path)["value"]) == 1


def test_extended_properties_write_expand_and_filter(client: Client) -> None:
    prop = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name crm_meeting_id"
    path = f"/users/{ALICE}/events"
    ext = [{"id": prop, "value": "m-1"}]
    made = client("POST", path, event_json(singleValueExtendedProperties=ext))
    client("POST", path, event_json("plain"))
    assert "singleValueExtendedProperties" not in made.body
    expand = f"$expand=singleValueExtendedProperties($filter=id eq '{prop}')"
    got = client("GET", f"{path}/{made['id']}?{expand}")
    assert got["singleValueExtendedProperties"] == ext
    found = client(
        "GET",
        f"{path}?$filter=singleValueExtendedProperties/Any(ep: ep/id eq '{prop}' and "
        "ep/value eq 'm-1')",
    )
    assert [e["id"] for e in found["value"]] == [made["id"]]
    client(
        "PATCH",
        f"{path}/{made['id']}",
        {"singleValueExtendedProperties": [{"id": prop, "value": "m-2"}]},
    )
    none = client(
        "GET",
        f"{path}?$filter=singleValueExtendedProperties/Any(ep: ep/id eq '{prop}' and "
        "ep/value eq 'm-1')",
    )
    assert none["value"] == []


def test_rest_and_immutable_ids_and_moves(graph: GraphEmulator, client: Client) -> None:
    made = client("POST", f"/users/{ALICE}/events", event_json())
    rest = Client(graph.graph_url, client.token)
    rest_id = rest("GET", f"/users/{ALICE}/events/{made['id']}")["id"]
    assert rest_id != made["id"] and rest("GET", f"/users/{ALICE}/events/{rest_id}").status == 200
    moved = graph.mailbox(ALICE).move(made["id"])
    assert moved["id"] == made["id"]
    assert rest("GET", f"/users/{ALICE}/events/{rest_id}").status == 404
    renewed = graph.mailbox(ALICE).move(made["id"], keep_immutable=False)
    assert renewed["id"] != made["id"]
    assert client("GET", f"/users/{ALICE}/events/{made['id']}").status == 404


def test_attendee_writes_are_recorded(graph: GraphEmulator, client: Client) -> None:
    guest = [{"emailAddress": {"address": "carol@example.com"}, "type": "required"}]
    made = client("POST", f"/users/{ALICE}/events", event_json(attendees=guest))
    assert [m.reason for m in graph.mailed] == ["invitation"]
    assert graph.attendees_written[0].attendees == ("carol@example.com",)
    client("PATCH", f"/users/{ALICE}/events/{made['id']}", {"categories": ["x"]})
    assert len(graph.mailed) == 1  # categories alone mail no one
    client("PATCH", f"/users/{ALICE}/events/{made['id']}", {"subject": "moved"})
    assert graph.mailed[-1].reason == "update:subject"
    client("DELETE", f"/users/{ALICE}/events/{made['id']}")
    assert graph.mailed[-1].reason == "cancellation"
    invite = graph.mailbox(ALICE).create(
        **event_json("From Dave", attendees=guest),
        organizer={"emailAddress": {"address": "dave@example.com"}},
    )
    assert invite["isOrganizer"] is False and len(graph.mailed) == 3  # user-side: not ours
    client("PATCH", f"/users/{ALICE}/events/{invite['id']}", {"subject": "mine"})
    assert len(graph.mailed) == 3  # not the organiser: nothing is sent


def _drain(client: Client, url: str) -> tuple[list[dict], str, int]:
    items, pages = [], 0
    while True:
        page = client("GET", url)
        assert page.status == 200, page.body
        pages += 1
        items += page["value"]
        if "@odata.deltaLink" in page.body:
            return items, page["@odata.deltaLink"], pages
        url = page["@odata.nextLink"]


def test_delta_pages_changes_removals_and_window(graph: GraphEmulator, client: Client) -> None:
    path = f"/users/{ALICE}/events"
    ids = [client("POST", path, event_json(f"e{i}"))["id"] for i in range(5)]
    client("POST", path, event_json("outside", day="2027-02-01"))
    paged = Client(graph.graph_url, client.token, ('IdType="ImmutableId"', "odata.maxpagesize=2"))
    items, link, pages = _drain(paged, f"/users/{ALICE}/calendarView/delta?{WINDOW}")
    assert pages == 3 and sorted(e["id"] for e in items) == sorted(ids)
    assert "$deltatoken=" in link and "startDateTime" not in link
    items, link, _ = _drain(paged, link)
    assert items == []
    client("PATCH", f"{path}/{ids[0]}", {"subject": "changed"})
    client("DELETE", f"{path}/{ids[1]}")
    moved = {"dateTime": "2027-03-01T10:00:00", "timeZone": "UTC"}
    client(
        "PATCH",
        f"{path}/{ids[2]}",
        {"start": moved, "end": {**moved, "dateTime": "2027-03-01T11:00:00"}},
    )
    new = client("POST", path, event_json("new"))["id"]
    items, link, _ = _drain(paged, link)
    changed = {e["id"]: e for e in items}
    assert changed[ids[0]]["subject"] == "changed" and changed[new]["subject"] == "new"
    assert changed[ids[1]] == {"@removed": {"reason": "deleted"}, "id": ids[1]}
    assert changed[ids[2]]["@removed"] == {"reason": "deleted"}  # it left the frozen window
    assert len(items) == 4
    fleeting = client("POST", path, event_json("fleeting"))["id"]
    client("DELETE", f"{path}/{fleeting}")
    items, link, _ = _drain(paged, link)
    assert items == [{"@removed": {"reason": "deleted"}, "id": fleeting}]  # never seen, still told


def test_delta_refuses_query_options_and_expires(graph: GraphEmulator, client: Client) -> None:
    base = f"/users/{ALICE}/calendarView/delta?{WINDOW}"
    expand = client("GET", base + "&$expand=singleValueExtendedProperties($filter=id eq 'x')")
    assert expand.status == 400
    assert client("GET", f"/users/{ALICE}/calendarView/delta").status == 400  # no window
    _, link, _ = _drain(client, base)
    graph.expire_delta(ALICE)
    gone = client("GET", link)
    assert gone.status == 410 and gone["error"]["code"] == "syncStateNotFound"


def test_delta_after_an_id_changing_move(graph: GraphEmulator, client: Client) -> None:
    made = client("POST", f"/users/{ALICE}/events", event_json())
    _, link, _ = _drain(client, f"/users/{ALICE}/calendarView/delta?{WINDOW}")
    renewed = graph.mailbox(ALICE).move(made["id"], keep_immutable=False)
    items, _, _ = _drain(client, link)
    assert {"@removed": {"reason": "deleted"}, "id": made["id"]} in items
    assert [i["id"] for i in items if "@removed" not in i] == [renewed["id"]]


def test_meeting_actions_mail_people(graph: GraphEmulator, client: Client) -> None:
    guest = [{"emailAddress": {"address": "carol@example.com"}, "type": "required"}]
    invite = graph.mailbox(ALICE).create(
        **event_json("From Dave", attendees=guest),
        organizer={"emailAddress": {"address": "dave@example.com"}},
    )
    path = f"/users/{ALICE}/events/{invite['id']}"
    assert client("POST", f"{path}/cancel", {}).status == 400  # not the organiser
    quiet = client("POST", f"{path}/tentativelyAccept", {"sendResponse": False})
    assert quiet.status == 202 and graph.mailed == []
    assert client("GET", path)["responseStatus"]["response"] == "tentativelyAccepted"
    assert client("POST", f"{path}/decline", {"comment": "no"}).status == 202
    assert [(m.reason, m.recipients) for m in graph.mailed] == [
        ("response:declined", ("dave@example.com",))
    ]
    assert client("GET", path).status == 404
    own = client("POST", f"/users/{ALICE}/events", event_json(attendees=guest))
    assert client("POST", f"/users/{ALICE}/events/{own['id']}/accept", {}).status == 400
    assert client("POST", f"/users/{ALICE}/events/{own['id']}/cancel", {}).status == 202
    assert graph.mailed[-1].reason == "cancel"


def test_listing_order_and_paging(client: Client) -> None:
    path = f"/users/{ALICE}/events"
    for day in ("2026-12-05", "2026-12-03", "2026-12-04"):
        client("POST", path, event_json(day, day=day))
    first = client("GET", f"{path}?$orderby=start/dateTime desc&$top=2")
    assert [e["subject"] for e in first["value"]] == ["2026-12-05", "2026-12-04"]
    rest = client("GET", first["@odata.nextLink"])
    assert [e["subject"] for e in rest["value"]] == ["2026-12-03"]
    assert "@odata.nextLink" not in rest.body
    assert client("GET", f"{path}?$orderby=colour").status == 400
    assert client("GET", f"{path}?$count=true").status == 400


def test_directory_reads(graph: GraphEmulator, client: Client) -> None:
    assert client("GET", f"/users/{ALICE}").status == 403  # Calendars.ReadWrite only
    tenant = graph.identity.find_tenant(DOMAIN)
    assert tenant is not None
    graph.add_app(tenant, "dir", "s", roles=("Calendars.ReadWrite", "User.Read.All"))
    directory = Client(graph.graph_url, app_token(graph, DOMAIN, "dir", "s")["access_token"])
    found = directory("GET", f"/users/{ALICE}")
    assert found["userPrincipalName"] == ALICE and found["id"]
    assert directory("GET", f"/users/{found['id']}")["userPrincipalName"] == ALICE
    missing = directory("GET", f"/users/zoe@{DOMAIN}")
    assert missing.status == 404 and missing["error"]["code"] == "Request_ResourceNotFound"
    calendar = client("GET", f"/users/{ALICE}/calendar")
    assert calendar.status == 200 and calendar["owner"]["address"] == ALICE
