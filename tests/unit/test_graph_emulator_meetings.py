"""The Graph emulator's meetings over plain HTTP (not our backend): an organiser's event with
attendees mails them on create, on a PATCH of what they see, on /cancel; added attendees get
the invitation, removed ones a cancellation; every API write is recorded per event; SEQUENCE
grows per mailed update; a guest's response shows in the attendee's status."""

from __future__ import annotations

from tests.emulators.graph import GraphEmulator
from tests.emulators.graph.fixtures import (  # noqa: F401 - fixtures
    ALICE,
    Client,
    client_fixture,
    event_json,
    graph_fixture,
)

ANN, BEN, DORA = "ann@partner.test", "ben@client.test", "dora@third.test"


def people(*emails: str) -> list[dict]:
    return [{"emailAddress": {"address": e}, "type": "required"} for e in emails]


def mails(graph: GraphEmulator) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(m.method, m.reason, m.recipients) for m in graph.mailed]


def test_create_patch_and_cancel_mail_the_attendees(graph: GraphEmulator, client: Client) -> None:
    made = client("POST", f"/users/{ALICE}/events", event_json(attendees=people(ANN, BEN)))
    assert made.status == 201
    event_id = made["id"]
    moved = client(
        "PATCH",
        f"/users/{ALICE}/events/{event_id}",
        {"location": {"displayName": "Room 9"}, "attendees": people(ANN, DORA)},
    )
    assert moved.status == 200
    box = graph.mailbox(ALICE)
    assert box.sequence(event_id) == 1
    assert (
        client("POST", f"/users/{ALICE}/events/{event_id}/cancel", {"Comment": "off"}).status == 202
    )
    assert mails(graph) == [
        ("POST", "invitation", (ANN, BEN)),
        ("PATCH", "invitation", (DORA,)),
        ("PATCH", "cancellation", (BEN,)),
        ("PATCH", "update:location", (ANN, DORA)),
        ("POST", "cancel", (ANN, DORA)),
    ]
    assert [(w.method, w.event_id) for w in graph.event_writes] == [
        ("POST", event_id),
        ("PATCH", event_id),
        ("POST cancel", event_id),
    ]
    assert box.event(event_id) is None


def test_a_refused_action_is_no_write_and_an_unchanged_patch_mails_nobody(
    graph: GraphEmulator, client: Client
) -> None:
    made = client("POST", f"/users/{ALICE}/events", event_json())
    event_id = made["id"]
    assert client("POST", f"/users/{ALICE}/events/{event_id}/decline", {}).status == 400
    client("PATCH", f"/users/{ALICE}/events/{event_id}", {"subject": "alone"})
    assert graph.mailed == [] and graph.mailbox(ALICE).sequence(event_id) == 0
    assert [w.method for w in graph.event_writes] == ["POST", "PATCH"]


def test_a_guest_response_reaches_the_organisers_event(
    graph: GraphEmulator, client: Client
) -> None:
    made = client("POST", f"/users/{ALICE}/events", event_json(attendees=people(ANN, BEN)))
    etag = made["@odata.etag"]
    after = graph.mailbox(ALICE).attendee_response(made["id"], BEN, "declined")
    status = {
        a["emailAddress"]["address"]: (a.get("status") or {}).get("response")
        for a in after["attendees"]
    }
    assert status[BEN] == "declined" and status[ANN] != "declined"
    assert after["@odata.etag"] != etag
    assert len(graph.mailed) == 1 and len(graph.event_writes) == 1  # the guest's, not an API write
