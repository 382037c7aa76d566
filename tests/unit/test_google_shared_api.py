"""Google backends of one process share the Calendar API resources (built once per
endpoint from the discovery document) and keep their own credentials and http: a request
goes out only with its binding's http, never with another's and never without one."""

from __future__ import annotations

import pytest

from bridge.backends.google import http as google_http
from bridge.backends.google.backend import GoogleBackend

ENDPOINT = "http://127.0.0.1:9/calendar/v3/"


def backend(refresh: str, endpoint: str = ENDPOINT) -> GoogleBackend:
    settings = google_http.GoogleSettings(api_endpoint=endpoint)
    creds = google_http.user_credentials(refresh, "client-id", "secret", settings.token_uri)
    return GoogleBackend(creds, settings)


def test_backends_of_one_endpoint_share_the_api_and_keep_their_own_http():
    alice, bob = backend("alice-token"), backend("bob-token")
    assert alice.api is bob.api and alice.events is bob.events
    assert alice.http is not bob.http
    assert alice.http.credentials.refresh_token == "alice-token"
    assert bob.http.credentials.refresh_token == "bob-token"
    other = backend("carol-token", "http://127.0.0.1:9/other/v3/")
    assert other.api is not alice.api


def test_a_request_is_sent_with_the_binding_http_it_was_bound_to():
    alice, bob = backend("alice-token"), backend("bob-token")
    first = alice._bind(alice.events.get(calendarId="primary", eventId="e1"))
    second = bob._bind(bob.events.get(calendarId="primary", eventId="e1"))
    assert first.http is alice.http and second.http is bob.http
    assert first.uri.startswith(ENDPOINT)


def test_a_request_not_bound_to_a_binding_is_refused_not_sent():
    alice = backend("alice-token")
    request = alice.events.get(calendarId="primary", eventId="e1")
    with pytest.raises(RuntimeError, match="no binding's credentials"):
        request.execute(num_retries=0)


def test_only_a_few_endpoints_are_kept_and_a_dropped_one_still_serves_its_backends():
    """A test process meets one emulator endpoint per test: the process keeps the most
    recent few, not one ~1 MB set per endpoint it ever saw."""
    first = backend("alice-token", "http://127.0.0.1:9/first/v3/")
    for n in range(google_http.KEPT_ENDPOINTS + 3):
        backend("bob-token", f"http://127.0.0.1:9/e{n}/v3/")
    assert len(google_http._apis) == google_http.KEPT_ENDPOINTS
    assert "http://127.0.0.1:9/first/v3/" not in google_http._apis
    bound = first._bind(first.events.get(calendarId="primary", eventId="e1"))
    assert bound.http is first.http and bound.uri.startswith("http://127.0.0.1:9/first/v3/")
    again = backend("carol-token", "http://127.0.0.1:9/first/v3/")
    assert again.api is not first.api  # built anew, the old one left to its backends
