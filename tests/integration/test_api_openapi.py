"""The OpenAPI document tells the truth: it is a valid OpenAPI 3.1 document, and every
answer of a session using each operation (successes and each kind of refusal) validates
against it with openapi-core, as do the requests that succeeded."""

from __future__ import annotations

import copy

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_spec_validator import validate

from bridge.api.openapi import document
from tests.support.api_client import meeting, start_api

WINDOW = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"}


def _session(api) -> None:
    """Every operation, with answers of every documented kind."""
    made = api.create(
        "alice", meeting(internal_attendees=["bob"], recurrence={"rrule": "FREQ=DAILY;COUNT=2"})
    )
    uid = made["uid"]
    api.create("bob", meeting("Private", private=True), key="bob")
    api.create(
        "bob",
        {"subject": "Fair", "all_day": True, "start": "2026-12-10", "end": "2026-12-11"},
        key="bob",
    )
    api.call("GET", f"/api/meetings/{uid}")
    api.call("GET", "/api/users/bob/meetings", key="alice", params=WINDOW)  # busy-only rows
    api.call("GET", "/api/users/alice/meetings", params={**WINDOW, "limit": "1"})
    api.call("PATCH", f"/api/meetings/{uid}", json={"location": "Room 9"})
    api.call("PUT", f"/api/meetings/{uid}", json=meeting("Put"))
    api.call("GET", "/api/users/alice/bindings")
    api.call("GET", "/api/users/alice/bindings/google")
    api.call("POST", "/api/users/alice/bindings/google/sync")
    api.call("GET", "/api/openapi.json", key=None)
    # the Invite action: preview, send, drift, update, cancel and its refusals
    guests = [{"email": "ann@partner.test", "name": "Ann"}]
    invited = api.create(
        "alice", meeting("Invite", internal_attendees=["bob"], external_participants=guests)
    )["uid"]
    api.call("GET", f"/api/meetings/{invited}/invite/preview", params={"language": "sv"})
    api.call("GET", f"/api/meetings/{invited}/invite")
    api.call("POST", f"/api/meetings/{invited}/invite", json={"template": "default"})
    api.call("POST", f"/api/meetings/{invited}/invite", json={})  # 409: already sent
    api.call("PATCH", f"/api/meetings/{invited}", json={"location": "Room 2"})
    api.call("GET", f"/api/meetings/{invited}/invite")  # out of date
    api.call("POST", f"/api/meetings/{invited}/invite/update", json={"send": True})
    api.call("POST", f"/api/meetings/{invited}/invite/cancel", json={"send": True})
    api.call("GET", f"/api/meetings/{invited}/invite/preview", params={"template": "nonesuch"})
    api.call("POST", f"/api/meetings/{invited}/invite", json={"send": "yes"})  # 422
    api.call("GET", f"/api/meetings/{invited}/invite", key="bob")  # 403: not the organiser
    api.call("GET", f"/api/meetings/{invited}/invite", key="dave")  # 404
    # refusals
    api.call("GET", f"/api/meetings/{uid}", key=None)  # 401
    api.call("GET", "/api/users/alice/bindings", key="dave")  # 403
    api.call("GET", "/api/meetings/missing")  # 404
    api.call("POST", "/api/users/alice/meetings", json={"start": "x"})  # 422
    api.call(
        "POST", "/api/users/alice/meetings", data=b"{", headers={"Content-Type": "application/json"}
    )
    api.call("POST", "/api/users/alice/meetings", data=b"x", headers={"Content-Type": "text/plain"})
    api.call("GET", "/api/users/alice/meetings", params={"start": "2026-01-01T00:00:00Z"})
    api.call("DELETE", f"/api/meetings/{uid}")


def test_the_document_is_valid_openapi():
    validate(document())


def test_real_answers_match_the_document(tmp_path, db_url, google_emulator):
    api = start_api(tmp_path, db_url, google_emulator)
    try:
        api.ops.wait(lambda: api.ops.binding()["last_success_at"], "no first round")
        _session(api)
    finally:
        api.stop()
    spec = OpenAPI.from_dict(document())
    statuses = set()
    for sent, answer in api.seen:
        request = RequestsOpenAPIRequest(sent)
        spec.validate_response(request, RequestsOpenAPIResponse(answer))
        if answer.status_code < 300:
            spec.validate_request(request)
        statuses.add(answer.status_code)
    assert statuses >= {200, 201, 202, 204, 400, 401, 403, 404, 409, 415, 422}
    # the check has teeth: the same created meeting fails a document that wants one more field
    stricter = copy.deepcopy(document())
    stricter["components"]["schemas"]["Meeting"]["required"].append("colour")
    sent, answer = next((s, a) for s, a in api.seen if a.status_code == 201)
    with pytest.raises(OpenAPIError):
        OpenAPI.from_dict(stricter).validate_response(
            RequestsOpenAPIRequest(sent), RequestsOpenAPIResponse(answer)
        )
