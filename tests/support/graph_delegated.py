"""One Graph tenant on the emulator with a public (device-code) app and alice's mailbox,
and alice's delegated sign-in to it: what the delegated-credential tests start from."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bridge.backends.graph.authorize import authorize
from tests.emulators.graph import GraphEmulator

TENANT = "contoso.example"
ALICE = f"alice@{TENANT}"


@contextmanager
def contoso() -> Iterator[GraphEmulator]:
    with GraphEmulator() as g:
        tenant = g.add_tenant(TENANT)
        g.add_app(tenant, "public-app", public=True)
        g.add_mailbox(ALICE, tenant)
        yield g


def device_sign_in(g: GraphEmulator) -> str:
    """Alice signs in by the device-code flow (approved as the code is shown): the refresh
    token it gives."""
    g.device_interval = 1
    config = {"tenant": TENANT, "client_id": "public-app", "authority_host": g.url}

    def show(message: str) -> None:
        code = next(w.strip(".,") for w in message.split() if w.isupper() and len(w) >= 6)
        threading.Timer(0.2, g.approve_device, (code, ALICE)).start()

    return authorize(config, show)["refresh_token"]


def delegated_settings(g: GraphEmulator) -> dict[str, Any]:
    return {
        "tenant": TENANT,
        "client_id": "public-app",
        "mailbox": ALICE,
        "authority_host": g.url,
        "graph_url": g.graph_url,
        "max_retries": 1,
    }
