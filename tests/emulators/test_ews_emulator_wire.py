"""The EWS emulator's wire shapes, by hand-written SOAP over HTTP with Basic auth: required
attributes, Append/DeleteItemField, fault shape, ServerVersionInfo, argument bounds."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest
import requests

from tests.emulators.ews import EwsEmulator

M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
S = "http://schemas.xmlsoap.org/soap/envelope/"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
ALICE = "alice@corp.test"


@pytest.fixture
def ews() -> Iterator[EwsEmulator]:
    with EwsEmulator() as emulator:
        emulator.add_account("alice", "pw", mailboxes=(ALICE,))
        yield emulator


def post(ews: EwsEmulator, body: str, version: str = "Exchange2016") -> requests.Response:
    envelope = (
        f'<s:Envelope xmlns:s="{S}" xmlns:m="{M}" xmlns:t="{T}"><s:Header>'
        f'<t:RequestServerVersion Version="{version}"/></s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )
    return requests.post(ews.url, data=envelope.encode(), auth=("alice", "pw"), timeout=10)


def code_of(answer: requests.Response) -> list[str]:
    root = ET.fromstring(answer.content)
    return [c.text or "" for c in root.iter(f"{{{M}}}ResponseCode")]


def version_info(answer: requests.Response) -> ET.Element | None:
    return ET.fromstring(answer.content).find(f"{{{S}}}Header/{{{T}}}ServerVersionInfo")


CREATE = (
    "<m:CreateItem {attrs}><m:SavedItemFolderId><t:DistinguishedFolderId Id='calendar'/>"
    "</m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>s</t:Subject>"
    "<t:Body BodyType='Text'>one</t:Body><t:Start>2026-07-01T10:00:00Z</t:Start>"
    "<t:End>2026-07-01T11:00:00Z</t:End><t:Location>Room</t:Location></t:CalendarItem></m:Items></m:CreateItem>"
)


def create(ews: EwsEmulator) -> tuple[str, str]:
    answer = post(ews, CREATE.format(attrs="SendMeetingInvitations='SendToNone'"))
    assert code_of(answer) == ["NoError"]
    item_id = ET.fromstring(answer.content).find(f".//{{{T}}}ItemId")
    assert item_id is not None
    return item_id.get("Id", ""), item_id.get("ChangeKey", "")


def test_send_attribute_is_required_for_calendar_items(ews: EwsEmulator) -> None:
    answer = post(ews, CREATE.format(attrs=""))
    assert answer.status_code == 200
    assert code_of(answer) == ["ErrorSendMeetingInvitationsRequired"]
    assert ews.mailbox(ALICE).items() == []
    assert ews.sends == [("CreateItem", "SendMeetingInvitations", "")]
    assert version_info(answer) is not None


def update(item_id: str, change_key: str, updates: str, attrs: str) -> str:
    return (
        f"<m:UpdateItem {attrs}><m:ItemChanges><t:ItemChange>"
        f"<t:ItemId Id='{item_id}' ChangeKey='{change_key}'/><t:Updates>{updates}</t:Updates>"
        "</t:ItemChange></m:ItemChanges></m:UpdateItem>"
    )


OK_ATTRS = "ConflictResolution='NeverOverwrite' SendMeetingInvitationsOrCancellations='SendToNone'"


def test_append_and_delete_item_fields(ews: EwsEmulator) -> None:
    item_id, key = create(ews)
    updates = (
        "<t:AppendToItemField><t:FieldURI FieldURI='item:Body'/><t:CalendarItem>"
        "<t:Body BodyType='Text'> two</t:Body></t:CalendarItem></t:AppendToItemField>"
        "<t:DeleteItemField><t:FieldURI FieldURI='calendar:Location'/></t:DeleteItemField>"
    )
    answer = post(ews, update(item_id, key, updates, OK_ATTRS))
    assert code_of(answer) == ["NoError"]
    seen = ews.mailbox(ALICE).item(item_id)
    assert seen["body"] == "one two" and "location" not in seen
    assert seen["change_key"] != key

    start = "<t:DeleteItemField><t:FieldURI FieldURI='calendar:Start'/></t:DeleteItemField>"
    answer = post(ews, update(item_id, seen["change_key"], start, OK_ATTRS))
    assert code_of(answer) == ["ErrorInvalidPropertyDelete"]

    missing = post(
        ews, update(item_id, seen["change_key"], start, "ConflictResolution='AlwaysOverwrite'")
    )
    assert code_of(missing) == ["ErrorSendMeetingInvitationsOrCancellationsRequired"]


def test_server_busy_fault_shape(ews: EwsEmulator) -> None:
    ews.fail_next("GetFolder", back_off_ms=2500)
    body = (
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
        "<m:FolderIds><t:DistinguishedFolderId Id='calendar'/></m:FolderIds></m:GetFolder>"
    )
    answer = post(ews, body)
    assert answer.status_code == 500
    root = ET.fromstring(answer.content)
    fault = root.find(f"{{{S}}}Body/{{{S}}}Fault")
    assert fault is not None
    assert fault.findtext("faultcode", "").endswith(":ErrorServerBusy")
    assert fault.findtext(f"detail/{{{E}}}ResponseCode") == "ErrorServerBusy"
    value = fault.find(f"detail/{{{T}}}MessageXml/{{{T}}}Value")
    assert value is not None and value.get("Name") == "BackOffMilliseconds" and value.text == "2500"
    assert version_info(answer) is not None


def test_invalid_version_and_http_failures(ews: EwsEmulator) -> None:
    body = (
        "<m:ResolveNames ReturnFullContactData='false'>"
        "<m:UnresolvedEntry>alice</m:UnresolvedEntry></m:ResolveNames>"
    )
    answer = post(ews, body, version="Exchange2099")
    assert answer.status_code == 500
    assert b"ErrorInvalidServerVersion" in answer.content
    ews.fail_next_http("ResolveNames", status=503)
    assert post(ews, body).status_code == 503
    ok = post(ews, body)
    assert code_of(ok) == ["NoError"]
    assert version_info(ok).get("MajorVersion") == "15"  # type: ignore[union-attr]


@pytest.mark.parametrize("limit", ["0", "513", "x"])
def test_sync_page_size_must_be_1_to_512(ews: EwsEmulator, limit: str) -> None:
    body = (
        "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        "<m:SyncFolderId><t:DistinguishedFolderId Id='calendar'/></m:SyncFolderId>"
        f"<m:MaxChangesReturned>{limit}</m:MaxChangesReturned></m:SyncFolderItems>"
    )
    answer = post(ews, body)
    assert answer.status_code == 500
    assert (
        ET.fromstring(answer.content).findtext(f".//{{{E}}}ResponseCode") == "ErrorSchemaValidation"
    )


def test_schema_violations_are_faults_and_bad_ids_are_malformed(ews: EwsEmulator) -> None:
    item_id, key = create(ews)
    subject = (
        "<t:SetItemField><t:FieldURI FieldURI='item:Subject'/><t:CalendarItem>"
        "<t:Subject>x</t:Subject></t:CalendarItem></t:SetItemField>"
    )
    bad = "ConflictResolution='Sometimes' SendMeetingInvitationsOrCancellations='SendToNone'"
    answer = post(ews, update(item_id, key, subject, bad))
    assert answer.status_code == 500
    assert (
        ET.fromstring(answer.content).findtext(f".//{{{E}}}ResponseCode") == "ErrorSchemaValidation"
    )
    answer = post(ews, update("not base64!", key, subject, OK_ATTRS))
    assert code_of(answer) == ["ErrorInvalidIdMalformed"]
    assert ews.mailbox(ALICE).item(item_id)["subject"] == "s"


def view_ids(ews: EwsEmulator, lo: str, hi: str) -> list[str]:
    body = (
        "<m:FindItem Traversal='Shallow'>"
        "<m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        f"<m:CalendarView StartDate='{lo}' EndDate='{hi}'/>"
        "<m:ParentFolderIds><t:DistinguishedFolderId Id='calendar'/></m:ParentFolderIds>"
        "</m:FindItem>"
    )
    root = ET.fromstring(post(ews, body).content)
    return [e.get("Id", "") for e in root.iter(f"{{{T}}}ItemId")]


def test_calendar_view_bounds(ews: EwsEmulator) -> None:
    item_id, _ = create(ews)  # 10:00-11:00Z on 1 July
    assert view_ids(ews, "2026-07-01T11:00:00Z", "2026-07-01T12:00:00Z") == [item_id]
    assert view_ids(ews, "2026-07-01T09:00:00Z", "2026-07-01T10:00:00Z") == []
    assert view_ids(ews, "2026-07-01T11:00:01Z", "2026-07-01T12:00:00Z") == []


def test_calendar_view_max_entries(ews: EwsEmulator) -> None:
    for _ in range(3):
        create(ews)
    body = (
        "<m:FindItem Traversal='Shallow'>"
        "<m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        "<m:CalendarView MaxEntriesReturned='2' StartDate='2026-07-01T00:00:00Z' "
        "EndDate='2026-07-02T00:00:00Z'/>"
        "<m:ParentFolderIds><t:DistinguishedFolderId Id='calendar'/></m:ParentFolderIds>"
        "</m:FindItem>"
    )
    root = ET.fromstring(post(ews, body).content).find(f".//{{{M}}}RootFolder")
    assert root is not None
    assert (root.get("TotalItemsInView"), root.get("IncludesLastItemInRange")) == ("3", "false")
    assert len(root.findall(f"{{{T}}}Items/{{{T}}}CalendarItem")) == 2


def test_body_type_of_the_shape_converts(ews: EwsEmulator) -> None:
    item_id, _ = create(ews)  # Text body "one"
    get = (
        "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:BodyType>{kind}</t:BodyType>"
        "<t:AdditionalProperties><t:FieldURI FieldURI='item:Body'/></t:AdditionalProperties>"
        f"</m:ItemShape><m:ItemIds><t:ItemId Id='{item_id}'/></m:ItemIds></m:GetItem>"
    )
    for kind, expected_type in (("Best", "Text"), ("Text", "Text"), ("HTML", "HTML")):
        body = ET.fromstring(post(ews, get.format(kind=kind)).content).find(f".//{{{T}}}Body")
        assert body is not None and body.get("BodyType") == expected_type
        assert "one" in (body.text or "")
        assert ("<body>" in (body.text or "")) == (expected_type == "HTML")


@pytest.mark.parametrize("scheme", ["NTLM", "Negotiate"])
def test_ntlm_handshake_in_either_scheme(ews: EwsEmulator, scheme: str) -> None:
    import base64

    import spnego

    client = spnego.client("alice", "pw", protocol="ntlm")
    body = (
        f'<s:Envelope xmlns:s="{S}" xmlns:m="{M}" xmlns:t="{T}"><s:Body><m:ResolveNames '
        "ReturnFullContactData='false'><m:UnresolvedEntry>alice</m:UnresolvedEntry>"
        "</m:ResolveNames></s:Body></s:Envelope>"
    ).encode()
    with requests.Session() as session:
        first = client.step()
        header = {"Authorization": f"{scheme} {base64.b64encode(first).decode()}"}
        challenge = session.post(ews.url, data=body, headers=header, timeout=10)
        assert challenge.status_code == 401
        value = challenge.headers["WWW-Authenticate"]
        assert value.startswith(f"{scheme} ")
        final = client.step(base64.b64decode(value.split(" ", 1)[1]))
        header = {"Authorization": f"{scheme} {base64.b64encode(final).decode()}"}
        answer = session.post(ews.url, data=body, headers=header, timeout=10)
        assert answer.status_code == 200 and code_of(answer) == ["NoError"]
        again = session.post(ews.url, data=body, timeout=10)  # the connection stays authenticated
        assert again.status_code == 200
