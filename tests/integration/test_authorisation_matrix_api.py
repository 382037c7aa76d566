"""The authorisation matrix of the HTTP API: every route of ``[api]`` x every role, against
a real `bridge api` process (the API alone: no scheduler runs a round, so the store only
changes when a request changes it), on SQLite and MariaDB.

The CalDAV side's matrix is tests/integration/test_authorisation_matrix.py; the routes,
roles and expected statuses are in tests/support/api_matrix.py (a new route is one line
there). Every cell checks:

- the exact status the access model gives the role (``api_matrix.rest`` / ``operator`` /
  ``everyone``), never a 5xx;
- a refusal is the JSON error ``{"error": {"status", "message"}}`` (a 401 with its
  challenge: Bearer on /api/, Basic on the operator pages) and changes nothing stored:
  a digest of every row of every table is the same before and after;
- an allowed write changes the store (so the digest can see what a refusal would have
  changed).

The table of all cells is printed (``pytest -s``).
"""

from __future__ import annotations

import re

import pytest
import requests

from tests.support.api_alone import start_api_alone
from tests.support.api_matrix import (
    ROLES,
    ROUTES,
    WRITES,
    Route,
    fingerprint_of,
    meeting_body,
    postpone_of,
)

#: Every test here opens the store first (start_api_alone: its first step migrates it): its
#: MariaDB database may come migrated (tests/conftest.py).
pytestmark = pytest.mark.migrated_first


def csrf_token(url: str, authorization: str | None) -> str:
    """The token the status page gives this role, or a guess when it gets no page."""
    headers = {"Authorization": authorization} if authorization else {}
    page = requests.get(url + "/status", headers=headers, timeout=30)
    found = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
    return found.group(1) if page.status_code == 200 and found else "0" * 64


def send(url: str, route: Route, role: str, path: str) -> requests.Response:
    headers = dict(route.headers)
    if ROLES[role] is not None:
        headers["Authorization"] = ROLES[role]
    if route.csrf:
        headers["X-Bridge-CSRF"] = csrf_token(url, ROLES[role])
    return requests.request(
        route.method,
        url + path,
        json=route.json,
        data=route.data,
        headers=headers,
        timeout=30,
        allow_redirects=False,
    )


def check_cell(route: Route, role: str, answer: requests.Response, changed: bool) -> list[str]:
    expected = route.statuses[role]
    problems = []
    if answer.status_code != expected:
        problems.append(f"answered {answer.status_code}, not {expected}: {answer.text[:200]}")
    if answer.status_code >= 500:
        problems.append("a 5xx")
    if answer.status_code >= 400:
        if changed:
            problems.append("a refused request changed the store")
        try:
            error = answer.json()["error"]
            assert error["status"] == answer.status_code and error["message"].strip()
        except (ValueError, KeyError, TypeError, AssertionError):
            problems.append(f"the refusal is not the JSON error: {answer.text[:200]!r}")
        if answer.status_code == 401:
            challenge = answer.headers.get("WWW-Authenticate", "")
            scheme = "Bearer" if route.path.startswith("/api/") else "Basic"
            if not challenge.startswith(scheme):
                problems.append(f"401 without a {scheme} challenge: {challenge!r}")
    guarded = len(set(route.statuses.values())) > 1  # some role is refused
    if guarded and route.method in WRITES and answer.status_code < 300 and not changed:
        problems.append("an allowed write changed nothing")
    return problems


def test_every_route_for_every_role(tmp_path, db_url, google_emulator):
    api = start_api_alone(tmp_path, db_url, google_emulator)
    url = api.url
    fingerprint, postpone = fingerprint_of(db_url), postpone_of(db_url)
    admin = {"Authorization": ROLES["admin key"]}
    try:
        bindings = requests.get(url + "/status.json", headers=admin, timeout=30).json()
        binding_id = next(b["id"] for b in bindings["bindings"] if b["login"] == "alice")
        failures, table = [], []
        for route in ROUTES:
            row = []
            for role in ROLES:
                path = route.path.replace("{binding_id}", str(binding_id))
                if "{uid}" in path:  # a meeting of alice's for this cell alone
                    made = requests.post(
                        url + "/api/users/alice/meetings",
                        json=meeting_body("Target"),
                        headers=admin,
                        timeout=30,
                    )
                    assert made.status_code == 201, made.text
                    path = path.replace("{uid}", made.json()["uid"])
                postpone()
                before = fingerprint()
                answer = send(url, route, role, path)
                changed = fingerprint() != before
                for problem in check_cell(route, role, answer, changed):
                    failures.append(f"{route.name} ({route.method} {path}) as {role}: {problem}")
                row.append(str(answer.status_code))
            table.append(f"{route.name:18} " + " ".join(f"{s:>4}" for s in row))
        header = "route              " + " ".join(f"{r[:4]:>4}" for r in ROLES)
        print("\n".join(["", "roles: " + ", ".join(ROLES), header, *table]))
        assert not failures, "\n".join(failures)
    finally:
        fingerprint.dispose()
        postpone.dispose()
        assert api.stop() == 0, api.log.read_text()[-3000:]
