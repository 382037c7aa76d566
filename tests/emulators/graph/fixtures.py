"""Helpers for the emulator's own tests: a plain urllib Graph client and an msal token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from .server import GraphEmulator

DOMAIN = "contoso.onmicrosoft.com"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.body[key]


class Client:
    """Graph over urllib: absolute links (nextLink/deltaLink) or paths under /v1.0."""

    def __init__(self, graph_url: str, token: str, prefer: tuple[str, ...] = ()) -> None:
        self.graph_url = graph_url
        self.token = token
        self.prefer = list(prefer)

    def __call__(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        url = (path if path.startswith("http") else self.graph_url + path).replace(" ", "%20")
        sent = {"Authorization": f"Bearer {self.token}"}
        if self.prefer:
            sent["Prefer"] = ", ".join(self.prefer)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return Answer(
                    response.status, json.loads(raw) if raw else None, dict(response.headers)
                )
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return Answer(exc.code, json.loads(raw) if raw else None, dict(exc.headers))


def app_token(g: GraphEmulator, tenant: str, client_id: str, secret: str) -> dict[str, Any]:
    import msal

    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=f"{g.authority}/{tenant}",
        http_client=g.http_client(),
    )
    return app.acquire_token_for_client([GRAPH_DEFAULT])


@pytest.fixture(name="graph")
def graph_fixture() -> Iterator[GraphEmulator]:
    with GraphEmulator() as g:
        tenant = g.add_tenant(DOMAIN)
        g.add_app(tenant, "app-id", "app-secret")
        g.add_mailbox(ALICE)
        g.add_mailbox(BOB)
        yield g


@pytest.fixture(name="client")
def client_fixture(graph: GraphEmulator) -> Client:
    token = app_token(graph, DOMAIN, "app-id", "app-secret")["access_token"]
    return Client(graph.graph_url, token, ('IdType="ImmutableId"',))


def event_json(subject: str = "Meeting", day: str = "2026-12-03", **extra: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": f"{day}T10:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": f"{day}T11:00:00", "timeZone": "Europe/Berlin"},
        **extra,
    }
