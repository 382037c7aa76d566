"""The world of the HTTP API's authorisation matrix (tests/integration/
test_authorisation_matrix_api.py): the roles and their credentials, the routes with the
statuses each role must get, and a fingerprint of every stored table.

A route joins the matrix with one line in ``ROUTES``: its method, its path (``{uid}``: a
meeting of alice's made for the cell; ``{binding_id}``: alice's binding), a body, and the
statuses from one of the rules below (``rest``, ``operator``, ``public``, ``everyone``).
The rules come from the access model (docs/architecture.md, "The HTTP API"), not from what
the server answers."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, select, update

from bridge.store.schema import bindings, metadata
from tests.support.api_client import KEYS

WINDOW = "?start=2026-12-01T00:00:00Z&end=2026-12-31T00:00:00Z"


def _basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def _bearer(name: str) -> str:
    return f"Bearer {KEYS[name][0]}"


#: Role -> its Authorization header (None: none sent). alice owns every target; bob may
#: see her calendar (can_see) but acts for himself only; dave may not see her; the CRM's
#: key acts for every user ("*"); alice is the one login in [api] admins.
ROLES: dict[str, str | None] = {
    "no credentials": None,
    "bad key": "Bearer crmb_not-a-key-0123456789abcdef0123456789",
    "bad password": _basic("alice", "wrong"),
    "own key": _bearer("alice"),
    "colleague key": _bearer("bob"),
    "stranger key": _bearer("dave"),
    "admin key": _bearer("crm"),
    "admin login": _basic("alice", "alice"),
    "user login": _basic("bob", "bob"),
}
LOGINS = ("admin login", "user login", "bad password")


def rest(ok: int, *, colleague: int, stranger: int, own: int | None = None) -> dict[str, int]:
    """A REST route on alice's data: API keys only (a CalDAV login is no key: 401); her key
    (``own``, default ``ok``) and the CRM's do it, bob's (he may see her) and dave's (he may
    not) as given."""
    statuses = {role: 401 for role in ROLES}
    statuses.update(
        {
            "own key": ok if own is None else own,
            "admin key": ok,
            "colleague key": colleague,
            "stranger key": stranger,
        }
    )
    return statuses


def operator(ok: int = 200) -> dict[str, int]:
    """The operator pages (/status…, /metrics): an admin login or a key scoped to every
    user; a proven login that is no admin 403; nothing proven 401."""
    statuses = {role: 403 for role in ROLES}
    statuses.update({"no credentials": 401, "bad key": 401, "bad password": 401})
    statuses.update({"admin key": ok, "admin login": ok})
    return statuses


def everyone(status: int) -> dict[str, int]:
    """Credentials change nothing: open routes (/health, /ready, the OpenAPI document) and
    webhooks, which a channel's own token authenticates, never a login or key."""
    return {role: status for role in ROLES}


def meeting_body(subject: str = "Matrix") -> dict[str, Any]:
    return {
        "subject": subject,
        "start": "2026-12-03T10:00:00+01:00",
        "end": "2026-12-03T11:00:00+01:00",
        "time_zone": "Europe/Copenhagen",
        "external_participants": [{"email": "ann@partner.test", "name": "Ann"}],
    }


GOOGLE_NOTICE = {
    "X-Goog-Channel-ID": "no-such-channel",
    "X-Goog-Channel-Token": "guess",
    "X-Goog-Resource-ID": "r",
    "X-Goog-Resource-State": "exists",
    "X-Goog-Message-Number": "7",
}
GRAPH_NOTICE = {"value": [{"subscriptionId": "no-such-subscription", "clientState": "guess"}]}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    statuses: dict[str, int]
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None
    csrf: bool = False  # the status page's POST: send the role's X-Bridge-CSRF token


ROUTES = [
    Route("openapi", "GET", "/api/openapi.json", everyone(200)),
    Route(
        "create",
        "POST",
        "/api/users/alice/meetings",
        rest(201, colleague=403, stranger=403),
        json=meeting_body(),
    ),
    Route(
        "list", "GET", "/api/users/alice/meetings" + WINDOW, rest(200, colleague=200, stranger=403)
    ),
    Route("read", "GET", "/api/meetings/{uid}", rest(200, colleague=200, stranger=404)),
    Route(
        "patch",
        "PATCH",
        "/api/meetings/{uid}",
        rest(200, colleague=403, stranger=404),
        json={"subject": "Patched"},
    ),
    Route(
        "put",
        "PUT",
        "/api/meetings/{uid}",
        rest(200, colleague=403, stranger=404),
        json=meeting_body("Put"),
    ),
    Route("delete", "DELETE", "/api/meetings/{uid}", rest(204, colleague=403, stranger=404)),
    Route(
        "invite preview",
        "GET",
        "/api/meetings/{uid}/invite/preview",
        rest(200, colleague=403, stranger=404),
    ),
    Route(
        "invite state", "GET", "/api/meetings/{uid}/invite", rest(200, colleague=403, stranger=404)
    ),
    Route(
        "invite send",
        "POST",
        "/api/meetings/{uid}/invite",
        rest(201, colleague=403, stranger=404),
        json={"send": True},
    ),
    Route(  # no invite sent yet: the handler's own 409 once the key may act
        "invite update",
        "POST",
        "/api/meetings/{uid}/invite/update",
        rest(409, colleague=403, stranger=404),
        json={"send": True},
    ),
    Route(
        "invite cancel",
        "POST",
        "/api/meetings/{uid}/invite/cancel",
        rest(409, colleague=403, stranger=404),
        json={"send": True},
    ),
    Route("bindings", "GET", "/api/users/alice/bindings", rest(200, colleague=403, stranger=403)),
    Route(
        "binding", "GET", "/api/users/alice/bindings/google", rest(200, colleague=403, stranger=403)
    ),
    Route(  # no such user: 404 for the key of every user, 403 for keys of one user
        "nobody's bindings",
        "GET",
        "/api/users/nobody/bindings",
        rest(404, colleague=403, stranger=403, own=403),
    ),
    Route(
        "sync now",
        "POST",
        "/api/users/alice/bindings/google/sync",
        rest(202, colleague=403, stranger=403),
    ),
    Route("status page", "GET", "/status", operator()),
    Route("status rows", "GET", "/status/rows", operator()),
    Route("status json", "GET", "/status.json", operator()),
    Route(
        "status sync now", "POST", "/status/bindings/{binding_id}/sync", operator(202), csrf=True
    ),
    Route("metrics", "GET", "/metrics", operator()),
    Route("health", "GET", "/health", everyone(200)),
    Route("ready", "GET", "/ready", everyone(200)),
    Route(
        "google webhook", "POST", "/webhooks/google", everyone(404), headers=GOOGLE_NOTICE, data=b""
    ),
    Route("graph webhook", "POST", "/webhooks/graph", everyone(404), json=GRAPH_NOTICE),
    Route(
        "graph handshake", "POST", "/webhooks/graph?validationToken=abc", everyone(200), data=b""
    ),
    Route(
        "exchange webhook",
        "POST",
        "/webhooks/exchange",
        everyone(400),
        data=b"<not-soap/>",
        headers={"Content-Type": "text/xml"},
    ),
]

#: Routes whose allowed answer changes the store (a refused one never may).
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def fingerprint_of(db_url: str) -> Callable[[], str]:
    """A function giving a digest of every row of every table of the store."""
    engine = create_engine(db_url)

    def digest() -> str:
        found = hashlib.sha256()
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                order = list(table.primary_key.columns) or list(table.columns)
                for row in conn.execute(select(table).order_by(*order)):
                    found.update(f"{table.name} {tuple(row)!r}\n".encode())
        return found.hexdigest()

    digest.dispose = engine.dispose  # type: ignore[attr-defined]
    return digest


#: A time far ahead: a binding not due (as after a successful round).
FAR = 4_000_000_000.0


def postpone_of(db_url: str) -> Callable[[], None]:
    """A function making every binding not due, so a "sync now" that is let through shows
    in the store (one that is refused must not)."""
    engine = create_engine(db_url)

    def postpone() -> None:
        with engine.begin() as conn:
            conn.execute(update(bindings).values(next_run_at=FAR))

    postpone.dispose = engine.dispose  # type: ignore[attr-defined]
    return postpone
